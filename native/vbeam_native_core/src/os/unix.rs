//! The primitives Linux and macOS build alike: write, exit, pages (mmap),
//! read and close take the same arguments on both kernels.

use super::syscall::Call;
use super::{Kernel, CLOSE, EXIT, PAGES, READ, WRITE};
use crate::ir::{Cond, Src};
use crate::runtime::builder::Builder;

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
