//! XNU's signal frame for a 64-bit process (`sendsig` in
//! `bsd/dev/i386/unix_signal.c` and `bsd/dev/arm/unix_signal.c`): the
//! `user64_siginfo_t`, `user_ucontext64` and machine context (exception
//! state, thread state, float state) copied below the stack pointer, the
//! registers the trampoline is entered with, and `sigreturn`'s way back.

use unicorn_engine::{RegisterARM64, RegisterX86, Unicorn};

use crate::macho::consts::{VM_PROT_READ, VM_PROT_WRITE};
use crate::macho::Arch;
use crate::process::Process;

/// `sizeof(user64_siginfo_t)`.
const SIGINFO_SIZE: usize = 104;
/// `sizeof(struct user_ucontext64)`.
pub(crate) const UCONTEXT_SIZE: usize = 56;
/// The red zone below the interrupted stack pointer that `sendsig` leaves
/// alone (128 bytes on both ABIs, even on the alternate stack).
const RED_ZONE: u64 = 128;
const STACK_ALIGN: u64 = 16;

/// Field offsets in `user64_siginfo_t`.
mod siginfo {
    pub const SIGNO: usize = 0;
    pub const CODE: usize = 8;
    pub const ADDR: usize = 24;
    /// `__pad[0]`: the interrupted stack pointer on x86_64 (arm64 leaves 0).
    pub const PAD0: usize = 48;
}

/// Field offsets in `struct user_ucontext64`.
pub(crate) mod ucontext {
    pub const ONSTACK: usize = 0;
    pub const SIGMASK: usize = 4;
    pub const STACK_SP: usize = 8;
    pub const STACK_SIZE: usize = 16;
    pub const STACK_FLAGS: usize = 24;
    pub const MCSIZE: usize = 40;
    pub const MCONTEXT: usize = 48;
}

/// x86_64's `struct __darwin_mcontext64`: `__es`, `__ss`, `__fs`.
mod x86 {
    /// With the plain x87/SSE float state (the emulated CPU has no AVX, so
    /// XNU's `current_xstate()` would be `FP`): 16 + 168 + 524, padded to 8.
    pub const MCONTEXT_SIZE: usize = 712;
    pub const TRAPNO: usize = 0;
    pub const ERR: usize = 4;
    pub const FAULTVADDR: usize = 8;
    /// rax rbx rcx rdx rdi rsi rbp rsp r8-r15 rip rflags cs fs gs.
    pub const THREAD_STATE: usize = 16;
    pub const CS: usize = THREAD_STATE + 18 * 8;
    pub const FLOAT_STATE: usize = 184;
    pub const MXCSR: usize = FLOAT_STATE + 32;
    pub const XMM0: usize = FLOAT_STATE + 168;
}

/// arm64's `struct __darwin_mcontext64`: `__es`, `__ss`, `__ns`.
mod arm64 {
    use super::{SIGINFO_SIZE, UCONTEXT_SIZE};

    /// `UC_FLAVOR_SIZE64`: 16 + 272 + 528.
    pub const MCONTEXT_SIZE: usize = 816;
    pub const FAR: usize = 0;
    pub const ESR: usize = 8;
    /// x0-x28 fp lr sp pc, then cpsr and flags (32 bits each).
    pub const THREAD_STATE: usize = 16;
    pub const CPSR: usize = THREAD_STATE + 33 * 8;
    pub const NEON_STATE: usize = 288;
    pub const FPSR: usize = NEON_STATE + 32 * 16;
    pub const FPCR: usize = FPSR + 4;
    /// `struct user_sigframe64`: siginfo, ucontext, mcontext, in that order.
    pub const FRAME_SIZE: usize = SIGINFO_SIZE + UCONTEXT_SIZE + MCONTEXT_SIZE;
}

/// `ucontext.uc_stack.ss_flags` when the signal came on the alternate stack.
const SS_ONSTACK: u32 = 0x1;
/// x86_64's `USER64_CS`, the user code segment the thread state reports.
const X86_USER64_CS: u64 = 0x2b;
/// `EFL_USER_SET` (IF and the always-one bit): the handler's RFLAGS.
const X86_EFLAGS_USER_SET: u64 = 0x202;
/// The RFLAGS bits `sigreturn` takes from user space: CF PF AF ZF SF DF OF.
const X86_EFLAGS_USER_BITS: u64 = 0xcd5;
/// `sigreturn` refuses a non-canonical rip or rsp.
const X86_CANONICAL_LIMIT: u64 = 1 << 47;
/// The NZCV bits of an EL0 CPSR; `PSR64_USER64_DEFAULT` clears them.
const ARM64_NZCV_BITS: u64 = 0xf000_0000;

const X86_THREAD_REGISTERS: [RegisterX86; 18] = {
    use RegisterX86::*;
    [RAX, RBX, RCX, RDX, RDI, RSI, RBP, RSP, R8, R9, R10, R11, R12, R13, R14, R15, RIP, RFLAGS]
};
/// Indexes into `X86_THREAD_REGISTERS`.
const X86_RSP: usize = 7;
const X86_RIP: usize = 16;
const X86_RFLAGS: usize = 17;
const X86_XMM: [RegisterX86; 16] = {
    use RegisterX86::*;
    [XMM0, XMM1, XMM2, XMM3, XMM4, XMM5, XMM6, XMM7, XMM8, XMM9, XMM10, XMM11, XMM12, XMM13, XMM14, XMM15]
};
const ARM64_THREAD_REGISTERS: [RegisterARM64; 33] = {
    use RegisterARM64::*;
    [
        X0, X1, X2, X3, X4, X5, X6, X7, X8, X9, X10, X11, X12, X13, X14, X15, X16, X17, X18, X19, X20, X21, X22, X23,
        X24, X25, X26, X27, X28, X29, X30, SP, PC,
    ]
};
/// Indexes into `ARM64_THREAD_REGISTERS`.
const ARM64_SP: usize = 31;
const ARM64_PC: usize = 32;
const ARM64_Q: [RegisterARM64; 32] = {
    use RegisterARM64::*;
    [
        Q0, Q1, Q2, Q3, Q4, Q5, Q6, Q7, Q8, Q9, Q10, Q11, Q12, Q13, Q14, Q15, Q16, Q17, Q18, Q19, Q20, Q21, Q22, Q23,
        Q24, Q25, Q26, Q27, Q28, Q29, Q30, Q31,
    ]
};

/// The exception state the kernel saved with the fault.
pub(crate) struct ExceptionState {
    /// x86_64: the trap number (arm64 has none: XNU reports 0).
    pub(crate) trapno: u16,
    /// x86_64: the error code; arm64: the exception syndrome (ESR).
    pub(crate) syndrome: u32,
    /// CR2 / FAR: the faulting address, 0 where the CPU gives none.
    pub(crate) fault_address: u64,
}

/// Everything `sendsig` puts in the frame and registers.
pub(crate) struct Delivery {
    pub(crate) signal: u32,
    pub(crate) code: i32,
    /// `si_addr`.
    pub(crate) address: u64,
    /// `UC_FLAVOR` with `SA_SIGINFO`, else `UC_TRAD`.
    pub(crate) infostyle: u32,
    /// The handler (`sa_sigaction`), passed to the trampoline.
    pub(crate) catcher: u64,
    pub(crate) trampoline: u64,
    /// The alternate stack (base, size) when the frame goes there, else the
    /// frame goes below the interrupted stack pointer.
    pub(crate) alt_stack: Option<(u64, u64)>,
    /// Whether the thread was already on its alternate stack.
    pub(crate) was_on_alt_stack: bool,
    /// The signal mask to restore: the one before delivery.
    pub(crate) mask: u32,
    /// XORed with the ucontext's address to make the sigreturn token.
    pub(crate) token_key: u64,
    pub(crate) exception: ExceptionState,
}

/// The machine context's size, as `uc_mcsize` reports it.
pub(crate) fn mcontext_size(arch: Arch) -> usize {
    match arch {
        Arch::X86_64 => x86::MCONTEXT_SIZE,
        Arch::Arm64 => arm64::MCONTEXT_SIZE,
    }
}

fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn put_u64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

pub(crate) fn get_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn get_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn siginfo_bytes(d: &Delivery) -> [u8; SIGINFO_SIZE] {
    let mut info = [0; SIGINFO_SIZE];
    put_u32(&mut info, siginfo::SIGNO, d.signal);
    put_u32(&mut info, siginfo::CODE, d.code as u32);
    put_u64(&mut info, siginfo::ADDR, d.address);
    info
}

/// `uc_stack` describes the frame's stack: its sp is the handler's entry
/// stack pointer, its size the alternate stack's (0 on the main stack).
fn ucontext_bytes(d: &Delivery, arch: Arch, stack_pointer: u64, mcontext: u64) -> [u8; UCONTEXT_SIZE] {
    let mut context = [0; UCONTEXT_SIZE];
    put_u32(&mut context, ucontext::ONSTACK, d.was_on_alt_stack as u32);
    put_u32(&mut context, ucontext::SIGMASK, d.mask);
    put_u64(&mut context, ucontext::STACK_SP, stack_pointer);
    put_u64(&mut context, ucontext::STACK_SIZE, d.alt_stack.map_or(0, |(_, size)| size));
    put_u32(&mut context, ucontext::STACK_FLAGS, if d.was_on_alt_stack { SS_ONSTACK } else { 0 });
    put_u64(&mut context, ucontext::MCSIZE, mcontext_size(arch) as u64);
    put_u64(&mut context, ucontext::MCONTEXT, mcontext);
    context
}

/// Copies `bytes` out to `at` as the kernel's `copyout` would: only into
/// writable user memory. Returns the address on failure.
pub(crate) fn copy_out(uc: &mut Unicorn<'_, Process>, at: u64, bytes: &[u8]) -> Result<(), u64> {
    if !uc.get_data().memory.accessible(at, bytes.len() as u64, VM_PROT_WRITE) {
        return Err(at);
    }
    uc.mem_write(at, bytes).map_err(|_| at)
}

/// Reads `len` bytes of readable user memory (`copyin`).
pub(crate) fn copy_in(uc: &Unicorn<'_, Process>, at: u64, len: usize) -> Option<Vec<u8>> {
    if !uc.get_data().memory.accessible(at, len as u64, VM_PROT_READ) {
        return None;
    }
    uc.mem_read_as_vec(at, len).ok()
}

fn read<R: Copy + Into<i32>>(uc: &Unicorn<'_, Process>, registers: &[R]) -> Vec<u64> {
    registers.iter().map(|&r| uc.reg_read(r).unwrap_or(0)).collect()
}

fn write<R: Copy + Into<i32>>(uc: &mut Unicorn<'_, Process>, values: &[(R, u64)]) {
    for &(r, v) in values {
        let _ = uc.reg_write(r, v);
    }
}

/// Saves the interrupted state in a frame below the chosen stack and sets
/// the registers `sendsig` enters the trampoline with (the caller resumes
/// at `d.trampoline`). Err: the frame's address, which is not writable (the
/// kernel then kills the process with SIGILL).
pub(crate) fn push(uc: &mut Unicorn<'_, Process>, d: &Delivery) -> Result<(), u64> {
    match uc.get_data().arch {
        Arch::X86_64 => push_x86_64(uc, d),
        Arch::Arm64 => push_arm64(uc, d),
    }
}

/// Below the red zone: ucontext, then siginfo, then mcontext; the entry
/// stack pointer is 16-byte aligned below that, less a return-address slot.
fn push_x86_64(uc: &mut Unicorn<'_, Process>, d: &Delivery) -> Result<(), u64> {
    let registers = read(uc, &X86_THREAD_REGISTERS);
    let interrupted_sp = registers[X86_RSP];
    let base = d.alt_stack.map_or(interrupted_sp, |(sp, size)| sp + size);
    let ucontext_at = base - RED_ZONE - UCONTEXT_SIZE as u64;
    let siginfo_at = ucontext_at - SIGINFO_SIZE as u64;
    let mcontext_at = siginfo_at - x86::MCONTEXT_SIZE as u64;
    let entry_sp = ((mcontext_at - STACK_ALIGN) & !(STACK_ALIGN - 1)) - 8;

    let mut mcontext = [0u8; x86::MCONTEXT_SIZE];
    mcontext[x86::TRAPNO..x86::TRAPNO + 2].copy_from_slice(&d.exception.trapno.to_le_bytes());
    put_u32(&mut mcontext, x86::ERR, d.exception.syndrome);
    put_u64(&mut mcontext, x86::FAULTVADDR, d.exception.fault_address);
    for (i, value) in registers.iter().enumerate() {
        put_u64(&mut mcontext, x86::THREAD_STATE + 8 * i, *value);
    }
    put_u64(&mut mcontext, x86::CS, X86_USER64_CS);
    put_u32(&mut mcontext, x86::MXCSR, uc.reg_read(RegisterX86::MXCSR).unwrap_or(0) as u32);
    for (i, &xmm) in X86_XMM.iter().enumerate() {
        if let Ok(value) = uc.reg_read_long(xmm) {
            mcontext[x86::XMM0 + 16 * i..x86::XMM0 + 16 * (i + 1)].copy_from_slice(&value);
        }
    }
    let mut info = siginfo_bytes(d);
    put_u64(&mut info, siginfo::PAD0, interrupted_sp);
    let context = ucontext_bytes(d, Arch::X86_64, entry_sp, mcontext_at);
    // The three are contiguous: mcontext, siginfo, ucontext.
    copy_out(uc, mcontext_at, &[&mcontext[..], &info, &context].concat())?;

    use RegisterX86::*;
    write(
        uc,
        &[
            (RSP, entry_sp),
            (RDI, d.catcher),
            (RSI, u64::from(d.infostyle)),
            (RDX, u64::from(d.signal)),
            (RCX, siginfo_at),
            (R8, ucontext_at),
            (R9, ucontext_at ^ d.token_key),
            (RFLAGS, X86_EFLAGS_USER_SET),
            (RIP, d.trampoline),
        ],
    );
    Ok(())
}

/// `struct user_sigframe64` (siginfo, ucontext, mcontext) at the 16-byte
/// aligned entry stack pointer, below the red zone.
fn push_arm64(uc: &mut Unicorn<'_, Process>, d: &Delivery) -> Result<(), u64> {
    let registers = read(uc, &ARM64_THREAD_REGISTERS);
    let interrupted_sp = registers[ARM64_SP];
    let base = d.alt_stack.map_or(interrupted_sp, |(sp, size)| sp + size);
    let frame_at = (base - arm64::FRAME_SIZE as u64 - RED_ZONE) & !(STACK_ALIGN - 1);
    let siginfo_at = frame_at;
    let ucontext_at = frame_at + SIGINFO_SIZE as u64;
    let mcontext_at = ucontext_at + UCONTEXT_SIZE as u64;

    let mut mcontext = [0u8; arm64::MCONTEXT_SIZE];
    put_u64(&mut mcontext, arm64::FAR, d.exception.fault_address);
    put_u32(&mut mcontext, arm64::ESR, d.exception.syndrome);
    for (i, value) in registers.iter().enumerate() {
        put_u64(&mut mcontext, arm64::THREAD_STATE + 8 * i, *value);
    }
    let nzcv = uc.reg_read(RegisterARM64::NZCV).unwrap_or(0) & ARM64_NZCV_BITS;
    put_u32(&mut mcontext, arm64::CPSR, nzcv as u32);
    for (i, &q) in ARM64_Q.iter().enumerate() {
        if let Ok(value) = uc.reg_read_long(q) {
            let at = arm64::NEON_STATE + 16 * i;
            mcontext[at..at + 16].copy_from_slice(&value);
        }
    }
    put_u32(&mut mcontext, arm64::FPSR, uc.reg_read(RegisterARM64::FPSR).unwrap_or(0) as u32);
    put_u32(&mut mcontext, arm64::FPCR, uc.reg_read(RegisterARM64::FPCR).unwrap_or(0) as u32);
    let info = siginfo_bytes(d);
    let context = ucontext_bytes(d, Arch::Arm64, frame_at, mcontext_at);
    copy_out(uc, frame_at, &[&info[..], &context, &mcontext].concat())?;

    use RegisterARM64::*;
    write(
        uc,
        &[
            (X0, d.catcher),
            (X1, u64::from(d.infostyle)),
            (X2, u64::from(d.signal)),
            (X3, siginfo_at),
            (X4, ucontext_at),
            (X5, ucontext_at ^ d.token_key),
            (NZCV, 0),
            (SP, frame_at),
            (PC, d.trampoline),
        ],
    );
    Ok(())
}

/// `sigreturn`'s `thread_setstatus`: the registers from a machine context.
/// Returns the pc to resume at, or None for a state XNU refuses (EINVAL).
pub(crate) fn restore(uc: &mut Unicorn<'_, Process>, mcontext: &[u8]) -> Option<u64> {
    match uc.get_data().arch {
        Arch::X86_64 => {
            let values: Vec<u64> =
                (0..X86_THREAD_REGISTERS.len()).map(|i| get_u64(mcontext, x86::THREAD_STATE + 8 * i)).collect();
            let (rip, rsp) = (values[X86_RIP], values[X86_RSP]);
            let canonical = |a: u64| !(X86_CANONICAL_LIMIT..=!X86_CANONICAL_LIMIT).contains(&a);
            if !canonical(rip) || !canonical(rsp) {
                return None;
            }
            let rflags = (values[X86_RFLAGS] & X86_EFLAGS_USER_BITS) | X86_EFLAGS_USER_SET;
            let pairs: Vec<(RegisterX86, u64)> = X86_THREAD_REGISTERS.into_iter().zip(values).collect();
            write(uc, &pairs);
            write(uc, &[(RegisterX86::RFLAGS, rflags), (RegisterX86::MXCSR, u64::from(get_u32(mcontext, x86::MXCSR)))]);
            for (i, &xmm) in X86_XMM.iter().enumerate() {
                let _ = uc.reg_write_long(xmm, &mcontext[x86::XMM0 + 16 * i..x86::XMM0 + 16 * (i + 1)]);
            }
            Some(rip)
        }
        Arch::Arm64 => {
            let values: Vec<u64> =
                (0..ARM64_THREAD_REGISTERS.len()).map(|i| get_u64(mcontext, arm64::THREAD_STATE + 8 * i)).collect();
            let pc = values[ARM64_PC];
            let pairs: Vec<(RegisterARM64, u64)> = ARM64_THREAD_REGISTERS.into_iter().zip(values).collect();
            write(uc, &pairs);
            let nzcv = u64::from(get_u32(mcontext, arm64::CPSR)) & ARM64_NZCV_BITS;
            write(
                uc,
                &[
                    (RegisterARM64::NZCV, nzcv),
                    (RegisterARM64::FPSR, u64::from(get_u32(mcontext, arm64::FPSR))),
                    (RegisterARM64::FPCR, u64::from(get_u32(mcontext, arm64::FPCR))),
                ],
            );
            for (i, &q) in ARM64_Q.iter().enumerate() {
                let at = arm64::NEON_STATE + 16 * i;
                let _ = uc.reg_write_long(q, &mcontext[at..at + 16]);
            }
            Some(pc)
        }
    }
}
