//! Every instruction form the encoder emits, over a spread of registers and
//! immediates, checked byte for byte against `llvm-mc` (which must be on
//! PATH: CI installs it). Forms with fixups are checked against known
//! encodings instead, since an assembler would resolve or relax them.

use super::inst::*;
use crate::code::{CodeBuffer, RelocKind, RelocTarget};
use crate::ir::PReg;
use crate::isa::llvm_mc;

const GPRS: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const IMMS: [i64; 14] = [
    0,
    1,
    -1,
    127,
    128,
    -128,
    -129,
    i32::MAX as i64,
    i32::MIN as i64,
    0xffff_ffff,
    1 << 32,
    i64::MAX,
    i64::MIN,
    -0x1234_5678_9abc,
];

fn r(n: u8) -> PReg {
    PReg(n)
}

fn amodes() -> Vec<Amode> {
    let mut out = Vec::new();
    for base in GPRS {
        for disp in [0, 8, -8, 127, 128, -129, 0x1234_5678] {
            out.push(Amode { base: r(base), index: None, disp });
        }
    }
    for (base, index) in [(0, 1), (4, 8), (5, 15), (12, 13), (13, 0), (15, 7)] {
        for (k, scale) in [Scale::S1, Scale::S2, Scale::S4, Scale::S8].into_iter().enumerate() {
            out.push(Amode { base: r(base), index: Some((r(index), scale)), disp: [0, 16, -300, 1 << 20][k] });
        }
    }
    out
}

fn imm32s() -> impl Iterator<Item = i32> {
    IMMS.iter().filter_map(|i| i32::try_from(*i).ok())
}

/// Every form, each over registers and operands that exercise its prefixes.
fn all_forms() -> Vec<Inst> {
    let mut v = Vec::new();
    let ccs = [
        CC::O,
        CC::NO,
        CC::B,
        CC::AE,
        CC::E,
        CC::NE,
        CC::BE,
        CC::A,
        CC::S,
        CC::NS,
        CC::P,
        CC::NP,
        CC::L,
        CC::GE,
        CC::LE,
        CC::G,
    ];
    for a in GPRS {
        for b in GPRS {
            v.push(Inst::MovRR { dst: r(a), src: r(b) });
            for op in [AluOp::Add, AluOp::Or, AluOp::And, AluOp::Sub, AluOp::Xor, AluOp::Cmp] {
                v.push(Inst::AluRR { op, dst: r(a), src: r(b) });
            }
            v.push(Inst::TestRR { a: r(a), b: r(b) });
            v.push(Inst::ImulRR { dst: r(a), src: r(b) });
            v.push(Inst::ImulWide { src: r(b) });
            v.push(Inst::Cmov { cc: ccs[(a + b) as usize % 16], dst: r(a), src: r(b) });
            v.push(Inst::MovzxRR8 { dst: r(a), src: r(b) });
        }
        for imm in IMMS {
            v.push(Inst::MovRI { dst: r(a), imm });
        }
        for imm in imm32s() {
            for op in [AluOp::Add, AluOp::Or, AluOp::And, AluOp::Sub, AluOp::Xor, AluOp::Cmp] {
                v.push(Inst::AluRI { op, dst: r(a), imm });
            }
            v.push(Inst::ImulRRI { dst: r(a), src: r(15 - a), imm });
        }
        for op in [AluOp::Add, AluOp::Or, AluOp::And, AluOp::Sub, AluOp::Xor, AluOp::Cmp] {
            v.push(Inst::AluRRip { op, dst: r(a), target: RelocTarget::Data(0) });
        }
        v.push(Inst::Neg { reg: r(a) });
        v.push(Inst::Not { reg: r(a) });
        v.push(Inst::Idiv { src: r(a) });
        for op in [ShiftOp::Shl, ShiftOp::Shr, ShiftOp::Sar] {
            v.push(Inst::ShiftCl { op, dst: r(a) });
            for amount in [1, 2, 31, 63] {
                v.push(Inst::ShiftImm { op, dst: r(a), amount });
            }
        }
        for cc in ccs {
            v.push(Inst::Setcc { cc, dst: r(a) });
        }
        v.push(Inst::CallR { reg: r(a) });
        v.push(Inst::Push { reg: r(a) });
        v.push(Inst::Pop { reg: r(a) });
        for x in [0u8, 1, 7, 8, 15] {
            v.push(Inst::MovqToXmm { dst: Xmm(x), src: r(a) });
            v.push(Inst::MovqFromXmm { dst: r(a), src: Xmm(x) });
            v.push(Inst::Cvtsi2sd { dst: Xmm(x), src: r(a) });
            v.push(Inst::Cvttsd2si { dst: r(a), src: Xmm(x) });
        }
    }
    for (k, mem) in amodes().into_iter().enumerate() {
        let a = r(k as u8 % 16);
        v.push(Inst::Load { dst: a, mem });
        v.push(Inst::Store { mem, src: a });
        v.push(Inst::StoreImm { mem, imm: [0, -1, 1000, i32::MIN][k % 4] });
        v.push(Inst::Lea { dst: a, mem });
        v.push(Inst::MovsdLoad { dst: Xmm(k as u8 % 16), mem });
        v.push(Inst::MovsdStore { mem, src: Xmm(15 - k as u8 % 16) });
        v.push(Inst::MovupsLoad { dst: Xmm(15 - k as u8 % 16), mem });
        v.push(Inst::MovupsStore { mem, src: Xmm(k as u8 % 16) });
        for width in [Narrow::B8, Narrow::B16, Narrow::B32] {
            v.push(Inst::LoadNarrow { width, dst: a, mem });
            v.push(Inst::StoreNarrow { width, mem, src: a });
            v.push(Inst::StoreNarrow { width, mem, src: r(15 - k as u8 % 16) });
        }
    }
    for x in 0..16u8 {
        for y in [0u8, 3, 8, 15] {
            for op in [SseOp::Add, SseOp::Sub, SseOp::Mul, SseOp::Div, SseOp::Sqrt] {
                v.push(Inst::SseBin { op, dst: Xmm(x), src: Xmm(y) });
            }
            v.push(Inst::Ucomisd { a: Xmm(x), b: Xmm(y) });
            v.push(Inst::Movapd { dst: Xmm(x), src: Xmm(y) });
            v.push(Inst::Xorpd { dst: Xmm(x), src: Xmm(y) });
        }
    }
    for imm in imm32s() {
        v.push(Inst::PushImm { imm });
    }
    v.extend([Inst::Cqo, Inst::Ret, Inst::Syscall, Inst::Ud2]);
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
    let failures = llvm_mc::compare(
        &["-triple=x86_64", "-x86-asm-syntax=intel", "-output-asm-variant=1"],
        ".intel_syntax noprefix\n",
        &forms,
        encode,
    );
    assert!(failures.is_empty(), "{} of {} forms differ:\n{}", failures.len(), forms.len(), failures.join("\n"));
    assert!(forms.len() > 2000);
}

#[test]
fn fixup_forms_leave_a_zero_field_and_record_it() {
    let cases: [(Inst, &[u8], u32, RelocTarget); 7] = [
        (Inst::Jmp { target: 3 }, &[0xe9, 0, 0, 0, 0], 1, RelocTarget::Label(3)),
        (Inst::Jcc { cc: CC::L, target: 1 }, &[0x0f, 0x8c, 0, 0, 0, 0], 2, RelocTarget::Label(1)),
        (Inst::Call { target: RelocTarget::Function(7) }, &[0xe8, 0, 0, 0, 0], 1, RelocTarget::Function(7)),
        (
            Inst::LeaRip { dst: r(0), target: RelocTarget::Data(2) },
            &[0x48, 0x8d, 0x05, 0, 0, 0, 0],
            3,
            RelocTarget::Data(2),
        ),
        (
            Inst::LeaRip { dst: r(13), target: RelocTarget::Data(0) },
            &[0x4c, 0x8d, 0x2d, 0, 0, 0, 0],
            3,
            RelocTarget::Data(0),
        ),
        (
            Inst::AluRRip { op: AluOp::Cmp, dst: r(4), target: RelocTarget::Data(1) },
            &[0x48, 0x3b, 0x25, 0, 0, 0, 0],
            3,
            RelocTarget::Data(1),
        ),
        (
            Inst::AluRRip { op: AluOp::Sub, dst: r(11), target: RelocTarget::Data(1) },
            &[0x4c, 0x2b, 0x1d, 0, 0, 0, 0],
            3,
            RelocTarget::Data(1),
        ),
    ];
    for (inst, bytes, field, target) in cases {
        let mut buf = CodeBuffer::new();
        inst.emit(&mut buf);
        assert_eq!(buf.bytes, bytes, "{inst:?}");
        assert_eq!(buf.fixups.len(), 1);
        assert_eq!(
            (buf.fixups[0].offset, buf.fixups[0].kind, buf.fixups[0].target),
            (field, RelocKind::X86Rel32, target)
        );
    }
}

#[test]
fn the_sketch_checks_hold() {
    assert_eq!(encode(&Inst::MovRI { dst: r(0), imm: 42 }), [0x48, 0xc7, 0xc0, 0x2a, 0, 0, 0]);
    assert_eq!(encode(&Inst::Raw(vec![0x90, 0xcc])), [0x90, 0xcc]);
}
