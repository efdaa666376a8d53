//! macOS (XNU): BSD system calls by `syscall` with the BSD class in rax
//! and by `svc #0x80` with the number in x16; a failure sets the carry
//! flag and returns errno. The kernel returns a second value in rdx / x1.

use super::syscall::Call;
use super::{Failure, Kernel, Trap};
use crate::regs::{arm64, x86, RegSet};

/// BSD call numbers (`bsd/kern/syscalls.master`).
const BSD: &[(Call, i64)] = &[(Call::Write, 4), (Call::Exit, 1), (Call::Mmap, 197)];

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
