//! Linux: system calls by `syscall` (number in rax) and `svc #0` (number
//! in x8); failures return −errno.

use super::syscall::Call;
use super::{Failure, Kernel, Trap, BUFFER, CLOCK_MS, OPEN, RANDOM, SLEEP};
use crate::ir::{BinOp, Isa, Src};
use crate::regs::{arm64, x86, RegSet};
use crate::runtime::builder::Builder;

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
        _ => return false,
    }
    true
}
