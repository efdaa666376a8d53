//! What differs between the two CPUs: the emulator model, how dyld calls
//! `main`, the system-call trap and its register conventions, and the stub
//! `main` returns into.

use unicorn_engine::{Arch as UcArch, Arm64CpuModel, Mode, RegisterARM64, RegisterX86, Unicorn, X86CpuModel, X86Insn};

use crate::error::LoadError;
use crate::macho::Arch;
use crate::process::{Interruption, Process};
use crate::signals::{self, Cause};
use crate::syscalls::{self, Completion, SYS_EXIT};

/// x86_64 system calls carry a class in bits 24..31 of `rax`.
const SYSCALL_CLASS_SHIFT: u32 = 24;
const SYSCALL_NUMBER_MASK: u64 = (1 << SYSCALL_CLASS_SHIFT) - 1;
/// Class 2: BSD (UNIX) system calls.
const SYSCALL_CLASS_UNIX: u64 = 2;
/// The carry flag: bit 0 of RFLAGS.
const X86_CARRY: u64 = 1 << 0;
/// The carry flag: NZCV bit 29.
const ARM64_CARRY: u64 = 1 << 29;
/// `syscall` is two bytes (0f 05); unicorn's hook sees `rip` on it.
const X86_SYSCALL_LENGTH: u64 = 2;
/// unicorn's (QEMU's) AArch64 exception numbers.
const ARM64_EXCP_UDEF: u32 = 1;
const ARM64_EXCP_SWI: u32 = 2;
const ARM64_EXCP_BKPT: u32 = 7;
/// What the kernel leaves in the second return register (`rdx` / `x1`):
/// a value no program should rely on.
const CLOBBERED_SECOND_RESULT: u64 = 0xdead_5ec0_0d00_0001;

/// Control-register bits that enable the x87 and SSE units for user code.
const X86_CR0_MP: u64 = 1 << 1;
const X86_CR0_EM: u64 = 1 << 2;
const X86_CR4_OSFXSR: u64 = 1 << 9;
const X86_CR4_OSXMMEXCPT: u64 = 1 << 10;

/// The emulated CPUs: a Nehalem-class x86_64 (up to SSE4.2 and POPCNT, no
/// AVX: the most Rosetta 2 guarantees), and unicorn's most capable AArch64.
const X86_MODEL: X86CpuModel = X86CpuModel::NEHALEM;
const ARM64_MODEL: Arm64CpuModel = Arm64CpuModel::MAX;

/// `mov edi, eax; mov eax, 0x2000001; syscall; ud2`: dyld's `exit(main(...))`.
const X86_EXIT_STUB: [u8; 11] = [0x89, 0xc7, 0xb8, 0x01, 0x00, 0x00, 0x02, 0x0f, 0x05, 0x0f, 0x0b];
/// `mov x16, #1; svc #0x80; brk #1` (exit's status is already in x0).
const ARM64_EXIT_STUB: [u8; 12] = [0x30, 0x00, 0x80, 0xd2, 0x01, 0x10, 0x00, 0xd4, 0x20, 0x00, 0x20, 0xd4];

/// Bytes dyld's own frames take below the copied-out arguments before it
/// calls `main` (a multiple of the stack alignment).
const DYLD_FRAME_SIZE: u64 = 64;

// The stubs encode `exit` as system call 1.
const _: () = assert!(SYS_EXIT == 1);

pub(crate) fn exit_stub(arch: Arch) -> &'static [u8] {
    match arch {
        Arch::X86_64 => &X86_EXIT_STUB,
        Arch::Arm64 => &ARM64_EXIT_STUB,
    }
}

fn setup_error(what: &str, e: impl std::fmt::Debug) -> LoadError {
    LoadError::Setup(format!("{what}: {e:?}"))
}

/// A fresh emulator for `arch` holding `process`.
pub(crate) fn new_emulator<'a>(arch: Arch, process: Process) -> Result<Unicorn<'a, Process>, LoadError> {
    let (uc_arch, mode, model) = match arch {
        Arch::X86_64 => (UcArch::X86, Mode::MODE_64, X86_MODEL as i32),
        Arch::Arm64 => (UcArch::ARM64, Mode::LITTLE_ENDIAN, ARM64_MODEL as i32),
    };
    let mut uc = Unicorn::new_with_data(uc_arch, mode, process).map_err(|e| setup_error("emulator", e))?;
    uc.ctl_set_cpu_model(model).map_err(|e| setup_error("CPU model", e))?;
    if arch == Arch::X86_64 {
        // What the kernel sets up for user code: SSE on (OSFXSR,
        // OSXMMEXCPT), x87 present (MP set, EM clear).
        let cr0 = uc.reg_read(RegisterX86::CR0).map_err(|e| setup_error("CR0", e))?;
        let cr4 = uc.reg_read(RegisterX86::CR4).map_err(|e| setup_error("CR4", e))?;
        uc.reg_write(RegisterX86::CR0, (cr0 | X86_CR0_MP) & !X86_CR0_EM).map_err(|e| setup_error("CR0", e))?;
        uc.reg_write(RegisterX86::CR4, cr4 | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT).map_err(|e| setup_error("CR4", e))?;
    }
    Ok(uc)
}

/// The register state dyld leaves when it calls `main(argc, argv, envp,
/// apple)` with `return_to` as the return address and `sp` the lowest
/// address it has used.
pub(crate) fn enter_main(
    uc: &mut Unicorn<'_, Process>,
    entry: u64,
    sp: u64,
    args: [u64; 4],
    return_to: u64,
) -> Result<(), LoadError> {
    let frame = sp - DYLD_FRAME_SIZE;
    let reg = |e| setup_error("registers", e);
    match uc.get_data().arch {
        Arch::X86_64 => {
            // `call main` pushed the return address: rsp ≡ 8 (mod 16).
            let rsp = frame - 8;
            uc.mem_write(rsp, &return_to.to_le_bytes()).map_err(reg)?;
            uc.reg_write(RegisterX86::RSP, rsp).map_err(reg)?;
            for (r, v) in [RegisterX86::RDI, RegisterX86::RSI, RegisterX86::RDX, RegisterX86::RCX].into_iter().zip(args)
            {
                uc.reg_write(r, v).map_err(reg)?;
            }
            uc.reg_write(RegisterX86::RIP, entry).map_err(reg)?;
        }
        Arch::Arm64 => {
            uc.reg_write(RegisterARM64::SP, frame).map_err(reg)?;
            for (r, v) in
                [RegisterARM64::X0, RegisterARM64::X1, RegisterARM64::X2, RegisterARM64::X3].into_iter().zip(args)
            {
                uc.reg_write(r, v).map_err(reg)?;
            }
            uc.reg_write(RegisterARM64::X30, return_to).map_err(reg)?;
            uc.reg_write(RegisterARM64::PC, entry).map_err(reg)?;
        }
    }
    Ok(())
}

/// Installs the system-call and exception hooks (nothing per instruction).
pub(crate) fn install_traps(uc: &mut Unicorn<'_, Process>) -> Result<(), LoadError> {
    let hook = |e| setup_error("hook", e);
    match uc.get_data().arch {
        Arch::X86_64 => {
            uc.add_insn_sys_hook(X86Insn::SYSCALL, 1, 0, x86_syscall).map_err(hook)?;
            uc.add_intr_hook(x86_exception).map_err(hook)?;
        }
        Arch::Arm64 => {
            uc.add_intr_hook(arm64_exception).map_err(hook)?;
        }
    }
    Ok(())
}

/// x86 exception vectors (Intel SDM vol. 3, table 6-1).
const X86_DIVIDE_ERROR: u32 = 0;
const X86_INVALID_OPCODE: u32 = 6;
const X86_GENERAL_PROTECTION: u32 = 13;

/// The names of the x86 exception vectors.
fn x86_vector_name(vector: u32) -> &'static str {
    match vector {
        X86_DIVIDE_ERROR => "divide error",
        1 => "debug",
        3 => "breakpoint",
        4 => "overflow",
        5 => "bound range",
        X86_INVALID_OPCODE => "invalid opcode",
        X86_GENERAL_PROTECTION => "general protection",
        14 => "page fault",
        16 => "x87 floating point",
        17 => "alignment check",
        19 => "SIMD floating point",
        _ => "interrupt",
    }
}

/// An x86 CPU exception: the faults XNU turns into signals are raised for
/// delivery, anything else kills the process.
fn x86_exception(uc: &mut Unicorn<'_, Process>, vector: u32) {
    let cause = match vector {
        X86_DIVIDE_ERROR => Cause::DivideError,
        X86_INVALID_OPCODE => Cause::InvalidOpcode,
        X86_GENERAL_PROTECTION => Cause::GeneralProtection,
        _ => return kill(uc, format!("CPU exception vector {vector} ({})", x86_vector_name(vector))),
    };
    signals::raise(uc, cause, x86_vector_name(vector).to_string());
}

/// Ends the run with a fault at the current pc.
pub(crate) fn kill(uc: &mut Unicorn<'_, Process>, what: String) {
    let pc = uc.pc_read().unwrap_or(0);
    uc.get_data_mut().end_with_fault(format!("{what} at pc 0x{pc:x}"));
    let _ = uc.emu_stop();
}

fn read_regs<R: Copy + Into<i32>>(uc: &Unicorn<'_, Process>, regs: [R; 6]) -> [u64; 6] {
    regs.map(|r| uc.reg_read(r).unwrap_or(0))
}

/// `syscall`: `rax` = class << 24 | number, arguments in rdi rsi rdx r10 r8 r9.
fn x86_syscall(uc: &mut Unicorn<'_, Process>) {
    let rax = uc.reg_read(RegisterX86::RAX).unwrap_or(0);
    let rip = uc.reg_read(RegisterX86::RIP).unwrap_or(0);
    if rax >> SYSCALL_CLASS_SHIFT != SYSCALL_CLASS_UNIX {
        let hint =
            if rax >> SYSCALL_CLASS_SHIFT == 0 { "; a Linux-style number without the BSD class 0x2000000" } else { "" };
        return kill(uc, format!("system call 0x{rax:x} is not a BSD (class 2) call (SIGSYS{hint})"));
    }
    use RegisterX86::*;
    let args = read_regs(uc, [RDI, RSI, RDX, R10, R8, R9]);
    let completion = syscalls::dispatch(uc, rax & SYSCALL_NUMBER_MASK, args);
    let Some((value, failed)) = finish(uc, completion) else { return };
    let mut rflags = uc.reg_read(RFLAGS).unwrap_or(0);
    rflags = if failed { rflags | X86_CARRY } else { rflags & !X86_CARRY };
    // The CPU's `syscall` saves the return address in rcx and the flags in
    // r11; the kernel returns with sysret, so they keep those values.
    for (r, v) in
        [(RAX, value), (RDX, CLOBBERED_SECOND_RESULT), (RFLAGS, rflags), (RCX, rip + X86_SYSCALL_LENGTH), (R11, rflags)]
    {
        let _ = uc.reg_write(r, v);
    }
}

/// An AArch64 exception: `svc` (any immediate) is a system call with the
/// number in x16; an undefined instruction is raised for delivery (SIGILL);
/// anything else kills the process.
fn arm64_exception(uc: &mut Unicorn<'_, Process>, intno: u32) {
    match intno {
        ARM64_EXCP_SWI => {}
        ARM64_EXCP_UDEF => return signals::raise(uc, Cause::InvalidOpcode, "undefined instruction".to_string()),
        ARM64_EXCP_BKPT => return kill(uc, format!("breakpoint instruction (SIGTRAP) (unicorn exception {intno})")),
        _ => return kill(uc, format!("CPU exception (unicorn exception {intno})")),
    }
    use RegisterARM64::*;
    let number = uc.reg_read(X16).unwrap_or(0);
    if number as i64 <= 0 {
        return kill(
            uc,
            format!("system call x16 = 0x{number:x} is a Mach trap or indirect call, not supported (SIGSYS)"),
        );
    }
    let args = read_regs(uc, [X0, X1, X2, X3, X4, X5]);
    let completion = syscalls::dispatch(uc, number, args);
    let Some((value, failed)) = finish(uc, completion) else { return };
    let nzcv = uc.reg_read(NZCV).unwrap_or(0);
    let nzcv = if failed { nzcv | ARM64_CARRY } else { nzcv & !ARM64_CARRY };
    for (r, v) in [(X0, value), (X1, CLOBBERED_SECOND_RESULT), (NZCV, nzcv)] {
        let _ = uc.reg_write(r, v);
    }
}

/// The result register's value and whether the carry flag reports an
/// error; `None` if the process ended.
fn finish(uc: &mut Unicorn<'_, Process>, completion: Completion) -> Option<(u64, bool)> {
    match completion {
        Completion::Value(v) => Some((v, false)),
        Completion::Error(errno) => Some((u64::from(errno), true)),
        Completion::Exit(status) => {
            uc.get_data_mut().end_with_exit(status);
            let _ = uc.emu_stop();
            None
        }
        Completion::ResumeAt(pc) => {
            // Restart the CPU there rather than redirect it from inside the hook.
            uc.get_data_mut().interruption.get_or_insert(Interruption::ResumeAt(pc));
            let _ = uc.emu_stop();
            None
        }
        Completion::Kill(why) => {
            kill(uc, why);
            None
        }
    }
}
