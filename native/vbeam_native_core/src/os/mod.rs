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

use crate::ir::{Cond, Isa, PReg, Src};
use crate::regs::RegSet;
use crate::runtime::builder::Builder;
use crate::target::{Os, Target};
use syscall::Call;

/// `os_write(fd, ptr, len) -> written`: a negative result is an error.
pub const WRITE: &str = "__vbeam_os_write";
/// `os_exit(status)`: ends the process; never returns.
pub const EXIT: &str = "__vbeam_os_exit";
/// `os_pages(bytes) -> address`: fresh zeroed memory, or 0 when the system
/// refuses.
pub const PAGES: &str = "__vbeam_os_pages";

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
    pub fn number_of(&self, call: Call) -> i64 {
        self.class | syscall::number_in(self.calls, call)
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
    /// A call to a function of the program.
    Call(&'static str),
}

/// The process's first instructions on `target`: clear the heap register
/// when the program allocates (its first allocation then obtains a
/// region), call `main`, then exit with status 0.
pub fn start(target: Target, allocates: bool) -> Vec<StartStep> {
    let mut steps = Vec::new();
    match target.os {
        // The kernel jumps to the entry point with the stack aligned.
        Os::Linux => {}
        // dyld calls `LC_MAIN`'s entry point as `main(argc, argv, envp, apple)`.
        Os::Darwin => steps.push(StartStep::RealignAfterCall),
        // The firmware calls `efi_main(ImageHandle, SystemTable)`.
        Os::Uefi => {
            steps.push(StartStep::RealignAfterCall);
            steps.extend(uefi::entry_arguments(target).map(|(reg, entry)| StartStep::Save(reg, entry)));
            steps.push(StartStep::Call(uefi::INIT));
        }
    }
    if allocates {
        steps.push(StartStep::Zero(target.cc.heap));
    }
    steps.push(StartStep::Call(crate::validate::ENTRY_POINT));
    steps.push(StartStep::Zero(target.cc.args[0]));
    steps.push(StartStep::Call(EXIT));
    steps
}

/// The routines every program of `target` links: what its start-up calls.
pub fn start_routines(target: Target) -> &'static [&'static str] {
    match target.os {
        Os::Linux | Os::Darwin => &[EXIT],
        Os::Uefi => &[EXIT, uefi::INIT],
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
    uefi::BSS.iter().find(|(n, _)| *n == name).map(|(_, size)| *size)
}

/// Builds the primitive `name` for `target`; false if it is not one.
pub fn primitive(target: Target, name: &str, b: &mut Builder) -> bool {
    let Some(kernel) = kernel(target) else { return uefi::primitive(name, b) };
    match name {
        WRITE => {
            let [fd, ptr, len] = b.params();
            let written = b.syscall(Call::Write, &[Src::Reg(fd), Src::Reg(ptr), Src::Reg(len)]);
            b.ret(Src::Reg(written));
        }
        EXIT => {
            let [status] = b.params();
            b.syscall(Call::Exit, &[Src::Reg(status)]);
            b.trap();
        }
        PAGES => {
            let [bytes] = b.params();
            let flags = kernel.map_private_anonymous;
            let no_file = Src::Imm(-1);
            let args = [Src::Imm(0), Src::Reg(bytes), Src::Imm(PROT_READ_WRITE), Src::Imm(flags), no_file, Src::Imm(0)];
            let base = b.syscall(Call::Mmap, &args);
            let refused = b.label();
            // Failures are −errno (see `Failure`): -4095..-1 as unsigned.
            b.cmp(base, Src::Imm(FIRST_ERRNO));
            b.jcc(Cond::Geu, refused);
            b.ret(Src::Reg(base));
            b.bind(refused);
            b.ret(Src::Imm(0));
        }
        _ => return false,
    }
    true
}

const PROT_READ_WRITE: i64 = 3;
/// The most negative −errno: results at or above it (unsigned) failed.
const FIRST_ERRNO: i64 = -4095;
