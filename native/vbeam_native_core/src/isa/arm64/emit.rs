//! A64 encoding: one little-endian 32-bit word per instruction. Branch and
//! address fields that depend on layout are left 0 and recorded as fixups.

use super::inst::*;
use crate::code::{CodeBuffer, RelocKind, RelocTarget};

fn r(x: Xr) -> u32 {
    x.0 as u32 & 31
}

/// The size field (bits 31:30) of a load/store of `width`.
fn size_bits(width: Width) -> u32 {
    match width {
        Width::B8 => 0,
        Width::B16 => 1,
        Width::B32 => 2,
        Width::B64 => 3,
    }
}

fn alu_base(op: AluOp) -> u32 {
    match op {
        AluOp::Add => 0x8b00_0000,
        AluOp::Sub => 0xcb00_0000,
        AluOp::Adds => 0xab00_0000,
        AluOp::Subs => 0xeb00_0000,
        AluOp::And => 0x8a00_0000,
        AluOp::Orr => 0xaa00_0000,
        AluOp::Eor => 0xca00_0000,
        AluOp::Orn => 0xaa20_0000,
    }
}

fn imm_base(op: ImmOp) -> u32 {
    match op {
        ImmOp::Add => 0x9100_0000,
        ImmOp::Adds => 0xb100_0000,
        ImmOp::Sub => 0xd100_0000,
        ImmOp::Subs => 0xf100_0000,
    }
}

fn fpu_base(op: FpuOp) -> u32 {
    match op {
        FpuOp::Fmul => 0x1e60_0800,
        FpuOp::Fdiv => 0x1e60_1800,
        FpuOp::Fadd => 0x1e60_2800,
        FpuOp::Fsub => 0x1e60_3800,
    }
}

/// The 9-bit signed immediate field (bits 20:12).
/// A conditional branch (`taken`, a 19-bit offset) to local label `target`:
/// the branch itself, or with `long_branches` its inverse (`skip`) over a
/// `b`, which reaches ±128 MiB. Returns the word to write last.
fn branch19(buf: &mut CodeBuffer, taken: u32, skip: u32, target: u32) -> u32 {
    if buf.long_branches {
        /// Past the `b` that follows: two instructions, in words.
        const OVER_NEXT: u32 = 2;
        buf.put4(skip | OVER_NEXT << 5);
        buf.fixup(buf.offset(), RelocKind::Arm64Branch26, RelocTarget::Label(target));
        return B;
    }
    buf.fixup(buf.offset(), RelocKind::Arm64Branch19, RelocTarget::Label(target));
    taken
}

fn simm9(offset: i16) -> u32 {
    (offset as u32 & 0x1ff) << 12
}

/// The 7-bit scaled signed immediate of load/store pair (bits 21:15).
fn simm7x8(offset: i16) -> u32 {
    ((offset / 8) as u32 & 0x7f) << 15
}

const MOVZ: u32 = 0xd280_0000;
const MOVN: u32 = 0x9280_0000;
const MOVK: u32 = 0xf280_0000;
const LDR_UNSIGNED: u32 = 0x3940_0000;
const STR_UNSIGNED: u32 = 0x3900_0000;
const LDUR: u32 = 0x3840_0000;
const STUR: u32 = 0x3800_0000;
/// Register offset, option LSL (011), S in bit 12.
const LDR_REGISTER: u32 = 0x3860_6800;
const STR_REGISTER: u32 = 0x3820_6800;
const STR_PRE_INDEX: u32 = 0xf800_0c00;
const LDR_POST_INDEX: u32 = 0xf840_0400;
const STP_PRE_INDEX: u32 = 0xa980_0000;
const LDP_POST_INDEX: u32 = 0xa8c0_0000;
const STP_OFFSET: u32 = 0xa900_0000;
const LDP_OFFSET: u32 = 0xa940_0000;
const MADD: u32 = 0x9b00_0000;
const MSUB: u32 = 0x9b00_8000;
const SDIV: u32 = 0x9ac0_0c00;
const SMULH: u32 = 0x9b40_7c00;
const UBFM: u32 = 0xd340_0000;
const SBFM: u32 = 0x9340_0000;
/// `subs` (extended register) with option UXTX and no shift.
const SUBS_EXTENDED_UXTX: u32 = 0xeb20_6000;
const ADRP: u32 = 0x9000_0000;
const B: u32 = 0x1400_0000;
const B_COND: u32 = 0x5400_0000;
const CBZ: u32 = 0xb400_0000;
const CBNZ: u32 = 0xb500_0000;
const BL: u32 = 0x9400_0000;
const BLR: u32 = 0xd63f_0000;
const RET_X30: u32 = 0xd65f_03c0;
const SVC: u32 = 0xd400_0001;
const BRK: u32 = 0xd420_0000;
const CSEL: u32 = 0x9a80_0000;
const CSINC: u32 = 0x9a80_0400;
const CSNEG: u32 = 0xda80_0400;
const FMOV_TO_FP: u32 = 0x9e67_0000;
const FMOV_FROM_FP: u32 = 0x9e66_0000;
const SCVTF: u32 = 0x9e62_0000;
const FCVTZS: u32 = 0x9e78_0000;
const FSQRT: u32 = 0x1e61_c000;
const FMOV_DD: u32 = 0x1e60_4000;
const LDR_D: u32 = 0xfd40_0000;
const LDUR_Q: u32 = 0x3cc0_0000;
const STUR_Q: u32 = 0x3c80_0000;
const STR_D: u32 = 0xfd00_0000;
const FCMP: u32 = 0x1e60_2000;
const ZR: u32 = 31;

impl Inst {
    pub fn emit(&self, buf: &mut CodeBuffer) {
        buf.list(|listing, symbols, long_branches| self.listed(listing, symbols, long_branches));
        let word = match *self {
            Inst::MovRR { dst, src } => alu_base(AluOp::Orr) | r(src) << 16 | ZR << 5 | r(dst),
            Inst::MovSp { dst, src } => imm_base(ImmOp::Add) | r(src) << 5 | r(dst),
            Inst::Movz { dst, imm16, shift } => MOVZ | (shift as u32 / 16) << 21 | (imm16 as u32) << 5 | r(dst),
            Inst::Movn { dst, imm16, shift } => MOVN | (shift as u32 / 16) << 21 | (imm16 as u32) << 5 | r(dst),
            Inst::Movk { dst, imm16, shift } => MOVK | (shift as u32 / 16) << 21 | (imm16 as u32) << 5 | r(dst),
            Inst::AluRRR { op, dst, a, b } => alu_base(op) | r(b) << 16 | r(a) << 5 | r(dst),
            Inst::CmpSp { b } => SUBS_EXTENDED_UXTX | r(b) << 16 | ZR << 5 | ZR,
            Inst::AluRRImm12 { op, dst, a, imm12, lsl12 } => {
                imm_base(op) | (lsl12 as u32) << 22 | (imm12 as u32 & 0xfff) << 10 | r(a) << 5 | r(dst)
            }
            Inst::Mul { dst, a, b } => MADD | r(b) << 16 | ZR << 10 | r(a) << 5 | r(dst),
            Inst::Msub { dst, a, b, c } => MSUB | r(b) << 16 | r(c) << 10 | r(a) << 5 | r(dst),
            Inst::Sdiv { dst, a, b } => SDIV | r(b) << 16 | r(a) << 5 | r(dst),
            Inst::Smulh { dst, a, b } => SMULH | r(b) << 16 | r(a) << 5 | r(dst),
            Inst::ShiftRRR { op, dst, a, b } => {
                let opcode = match op {
                    ShiftOp::Lsl => 0x9ac0_2000,
                    ShiftOp::Lsr => 0x9ac0_2400,
                    ShiftOp::Asr => 0x9ac0_2800,
                };
                opcode | r(b) << 16 | r(a) << 5 | r(dst)
            }
            Inst::ShiftImm { op, dst, a, amount } => {
                let s = amount as u32 & 63;
                // Aliases of the bitfield moves: LSL is UBFM #(-s mod 64), #(63-s).
                let (base, immr, imms) = match op {
                    ShiftOp::Lsl => (UBFM, (64 - s) & 63, 63 - s),
                    ShiftOp::Lsr => (UBFM, s, 63),
                    ShiftOp::Asr => (SBFM, s, 63),
                };
                base | immr << 16 | imms << 10 | r(a) << 5 | r(dst)
            }
            Inst::Load { width, dst, base, offset } => {
                LDR_UNSIGNED | size_bits(width) << 30 | (offset / width.bytes()) << 10 | r(base) << 5 | r(dst)
            }
            Inst::Store { width, src, base, offset } => {
                STR_UNSIGNED | size_bits(width) << 30 | (offset / width.bytes()) << 10 | r(base) << 5 | r(src)
            }
            Inst::LoadUnscaled { width, dst, base, offset } => {
                LDUR | size_bits(width) << 30 | simm9(offset) | r(base) << 5 | r(dst)
            }
            Inst::StoreUnscaled { width, src, base, offset } => {
                STUR | size_bits(width) << 30 | simm9(offset) | r(base) << 5 | r(src)
            }
            Inst::LoadIndexed { width, dst, base, index, scaled } => {
                LDR_REGISTER | size_bits(width) << 30 | r(index) << 16 | (scaled as u32) << 12 | r(base) << 5 | r(dst)
            }
            Inst::StoreIndexed { width, src, base, index, scaled } => {
                STR_REGISTER | size_bits(width) << 30 | r(index) << 16 | (scaled as u32) << 12 | r(base) << 5 | r(src)
            }
            Inst::StorePre { src, base, offset } => STR_PRE_INDEX | simm9(offset) | r(base) << 5 | r(src),
            Inst::LoadPost { dst, base, offset } => LDR_POST_INDEX | simm9(offset) | r(base) << 5 | r(dst),
            Inst::StpPre { a, b, base, offset } => STP_PRE_INDEX | simm7x8(offset) | r(b) << 10 | r(base) << 5 | r(a),
            Inst::LdpPost { a, b, base, offset } => LDP_POST_INDEX | simm7x8(offset) | r(b) << 10 | r(base) << 5 | r(a),
            Inst::Stp { a, b, base, offset } => STP_OFFSET | simm7x8(offset) | r(b) << 10 | r(base) << 5 | r(a),
            Inst::Ldp { a, b, base, offset } => LDP_OFFSET | simm7x8(offset) | r(b) << 10 | r(base) << 5 | r(a),
            Inst::Adrp { dst, target } => {
                buf.fixup(buf.offset(), RelocKind::Arm64AdrpPage21, target);
                ADRP | r(dst)
            }
            Inst::AddLo12 { dst, src, target } => {
                buf.fixup(buf.offset(), RelocKind::Arm64AddLo12, target);
                imm_base(ImmOp::Add) | r(src) << 5 | r(dst)
            }
            Inst::LoadLo12 { dst, base, target } => {
                buf.fixup(buf.offset(), RelocKind::Arm64Load64Lo12, target);
                LDR_UNSIGNED | size_bits(Width::B64) << 30 | r(base) << 5 | r(dst)
            }
            Inst::B { target } => {
                buf.fixup(buf.offset(), RelocKind::Arm64Branch26, RelocTarget::Label(target));
                B
            }
            Inst::BCond { cond, target } => branch19(buf, B_COND | cond as u32, B_COND | cond.invert() as u32, target),
            Inst::Cbz { reg, target } => branch19(buf, CBZ | r(reg), CBNZ | r(reg), target),
            Inst::Cbnz { reg, target } => branch19(buf, CBNZ | r(reg), CBZ | r(reg), target),
            Inst::Bl { target } => {
                buf.fixup(buf.offset(), RelocKind::Arm64Branch26, target);
                BL
            }
            Inst::Blr { reg } => BLR | r(reg) << 5,
            Inst::Ret => RET_X30,
            Inst::Svc { imm16 } => SVC | (imm16 as u32) << 5,
            Inst::Brk { imm16 } => BRK | (imm16 as u32) << 5,
            Inst::Csel { dst, a, b, cond } => CSEL | r(b) << 16 | (cond as u32) << 12 | r(a) << 5 | r(dst),
            Inst::Cset { dst, cond } => CSINC | ZR << 16 | (cond.invert() as u32) << 12 | ZR << 5 | r(dst),
            Inst::Csneg { dst, a, b, cond } => CSNEG | r(b) << 16 | (cond as u32) << 12 | r(a) << 5 | r(dst),
            Inst::FmovToFp { dst, src } => FMOV_TO_FP | r(src) << 5 | dst.0 as u32,
            Inst::FmovFromFp { dst, src } => FMOV_FROM_FP | (src.0 as u32) << 5 | r(dst),
            Inst::FpuRRR { op, dst, a, b } => fpu_base(op) | (b.0 as u32) << 16 | (a.0 as u32) << 5 | dst.0 as u32,
            Inst::Scvtf { dst, src } => SCVTF | r(src) << 5 | dst.0 as u32,
            Inst::Fcvtzs { dst, src } => FCVTZS | (src.0 as u32) << 5 | r(dst),
            Inst::Fsqrt { dst, src } => FSQRT | (src.0 as u32) << 5 | dst.0 as u32,
            Inst::Fcmp { a, b } => FCMP | (b.0 as u32) << 16 | (a.0 as u32) << 5,
            Inst::FmovDD { dst, src } => FMOV_DD | (src.0 as u32) << 5 | dst.0 as u32,
            Inst::FpLoad { dst, base, offset } => LDR_D | (offset / 8) << 10 | r(base) << 5 | dst.0 as u32,
            Inst::FpStore { src, base, offset } => STR_D | (offset / 8) << 10 | r(base) << 5 | src.0 as u32,
            Inst::QLoadUnscaled { dst, base, offset } => LDUR_Q | simm9(offset) | r(base) << 5 | dst.0 as u32,
            Inst::QStoreUnscaled { src, base, offset } => STUR_Q | simm9(offset) | r(base) << 5 | src.0 as u32,
            Inst::Raw(ref bytes) => {
                buf.put_bytes(bytes);
                return;
            }
        };
        buf.put4(word);
    }
}
