//! Intel-syntax text of machine instructions, as `llvm-mc
//! -x86-asm-syntax=intel` reads it. Fixup fields print as a zero
//! displacement from the next instruction (`jmp 0` style text is what the
//! tests feed llvm-mc, with the field left at 0); in a listing (`-S`) they
//! name their labels and symbols.

use std::fmt;

use super::inst::*;
use crate::code::{symbol_text, Listing, RelocTarget, Symbol};
use crate::ir::{Isa, PReg};
use crate::regs::preg_name;

impl Inst {
    /// The instruction's line in `listing`, its references by name
    /// (`symbols` names the buffer's symbol references). Branches carry
    /// `{disp32}`: the encoder always writes a 32-bit displacement, where an
    /// assembler would choose 8 bits for a near label.
    pub fn listed(&self, listing: &Listing, symbols: &[Symbol]) -> String {
        let symbol = |target: &RelocTarget| match target {
            RelocTarget::Symbol(k) => match &symbols[*k as usize] {
                Symbol::Function(name) | Symbol::Data(name) => symbol_text(name),
            },
            RelocTarget::Label(label) => listing.label(*label),
            RelocTarget::Function(_) | RelocTarget::Data(_) => unreachable!("resolved only when linked"),
        };
        match self {
            Inst::LeaRip { dst, target } => format!("lea {}, [rip + {}]", q(*dst), symbol(target)),
            Inst::AluRRip { op, dst, target } => {
                format!("{} {}, qword ptr [rip + {}]", alu(*op), q(*dst), symbol(target))
            }
            Inst::Jmp { target } => format!("{{disp32}} jmp {}", listing.label(*target)),
            Inst::Jcc { cc: c, target } => format!("{{disp32}} j{} {}", cc(*c), listing.label(*target)),
            Inst::Call { target } => format!("call {}", symbol(target)),
            other => other.to_string(),
        }
    }
}

fn q(r: PReg) -> String {
    preg_name(Isa::X86_64, r)
}

/// The 32-bit name of a register (eax, r8d, …).
fn d(r: PReg) -> String {
    match r.0 {
        0..=7 => format!("e{}", &q(r)[1..]),
        _ => format!("{}d", q(r)),
    }
}

fn w(r: PReg) -> String {
    match r.0 {
        0..=7 => q(r)[1..].to_string(),
        _ => format!("{}w", q(r)),
    }
}

fn b(r: PReg) -> String {
    const LOW: [&str; 8] = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"];
    match r.0 {
        0..=7 => LOW[r.0 as usize].to_string(),
        _ => format!("{}b", q(r)),
    }
}

fn mem(m: &Amode) -> String {
    let mut s = format!("[{}", q(m.base));
    if let Some((i, sc)) = m.index {
        let n = match sc {
            Scale::S1 => 1,
            Scale::S2 => 2,
            Scale::S4 => 4,
            Scale::S8 => 8,
        };
        s += &format!(" + {}*{n}", q(i));
    }
    if m.disp != 0 {
        s += &format!(" {} {}", if m.disp < 0 { "-" } else { "+" }, m.disp.unsigned_abs());
    }
    s + "]"
}

fn cc(c: CC) -> &'static str {
    ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"][c as usize]
}

fn alu(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "add",
        AluOp::Or => "or",
        AluOp::And => "and",
        AluOp::Sub => "sub",
        AluOp::Xor => "xor",
        AluOp::Cmp => "cmp",
    }
}

fn shift(op: ShiftOp) -> &'static str {
    match op {
        ShiftOp::Shl => "shl",
        ShiftOp::Shr => "shr",
        ShiftOp::Sar => "sar",
    }
}

impl fmt::Display for Inst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inst::MovRR { dst, src } => write!(f, "mov {}, {}", q(*dst), q(*src)),
            Inst::MovRI { dst, imm } => match (i32::try_from(*imm), u32::try_from(*imm)) {
                (Ok(_), _) => write!(f, "mov {}, {imm}", q(*dst)),
                (_, Ok(v)) => write!(f, "mov {}, {v}", d(*dst)),
                _ => write!(f, "movabs {}, {imm}", q(*dst)),
            },
            Inst::Load { dst, mem: m } => write!(f, "mov {}, qword ptr {}", q(*dst), mem(m)),
            Inst::Store { mem: m, src } => write!(f, "mov qword ptr {}, {}", mem(m), q(*src)),
            Inst::StoreImm { mem: m, imm } => write!(f, "mov qword ptr {}, {imm}", mem(m)),
            Inst::LoadNarrow { width, dst, mem: m } => match width {
                Narrow::B8 => write!(f, "movzx {}, byte ptr {}", d(*dst), mem(m)),
                Narrow::B16 => write!(f, "movzx {}, word ptr {}", d(*dst), mem(m)),
                Narrow::B32 => write!(f, "mov {}, dword ptr {}", d(*dst), mem(m)),
            },
            Inst::StoreNarrow { width, mem: m, src } => match width {
                Narrow::B8 => write!(f, "mov byte ptr {}, {}", mem(m), b(*src)),
                Narrow::B16 => write!(f, "mov word ptr {}, {}", mem(m), w(*src)),
                Narrow::B32 => write!(f, "mov dword ptr {}, {}", mem(m), d(*src)),
            },
            Inst::Lea { dst, mem: m } => write!(f, "lea {}, {}", q(*dst), mem(m)),
            Inst::LeaRip { dst, .. } => write!(f, "lea {}, [rip]", q(*dst)),
            Inst::AluRR { op, dst, src } => write!(f, "{} {}, {}", alu(*op), q(*dst), q(*src)),
            Inst::AluRRip { op, dst, .. } => write!(f, "{} {}, qword ptr [rip]", alu(*op), q(*dst)),
            Inst::AluRI { op, dst, imm } => write!(f, "{} {}, {imm}", alu(*op), q(*dst)),
            Inst::TestRR { a, b } => write!(f, "test {}, {}", q(*a), q(*b)),
            Inst::ImulRR { dst, src } => write!(f, "imul {}, {}", q(*dst), q(*src)),
            Inst::ImulRRI { dst, src, imm } => write!(f, "imul {}, {}, {imm}", q(*dst), q(*src)),
            Inst::Neg { reg } => write!(f, "neg {}", q(*reg)),
            Inst::Not { reg } => write!(f, "not {}", q(*reg)),
            Inst::ShiftCl { op, dst } => write!(f, "{} {}, cl", shift(*op), q(*dst)),
            Inst::ShiftImm { op, dst, amount } => write!(f, "{} {}, {amount}", shift(*op), q(*dst)),
            Inst::Cqo => write!(f, "cqo"),
            Inst::Idiv { src } => write!(f, "idiv {}", q(*src)),
            Inst::ImulWide { src } => write!(f, "imul {}", q(*src)),
            Inst::Setcc { cc: c, dst } => write!(f, "set{} {}", cc(*c), b(*dst)),
            Inst::MovzxRR8 { dst, src } => write!(f, "movzx {}, {}", d(*dst), b(*src)),
            Inst::Cmov { cc: c, dst, src } => write!(f, "cmov{} {}, {}", cc(*c), q(*dst), q(*src)),
            Inst::Jmp { .. } => write!(f, "jmp .+5"),
            Inst::Jcc { cc: c, .. } => write!(f, "j{} .+6", cc(*c)),
            Inst::Call { .. } => write!(f, "call .+5"),
            Inst::CallR { reg } => write!(f, "call {}", q(*reg)),
            Inst::Ret => write!(f, "ret"),
            Inst::Push { reg } => write!(f, "push {}", q(*reg)),
            Inst::PushImm { imm } => write!(f, "push {imm}"),
            Inst::Pop { reg } => write!(f, "pop {}", q(*reg)),
            Inst::Syscall => write!(f, "syscall"),
            Inst::Ud2 => write!(f, "ud2"),
            Inst::MovqToXmm { dst, src } => write!(f, "movq xmm{}, {}", dst.0, q(*src)),
            Inst::MovqFromXmm { dst, src } => write!(f, "movq {}, xmm{}", q(*dst), src.0),
            Inst::SseBin { op, dst, src } => {
                let name = match op {
                    SseOp::Add => "addsd",
                    SseOp::Sub => "subsd",
                    SseOp::Mul => "mulsd",
                    SseOp::Div => "divsd",
                    SseOp::Sqrt => "sqrtsd",
                };
                write!(f, "{name} xmm{}, xmm{}", dst.0, src.0)
            }
            Inst::Cvtsi2sd { dst, src } => write!(f, "cvtsi2sd xmm{}, {}", dst.0, q(*src)),
            Inst::Cvttsd2si { dst, src } => write!(f, "cvttsd2si {}, xmm{}", q(*dst), src.0),
            Inst::MovsdLoad { dst, mem: m } => write!(f, "movsd xmm{}, qword ptr {}", dst.0, mem(m)),
            Inst::MovsdStore { mem: m, src } => write!(f, "movsd qword ptr {}, xmm{}", mem(m), src.0),
            Inst::MovupsLoad { dst, mem: m } => write!(f, "movups xmm{}, xmmword ptr {}", dst.0, mem(m)),
            Inst::MovupsStore { mem: m, src } => write!(f, "movups xmmword ptr {}, xmm{}", mem(m), src.0),
            Inst::Movapd { dst, src } => write!(f, "movapd xmm{}, xmm{}", dst.0, src.0),
            Inst::Xorpd { dst, src } => write!(f, "xorpd xmm{}, xmm{}", dst.0, src.0),
            Inst::Ucomisd { a, b } => write!(f, "ucomisd xmm{}, xmm{}", a.0, b.0),
            Inst::Raw(bytes) => {
                let list: Vec<String> = bytes.iter().map(|b| format!("0x{b:02x}")).collect();
                write!(f, ".byte {}", list.join(", "))
            }
        }
    }
}
