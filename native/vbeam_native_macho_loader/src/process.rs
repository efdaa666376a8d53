//! Building and running the process: what the kernel's exec and dyld do
//! between a checked image and `main` — mapping the slid segments with
//! their protections, applying the rebases, laying out the stack — then
//! running the CPU until the process exits or faults.

use unicorn_engine::{uc_error, HookType, MemType, Prot, Unicorn};

use crate::abi;
use crate::codesign::CDHASH_LEN;
use crate::error::LoadError;
use crate::macho::consts::{VM_PROT_EXECUTE, VM_PROT_READ, VM_PROT_WRITE};
use crate::macho::{Arch, MachO};
use crate::memory::{AddressSpace, Kind, USER_ADDRESS_LIMIT};
use crate::signals::{self, Access, Cause, Fault, Signals};
use crate::stack;
use crate::{Options, Outcome, Run};

/// The top of the default user stack (`USRSTACK64`).
const X86_64_STACK_TOP: u64 = 0x7ffe_efc0_0000;
const ARM64_STACK_TOP: u64 = 0x1_6fe0_0000;
/// The default stack size limit (8 MiB).
const STACK_SIZE: u64 = 8 << 20;
/// `MAXSSIZ`: exec reserves this much below the stack top and makes all
/// but the top `STACK_SIZE` inaccessible, a guard a runaway stack hits.
const STACK_RESERVATION: u64 = 64 << 20;
/// Where emulation "stops" if a program jumps there: an address nothing is
/// ever mapped at, so reaching it is reported as a fault.
const UNREACHABLE_STOP: u64 = 0xffff_ffff_ffff_f000;
/// Seed mixed with the slide for `getentropy` and the `apple` strings, so
/// that runs are reproducible.
const ENTROPY_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// The first descriptor `open` gives (0-2 are the standard streams).
const FIRST_FILE: i32 = 3;

/// The emulated process: memory layout, I/O and how it ended.
pub(crate) struct Process {
    pub(crate) arch: Arch,
    pub(crate) memory: AddressSpace,
    pub(crate) stdin: crate::Stdin,
    pub(crate) stdin_pos: usize,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    outcome: Option<Outcome>,
    entropy: u64,
    /// Host files the program opened, by descriptor.
    pub(crate) files: std::collections::HashMap<i32, std::fs::File>,
    pub(crate) next_fd: i32,
    pub(crate) signals: Signals,
    /// The main stack's reservation, guard included: `[top - MAXSSIZ, top)`.
    pub(crate) stack_reservation: std::ops::Range<u64>,
    /// Why a hook stopped the CPU while the process lives on.
    pub(crate) interruption: Option<Interruption>,
    /// Instructions executed, counted only under an instruction limit.
    instructions: u64,
}

/// Why emulation stopped with the process still alive.
#[derive(Debug)]
pub(crate) enum Interruption {
    /// A fault, to deliver as a signal.
    Fault(Fault),
    /// `sigreturn` restored a context: continue at this address.
    ResumeAt(u64),
}

impl Process {
    pub(crate) fn end_with_exit(&mut self, status: i32) {
        // The shell sees the low 8 bits (WEXITSTATUS).
        self.outcome.get_or_insert(Outcome::Exited(status & 0xff));
    }

    pub(crate) fn end_with_fault(&mut self, what: String) {
        self.outcome.get_or_insert(Outcome::Fault(what));
    }

    /// xorshift64* (Vigna): reproducible "random" values.
    pub(crate) fn random_u64(&mut self) -> u64 {
        const MULTIPLIER: u64 = 0x2545_f491_4f6c_dd1d;
        let mut x = self.entropy;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.entropy = x;
        x.wrapping_mul(MULTIPLIER)
    }
}

fn setup(what: &str, e: impl std::fmt::Debug) -> LoadError {
    LoadError::Setup(format!("{what}: {e:?}"))
}

fn prot(vm_prot: u32) -> Prot {
    // VM_PROT_* and UC_PROT_* share their bit values.
    Prot(vm_prot & (VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXECUTE))
}

/// Runs a checked image: `rebases` are the unslid pointer addresses,
/// `cdhash` the signature's hash (for the `apple` strings).
pub(crate) fn execute(
    image: &MachO,
    rebases: &[u64],
    cdhash: Option<[u8; CDHASH_LEN]>,
    opts: &Options,
) -> Result<Run, LoadError> {
    let arch = image.arch;
    let page = arch.page_size();
    let slide = opts.slide;
    if slide == 0 || !slide.is_multiple_of(page) {
        return Err(LoadError::Setup(format!(
            "slide 0x{slide:x} must be non-zero and a multiple of the {} page size 0x{page:x}",
            arch.name()
        )));
    }
    let image_end = image.segments.iter().map(|s| s.vm_end()).max().unwrap_or(0);
    if slide > USER_ADDRESS_LIMIT - image_end {
        return Err(LoadError::Setup(format!("slide 0x{slide:x} moves the image beyond the user address space")));
    }
    let process = Process {
        arch,
        memory: AddressSpace::new(page, USER_ADDRESS_LIMIT, opts.memory_limit),
        stdin: opts.stdin.clone(),
        stdin_pos: 0,
        stdout: Vec::new(),
        stderr: Vec::new(),
        outcome: None,
        entropy: ENTROPY_SEED ^ slide,
        files: std::collections::HashMap::new(),
        next_fd: FIRST_FILE,
        signals: Signals::default(),
        stack_reservation: 0..0,
        interruption: None,
        instructions: 0,
    };
    let mut uc = abi::new_emulator(arch, process)?;
    map_image(&mut uc, image, slide)?;
    apply_rebases(&mut uc, rebases, slide)?;

    let text = image.segment("__TEXT").expect("validated");
    let mach_header = text.vmaddr + slide;
    let stub = map_dyld_stub(&mut uc)?;
    let (stack_top, stack_bottom) = map_stack(&mut uc, arch)?;
    uc.get_data_mut().stack_reservation = stack_top - STACK_RESERVATION..stack_top;
    let apple = apple_strings(&mut uc, opts, (stack_top, stack_bottom), cdhash);
    let initial = stack::build(stack_top, mach_header, &opts.args, &opts.env, &apple);
    uc.mem_write(initial.start_sp, &initial.bytes).map_err(|e| setup("stack", e))?;

    let entry = mach_header + image.entryoff.expect("validated");
    abi::enter_main(&mut uc, entry, initial.start_sp, [initial.argc, initial.argv, initial.envp, initial.apple], stub)?;
    abi::install_traps(&mut uc)?;
    uc.add_mem_hook(HookType::MEM_INVALID, 1, 0, bad_access).map_err(|e| setup("hook", e))?;
    if let Some(limit) = opts.instruction_limit {
        // Counted here rather than by unicorn, whose count restarts with
        // every restart of the CPU (each signal delivery).
        uc.add_code_hook(1, 0, move |uc, address, _size| {
            let process = uc.get_data_mut();
            if process.instructions == limit {
                process.end_with_fault(format!("instruction limit of {limit} reached at pc 0x{address:x}"));
                let _ = uc.emu_stop();
            } else {
                process.instructions += 1;
            }
        })
        .map_err(|e| setup("hook", e))?;
    }

    let outcome = run_until_end(&mut uc, entry);
    let process = uc.get_data_mut();
    Ok(Run { stdout: std::mem::take(&mut process.stdout), stderr: std::mem::take(&mut process.stderr), outcome })
}

/// Runs the CPU from `entry` until the process ends, delivering the
/// signals its faults raise and resuming where `sigreturn` says.
fn run_until_end(uc: &mut Unicorn<'_, Process>, entry: u64) -> Outcome {
    let mut resume_at = entry;
    loop {
        let result = uc.emu_start(resume_at, UNREACHABLE_STOP, 0, 0);
        let pc = uc.pc_read().unwrap_or(0);
        let process = uc.get_data_mut();
        if let Some(outcome) = process.outcome.take() {
            return outcome;
        }
        let fault = match (process.interruption.take(), result) {
            (Some(Interruption::ResumeAt(at)), _) => {
                resume_at = at;
                continue;
            }
            (Some(Interruption::Fault(fault)), _) => fault,
            (None, Err(uc_error::INSN_INVALID)) => {
                Fault { cause: Cause::InvalidOpcode, what: "invalid instruction".to_string() }
            }
            (None, Err(e)) => return Outcome::Fault(format!("emulator stopped: {e:?} at pc 0x{pc:x}")),
            (None, Ok(())) => return Outcome::Fault(format!("execution reached unmapped address 0x{pc:x}")),
        };
        match signals::deliver(uc, fault) {
            Ok(trampoline) => resume_at = trampoline,
            Err(why) => return Outcome::Fault(why),
        }
    }
}

/// Maps each segment at its slid address with its initial protection;
/// bytes past `filesize` are zero. Page zero (and the slide below the
/// image) stays unmapped.
fn map_image(uc: &mut Unicorn<'_, Process>, image: &MachO, slide: u64) -> Result<(), LoadError> {
    let mut image_end = 0;
    for seg in &image.segments {
        let memory = &uc.get_data().memory;
        let size = memory.round_up(seg.vmsize).ok_or_else(|| LoadError::Setup("segment size overflows".into()))?;
        if seg.name == "__PAGEZERO" {
            // The kernel raises the map's minimum address past page zero plus the slide.
            uc.get_data_mut().memory.insert(0, seg.vmsize + slide, 0, Kind::PageZero);
            continue;
        }
        if size == 0 {
            continue;
        }
        let start = seg.vmaddr.checked_add(slide).filter(|&s| memory.is_free(s, size)).ok_or_else(|| {
            LoadError::Setup(format!("segment {:?} does not fit at 0x{:x} + slide 0x{slide:x}", seg.name, seg.vmaddr))
        })?;
        uc.mem_map(start, size, prot(seg.initprot)).map_err(|e| setup(&format!("mapping {}", seg.name), e))?;
        let content = &image.data[seg.fileoff as usize..(seg.fileoff + seg.filesize) as usize];
        uc.mem_write(start, content).map_err(|e| setup(&format!("loading {}", seg.name), e))?;
        uc.get_data_mut().memory.insert(start, size, seg.initprot, Kind::Segment(seg.name.clone()));
        image_end = image_end.max(start + size);
    }
    uc.get_data_mut().memory.set_arena_base(image_end);
    Ok(())
}

/// dyld's rebase: add the slide to every listed pointer.
fn apply_rebases(uc: &mut Unicorn<'_, Process>, rebases: &[u64], slide: u64) -> Result<(), LoadError> {
    let mut word = [0u8; 8];
    for &addr in rebases {
        let at = addr + slide;
        uc.mem_read(at, &mut word).map_err(|e| setup(&format!("rebase at 0x{at:x}"), e))?;
        let value = u64::from_le_bytes(word).wrapping_add(slide);
        uc.mem_write(at, &value.to_le_bytes()).map_err(|e| setup(&format!("rebase at 0x{at:x}"), e))?;
    }
    Ok(())
}

/// The kernel's `apple` strings: the executable's path and hash, the main
/// stack, and random values libSystem would use.
fn apple_strings(
    uc: &mut Unicorn<'_, Process>,
    opts: &Options,
    (stack_top, stack_bottom): (u64, u64),
    cdhash: Option<[u8; CDHASH_LEN]>,
) -> Vec<String> {
    let exe = opts.args.first().cloned().unwrap_or_default();
    let process = uc.get_data_mut();
    let mut apple = vec![
        format!("executable_path={exe}"),
        format!("stack_guard=0x{:x}", process.random_u64()),
        format!("malloc_entropy=0x{:x},0x{:x}", process.random_u64(), process.random_u64()),
        format!("ptr_munge=0x{:x}", process.random_u64()),
        format!("main_stack=0x{stack_top:x},0x{STACK_SIZE:x},0x{stack_bottom:x},0x0"),
    ];
    if let Some(hash) = cdhash {
        apple.push(format!("executable_cdhash={}", hash.iter().map(|b| format!("{b:02x}")).collect::<String>()));
    }
    apple
}

/// One r-x page above the image holding the code `main` returns into.
fn map_dyld_stub(uc: &mut Unicorn<'_, Process>) -> Result<u64, LoadError> {
    let arch = uc.get_data().arch;
    let memory = &uc.get_data().memory;
    let page = memory.page_size();
    let at = memory.find_arena(page).ok_or_else(|| LoadError::Setup("no room for dyld".into()))?;
    let rx = VM_PROT_READ | VM_PROT_EXECUTE;
    uc.mem_map(at, page, prot(rx)).map_err(|e| setup("dyld stub", e))?;
    uc.mem_write(at, abi::exit_stub(arch)).map_err(|e| setup("dyld stub", e))?;
    uc.get_data_mut().memory.insert(at, page, rx, Kind::Dyld);
    Ok(at)
}

/// The main thread's stack at its default place, or above the image if
/// the slide moved the image there: `MAXSSIZ` reserved, the top
/// `STACK_SIZE` read-write and the rest an inaccessible guard (as exec's
/// `create_unix_stack` leaves it). Returns (top, bottom).
fn map_stack(uc: &mut Unicorn<'_, Process>, arch: Arch) -> Result<(u64, u64), LoadError> {
    let memory = &uc.get_data().memory;
    let default_top = match arch {
        Arch::X86_64 => X86_64_STACK_TOP,
        Arch::Arm64 => ARM64_STACK_TOP,
    };
    let reservation = if memory.is_free(default_top - STACK_RESERVATION, STACK_RESERVATION) {
        default_top - STACK_RESERVATION
    } else {
        memory
            .find_free(STACK_RESERVATION, memory.end_of_mappings())
            .ok_or_else(|| LoadError::Setup("no room for the stack".into()))?
    };
    let guard = STACK_RESERVATION - STACK_SIZE;
    let bottom = reservation + guard;
    uc.mem_map(reservation, guard, Prot::NONE).map_err(|e| setup("stack guard", e))?;
    uc.get_data_mut().memory.insert(reservation, guard, 0, Kind::StackGuard);
    let rw = VM_PROT_READ | VM_PROT_WRITE;
    uc.mem_map(bottom, STACK_SIZE, prot(rw)).map_err(|e| setup("stack", e))?;
    uc.get_data_mut().memory.insert(bottom, STACK_SIZE, rw, Kind::Stack);
    Ok((bottom + STACK_SIZE, bottom))
}

/// An access to unmapped or protected memory: a page fault the kernel
/// turns into SIGSEGV or SIGBUS.
fn bad_access(uc: &mut Unicorn<'_, Process>, kind: MemType, addr: u64, size: usize, _value: i64) -> bool {
    let (what, access, mapped) = match kind {
        MemType::READ_UNMAPPED => ("read of unmapped memory", Access::Read, false),
        MemType::WRITE_UNMAPPED => ("write to unmapped memory", Access::Write, false),
        MemType::FETCH_UNMAPPED => ("execution of unmapped memory", Access::Execute, false),
        MemType::READ_PROT => ("read of unreadable memory", Access::Read, true),
        MemType::WRITE_PROT => ("write to read-only memory", Access::Write, true),
        MemType::FETCH_PROT => ("execution of non-executable memory", Access::Execute, true),
        _ => {
            abi::kill(uc, format!("bad memory access: {size} bytes at 0x{addr:x}"));
            return false;
        }
    };
    let region = uc.get_data().memory.region_at(addr).map(|r| format!(" in {}", r.describe())).unwrap_or_default();
    let cause = Cause::Memory { address: addr, access, mapped };
    signals::raise(uc, cause, format!("{what}: {size} bytes at 0x{addr:x}{region}"));
    false
}
