//! Linux: system calls by `syscall` (number in rax) and `svc #0` (number
//! in x8); failures return −errno.

use super::syscall::Call;
use super::unix::{self, SignalFrame};
use super::Builder;
use super::{
    Failure, Fault, Kernel, StartStep, Trap, BUFFER, CATCH_FAULTS, CLOCK_MS, FAULT_HANDLER, OPEN, RANDOM, SLEEP,
};
use super::{SIGNAL_STACK, SIGNAL_STACK_SIZE, SIGNAL_STRUCT};
use crate::ir::{BinOp, Isa, Src};
use crate::regs::{arm64, x86, RegSet};

pub const X86_64: Kernel = Kernel {
    trap: Trap::Syscall,
    number: x86::RAX,
    calls: &[
        (Call::Write, 1),
        (Call::Exit, 60),
        (Call::Mmap, 9),
        (Call::Read, 0),
        (Call::Open, 2),
        (Call::Close, 3),
        (Call::Nanosleep, 35),
        (Call::ClockGettime, 228),
        (Call::Getrandom, 318),
        (Call::Sigaction, 13),
        (Call::Sigaltstack, 131),
        (Call::Sigreturn, 15),
    ],
    class: 0,
    // The CPU's `syscall` writes the return address and flags there.
    clobbers: RegSet(1 << 1 | 1 << 11), // rcx r11
    failure: Failure::NegativeErrno,
    map_private_anonymous: MAP_PRIVATE_ANONYMOUS,
};

pub const ARM64: Kernel = Kernel {
    trap: Trap::Svc(0),
    number: arm64::X8,
    calls: &[
        (Call::Write, 64),
        (Call::Exit, 93),
        (Call::Mmap, 222),
        (Call::Read, 63),
        (Call::Openat, 56),
        (Call::Close, 57),
        (Call::Nanosleep, 101),
        (Call::ClockGettime, 113),
        (Call::Getrandom, 278),
        (Call::Sigaction, 134),
        (Call::Sigaltstack, 132),
        (Call::Sigreturn, 139),
    ],
    class: 0,
    // The IR's calls name their number in x16: x8 is loaded for the kernel.
    clobbers: RegSet(1 << 8),
    failure: Failure::NegativeErrno,
    map_private_anonymous: MAP_PRIVATE_ANONYMOUS,
};

const MAP_PRIVATE_ANONYMOUS: i64 = 0x22;
const O_WRONLY_CREAT_TRUNC: i64 = 0o1101;
const AT_FDCWD: i64 = -100;
const CLOCK_MONOTONIC: i64 = 1;
/// Files a program creates: rw-r--r--.
const MODE: i64 = 0o644;
const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_MILLI: i64 = 1_000_000;

/// The faults a handler is installed for, by signal number.
pub const FAULT_SIGNALS: &[(Fault, i64)] =
    &[(Fault::Memory, 11), (Fault::Bus, 7), (Fault::Instruction, 4), (Fault::Arithmetic, 8)];

/// `struct kernel_sigaction`'s fields: handler, flags, restorer, mask.
const ACTION_FLAGS: i32 = 8;
const ACTION_RESTORER: i32 = 16;
const ACTION_MASK: i32 = 24;
const SA_SIGINFO: i64 = 0x4;
const SA_ONSTACK: i64 = 0x0800_0000;
/// A fault inside the handler enters it again (`runtime::faults` then
/// exits) instead of killing the process by the signal.
const SA_NODEFER: i64 = 0x4000_0000;
/// The handler names the code its return goes to (`SIGRETURN`).
const SA_RESTORER: i64 = 0x0400_0000;
/// The kernel's signal set: 64 signals.
const SIGSET_SIZE: i64 = 8;
/// `stack_t`: ss_sp, ss_flags, ss_size.
const STACK_FLAGS: i32 = 8;
const STACK_SIZE: i32 = 16;
/// What a signal handler returns to: back into the kernel. The report
/// never returns, but the x86_64 kernel delivers a signal only to a
/// handler that names one.
const SIGRETURN: &str = "__vbeam_os_sigreturn";

/// Where the machine state is when a handler runs: `siginfo_t`'s
/// `si_addr`, and in `ucontext_t` the `uc_mcontext` registers (x86_64
/// `gregs[REG_RBP, REG_RSP, REG_RIP]`; arm64 `regs[29]`, `regs[30]`, `sp`,
/// `pc` after the 16-byte aligned `fault_address`).
fn signal_frame(isa: Isa) -> SignalFrame {
    match isa {
        Isa::X86_64 => SignalFrame { fault_address: 16, context: None, pc: 168, sp: 160, fp: 120, lr: None },
        Isa::Arm64 => SignalFrame { fault_address: 16, context: None, pc: 440, sp: 432, fp: 416, lr: Some(424) },
    }
}

/// `rt_sigreturn` alone, as the C library's restorer is.
pub fn bare_routine(isa: Isa, name: &str) -> Option<Vec<StartStep>> {
    let kernel = match isa {
        Isa::X86_64 => &X86_64,
        Isa::Arm64 => &ARM64,
    };
    (name == SIGRETURN).then(|| {
        let value = kernel.number_of(Call::Sigreturn);
        vec![StartStep::EnterKernel { number: kernel.number, value, trap: kernel.trap }]
    })
}

/// Builds Linux's own primitives: those whose calls differ from macOS's.
pub fn primitive(isa: Isa, name: &str, b: &mut Builder) -> bool {
    match name {
        OPEN => {
            let [path, for_writing] = b.params();
            let flags = b.op(BinOp::Mul, for_writing, Src::Imm(O_WRONLY_CREAT_TRUNC));
            let fd = match isa {
                Isa::X86_64 => b.syscall(Call::Open, &[Src::Reg(path), Src::Reg(flags), Src::Imm(MODE)]),
                Isa::Arm64 => {
                    let args = [Src::Imm(AT_FDCWD), Src::Reg(path), Src::Reg(flags), Src::Imm(MODE)];
                    b.syscall(Call::Openat, &args)
                }
            };
            b.ret(Src::Reg(fd));
        }
        SLEEP => {
            // nanosleep(&{seconds, nanoseconds}, NULL)
            let [nanos] = b.params();
            let time = b.lea(BUFFER);
            let seconds = b.op(BinOp::Sdiv, nanos, Src::Imm(NANOS_PER_SECOND));
            let rest = b.op(BinOp::Srem, nanos, Src::Imm(NANOS_PER_SECOND));
            b.store(time, 0, Src::Reg(seconds));
            b.store(time, 8, Src::Reg(rest));
            b.syscall(Call::Nanosleep, &[Src::Reg(time), Src::Imm(0)]);
            b.ret_void();
        }
        CLOCK_MS => {
            let time = b.lea(BUFFER);
            b.syscall(Call::ClockGettime, &[Src::Imm(CLOCK_MONOTONIC), Src::Reg(time)]);
            let seconds = b.load(time, 0);
            let nanos = b.load(time, 8);
            let ms = b.op(BinOp::Mul, seconds, Src::Imm(1000));
            let ms_part = b.op(BinOp::Sdiv, nanos, Src::Imm(NANOS_PER_MILLI));
            b.bin(BinOp::Add, ms, ms, Src::Reg(ms_part));
            b.ret(Src::Reg(ms));
        }
        RANDOM => {
            let bits = b.lea(BUFFER);
            b.syscall(Call::Getrandom, &[Src::Reg(bits), Src::Imm(8), Src::Imm(0)]);
            let v = b.load(bits, 0);
            b.ret(Src::Reg(v));
        }
        CATCH_FAULTS => {
            let stack = b.lea(SIGNAL_STACK);
            let description = b.lea(SIGNAL_STRUCT);
            b.store(description, 0, Src::Reg(stack));
            b.store(description, STACK_FLAGS, Src::Imm(0));
            b.store(description, STACK_SIZE, Src::Imm(SIGNAL_STACK_SIZE as i64));
            b.syscall(Call::Sigaltstack, &[Src::Reg(description), Src::Imm(0)]);
            let handler = b.lea_function(FAULT_HANDLER);
            let restorer = b.lea_function(SIGRETURN);
            b.store(description, 0, Src::Reg(handler));
            b.store(description, ACTION_FLAGS, Src::Imm(SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESTORER));
            b.store(description, ACTION_RESTORER, Src::Reg(restorer));
            b.store(description, ACTION_MASK, Src::Imm(0));
            for &(_, signal) in FAULT_SIGNALS {
                let args = [Src::Imm(signal), Src::Reg(description), Src::Imm(0), Src::Imm(SIGSET_SIZE)];
                b.syscall(Call::Sigaction, &args);
            }
            b.ret_void();
        }
        FAULT_HANDLER => {
            let [signal, info, context] = b.params();
            unix::report_fault(b, &signal_frame(isa), signal, info, context);
        }
        _ => return false,
    }
    true
}
