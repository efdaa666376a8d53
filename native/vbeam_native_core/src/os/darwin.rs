//! macOS (XNU): BSD system calls by `syscall` with the BSD class in rax
//! and by `svc #0x80` with the number in x16; a failure sets the carry
//! flag and returns errno. The kernel returns a second value in rdx / x1.

use super::syscall::Call;
use super::unix::{self, SignalFrame};
use super::Builder;
use super::{Failure, Fault, Kernel, Trap, BUFFER, CATCH_FAULTS, CLOCK_MS, FAULT_HANDLER, OPEN, RANDOM, SLEEP};
use super::{SIGNAL_STACK, SIGNAL_STACK_SIZE, SIGNAL_STRUCT};
use crate::ir::{BinOp, Isa, Src, Width};
use crate::regs::{arm64, x86, RegSet};

/// BSD call numbers (`bsd/kern/syscalls.master`).
const BSD: &[(Call, i64)] = &[
    (Call::Exit, 1),
    (Call::Read, 3),
    (Call::Write, 4),
    (Call::Open, 5),
    (Call::Close, 6),
    (Call::Select, 93),
    (Call::Gettimeofday, 116),
    (Call::Mmap, 197),
    (Call::Getentropy, 500),
    (Call::Sigaction, 46),
    (Call::Sigaltstack, 53),
];

pub const X86_64: Kernel = Kernel {
    trap: Trap::Syscall,
    number: x86::RAX,
    calls: BSD,
    // SYSCALL_CLASS_UNIX << SYSCALL_CLASS_SHIFT.
    class: 0x200_0000,
    clobbers: RegSet(1 << 1 | 1 << 2 | 1 << 11), // rcx rdx r11
    failure: Failure::CarrySet,
    map_private_anonymous: MAP_PRIVATE_ANON,
};

pub const ARM64: Kernel = Kernel {
    trap: Trap::Svc(0x80),
    number: arm64::X16,
    calls: BSD,
    class: 0,
    clobbers: RegSet(1 << 1), // x1
    failure: Failure::CarrySet,
    map_private_anonymous: MAP_PRIVATE_ANON,
};

/// The faults a handler is installed for, by signal number
/// (`bsd/sys/signal.h`).
pub const FAULT_SIGNALS: &[(Fault, i64)] =
    &[(Fault::Memory, 11), (Fault::Bus, 10), (Fault::Instruction, 4), (Fault::Arithmetic, 8)];

/// `struct __sigaction`'s fields: handler, the trampoline the kernel
/// calls (libc's `_sigtramp`; here the handler itself), a 32-bit mask and
/// 32-bit flags.
const ACTION_TRAMPOLINE: i32 = 8;
const ACTION_MASK: i32 = 16;
const ACTION_FLAGS: i32 = 20;
const SA_ONSTACK: i64 = 0x1;
const SA_SIGINFO: i64 = 0x40;
/// A fault inside the handler enters it again (`runtime::faults` then
/// exits): XNU would otherwise leave the signal pending while the
/// faulting instruction runs again, for ever.
const SA_NODEFER: i64 = 0x10;
/// `stack_t`: ss_sp, ss_size, ss_flags (32 bits).
const STACK_SIZE: i32 = 8;
const STACK_FLAGS: i32 = 16;

/// Where the machine state is when the trampoline runs: `siginfo_t`'s
/// `si_addr`; the `ucontext_t`'s `uc_mcontext` pointer, and in the
/// `mcontext64` after the 16-byte exception state, the thread state's
/// registers (x86_64 `__rbp`, `__rsp`, `__rip`; arm64 `__fp`, `__lr`,
/// `__sp`, `__pc`).
fn signal_frame(isa: Isa) -> SignalFrame {
    match isa {
        Isa::X86_64 => SignalFrame { fault_address: 24, context: Some(48), pc: 144, sp: 72, fp: 64, lr: None },
        Isa::Arm64 => SignalFrame { fault_address: 24, context: Some(48), pc: 272, sp: 264, fp: 248, lr: Some(256) },
    }
}

/// `MAP_PRIVATE | MAP_ANON` (Linux's `MAP_ANONYMOUS` bit means something
/// else here).
const MAP_PRIVATE_ANON: i64 = 0x1002;
/// `O_WRONLY | O_CREAT | O_TRUNC` (`sys/fcntl.h`).
const O_WRONLY_CREAT_TRUNC: i64 = 0x601;
/// Files a program creates: rw-r--r--.
const MODE: i64 = 0o644;
const NANOS_PER_MICRO: i64 = 1000;
const MICROS_PER_SECOND: i64 = 1_000_000;

/// Builds macOS's own primitives: those whose calls differ from Linux's.
pub fn primitive(isa: Isa, name: &str, b: &mut Builder) -> bool {
    match name {
        OPEN => {
            let [path, for_writing] = b.params();
            let flags = b.op(BinOp::Mul, for_writing, Src::Imm(O_WRONLY_CREAT_TRUNC));
            let fd = b.syscall(Call::Open, &[Src::Reg(path), Src::Reg(flags), Src::Imm(MODE)]);
            b.ret(Src::Reg(fd));
        }
        SLEEP => {
            // XNU has no nanosleep: select(0, NULL, NULL, NULL, &{seconds,
            // microseconds}) waits as long.
            let [nanos] = b.params();
            let time = b.lea(BUFFER);
            let micros = b.op(BinOp::Sdiv, nanos, Src::Imm(NANOS_PER_MICRO));
            let seconds = b.op(BinOp::Sdiv, micros, Src::Imm(MICROS_PER_SECOND));
            let rest = b.op(BinOp::Srem, micros, Src::Imm(MICROS_PER_SECOND));
            b.store(time, 0, Src::Reg(seconds));
            b.store(time, 8, Src::Reg(rest));
            let none = Src::Imm(0);
            b.syscall(Call::Select, &[none, none, none, none, Src::Reg(time)]);
            b.ret_void();
        }
        CLOCK_MS => {
            // gettimeofday(&{seconds, microseconds}, NULL)
            let time = b.lea(BUFFER);
            b.syscall(Call::Gettimeofday, &[Src::Reg(time), Src::Imm(0)]);
            let seconds = b.load(time, 0);
            let micros = b.load_u32(time, 8);
            let ms = b.op(BinOp::Mul, seconds, Src::Imm(1000));
            let ms_part = b.op(BinOp::Sdiv, micros, Src::Imm(1000));
            b.bin(BinOp::Add, ms, ms, Src::Reg(ms_part));
            b.ret(Src::Reg(ms));
        }
        RANDOM => {
            let bits = b.lea(BUFFER);
            b.syscall(Call::Getentropy, &[Src::Reg(bits), Src::Imm(8)]);
            let v = b.load(bits, 0);
            b.ret(Src::Reg(v));
        }
        CATCH_FAULTS => {
            let stack = b.lea(SIGNAL_STACK);
            let description = b.lea(SIGNAL_STRUCT);
            b.store(description, 0, Src::Reg(stack));
            b.store(description, STACK_SIZE, Src::Imm(SIGNAL_STACK_SIZE as i64));
            b.store(description, STACK_FLAGS, Src::Imm(0));
            b.syscall(Call::Sigaltstack, &[Src::Reg(description), Src::Imm(0)]);
            // The kernel calls the trampoline with the handler as its first
            // argument: the handler is its own trampoline.
            let handler = b.lea_function(FAULT_HANDLER);
            b.store(description, 0, Src::Reg(handler));
            b.store(description, ACTION_TRAMPOLINE, Src::Reg(handler));
            b.store_narrow(Width::W32, description, ACTION_MASK, Src::Imm(0));
            b.store_narrow(Width::W32, description, ACTION_FLAGS, Src::Imm(SA_SIGINFO | SA_ONSTACK | SA_NODEFER));
            for &(_, signal) in FAULT_SIGNALS {
                b.syscall(Call::Sigaction, &[Src::Imm(signal), Src::Reg(description), Src::Imm(0)]);
            }
            b.ret_void();
        }
        FAULT_HANDLER => {
            // The trampoline's arguments: handler, style, signal, siginfo,
            // ucontext.
            let [_, _, signal, info, context] = b.params();
            unix::report_fault(b, &signal_frame(isa), signal, info, context);
        }
        _ => return false,
    }
    true
}
