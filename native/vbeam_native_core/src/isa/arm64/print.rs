//! Assembly text of machine instructions, as `llvm-mc -triple=aarch64`
//! reads it. Register 31 prints as `sp` or `xzr` as each form reads it.
//! Fixup-bearing forms print with a zero offset (`b #0`, `adrp x0, #0`,
//! `add x0, x1, #0`), which is how the encoder leaves them.

use std::fmt;

use super::inst::*;
use crate::code::{symbol_text, Listing, RelocTarget, Symbol};

impl Inst {
    /// The instruction's line in `listing`, its references by name
    /// (`symbols` names the buffer's symbol references). With
    /// `long_branches` a conditional branch is its inverse over a `b`, as
    /// the encoder writes it.
    pub fn listed(&self, listing: &Listing, symbols: &[Symbol], long_branches: bool) -> String {
        let symbol = |target: &RelocTarget| match target {
            RelocTarget::Symbol(k) => match &symbols[*k as usize] {
                Symbol::Function(name) | Symbol::Data(name) => symbol_text(name),
            },
            RelocTarget::Label(label) => listing.label(*label),
            RelocTarget::Function(_) | RelocTarget::Data(_) => unreachable!("resolved only when linked"),
        };
        // A conditional branch: `taken` to the label, or `skip` over a `b`.
        let branch19 = |taken: String, skip: String, target: u32| match long_branches {
            false => format!("{taken} {}", listing.label(target)),
            true => format!("{skip} #8\n\tb {}", listing.label(target)),
        };
        match self {
            Inst::Adrp { dst, target } => format!("adrp {}, {}", x(*dst), symbol(target)),
            Inst::AddLo12 { dst, src, target } => format!("add {}, {}, :lo12:{}", xsp(*dst), xsp(*src), symbol(target)),
            Inst::LoadLo12 { dst, base, target } => {
                format!("ldr {}, [{}, :lo12:{}]", x(*dst), xsp(*base), symbol(target))
            }
            Inst::B { target } => format!("b {}", listing.label(*target)),
            Inst::BCond { cond: c, target } => {
                branch19(format!("b.{}", cond(*c)), format!("b.{}", cond(c.invert())), *target)
            }
            Inst::Cbz { reg, target } => branch19(format!("cbz {},", x(*reg)), format!("cbnz {},", x(*reg)), *target),
            Inst::Cbnz { reg, target } => branch19(format!("cbnz {},", x(*reg)), format!("cbz {},", x(*reg)), *target),
            Inst::Bl { target } => format!("bl {}", symbol(target)),
            other => other.to_string(),
        }
    }
}

fn x(r: Xr) -> String {
    match r.0 {
        31 => "xzr".into(),
        n => format!("x{n}"),
    }
}

fn xsp(r: Xr) -> String {
    match r.0 {
        31 => "sp".into(),
        n => format!("x{n}"),
    }
}

fn wreg(r: Xr) -> String {
    match r.0 {
        31 => "wzr".into(),
        n => format!("w{n}"),
    }
}

fn cond(c: Cond) -> &'static str {
    ["eq", "ne", "hs", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le"][c as usize]
}

/// Mnemonic suffix and data register of a load/store of `width`.
fn sized(width: Width, r: Xr) -> (&'static str, String) {
    match width {
        Width::B8 => ("b", wreg(r)),
        Width::B16 => ("h", wreg(r)),
        Width::B32 => ("", wreg(r)),
        Width::B64 => ("", x(r)),
    }
}

/// The index shift of a register-offset access (`lsl #0` on bytes still
/// sets the S bit, so it is written only when scaled).
fn index_shift(width: Width, scaled: bool) -> String {
    if scaled {
        format!(", lsl #{}", width.bytes().trailing_zeros())
    } else {
        String::new()
    }
}

fn shift(op: ShiftOp) -> &'static str {
    match op {
        ShiftOp::Lsl => "lsl",
        ShiftOp::Lsr => "lsr",
        ShiftOp::Asr => "asr",
    }
}

impl fmt::Display for Inst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inst::MovRR { dst, src } => write!(f, "orr {}, xzr, {}", x(*dst), x(*src)),
            Inst::MovSp { dst, src } => write!(f, "add {}, {}, #0", xsp(*dst), xsp(*src)),
            Inst::CmpSp { b } => write!(f, "cmp sp, {}", x(*b)),
            Inst::Movz { dst, imm16, shift } => write!(f, "movz {}, #{imm16}, lsl #{shift}", x(*dst)),
            Inst::Movn { dst, imm16, shift } => write!(f, "movn {}, #{imm16}, lsl #{shift}", x(*dst)),
            Inst::Movk { dst, imm16, shift } => write!(f, "movk {}, #{imm16}, lsl #{shift}", x(*dst)),
            Inst::AluRRR { op, dst, a, b } => {
                let name = match op {
                    AluOp::Add => "add",
                    AluOp::Sub => "sub",
                    AluOp::Adds => "adds",
                    AluOp::Subs => "subs",
                    AluOp::And => "and",
                    AluOp::Orr => "orr",
                    AluOp::Eor => "eor",
                    AluOp::Orn => "orn",
                };
                write!(f, "{name} {}, {}, {}", x(*dst), x(*a), x(*b))
            }
            Inst::AluRRImm12 { op, dst, a, imm12, lsl12 } => {
                let (name, d) = match op {
                    ImmOp::Add => ("add", xsp(*dst)),
                    ImmOp::Sub => ("sub", xsp(*dst)),
                    ImmOp::Adds => ("adds", x(*dst)),
                    ImmOp::Subs => ("subs", x(*dst)),
                };
                write!(f, "{name} {d}, {}, #{imm12}, lsl #{}", xsp(*a), if *lsl12 { 12 } else { 0 })
            }
            Inst::Mul { dst, a, b } => write!(f, "mul {}, {}, {}", x(*dst), x(*a), x(*b)),
            Inst::Msub { dst, a, b, c } => write!(f, "msub {}, {}, {}, {}", x(*dst), x(*a), x(*b), x(*c)),
            Inst::Sdiv { dst, a, b } => write!(f, "sdiv {}, {}, {}", x(*dst), x(*a), x(*b)),
            Inst::Smulh { dst, a, b } => write!(f, "smulh {}, {}, {}", x(*dst), x(*a), x(*b)),
            Inst::ShiftRRR { op, dst, a, b } => write!(f, "{}v {}, {}, {}", shift(*op), x(*dst), x(*a), x(*b)),
            Inst::ShiftImm { op, dst, a, amount } => write!(f, "{} {}, {}, #{amount}", shift(*op), x(*dst), x(*a)),
            Inst::Load { width, dst, base, offset } => {
                let (s, t) = sized(*width, *dst);
                write!(f, "ldr{s} {t}, [{}, #{offset}]", xsp(*base))
            }
            Inst::Store { width, src, base, offset } => {
                let (s, t) = sized(*width, *src);
                write!(f, "str{s} {t}, [{}, #{offset}]", xsp(*base))
            }
            Inst::LoadUnscaled { width, dst, base, offset } => {
                let (s, t) = sized(*width, *dst);
                write!(f, "ldur{s} {t}, [{}, #{offset}]", xsp(*base))
            }
            Inst::StoreUnscaled { width, src, base, offset } => {
                let (s, t) = sized(*width, *src);
                write!(f, "stur{s} {t}, [{}, #{offset}]", xsp(*base))
            }
            Inst::LoadIndexed { width, dst, base, index, scaled } => {
                let (s, t) = sized(*width, *dst);
                write!(f, "ldr{s} {t}, [{}, {}{}]", xsp(*base), x(*index), index_shift(*width, *scaled))
            }
            Inst::StoreIndexed { width, src, base, index, scaled } => {
                let (s, t) = sized(*width, *src);
                write!(f, "str{s} {t}, [{}, {}{}]", xsp(*base), x(*index), index_shift(*width, *scaled))
            }
            Inst::StorePre { src, base, offset } => write!(f, "str {}, [{}, #{offset}]!", x(*src), xsp(*base)),
            Inst::LoadPost { dst, base, offset } => write!(f, "ldr {}, [{}], #{offset}", x(*dst), xsp(*base)),
            Inst::StpPre { a, b, base, offset } => write!(f, "stp {}, {}, [{}, #{offset}]!", x(*a), x(*b), xsp(*base)),
            Inst::LdpPost { a, b, base, offset } => write!(f, "ldp {}, {}, [{}], #{offset}", x(*a), x(*b), xsp(*base)),
            Inst::Stp { a, b, base, offset } => write!(f, "stp {}, {}, [{}, #{offset}]", x(*a), x(*b), xsp(*base)),
            Inst::Ldp { a, b, base, offset } => write!(f, "ldp {}, {}, [{}, #{offset}]", x(*a), x(*b), xsp(*base)),
            Inst::Adrp { dst, .. } => write!(f, "adrp {}, #0", x(*dst)),
            Inst::AddLo12 { dst, src, .. } => write!(f, "add {}, {}, #0", xsp(*dst), xsp(*src)),
            Inst::LoadLo12 { dst, base, .. } => write!(f, "ldr {}, [{}]", x(*dst), xsp(*base)),
            Inst::B { .. } => write!(f, "b #0"),
            Inst::BCond { cond: c, .. } => write!(f, "b.{} #0", cond(*c)),
            Inst::Cbz { reg, .. } => write!(f, "cbz {}, #0", x(*reg)),
            Inst::Cbnz { reg, .. } => write!(f, "cbnz {}, #0", x(*reg)),
            Inst::Bl { .. } => write!(f, "bl #0"),
            Inst::Blr { reg } => write!(f, "blr {}", x(*reg)),
            Inst::Ret => write!(f, "ret"),
            Inst::Svc { imm16 } => write!(f, "svc #{imm16}"),
            Inst::Brk { imm16 } => write!(f, "brk #{imm16}"),
            Inst::Csel { dst, a, b, cond: c } => write!(f, "csel {}, {}, {}, {}", x(*dst), x(*a), x(*b), cond(*c)),
            Inst::Cset { dst, cond: c } => write!(f, "cset {}, {}", x(*dst), cond(*c)),
            Inst::Csneg { dst, a, b, cond: c } => write!(f, "csneg {}, {}, {}, {}", x(*dst), x(*a), x(*b), cond(*c)),
            Inst::FmovToFp { dst, src } => write!(f, "fmov d{}, {}", dst.0, x(*src)),
            Inst::FmovFromFp { dst, src } => write!(f, "fmov {}, d{}", x(*dst), src.0),
            Inst::FpuRRR { op, dst, a, b } => {
                let name = match op {
                    FpuOp::Fadd => "fadd",
                    FpuOp::Fsub => "fsub",
                    FpuOp::Fmul => "fmul",
                    FpuOp::Fdiv => "fdiv",
                };
                write!(f, "{name} d{}, d{}, d{}", dst.0, a.0, b.0)
            }
            Inst::Scvtf { dst, src } => write!(f, "scvtf d{}, {}", dst.0, x(*src)),
            Inst::Fcvtzs { dst, src } => write!(f, "fcvtzs {}, d{}", x(*dst), src.0),
            Inst::Fsqrt { dst, src } => write!(f, "fsqrt d{}, d{}", dst.0, src.0),
            Inst::FmovDD { dst, src } => write!(f, "fmov d{}, d{}", dst.0, src.0),
            Inst::FpLoad { dst, base, offset } => write!(f, "ldr d{}, [{}, #{offset}]", dst.0, xsp(*base)),
            Inst::FpStore { src, base, offset } => write!(f, "str d{}, [{}, #{offset}]", src.0, xsp(*base)),
            Inst::QLoadUnscaled { dst, base, offset } => write!(f, "ldur q{}, [{}, #{offset}]", dst.0, xsp(*base)),
            Inst::QStoreUnscaled { src, base, offset } => write!(f, "stur q{}, [{}, #{offset}]", src.0, xsp(*base)),
            Inst::Fcmp { a, b } => write!(f, "fcmp d{}, d{}", a.0, b.0),
            Inst::Raw(bytes) => {
                let list: Vec<String> = bytes.iter().map(|b| format!("0x{b:02x}")).collect();
                write!(f, ".byte {}", list.join(", "))
            }
        }
    }
}
