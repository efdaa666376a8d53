//! Single instructions written as Erlang terms, for the
//! `vbeam_native_x86_64:encode/1` API: `{mov, rax, {imm, 42}}`,
//! `{add, rax, rbx}`, `{mov, rax, {mem, rsp, 8}}`, `ret`, … Branches and
//! calls to symbols need the linker and are not accepted here.

use super::inst::{AluOp, Amode, Inst, ShiftOp};
use crate::code::CodeBuffer;
use crate::ir::{Isa, PReg};
use crate::regs::preg_from_name;
use crate::term::{with_tagged, Term};

fn reg<T: Term>(t: &T) -> Option<PReg> {
    preg_from_name(Isa::X86_64, &t.atom()?)
}

fn imm<T: Term>(t: &T) -> Option<i64> {
    with_tagged(t, |tag, args| match (tag, args) {
        ("imm", [i]) => i.int64_bits(),
        _ => None,
    })
}

fn imm32<T: Term>(t: &T) -> Option<i32> {
    imm(t).and_then(|i| i32::try_from(i).ok())
}

/// `{mem, Base, Disp}`
fn mem<T: Term>(t: &T) -> Option<Amode> {
    with_tagged(t, |tag, args| match (tag, args) {
        ("mem", [base, disp]) => Some(Amode::base_disp(reg(base)?, i32::try_from(disp.int64_bits()?).ok()?)),
        _ => None,
    })
}

fn decode<T: Term>(term: &T) -> Option<Inst> {
    with_tagged(term, decode_tagged)
}

fn decode_tagged<T: Term>(op: &str, a: &[T]) -> Option<Inst> {
    let alu = match op {
        "add" => Some(AluOp::Add),
        "sub" => Some(AluOp::Sub),
        "and" => Some(AluOp::And),
        "or" => Some(AluOp::Or),
        "xor" => Some(AluOp::Xor),
        "cmp" => Some(AluOp::Cmp),
        _ => None,
    };
    let shift = match op {
        "shl" => Some(ShiftOp::Shl),
        "shr" => Some(ShiftOp::Shr),
        "sar" => Some(ShiftOp::Sar),
        _ => None,
    };
    Some(match (op, a) {
        ("mov", [d, s]) => match (reg(d), reg(s), imm(s), mem(d), mem(s)) {
            (Some(dst), Some(src), ..) => Inst::MovRR { dst, src },
            (Some(dst), _, Some(imm), ..) => Inst::MovRI { dst, imm },
            (Some(dst), _, _, _, Some(mem)) => Inst::Load { dst, mem },
            (None, Some(src), _, Some(mem), _) => Inst::Store { mem, src },
            (None, None, Some(_), Some(mem), _) => Inst::StoreImm { mem, imm: imm32(s)? },
            _ => return None,
        },
        (_, [d, s]) if alu.is_some() => match (reg(d)?, reg(s)) {
            (dst, Some(src)) => Inst::AluRR { op: alu?, dst, src },
            (dst, None) => Inst::AluRI { op: alu?, dst, imm: imm32(s)? },
        },
        (_, [d, s]) if shift.is_some() => match s.atom().as_deref() {
            Some("cl") => Inst::ShiftCl { op: shift?, dst: reg(d)? },
            _ => Inst::ShiftImm { op: shift?, dst: reg(d)?, amount: u8::try_from(imm(s)?).ok().filter(|n| *n < 64)? },
        },
        ("imul", [d, s]) => Inst::ImulRR { dst: reg(d)?, src: reg(s)? },
        ("imul", [d, s, i]) => Inst::ImulRRI { dst: reg(d)?, src: reg(s)?, imm: imm32(i)? },
        ("lea", [d, m]) => Inst::Lea { dst: reg(d)?, mem: mem(m)? },
        ("test", [x, y]) => Inst::TestRR { a: reg(x)?, b: reg(y)? },
        ("neg", [r]) => Inst::Neg { reg: reg(r)? },
        ("not", [r]) => Inst::Not { reg: reg(r)? },
        ("idiv", [r]) => Inst::Idiv { src: reg(r)? },
        ("push", [r]) => match reg(r) {
            Some(reg) => Inst::Push { reg },
            None => Inst::PushImm { imm: imm32(r)? },
        },
        ("pop", [r]) => Inst::Pop { reg: reg(r)? },
        ("call", [r]) => Inst::CallR { reg: reg(r)? },
        ("cqo", []) => Inst::Cqo,
        ("ret", []) => Inst::Ret,
        ("syscall", []) => Inst::Syscall,
        ("ud2", []) => Inst::Ud2,
        _ => return None,
    })
}

/// The machine code of one instruction term, or None if the term is not
/// one of the accepted forms.
pub fn assemble<T: Term>(term: &T) -> Option<Vec<u8>> {
    let inst = decode(term)?;
    let mut buf = CodeBuffer::new();
    inst.emit(&mut buf);
    Some(buf.bytes)
}
