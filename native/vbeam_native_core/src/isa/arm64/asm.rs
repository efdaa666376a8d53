//! Single instructions written as Erlang terms, for the
//! `vbeam_native_arm64:encode/1` API: `{add, x0, x1, x2}`,
//! `{add, x0, x1, {imm, 16}}`, `{mov, x0, {imm, 42}}` (one to four words),
//! `{ldr, x0, {mem, sp, 8}}`, `{svc, 0}`, `ret`, … Branches and calls to
//! symbols need the linker and are not accepted here.

use super::imms::load_imm64;
use super::inst::{AluOp, ImmOp, Inst, ShiftOp, Width, Xr};
use crate::code::CodeBuffer;
use crate::ir::PReg;
use crate::term::{with_tagged, Term};

/// x0 … x30, and `sp` / `xzr` (both number 31: each instruction reads 31
/// as one or the other).
fn reg<T: Term>(t: &T) -> Option<Xr> {
    let name = t.atom()?;
    match name.as_ref() {
        "sp" | "xzr" => Some(PReg(31)),
        "fp" => Some(PReg(29)),
        "lr" => Some(PReg(30)),
        _ => {
            let n: u8 = name.strip_prefix('x')?.parse().ok()?;
            (n <= 30 && name == format!("x{n}")).then_some(PReg(n))
        }
    }
}

fn imm<T: Term>(t: &T) -> Option<i64> {
    with_tagged(t, |tag, args| match (tag, args) {
        ("imm", [i]) => i.int64_bits(),
        _ => None,
    })
}

/// `{mem, Base, Offset}` with a non-negative offset a multiple of 8.
fn mem<T: Term>(t: &T) -> Option<(Xr, u32)> {
    with_tagged(t, |tag, args| match (tag, args) {
        ("mem", [base, offset]) => {
            let off = offset.int64_bits().filter(|o| (0..32768).contains(o) && o % 8 == 0)?;
            Some((reg(base)?, off as u32))
        }
        _ => None,
    })
}

fn decode<T: Term>(term: &T) -> Option<Vec<Inst>> {
    with_tagged(term, decode_tagged)
}

fn decode_tagged<T: Term>(op: &str, a: &[T]) -> Option<Vec<Inst>> {
    let alu = match op {
        "add" => Some((AluOp::Add, Some(ImmOp::Add))),
        "sub" => Some((AluOp::Sub, Some(ImmOp::Sub))),
        "adds" => Some((AluOp::Adds, Some(ImmOp::Adds))),
        "subs" => Some((AluOp::Subs, Some(ImmOp::Subs))),
        "and" => Some((AluOp::And, None)),
        "orr" => Some((AluOp::Orr, None)),
        "eor" => Some((AluOp::Eor, None)),
        _ => None,
    };
    let shift = match op {
        "lsl" => Some(ShiftOp::Lsl),
        "lsr" => Some(ShiftOp::Lsr),
        "asr" => Some(ShiftOp::Asr),
        _ => None,
    };
    let one = |i: Inst| Some(vec![i]);
    match (op, a) {
        ("mov", [d, s]) => match reg(s) {
            Some(src) => one(Inst::MovRR { dst: reg(d)?, src }),
            None => Some(load_imm64(reg(d)?, imm(s)?)),
        },
        (_, [d, x, y]) if alu.is_some() => {
            let (rr, ri) = alu?;
            match reg(y) {
                Some(b) => one(Inst::AluRRR { op: rr, dst: reg(d)?, a: reg(x)?, b }),
                None => {
                    let v = imm(y).filter(|v| (0..4096).contains(v))?;
                    one(Inst::AluRRImm12 { op: ri?, dst: reg(d)?, a: reg(x)?, imm12: v as u16, lsl12: false })
                }
            }
        }
        ("cmp", [x, y]) => match reg(y) {
            Some(b) => one(Inst::AluRRR { op: AluOp::Subs, dst: PReg(31), a: reg(x)?, b }),
            None => {
                let v = imm(y).filter(|v| (0..4096).contains(v))?;
                one(Inst::AluRRImm12 { op: ImmOp::Subs, dst: PReg(31), a: reg(x)?, imm12: v as u16, lsl12: false })
            }
        },
        (_, [d, x, y]) if shift.is_some() => match reg(y) {
            Some(b) => one(Inst::ShiftRRR { op: shift?, dst: reg(d)?, a: reg(x)?, b }),
            None => {
                let amount = imm(y).filter(|v| (0..64).contains(v))? as u8;
                one(Inst::ShiftImm { op: shift?, dst: reg(d)?, a: reg(x)?, amount })
            }
        },
        ("mul", [d, x, y]) => one(Inst::Mul { dst: reg(d)?, a: reg(x)?, b: reg(y)? }),
        ("sdiv", [d, x, y]) => one(Inst::Sdiv { dst: reg(d)?, a: reg(x)?, b: reg(y)? }),
        ("ldr", [t, m]) => {
            let (base, offset) = mem(m)?;
            one(Inst::Load { width: Width::B64, dst: reg(t)?, base, offset })
        }
        ("str", [t, m]) => {
            let (base, offset) = mem(m)?;
            one(Inst::Store { width: Width::B64, src: reg(t)?, base, offset })
        }
        ("blr", [r]) => one(Inst::Blr { reg: reg(r)? }),
        ("svc", [n]) => one(Inst::Svc { imm16: u16::try_from(n.int64_bits()?).ok()? }),
        ("ret", []) => one(Inst::Ret),
        _ => None,
    }
}

/// The machine code of one instruction term (a `mov` of a constant may
/// take several words), or None if the term is not an accepted form.
pub fn assemble<T: Term>(term: &T) -> Option<Vec<u8>> {
    let insts = decode(term)?;
    let mut buf = CodeBuffer::new();
    for i in insts {
        i.emit(&mut buf);
    }
    Some(buf.bytes)
}
