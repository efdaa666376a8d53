//! Linux: system calls by `syscall` (number in rax) and `svc #0` (number
//! in x8); failures return −errno.

use super::syscall::Call;
use super::{Failure, Kernel, Trap};
use crate::regs::{arm64, x86, RegSet};

pub const X86_64: Kernel = Kernel {
    trap: Trap::Syscall,
    number: x86::RAX,
    calls: &[(Call::Write, 1), (Call::Exit, 60), (Call::Mmap, 9)],
    class: 0,
    // The CPU's `syscall` writes the return address and flags there.
    clobbers: RegSet(1 << 1 | 1 << 11), // rcx r11
    failure: Failure::NegativeErrno,
    map_private_anonymous: MAP_PRIVATE_ANONYMOUS,
};

pub const ARM64: Kernel = Kernel {
    trap: Trap::Svc(0),
    number: arm64::X8,
    calls: &[(Call::Write, 64), (Call::Exit, 93), (Call::Mmap, 222)],
    class: 0,
    // The IR's calls name their number in x16: x8 is loaded for the kernel.
    clobbers: RegSet(1 << 8),
    failure: Failure::NegativeErrno,
    map_private_anonymous: MAP_PRIVATE_ANONYMOUS,
};

const MAP_PRIVATE_ANONYMOUS: i64 = 0x22;
