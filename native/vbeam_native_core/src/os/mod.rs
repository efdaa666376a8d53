//! The operating-system layer: everything that differs between the systems
//! a program runs on, kept apart from instruction sets and file formats.
//!
//! Each system brings (`linux`, `darwin`, `uefi`):
//! - how its kernel is entered (`Kernel`): the trap, the number register,
//!   the numbers, what the kernel destroys, how it reports failure;
//! - how the process starts (`start`): the first instructions, which call
//!   `main` and then exit with status 0;
//! - the primitives the runtime is written against (`primitive`): write
//!   bytes to a stream, exit with a status, obtain memory pages. The
//!   runtime routines call these and know nothing of any system.
//!
//! The IR's own `syscall` is translated in `syscall`.

pub mod darwin;
pub mod linux;
pub mod syscall;
pub mod uefi;
mod unix;

use crate::ir::{builder, Dst, Inst, Isa, Operand, PReg, Reg, Src, ENTRY_POINT};
use crate::regs::RegSet;
use crate::target::{Os, Target};
use syscall::Call;

/// The IR assembler building for a target: what the OS layer's
/// primitives and the runtime's routines are written with.
pub type Builder = builder::Builder<Target>;

/// The calls of the system and of its primitives.
impl Builder {
    /// A system call with the kernel's own number and arguments, in the
    /// IR's registers (the lowering moves the number where the kernel
    /// wants it): the result in a fresh vreg.
    pub fn syscall(&mut self, call: Call, args: &[Src]) -> Reg {
        let cc = self.target.cc;
        let kernel = kernel(self.target).expect("system calls where there is a kernel");
        for (a, r) in args.iter().zip(&cc.syscall_uses[1..]) {
            let src = match a {
                Src::Reg(x) => Operand::Reg(*x),
                Src::Imm(i) => Operand::Imm(*i),
            };
            self.push(Inst::Mov { dst: Dst::Reg(Reg::P(*r)), src });
        }
        self.mov_imm(Reg::P(cc.syscall_uses[0]), kernel.number_of(call));
        self.push(Inst::Syscall);
        let result = self.vreg();
        self.mov(result, Reg::P(cc.syscall_result));
        result
    }
    /// Writes `len` bytes at `ptr` to stream `fd`.
    pub fn write(&mut self, fd: i64, ptr: Src, len: Src) {
        self.call_void(WRITE, &[Src::Imm(fd), ptr, len]);
    }
    /// Writes the whole of data entry `name` (of `len` bytes).
    pub fn write_data(&mut self, fd: i64, name: &str, len: usize) {
        let p = self.lea(name);
        self.write(fd, Src::Reg(p), Src::Imm(len as i64));
    }
    /// Ends the process with `status`.
    pub fn exit(&mut self, status: Src) {
        self.call_void(EXIT, &[status]);
        self.trap();
    }
}

/// `os_write(fd, ptr, len) -> written`: a negative result is an error.
pub const WRITE: &str = "__vbeam_os_write";
/// `os_exit(status)`: ends the process; never returns.
pub const EXIT: &str = "__vbeam_os_exit";
/// `os_pages(bytes) -> address`: fresh zeroed memory, or 0 when the system
/// refuses.
pub const PAGES: &str = "__vbeam_os_pages";
/// `os_read(fd, ptr, len) -> read`: 0 at the end, negative on error.
pub const READ: &str = "__vbeam_os_read";
/// `os_open(path, for_writing) -> fd`: `path` NUL-terminated; for writing,
/// created or truncated (mode 0644); negative on error.
pub const OPEN: &str = "__vbeam_os_open";
/// `os_close(fd)`.
pub const CLOSE: &str = "__vbeam_os_close";
/// `os_sleep(nanoseconds)`.
pub const SLEEP: &str = "__vbeam_os_sleep";
/// `os_clock_ms() -> milliseconds` of a clock that does not go back.
pub const CLOCK_MS: &str = "__vbeam_os_clock_ms";
/// `os_random() -> 64 bits` from the system's randomness, or its clock
/// where it has none.
pub const RANDOM: &str = "__vbeam_os_random";
/// `os_catch_faults()`: the runtime's fault report (`FAULT_REPORT`)
/// installed as the handler of `fault_signals`, on an alternate stack.
pub const CATCH_FAULTS: &str = "__vbeam_os_catch_faults";
/// `out_of_memory()`: the runtime's panic (`runtime`) when the system
/// refuses the program memory; never returns.
pub const OUT_OF_MEMORY: &str = "__vbeam_out_of_memory";
/// `report(signal, fault_address, pc, sp, fp, lr)`: the runtime's routine
/// (`runtime::faults`) the handler calls; never returns. `lr` is the link
/// register on arm64 (unused on x86_64).
pub const FAULT_REPORT: &str = "__vbeam_fault_report";
/// `stack_overflow()`: the runtime's report (`runtime::faults`) that a
/// function calls from its prologue when its frame would pass the stack
/// limit (UEFI: see `Lowering::checks_stack_limit`); never returns.
pub const STACK_OVERFLOW: &str = "__vbeam_stack_overflow";
/// The zero-filled entries the start-up code keeps argc and argv in, for
/// the runtime's `arguments` (`runtime::system`).
pub const ARGC: &str = "__vbeam_argc";
pub const ARGV: &str = "__vbeam_argv";
/// The handler the system calls on a fault.
const FAULT_HANDLER: &str = "__vbeam_os_fault_handler";
/// The stack fault handlers run on, which a stack overflow leaves intact.
const SIGNAL_STACK: &str = "__vbeam_os_signal_stack";
const SIGNAL_STACK_SIZE: u64 = 64 << 10;
/// Room for a `stack_t` or a `sigaction` structure.
const SIGNAL_STRUCT: &str = "__vbeam_os_signal_struct";
const SIGNAL_STRUCT_SIZE: u64 = 32;

/// The faults a program reports (`runtime::faults`), each a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// An access to memory not mapped, or not so (SIGSEGV).
    Memory,
    /// An access the memory system refused (SIGBUS).
    Bus,
    /// An undefined or privileged instruction (SIGILL).
    Instruction,
    /// An arithmetic trap (SIGFPE).
    Arithmetic,
}

/// The faults `target`'s programs catch, with their signal numbers.
pub fn fault_signals(target: Target) -> &'static [(Fault, i64)] {
    match target.os {
        Os::Linux => linux::FAULT_SIGNALS,
        Os::Darwin => darwin::FAULT_SIGNALS,
        Os::Uefi => &[],
    }
}

/// Whether `target`'s programs report their faults (see `CATCH_FAULTS`).
pub fn catches_faults(target: Target) -> bool {
    !fault_signals(target).is_empty()
}

/// Scratch memory of the primitives: a time, random bytes (16 bytes).
pub(crate) const BUFFER: &str = "__vbeam_os_buffer";
const BUFFER_SIZE: u64 = 16;

/// The instruction that enters the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trap {
    /// x86_64 `syscall`.
    Syscall,
    /// arm64 `svc #imm`.
    Svc(u16),
}

/// How a system reports a failed system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The result is −errno (Linux).
    NegativeErrno,
    /// The carry flag is set and the result is errno (XNU). The backend
    /// negates it, so every system call of a program reports failure as
    /// Linux does.
    CarrySet,
}

/// How a kernel is entered on one instruction set.
#[derive(Debug)]
pub struct Kernel {
    pub trap: Trap,
    /// The register the call number goes in.
    pub number: PReg,
    /// Numbers of the calls the backend knows by meaning.
    pub calls: &'static [(Call, i64)],
    /// Ored into every number (XNU's call class on x86_64).
    pub class: i64,
    /// Registers a call destroys besides the result: the kernel's, and the
    /// number register where the backend loads a translated number.
    pub clobbers: RegSet,
    pub failure: Failure,
    /// `mmap` flags for private anonymous memory.
    pub map_private_anonymous: i64,
}

impl Kernel {
    /// The number of `call`, class included.
    pub fn number_of(&self, call: Call) -> i64 {
        let (_, n) = self.calls.iter().find(|(c, _)| *c == call).expect("a call this kernel has");
        self.class | n
    }
    /// The call a number (class included) makes.
    pub fn call_of(&self, number: i64) -> Option<Call> {
        self.calls.iter().find(|(_, n)| self.class | n == number).map(|(c, _)| *c)
    }
}

/// The kernel of `target`, if its programs make system calls.
pub fn kernel(target: Target) -> Option<&'static Kernel> {
    match (target.os, target.isa) {
        (Os::Linux, Isa::X86_64) => Some(&linux::X86_64),
        (Os::Linux, Isa::Arm64) => Some(&linux::ARM64),
        (Os::Darwin, Isa::X86_64) => Some(&darwin::X86_64),
        (Os::Darwin, Isa::Arm64) => Some(&darwin::ARM64),
        (Os::Uefi, _) => None,
    }
}

/// One step of a process's first instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartStep {
    /// The entry point is called like a function (on x86_64 a return
    /// address was pushed): realign the stack for the calls that follow.
    RealignAfterCall,
    /// `reg := 0`.
    Zero(PReg),
    /// Keeps `reg`'s value in the zero-filled entry named.
    Save(PReg, &'static str),
    /// The stack pointer := `reg`.
    SwitchStack(PReg),
    /// Keeps argc and argv, which the kernel leaves at the top of the
    /// stack (`[sp]`, `sp + 8`), in the entries named.
    SaveStackArguments { argc: &'static str, argv: &'static str },
    /// A call to a function of the program.
    Call(&'static str),
    /// `number := value`, then the kernel's trap.
    EnterKernel { number: PReg, value: i64, trap: Trap },
}

/// Code that runs without a frame, instruction for instruction what the
/// system expects (the signal restorer, which debuggers recognise by its
/// bytes), if `name` is such a routine of `target`'s.
pub fn bare_routine(target: Target, name: &str) -> Option<Vec<StartStep>> {
    match target.os {
        Os::Linux => linux::bare_routine(target.isa, name),
        Os::Darwin | Os::Uefi => None,
    }
}

/// The process's first instructions on `target`: keep argc and argv when
/// the program reads them, clear the heap register when it allocates (its
/// first allocation then obtains a region), call `main`, then exit with
/// status 0.
pub fn start(target: Target, allocates: bool, keeps_arguments: bool) -> Vec<StartStep> {
    let mut steps = Vec::new();
    match target.os {
        // The kernel jumps to the entry point with the stack aligned,
        // argc and argv on it. A zero frame pointer marks the outermost
        // frame for debuggers.
        Os::Linux => {
            if keeps_arguments {
                steps.push(StartStep::SaveStackArguments { argc: ARGC, argv: ARGV });
            }
            steps.push(StartStep::Zero(target.cc.frame_pointer));
            steps.push(StartStep::Call(CATCH_FAULTS));
        }
        // dyld calls `LC_MAIN`'s entry point as `main(argc, argv, envp, apple)`.
        Os::Darwin => {
            steps.push(StartStep::RealignAfterCall);
            if keeps_arguments {
                steps.extend([StartStep::Save(target.cc.args[0], ARGC), StartStep::Save(target.cc.args[1], ARGV)]);
            }
            steps.push(StartStep::Call(CATCH_FAULTS));
        }
        // The firmware calls `efi_main(ImageHandle, SystemTable)`. The
        // program runs on the stack `INIT` makes, its outermost frame
        // marked as on Linux. The firmware's stack pointer is not kept:
        // `Exit` returns to the firmware's own stack wherever it is called.
        Os::Uefi => {
            steps.push(StartStep::RealignAfterCall);
            steps.extend(uefi::entry_arguments(target).map(|(reg, entry)| StartStep::Save(reg, entry)));
            steps.push(StartStep::Call(uefi::INIT));
            steps.push(StartStep::SwitchStack(target.cc.result));
            steps.push(StartStep::Zero(target.cc.frame_pointer));
        }
    }
    if allocates {
        steps.push(StartStep::Zero(target.cc.heap));
    }
    steps.push(StartStep::Call(ENTRY_POINT));
    steps.push(StartStep::Zero(target.cc.args[0]));
    steps.push(StartStep::Call(EXIT));
    steps
}

/// The routines every program of `target` links: what its start-up calls,
/// and on UEFI the report every prologue may call.
pub fn start_routines(target: Target) -> &'static [&'static str] {
    match target.os {
        Os::Linux | Os::Darwin => &[EXIT, CATCH_FAULTS],
        Os::Uefi => &[EXIT, uefi::INIT, STACK_OVERFLOW],
    }
}

/// The firmware's argument registers, for `Inst::CallFirmware`.
pub fn firmware_args(target: Target) -> &'static [PReg] {
    match target.os {
        Os::Uefi => uefi::firmware_args(target.isa),
        Os::Linux | Os::Darwin => unreachable!("only UEFI programs call firmware"),
    }
}

/// Size of the OS layer's zero-filled entry `name`, if it is one.
pub fn bss_size(name: &str) -> Option<u64> {
    match name {
        BUFFER => return Some(BUFFER_SIZE),
        SIGNAL_STACK => return Some(SIGNAL_STACK_SIZE),
        SIGNAL_STRUCT => return Some(SIGNAL_STRUCT_SIZE),
        _ => {}
    }
    uefi::BSS.iter().find(|(n, _)| *n == name).map(|(_, size)| *size)
}

/// Builds the primitive `name` for `target`; false if it is not one.
pub fn primitive(target: Target, name: &str, b: &mut Builder) -> bool {
    let Some(kernel) = kernel(target) else { return uefi::primitive(name, b) };
    unix::primitive(kernel, name, b)
        || match target.os {
            Os::Linux => linux::primitive(target.isa, name, b),
            Os::Darwin => darwin::primitive(target.isa, name, b),
            Os::Uefi => false,
        }
}
