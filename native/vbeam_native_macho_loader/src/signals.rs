//! Synchronous signals as XNU raises and delivers them: the CPU fault →
//! Mach exception → BSD signal translation (`osfmk/i386/trap.c`,
//! `osfmk/arm64/sleh.c`, `bsd/uxkern/ux_exception.c`, `machine_exception`),
//! the `sigaction`, `sigaltstack` and `sigreturn` system calls
//! (`bsd/kern/kern_sig.c`, `unix_signal.c`), and delivery (`postsig`,
//! `sendsig`) to a handler through the process's own trampoline.
//!
//! There is one thread and no other signal source, so only faults are
//! delivered. A fault whose signal has no handler, is ignored or is blocked
//! (as it is inside its own handler, unless `SA_NODEFER`) ends the run as
//! [`crate::Outcome::Fault`]: XNU kills the process with the default
//! action, or (ignored or blocked) retries the faulting instruction
//! forever.

use unicorn_engine::Unicorn;

use crate::macho::Arch;
use crate::process::{Interruption, Process};
use crate::sigframe::{self, ucontext, Delivery, ExceptionState, UCONTEXT_SIZE};
use crate::syscalls::errno::{EFAULT, EINVAL, ENOMEM, EPERM};
use crate::syscalls::Completion;

const SIGILL: u32 = 4;
const SIGTRAP: u32 = 5;
const SIGFPE: u32 = 8;
const SIGKILL: u32 = 9;
const SIGBUS: u32 = 10;
const SIGSEGV: u32 = 11;
const SIGSTOP: u32 = 17;
/// Signals are 1..NSIG.
const NSIG: u32 = 32;
/// `sigcantmask`: what no mask can block.
const UNBLOCKABLE: u32 = bit(SIGKILL) | bit(SIGSTOP);

/// `sa_flags` bits.
const SA_ONSTACK: u32 = 0x1;
const SA_RESTART: u32 = 0x2;
const SA_RESETHAND: u32 = 0x4;
const SA_NODEFER: u32 = 0x10;
const SA_SIGINFO: u32 = 0x40;
/// `SA_USERSPACE_MASK`: the flags `sigaction` keeps.
const SA_USERSPACE_MASK: u32 = 0x7f;
/// Libc's request that `sigreturn` check its token (first `sigaction` only).
const SA_VALIDATE_SIGRETURN_FROM_SIGTRAMP: u32 = 0x400;
/// The flags an old action reports (`SA_RESETHAND` is not among them).
const SA_REPORTED: u32 = SA_ONSTACK | SA_RESTART | SA_SIGINFO | SA_NODEFER;

/// `ss_flags` bits (`SA_ONSTACK` / `SA_DISABLE` in the kernel).
const SS_ONSTACK: u32 = 0x1;
const SS_DISABLE: u32 = 0x4;
/// `sigaltstack` refuses smaller stacks (`OLDMINSIGSTKSZ`, not `MINSIGSTKSZ`).
const OLD_MIN_SIGSTKSZ: u64 = 8 * 1024;

const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;

/// The trampoline's `infostyle`: `UC_FLAVOR` with `SA_SIGINFO`, else `UC_TRAD`.
const UC_TRAD: u32 = 1;
const UC_FLAVOR: u32 = 30;
/// `sigreturn` infostyles that only set or clear "on the alternate stack".
const UC_SET_ALT_STACK: u32 = 0x4000_0000;
const UC_RESET_ALT_STACK: u32 = 0x8000_0000;

/// `si_code` values (`bsd/sys/signal.h`).
const ILL_ILLOPC: i32 = 1;
const ILL_ILLTRP: i32 = 2;
const FPE_INTDIV: i32 = 7;
const SEGV_MAPERR: i32 = 1;
const SEGV_ACCERR: i32 = 2;
const BUS_ADRALN: i32 = 1;
const BUS_ADRERR: i32 = 2;

/// `sizeof(struct __user64_sigaction)` (handler, trampoline, mask, flags)
/// and `sizeof(struct user64_sigaction)` (handler, mask, flags).
const NEW_ACTION_SIZE: usize = 24;
const OLD_ACTION_SIZE: usize = 16;
/// `sizeof(struct user64_sigaltstack)`: sp, size, flags (and padding).
const STACK_T_SIZE: usize = 24;

/// x86 trap numbers and page-fault error code bits.
const X86_TRAP_DIVIDE: u16 = 0;
const X86_TRAP_INVALID_OPCODE: u16 = 6;
const X86_TRAP_GENERAL_PROTECTION: u16 = 13;
const X86_TRAP_PAGE_FAULT: u16 = 14;
const X86_PF_PROTECTION: u32 = 1 << 0;
const X86_PF_WRITE: u32 = 1 << 1;
const X86_PF_USER: u32 = 1 << 2;
const X86_PF_FETCH: u32 = 1 << 4;

/// ARM exception syndromes: class (bits 26..31), 32-bit instruction (IL),
/// write-not-read, and the level-3 translation and permission fault codes.
const ARM64_EC_UNKNOWN: u32 = 0x00;
const ARM64_EC_INSTRUCTION_ABORT_EL0: u32 = 0x20;
const ARM64_EC_DATA_ABORT_EL0: u32 = 0x24;
const ARM64_EC_SHIFT: u32 = 26;
const ARM64_ESR_IL: u32 = 1 << 25;
const ARM64_ESR_WNR: u32 = 1 << 6;
const ARM64_FSC_TRANSLATION_L3: u32 = 0x07;
const ARM64_FSC_PERMISSION_L3: u32 = 0x0f;

const fn bit(signal: u32) -> u32 {
    1 << (signal - 1)
}

/// How an access was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
    Execute,
}

/// A synchronous CPU exception, as the trap handler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// A page fault `vm_fault` could not resolve: nothing mapped there
    /// (`KERN_INVALID_ADDRESS`) or not with that access
    /// (`KERN_PROTECTION_FAILURE`).
    Memory { address: u64, access: Access, mapped: bool },
    /// x86 #UD, ARM undefined instruction: `EXC_BAD_INSTRUCTION`.
    InvalidOpcode,
    /// x86 #DE (division by zero or overflow): `EXC_ARITHMETIC`.
    DivideError,
    /// x86 #GP (e.g. a non-canonical address): `EXC_BAD_ACCESS`.
    GeneralProtection,
}

/// A fault waiting for the run loop to deliver: what happened and a
/// description for the run's outcome if it is fatal.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub(crate) cause: Cause,
    pub(crate) what: String,
}

/// Records a fault raised inside an emulator hook and stops the CPU; the
/// run loop delivers it (`deliver`) once emulation has stopped.
pub(crate) fn raise(uc: &mut Unicorn<'_, Process>, cause: Cause, what: String) {
    uc.get_data_mut().interruption.get_or_insert(Interruption::Fault(Fault { cause, what }));
    let _ = uc.emu_stop();
}

/// One signal's disposition (`sigacts`).
#[derive(Debug, Clone, Copy)]
struct Action {
    handler: u64,
    trampoline: u64,
    mask: u32,
    flags: u32,
}

impl Default for Action {
    /// `SIG_DFL`; `SA_RESTART` is what `sigaction` reports for a signal
    /// never set (its `ps_sigintr` bit is clear).
    fn default() -> Self {
        Action { handler: SIG_DFL, trampoline: 0, mask: 0, flags: SA_RESTART }
    }
}

/// The thread's alternate signal stack (`uu_sigstk`).
#[derive(Debug, Clone, Copy, Default)]
struct AltStack {
    base: u64,
    size: u64,
    enabled: bool,
    /// A handler is running on it (`SA_ONSTACK` in `ss_flags`).
    in_use: bool,
}

/// Whether `sigreturn` checks its token (`ps_sigreturn_validation`): the
/// first `sigaction` decides, and until then it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Validation {
    #[default]
    Undecided,
    Enabled,
    Disabled,
}

/// The process's signal state.
#[derive(Debug)]
pub(crate) struct Signals {
    /// Indexed by signal number (0 unused).
    actions: [Action; NSIG as usize],
    /// The thread's blocked signals (`uu_sigmask`).
    blocked: u32,
    alt_stack: AltStack,
    validation: Validation,
    /// `ps_sigreturn_token`, drawn at the first delivery.
    token_key: Option<u64>,
}

impl Default for Signals {
    fn default() -> Self {
        Signals {
            actions: [Action::default(); NSIG as usize],
            blocked: 0,
            alt_stack: AltStack::default(),
            validation: Validation::default(),
            token_key: None,
        }
    }
}

impl Signals {
    fn stack_flags(&self) -> u32 {
        let disabled = if self.alt_stack.enabled { 0 } else { SS_DISABLE };
        disabled | if self.alt_stack.in_use { SS_ONSTACK } else { 0 }
    }
}

fn read_user(uc: &Unicorn<'_, Process>, at: u64, len: usize) -> Result<Vec<u8>, Completion> {
    sigframe::copy_in(uc, at, len).ok_or(Completion::Error(EFAULT))
}

fn write_user(uc: &mut Unicorn<'_, Process>, at: u64, bytes: &[u8]) -> Result<(), Completion> {
    sigframe::copy_out(uc, at, bytes).map_err(|_| Completion::Error(EFAULT))
}

/// `sigaction(signum, nsa, osa)`: `nsa` is a `struct __sigaction` (with the
/// trampoline), `osa` receives a `struct sigaction` (without); the old
/// action is copied out before the new one is set.
pub(crate) fn sigaction(uc: &mut Unicorn<'_, Process>, signum: u32, new: u64, old: u64) -> Completion {
    if signum == 0 || signum >= NSIG || signum == SIGKILL || signum == SIGSTOP {
        return Completion::Error(EINVAL);
    }
    let new_action = if new != 0 {
        let bytes = match read_user(uc, new, NEW_ACTION_SIZE) {
            Ok(bytes) => bytes,
            Err(e) => return e,
        };
        Some((
            Action {
                handler: sigframe::get_u64(&bytes, 0),
                trampoline: sigframe::get_u64(&bytes, 8),
                mask: sigframe::get_u32(&bytes, 16) & !UNBLOCKABLE,
                flags: sigframe::get_u32(&bytes, 20) & SA_USERSPACE_MASK,
            },
            sigframe::get_u32(&bytes, 20) & SA_VALIDATE_SIGRETURN_FROM_SIGTRAMP != 0,
        ))
    } else {
        None
    };
    if old != 0 {
        let current = uc.get_data().signals.actions[signum as usize];
        let mut bytes = [0u8; OLD_ACTION_SIZE];
        bytes[..8].copy_from_slice(&current.handler.to_le_bytes());
        bytes[8..12].copy_from_slice(&current.mask.to_le_bytes());
        bytes[12..16].copy_from_slice(&(current.flags & SA_REPORTED).to_le_bytes());
        if let Err(e) = write_user(uc, old, &bytes) {
            return e;
        }
    }
    if let Some((action, validate)) = new_action {
        let signals = &mut uc.get_data_mut().signals;
        if signals.validation == Validation::Undecided {
            signals.validation = if validate { Validation::Enabled } else { Validation::Disabled };
        }
        signals.actions[signum as usize] = action;
    }
    Completion::Value(0)
}

/// `sigaltstack(nss, oss)`: the old stack is copied out first; a new one
/// may only disable (`SS_DISABLE`, not while on it) or set a stack of at
/// least 8 KiB (not while on the current one).
pub(crate) fn sigaltstack(uc: &mut Unicorn<'_, Process>, new: u64, old: u64) -> Completion {
    let signals = &uc.get_data().signals;
    if old != 0 {
        let mut bytes = [0u8; STACK_T_SIZE];
        bytes[..8].copy_from_slice(&signals.alt_stack.base.to_le_bytes());
        bytes[8..16].copy_from_slice(&signals.alt_stack.size.to_le_bytes());
        bytes[16..20].copy_from_slice(&signals.stack_flags().to_le_bytes());
        if let Err(e) = write_user(uc, old, &bytes) {
            return e;
        }
    }
    if new == 0 {
        return Completion::Value(0);
    }
    let bytes = match read_user(uc, new, STACK_T_SIZE) {
        Ok(bytes) => bytes,
        Err(e) => return e,
    };
    let (base, size, flags) =
        (sigframe::get_u64(&bytes, 0), sigframe::get_u64(&bytes, 8), sigframe::get_u32(&bytes, 16));
    let stack = &mut uc.get_data_mut().signals.alt_stack;
    if flags & !SS_DISABLE != 0 {
        return Completion::Error(EINVAL);
    }
    if flags & SS_DISABLE != 0 {
        if stack.in_use {
            return Completion::Error(EINVAL);
        }
        // The old base and size stay, as `oss` will show.
        stack.enabled = false;
        return Completion::Value(0);
    }
    if stack.in_use {
        return Completion::Error(EPERM);
    }
    if size < OLD_MIN_SIGSTKSZ {
        return Completion::Error(ENOMEM);
    }
    *stack = AltStack { base, size, enabled: true, in_use: false };
    Completion::Value(0)
}

/// `sigreturn(uctx, infostyle, token)`: back from a handler to the context
/// saved in `uctx`, restoring the signal mask and whether the thread is
/// on its alternate stack; or only set or clear the latter.
pub(crate) fn sigreturn(uc: &mut Unicorn<'_, Process>, context: u64, infostyle: u32, token: u64) -> Completion {
    match infostyle {
        UC_SET_ALT_STACK | UC_RESET_ALT_STACK => {
            uc.get_data_mut().signals.alt_stack.in_use = infostyle == UC_SET_ALT_STACK;
            return Completion::Value(0);
        }
        _ => {}
    }
    let arch = uc.get_data().arch;
    let context_bytes = match read_user(uc, context, UCONTEXT_SIZE) {
        Ok(bytes) => bytes,
        Err(e) => return e,
    };
    let mask = sigframe::get_u32(&context_bytes, ucontext::SIGMASK) & !UNBLOCKABLE;
    let size = sigframe::mcontext_size(arch);
    match arch {
        // x86_64 takes the mask before reading the machine context.
        Arch::X86_64 => uc.get_data_mut().signals.blocked = mask,
        // arm64 first checks that the machine context is the size it writes.
        Arch::Arm64 if sigframe::get_u64(&context_bytes, ucontext::MCSIZE) != size as u64 => {
            return Completion::Error(EINVAL)
        }
        Arch::Arm64 => {}
    }
    let machine = match read_user(uc, sigframe::get_u64(&context_bytes, ucontext::MCONTEXT), size) {
        Ok(bytes) => bytes,
        Err(e) => return e,
    };
    let signals = &mut uc.get_data_mut().signals;
    signals.blocked = mask;
    signals.alt_stack.in_use = sigframe::get_u32(&context_bytes, ucontext::ONSTACK) & 1 != 0;
    let expected = context ^ signals.token_key.unwrap_or(0);
    if signals.validation != Validation::Disabled && token != expected {
        return Completion::Error(EINVAL);
    }
    match sigframe::restore(uc, &machine) {
        Some(pc) => Completion::ResumeAt(pc),
        None => Completion::Error(EINVAL),
    }
}

/// What a fault raises: the signal, `si_code`, `si_addr`, and whether it is
/// a stack overflow (XNU's rule in `handle_ux_exception`).
struct Raised {
    signal: u32,
    code: i32,
    address: u64,
    stack_overflow: bool,
    exception: ExceptionState,
}

fn signal_name(signal: u32) -> &'static str {
    match signal {
        SIGILL => "SIGILL",
        SIGFPE => "SIGFPE",
        SIGBUS => "SIGBUS",
        SIGSEGV => "SIGSEGV",
        _ => "signal",
    }
}

/// The Mach exception's BSD signal. An unmapped address is SIGSEGV; a
/// protection failure is SIGBUS, except in the stack's reservation (a
/// stack overflow into the guard), which is SIGSEGV.
fn translate(arch: Arch, cause: Cause, pc: u64, stack: &std::ops::Range<u64>) -> Raised {
    let x86 = arch == Arch::X86_64;
    let exception = |trapno, syndrome, fault_address| ExceptionState { trapno, syndrome, fault_address };
    let plain = |signal, code, address, exception| Raised { signal, code, address, stack_overflow: false, exception };
    match cause {
        Cause::Memory { address, access, mapped } => {
            let syndrome = if x86 {
                let protection = if mapped { X86_PF_PROTECTION } else { 0 };
                let kind = match access {
                    Access::Read => 0,
                    Access::Write => X86_PF_WRITE,
                    Access::Execute => X86_PF_FETCH,
                };
                protection | kind | X86_PF_USER
            } else {
                let class =
                    if access == Access::Execute { ARM64_EC_INSTRUCTION_ABORT_EL0 } else { ARM64_EC_DATA_ABORT_EL0 };
                let write = if access == Access::Write { ARM64_ESR_WNR } else { 0 };
                let status = if mapped { ARM64_FSC_PERMISSION_L3 } else { ARM64_FSC_TRANSLATION_L3 };
                class << ARM64_EC_SHIFT | ARM64_ESR_IL | write | status
            };
            let state = exception(if x86 { X86_TRAP_PAGE_FAULT } else { 0 }, syndrome, address);
            // arm64's sendsig reports every SIGSEGV as SEGV_ACCERR and every
            // SIGBUS as BUS_ADRALN; x86_64 tells them apart.
            if !mapped {
                plain(SIGSEGV, if x86 { SEGV_MAPERR } else { SEGV_ACCERR }, address, state)
            } else if stack.contains(&address) {
                Raised { signal: SIGSEGV, code: SEGV_ACCERR, address, stack_overflow: true, exception: state }
            } else {
                plain(SIGBUS, if x86 { BUS_ADRERR } else { BUS_ADRALN }, address, state)
            }
        }
        Cause::InvalidOpcode => {
            let state = if x86 {
                exception(X86_TRAP_INVALID_OPCODE, 0, 0)
            } else {
                exception(0, ARM64_EC_UNKNOWN << ARM64_EC_SHIFT | ARM64_ESR_IL, 0)
            };
            plain(SIGILL, if x86 { ILL_ILLOPC } else { ILL_ILLTRP }, pc, state)
        }
        Cause::DivideError => plain(SIGFPE, FPE_INTDIV, pc, exception(X86_TRAP_DIVIDE, 0, 0)),
        // CR2 means nothing after #GP: si_addr and si_code are 0.
        Cause::GeneralProtection => plain(SIGSEGV, 0, 0, exception(X86_TRAP_GENERAL_PROTECTION, 0, 0)),
    }
}

/// Delivers a fault's signal as `postsig`/`sendsig` do: on success the
/// registers are set for the trampoline and the run resumes at the
/// returned address; Err says why the kernel kills the process instead.
pub(crate) fn deliver(uc: &mut Unicorn<'_, Process>, fault: Fault) -> Result<u64, String> {
    let pc = uc.pc_read().unwrap_or(0);
    let arch = uc.get_data().arch;
    let raised = translate(arch, fault.cause, pc, &uc.get_data().stack_reservation);
    let signal = raised.signal;
    let name = signal_name(signal);
    let fatal = |why: &str| format!("{} ({name}{why}) at pc 0x{pc:x}", fault.what);

    let signals = &uc.get_data().signals;
    let action = signals.actions[signal as usize];
    let blocked = signals.blocked & bit(signal) != 0;
    // A stack overflow is only caught by a handler that runs on the
    // alternate stack; otherwise XNU forces the default action.
    if raised.stack_overflow && (blocked || action.handler == SIG_IGN || action.flags & SA_ONSTACK == 0) {
        return Err(fatal(", stack overflow without an SA_ONSTACK handler"));
    }
    match action.handler {
        SIG_DFL => return Err(fatal("")),
        SIG_IGN => return Err(fatal(" ignored: the instruction would fault forever")),
        _ if blocked => return Err(fatal(" blocked: raised in its own handler")),
        _ => {}
    }
    let (alt, mask) = (signals.alt_stack, signals.blocked);
    let switch_stack = alt.enabled && !alt.in_use && action.flags & SA_ONSTACK != 0;
    let process = uc.get_data_mut();
    let token_key = match process.signals.token_key {
        Some(key) => key,
        None => {
            let key = process.random_u64();
            *process.signals.token_key.insert(key)
        }
    };
    let delivery = Delivery {
        signal,
        code: raised.code,
        address: raised.address,
        infostyle: if action.flags & SA_SIGINFO != 0 { UC_FLAVOR } else { UC_TRAD },
        catcher: action.handler,
        trampoline: action.trampoline,
        alt_stack: switch_stack.then_some((alt.base, alt.size)),
        was_on_alt_stack: alt.in_use,
        mask,
        token_key,
        exception: raised.exception,
    };
    if let Err(at) = sigframe::push(uc, &delivery) {
        // `sendsig`'s copyout failed: the kernel resets SIGILL and raises it.
        return Err(fatal(&format!("; its frame at 0x{at:x} is not writable, so SIGILL")));
    }
    let signals = &mut uc.get_data_mut().signals;
    signals.alt_stack.in_use |= switch_stack;
    signals.blocked |= action.mask | if action.flags & SA_NODEFER == 0 { bit(signal) } else { 0 };
    if action.flags & SA_RESETHAND != 0 && signal != SIGILL && signal != SIGTRAP {
        signals.actions[signal as usize] =
            Action { handler: SIG_DFL, flags: action.flags & !(SA_SIGINFO | SA_NODEFER), ..action };
    }
    Ok(action.trampoline)
}
