//! The primitives Linux and macOS build alike: write, exit, pages (mmap),
//! read and close take the same arguments on both kernels.

use super::syscall::Call;
use super::Builder;
use super::{Kernel, CLOSE, EXIT, FAULT_REPORT, PAGES, READ, WRITE};
use crate::ir::{Cond, Reg, Src};

/// Where a fault handler finds the machine state in what the kernel passes
/// it: byte offsets in `siginfo_t` and in the registers saved in the
/// `ucontext_t`.
pub struct SignalFrame {
    pub fault_address: i32,
    /// The saved registers: inline in the `ucontext_t` (`None`: the
    /// register offsets are from its start) or behind the pointer at this
    /// offset.
    pub context: Option<i32>,
    pub pc: i32,
    pub sp: i32,
    pub fp: i32,
    /// The link register (arm64).
    pub lr: Option<i32>,
}

/// A fault handler's body: the runtime's report from the saved state.
pub fn report_fault(b: &mut Builder, frame: &SignalFrame, signal: Reg, info: Reg, context: Reg) {
    let address = b.load(info, frame.fault_address);
    let registers = match frame.context {
        Some(at) => b.load(context, at),
        None => context,
    };
    let pc = b.load(registers, frame.pc);
    let sp = b.load(registers, frame.sp);
    let fp = b.load(registers, frame.fp);
    let lr = match frame.lr {
        Some(at) => Src::Reg(b.load(registers, at)),
        None => Src::Imm(0),
    };
    let args = [Src::Reg(signal), Src::Reg(address), Src::Reg(pc), Src::Reg(sp), Src::Reg(fp), lr];
    b.call_void(FAULT_REPORT, &args);
    b.trap();
}

const PROT_READ_WRITE: i64 = 3;
/// The most negative −errno: results at or above it (unsigned) failed.
const FIRST_ERRNO: i64 = -4095;

/// Builds the primitive `name`; false if it is not one of these.
pub fn primitive(kernel: &Kernel, name: &str, b: &mut Builder) -> bool {
    match name {
        WRITE | READ => {
            let [fd, ptr, len] = b.params();
            let call = if name == WRITE { Call::Write } else { Call::Read };
            let done = b.syscall(call, &[Src::Reg(fd), Src::Reg(ptr), Src::Reg(len)]);
            b.ret(Src::Reg(done));
        }
        EXIT => {
            let [status] = b.params();
            b.syscall(Call::Exit, &[Src::Reg(status)]);
            b.trap();
        }
        CLOSE => {
            let [fd] = b.params();
            b.syscall(Call::Close, &[Src::Reg(fd)]);
            b.ret_void();
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
