//! Every instruction form the encoder emits, over a spread of registers and
//! immediates, checked word for word against `llvm-mc` (which must be on
//! PATH: CI installs it). Fixup-bearing forms are checked with the zero
//! offset the encoder leaves in them.

use super::inst::*;
use crate::code::{CodeBuffer, RelocTarget};
use crate::ir::PReg;
use crate::isa::llvm_mc;

/// Registers incl. the argument, scratch, callee-saved, fp/lr and 31.
const REGS: [u8; 11] = [0, 1, 7, 8, 15, 16, 17, 28, 29, 30, 31];
const CONDS: [Cond; 14] = [
    Cond::Eq,
    Cond::Ne,
    Cond::Hs,
    Cond::Lo,
    Cond::Mi,
    Cond::Pl,
    Cond::Vs,
    Cond::Vc,
    Cond::Hi,
    Cond::Ls,
    Cond::Ge,
    Cond::Lt,
    Cond::Gt,
    Cond::Le,
];
const WIDTHS: [Width; 4] = [Width::B8, Width::B16, Width::B32, Width::B64];

fn r(n: u8) -> PReg {
    PReg(n)
}

fn all_forms() -> Vec<Inst> {
    let mut v = Vec::new();
    let t = RelocTarget::Label(0);
    for a in REGS {
        for b in REGS {
            let c = REGS[(a as usize + b as usize) % REGS.len()];
            v.push(Inst::MovRR { dst: r(a), src: r(b) });
            v.push(Inst::MovSp { dst: r(a), src: r(b) });
            for op in [AluOp::Add, AluOp::Sub, AluOp::Adds, AluOp::Subs, AluOp::And, AluOp::Orr, AluOp::Eor, AluOp::Orn]
            {
                v.push(Inst::AluRRR { op, dst: r(a), a: r(b), b: r(c) });
            }
            v.push(Inst::Mul { dst: r(a), a: r(b), b: r(c) });
            v.push(Inst::Msub { dst: r(a), a: r(b), b: r(c), c: r(a) });
            v.push(Inst::Sdiv { dst: r(a), a: r(b), b: r(c) });
            v.push(Inst::Smulh { dst: r(a), a: r(b), b: r(c) });
            for op in [ShiftOp::Lsl, ShiftOp::Lsr, ShiftOp::Asr] {
                v.push(Inst::ShiftRRR { op, dst: r(a), a: r(b), b: r(c) });
            }
            v.push(Inst::Csel { dst: r(a), a: r(b), b: r(c), cond: CONDS[(a + b) as usize % 14] });
            v.push(Inst::Csneg { dst: r(a), a: r(b), b: r(c), cond: CONDS[(a + 2 * b) as usize % 14] });
            if a != 31 || b != 31 {
                v.push(Inst::Stp { a: r(a), b: r(b), base: r(c), offset: [-512, 0, 8, 504][(a % 4) as usize] });
            }
            if a != b && a != 31 && b != 31 {
                v.push(Inst::Ldp { a: r(a), b: r(b), base: r(c), offset: [-512, 0, 16, 504][(b % 4) as usize] });
            }
        }
        for (imm12, lsl12) in [(0u16, false), (1, false), (4095, false), (1, true), (4095, true)] {
            for op in [ImmOp::Add, ImmOp::Sub, ImmOp::Adds, ImmOp::Subs] {
                v.push(Inst::AluRRImm12 { op, dst: r(a), a: r(30 - a % 30), imm12, lsl12 });
            }
        }
        if a != 31 {
            for shift in [0, 16, 32, 48] {
                for imm16 in [0, 1, 0x1234, 0xffff] {
                    v.push(Inst::Movz { dst: r(a), imm16, shift });
                    v.push(Inst::Movk { dst: r(a), imm16, shift });
                    if !(imm16 == 0 && shift != 0) {
                        v.push(Inst::Movn { dst: r(a), imm16, shift });
                    }
                }
            }
            for op in [ShiftOp::Lsl, ShiftOp::Lsr, ShiftOp::Asr] {
                for amount in [1, 31, 63] {
                    v.push(Inst::ShiftImm { op, dst: r(a), a: r(30 - a % 30), amount });
                }
            }
            for width in WIDTHS {
                let w = width.bytes();
                for offset in [0, w, 4095 * w] {
                    v.push(Inst::Load { width, dst: r(a), base: r(31), offset });
                    v.push(Inst::Store { width, src: r(a), base: r(7), offset });
                }
                for offset in [-256i16, -1, 0, 255] {
                    v.push(Inst::LoadUnscaled { width, dst: r(a), base: r(29), offset });
                    v.push(Inst::StoreUnscaled { width, src: r(a), base: r(31), offset });
                }
                for scaled in [false, true] {
                    v.push(Inst::LoadIndexed { width, dst: r(a), base: r(31), index: r(17), scaled });
                    v.push(Inst::StoreIndexed { width, src: r(a), base: r(1), index: r(30), scaled });
                }
            }
            for offset in [-256i16, -16, 16, 255] {
                v.push(Inst::StorePre { src: r(a), base: r(31), offset });
                if a != 16 {
                    v.push(Inst::LoadPost { dst: r(a), base: r(16), offset });
                }
            }
            if a != 16 {
                v.push(Inst::StpPre { a: r(a), b: r(30), base: r(31), offset: -16 });
                v.push(Inst::StpPre { a: r(a), b: r(31), base: r(16), offset: -512 });
            }
            if a != 30 {
                v.push(Inst::LdpPost { a: r(a), b: r(30), base: r(31), offset: 16 });
            }
            if a != 14 {
                v.push(Inst::LdpPost { a: r(a), b: r(31), base: r(14), offset: 504 });
            }
            v.push(Inst::Adrp { dst: r(a), target: t });
            v.push(Inst::AddLo12 { dst: r(a), src: r(a), target: t });
            v.push(Inst::LoadLo12 { dst: r(a), base: r(31 - a), target: t });
            v.push(Inst::Cbz { reg: r(a), target: 0 });
            v.push(Inst::Cbnz { reg: r(a), target: 0 });
            v.push(Inst::Blr { reg: r(a) });
            for c in CONDS {
                v.push(Inst::Cset { dst: r(a), cond: c });
            }
        }
        v.push(Inst::CmpSp { b: r(a) });
        for d in [0u8, 1, 15, 31] {
            v.push(Inst::FmovToFp { dst: Dr(d), src: r(a) });
            v.push(Inst::FmovFromFp { dst: r(a), src: Dr(d) });
            v.push(Inst::Scvtf { dst: Dr(d), src: r(a) });
            v.push(Inst::Fcvtzs { dst: r(a), src: Dr(d) });
        }
    }
    for d in [0u8, 1, 7, 8, 30, 31] {
        for op in [FpuOp::Fadd, FpuOp::Fsub, FpuOp::Fmul, FpuOp::Fdiv] {
            v.push(Inst::FpuRRR { op, dst: Dr(d), a: Dr(31 - d), b: Dr(d / 2) });
        }
        v.push(Inst::Fcmp { a: Dr(d), b: Dr(31 - d) });
        v.push(Inst::Fsqrt { dst: Dr(d), src: Dr(31 - d) });
        v.push(Inst::FmovDD { dst: Dr(d), src: Dr(31 - d) });
        for (base, offset) in [(0u8, 0u32), (29, 8), (31, 32760), (17, 4096)] {
            v.push(Inst::FpLoad { dst: Dr(d), base: r(base), offset });
            v.push(Inst::FpStore { src: Dr(31 - d), base: r(base), offset });
        }
        for (base, offset) in [(0u8, 0i16), (29, -256), (31, 255), (17, -16)] {
            v.push(Inst::QLoadUnscaled { dst: Dr(d), base: r(base), offset });
            v.push(Inst::QStoreUnscaled { src: Dr(31 - d), base: r(base), offset });
        }
    }
    for c in CONDS {
        v.push(Inst::BCond { cond: c, target: 0 });
    }
    for imm16 in [0u16, 1, 0x80, 0xffff] {
        v.push(Inst::Svc { imm16 });
        v.push(Inst::Brk { imm16 });
    }
    v.extend([Inst::B { target: 0 }, Inst::Bl { target: t }, Inst::Ret]);
    v
}

fn encode(inst: &Inst) -> Vec<u8> {
    let mut buf = CodeBuffer::new();
    inst.emit(&mut buf);
    buf.bytes
}

#[test]
fn every_form_matches_llvm_mc() {
    let forms = all_forms();
    let failures = llvm_mc::compare(&["-triple=aarch64"], "", &forms, encode);
    assert!(failures.is_empty(), "{} of {} forms differ:\n{}", failures.len(), forms.len(), failures.join("\n"));
    assert!(forms.len() > 2000);
}

#[test]
fn the_sketch_check_holds() {
    let word = encode(&Inst::AluRRR { op: AluOp::Add, dst: r(0), a: r(1), b: r(2) });
    assert_eq!(u32::from_le_bytes(word.try_into().unwrap()), 0x8B02_0020);
}
