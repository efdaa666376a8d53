//! macOS (XNU): BSD system calls by `syscall` with the BSD class in rax
//! and by `svc #0x80` with the number in x16; a failure sets the carry
//! flag and returns errno. The kernel returns a second value in rdx / x1.

use super::syscall::Call;
use super::{Failure, Kernel, Trap, BUFFER, CLOCK_MS, OPEN, RANDOM, SLEEP};
use crate::ir::{BinOp, Src};
use crate::regs::{arm64, x86, RegSet};
use crate::runtime::builder::Builder;

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
pub fn primitive(name: &str, b: &mut Builder) -> bool {
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
        _ => return false,
    }
    true
}
