//! x86_64 encoding: legacy prefix, REX, opcode, ModRM/SIB, displacement,
//! immediate. Branches, calls and RIP-relative operands always use a 32-bit
//! field patched later through a `X86Rel32` fixup.

use super::inst::*;
use crate::code::{CodeBuffer, RelocKind, RelocTarget};
use crate::ir::PReg;

const REX: u8 = 0x40;
const REX_W: u8 = 0x08;
const REX_R: u8 = 0x04;
const REX_X: u8 = 0x02;
const REX_B: u8 = 0x01;
const OPERAND_SIZE_16: u8 = 0x66;
const SCALAR_DOUBLE: u8 = 0xf2;
const TWO_BYTE: u8 = 0x0f;
/// ModRM.rm / SIB.base value meaning "a SIB byte follows" / "no index".
const RM_SIB: u8 = 0b100;
/// ModRM.rm value meaning RIP-relative with mod 00.
const RM_RIP: u8 = 0b101;

fn low3(r: u8) -> u8 {
    r & 7
}
fn high(r: u8) -> bool {
    r & 8 != 0
}

/// Registers spl/bpl/sil/dil need a REX prefix to be addressed as bytes.
fn needs_rex_for_byte(r: PReg) -> bool {
    (4..8).contains(&r.0)
}

/// Operand-size and REX prefixes for an instruction with ModRM `reg` and
/// an `rm` register or memory operand.
struct Prefix {
    w: bool,
    reg: u8,
    rm: Rm,
    /// Emit a REX prefix even when no bit is set (byte registers).
    force_rex: bool,
}

#[derive(Clone, Copy)]
enum Rm {
    Reg(u8),
    Mem(Amode),
    Rip,
}

impl Prefix {
    fn rex(&self) -> Option<u8> {
        let mut rex = REX;
        if self.w {
            rex |= REX_W;
        }
        if high(self.reg) {
            rex |= REX_R;
        }
        match self.rm {
            Rm::Reg(r) if high(r) => rex |= REX_B,
            Rm::Mem(m) => {
                if high(m.base.0) {
                    rex |= REX_B;
                }
                if let Some((i, _)) = m.index {
                    if high(i.0) {
                        rex |= REX_X;
                    }
                }
            }
            _ => {}
        }
        (rex != REX || self.force_rex).then_some(rex)
    }
}

/// Emits `[legacy] [REX] opcode ModRM [SIB] [disp]`; returns the offset of a
/// RIP-relative displacement field, if any.
fn op_modrm(buf: &mut CodeBuffer, legacy: Option<u8>, p: Prefix, opcode: &[u8]) -> Option<u32> {
    if let Some(l) = legacy {
        buf.put1(l);
    }
    if let Some(rex) = p.rex() {
        buf.put1(rex);
    }
    // One or two bytes: pushed, where copying a slice would call memcpy.
    for &b in opcode {
        buf.put1(b);
    }
    let reg = low3(p.reg) << 3;
    match p.rm {
        Rm::Reg(r) => {
            buf.put1(0b11 << 6 | reg | low3(r));
            None
        }
        Rm::Rip => {
            buf.put1(reg | RM_RIP);
            let at = buf.offset();
            buf.put4(0);
            Some(at)
        }
        Rm::Mem(m) => {
            let base = low3(m.base.0);
            // mod 00 with base rbp/r13 means RIP/disp32, so those bases
            // always carry a displacement.
            let (md, disp8) = if m.disp == 0 && base != RM_RIP {
                (0b00, false)
            } else if i8::try_from(m.disp).is_ok() {
                (0b01, true)
            } else {
                (0b10, false)
            };
            if m.index.is_none() && base != RM_SIB {
                buf.put1(md << 6 | reg | base);
            } else {
                buf.put1(md << 6 | reg | RM_SIB);
                let (index, scale) = match m.index {
                    Some((i, s)) => (low3(i.0), s as u8),
                    None => (RM_SIB, 0),
                };
                buf.put1(scale << 6 | index << 3 | base);
            }
            match md {
                0b01 if disp8 => buf.put1(m.disp as i8 as u8),
                0b10 => buf.put4(m.disp as u32),
                _ => {}
            }
            None
        }
    }
}

fn rr(w: bool, reg: PReg, rm: PReg) -> Prefix {
    Prefix { w, reg: reg.0, rm: Rm::Reg(rm.0), force_rex: false }
}
fn rm_mem(w: bool, reg: u8, mem: Amode) -> Prefix {
    Prefix { w, reg, rm: Rm::Mem(mem), force_rex: false }
}

fn alu_opcode(op: AluOp) -> (u8, u8) {
    // (opcode of `op r/m64, r64`, ModRM digit of the immediate forms)
    match op {
        AluOp::Add => (0x01, 0),
        AluOp::Or => (0x09, 1),
        AluOp::And => (0x21, 4),
        AluOp::Sub => (0x29, 5),
        AluOp::Xor => (0x31, 6),
        AluOp::Cmp => (0x39, 7),
    }
}

fn shift_digit(op: ShiftOp) -> u8 {
    match op {
        ShiftOp::Shl => 4,
        ShiftOp::Shr => 5,
        ShiftOp::Sar => 7,
    }
}

fn sse_opcode(op: SseOp) -> u8 {
    match op {
        SseOp::Add => 0x58,
        SseOp::Mul => 0x59,
        SseOp::Sub => 0x5c,
        SseOp::Div => 0x5e,
        SseOp::Sqrt => 0x51,
    }
}

/// `opcode+reg` forms (push, pop, mov imm), with REX.B for r8-r15.
fn short_reg(buf: &mut CodeBuffer, w: bool, base: u8, r: PReg) {
    let mut rex = REX;
    if w {
        rex |= REX_W;
    }
    if high(r.0) {
        rex |= REX_B;
    }
    if rex != REX {
        buf.put1(rex);
    }
    buf.put1(base + low3(r.0));
}

impl Inst {
    pub fn emit(&self, buf: &mut CodeBuffer) {
        buf.list(|listing, symbols, _| self.listed(listing, symbols));
        match *self {
            Inst::MovRR { dst, src } => {
                op_modrm(buf, None, rr(true, src, dst), &[0x89]);
            }
            Inst::MovRI { dst, imm } => {
                if let Ok(v) = i32::try_from(imm) {
                    op_modrm(buf, None, Prefix { w: true, reg: 0, rm: Rm::Reg(dst.0), force_rex: false }, &[0xc7]);
                    buf.put4(v as u32);
                } else if let Ok(v) = u32::try_from(imm) {
                    short_reg(buf, false, 0xb8, dst);
                    buf.put4(v);
                } else {
                    short_reg(buf, true, 0xb8, dst);
                    buf.put8(imm as u64);
                }
            }
            Inst::Load { dst, mem } => {
                op_modrm(buf, None, rm_mem(true, dst.0, mem), &[0x8b]);
            }
            Inst::Store { mem, src } => {
                op_modrm(buf, None, rm_mem(true, src.0, mem), &[0x89]);
            }
            Inst::StoreImm { mem, imm } => {
                op_modrm(buf, None, rm_mem(true, 0, mem), &[0xc7]);
                buf.put4(imm as u32);
            }
            Inst::LoadNarrow { width, dst, mem } => {
                let opcode: &[u8] = match width {
                    Narrow::B8 => &[TWO_BYTE, 0xb6],
                    Narrow::B16 => &[TWO_BYTE, 0xb7],
                    Narrow::B32 => &[0x8b],
                };
                op_modrm(buf, None, rm_mem(false, dst.0, mem), opcode);
            }
            Inst::StoreNarrow { width, mem, src } => {
                let (legacy, opcode, force_rex) = match width {
                    Narrow::B8 => (None, 0x88, needs_rex_for_byte(src)),
                    Narrow::B16 => (Some(OPERAND_SIZE_16), 0x89, false),
                    Narrow::B32 => (None, 0x89, false),
                };
                op_modrm(buf, legacy, Prefix { w: false, reg: src.0, rm: Rm::Mem(mem), force_rex }, &[opcode]);
            }
            Inst::Lea { dst, mem } => {
                op_modrm(buf, None, rm_mem(true, dst.0, mem), &[0x8d]);
            }
            Inst::LeaRip { dst, target } => {
                let at = op_modrm(buf, None, Prefix { w: true, reg: dst.0, rm: Rm::Rip, force_rex: false }, &[0x8d]);
                buf.fixup(at.expect("a RIP-relative field"), RelocKind::X86Rel32, target);
            }
            Inst::AluRR { op, dst, src } => {
                op_modrm(buf, None, rr(true, src, dst), &[alu_opcode(op).0]);
            }
            Inst::AluRRip { op, dst, target } => {
                // `op r64, r/m64`: the opcode after `op r/m64, r64`.
                let opcode = alu_opcode(op).0 + 2;
                let at = op_modrm(buf, None, Prefix { w: true, reg: dst.0, rm: Rm::Rip, force_rex: false }, &[opcode]);
                buf.fixup(at.expect("a RIP-relative field"), RelocKind::X86Rel32, target);
            }
            Inst::AluRI { op, dst, imm } => {
                let (opcode, digit) = alu_opcode(op);
                if let Ok(v) = i8::try_from(imm) {
                    op_modrm(buf, None, Prefix { w: true, reg: digit, rm: Rm::Reg(dst.0), force_rex: false }, &[0x83]);
                    buf.put1(v as u8);
                } else if dst.0 == 0 {
                    // The accumulator has a shorter form (opcode+4, no ModRM).
                    buf.put1(REX | REX_W);
                    buf.put1(opcode + 4);
                    buf.put4(imm as u32);
                } else {
                    op_modrm(buf, None, Prefix { w: true, reg: digit, rm: Rm::Reg(dst.0), force_rex: false }, &[0x81]);
                    buf.put4(imm as u32);
                }
            }
            Inst::TestRR { a, b } => {
                op_modrm(buf, None, rr(true, b, a), &[0x85]);
            }
            Inst::ImulRR { dst, src } => {
                op_modrm(buf, None, rr(true, dst, src), &[TWO_BYTE, 0xaf]);
            }
            Inst::ImulRRI { dst, src, imm } => {
                if let Ok(v) = i8::try_from(imm) {
                    op_modrm(buf, None, rr(true, dst, src), &[0x6b]);
                    buf.put1(v as u8);
                } else {
                    op_modrm(buf, None, rr(true, dst, src), &[0x69]);
                    buf.put4(imm as u32);
                }
            }
            Inst::Neg { reg } => {
                op_modrm(buf, None, Prefix { w: true, reg: 3, rm: Rm::Reg(reg.0), force_rex: false }, &[0xf7]);
            }
            Inst::Not { reg } => {
                op_modrm(buf, None, Prefix { w: true, reg: 2, rm: Rm::Reg(reg.0), force_rex: false }, &[0xf7]);
            }
            Inst::ShiftCl { op, dst } => {
                op_modrm(
                    buf,
                    None,
                    Prefix { w: true, reg: shift_digit(op), rm: Rm::Reg(dst.0), force_rex: false },
                    &[0xd3],
                );
            }
            Inst::ShiftImm { op, dst, amount } => {
                let p = Prefix { w: true, reg: shift_digit(op), rm: Rm::Reg(dst.0), force_rex: false };
                if amount == 1 {
                    op_modrm(buf, None, p, &[0xd1]);
                } else {
                    op_modrm(buf, None, p, &[0xc1]);
                    buf.put1(amount);
                }
            }
            Inst::Cqo => buf.put_bytes(&[REX | REX_W, 0x99]),
            Inst::Idiv { src } => {
                op_modrm(buf, None, Prefix { w: true, reg: 7, rm: Rm::Reg(src.0), force_rex: false }, &[0xf7]);
            }
            Inst::ImulWide { src } => {
                op_modrm(buf, None, Prefix { w: true, reg: 5, rm: Rm::Reg(src.0), force_rex: false }, &[0xf7]);
            }
            Inst::Setcc { cc, dst } => {
                let p = Prefix { w: false, reg: 0, rm: Rm::Reg(dst.0), force_rex: needs_rex_for_byte(dst) };
                op_modrm(buf, None, p, &[TWO_BYTE, 0x90 + cc as u8]);
            }
            Inst::MovzxRR8 { dst, src } => {
                let p = Prefix { w: false, reg: dst.0, rm: Rm::Reg(src.0), force_rex: needs_rex_for_byte(src) };
                op_modrm(buf, None, p, &[TWO_BYTE, 0xb6]);
            }
            Inst::Cmov { cc, dst, src } => {
                op_modrm(buf, None, rr(true, dst, src), &[TWO_BYTE, 0x40 + cc as u8]);
            }
            Inst::Jmp { target } => {
                buf.put1(0xe9);
                let at = buf.offset();
                buf.put4(0);
                buf.fixup(at, RelocKind::X86Rel32, RelocTarget::Label(target));
            }
            Inst::Jcc { cc, target } => {
                buf.put_bytes(&[TWO_BYTE, 0x80 + cc as u8]);
                let at = buf.offset();
                buf.put4(0);
                buf.fixup(at, RelocKind::X86Rel32, RelocTarget::Label(target));
            }
            Inst::Call { target } => {
                buf.put1(0xe8);
                let at = buf.offset();
                buf.put4(0);
                buf.fixup(at, RelocKind::X86Rel32, target);
            }
            Inst::CallR { reg } => {
                op_modrm(buf, None, Prefix { w: false, reg: 2, rm: Rm::Reg(reg.0), force_rex: false }, &[0xff]);
            }
            Inst::Ret => buf.put1(0xc3),
            Inst::Push { reg } => short_reg(buf, false, 0x50, reg),
            Inst::PushImm { imm } => match i8::try_from(imm) {
                Ok(v) => buf.put_bytes(&[0x6a, v as u8]),
                Err(_) => {
                    buf.put1(0x68);
                    buf.put4(imm as u32);
                }
            },
            Inst::Pop { reg } => short_reg(buf, false, 0x58, reg),
            Inst::Syscall => buf.put_bytes(&[TWO_BYTE, 0x05]),
            Inst::Ud2 => buf.put_bytes(&[TWO_BYTE, 0x0b]),
            Inst::MovqToXmm { dst, src } => {
                op_modrm(buf, Some(OPERAND_SIZE_16), rr(true, PReg(dst.0), src), &[TWO_BYTE, 0x6e]);
            }
            Inst::MovqFromXmm { dst, src } => {
                op_modrm(buf, Some(OPERAND_SIZE_16), rr(true, PReg(src.0), dst), &[TWO_BYTE, 0x7e]);
            }
            Inst::SseBin { op, dst, src } => {
                op_modrm(buf, Some(SCALAR_DOUBLE), rr(false, PReg(dst.0), PReg(src.0)), &[TWO_BYTE, sse_opcode(op)]);
            }
            Inst::Cvtsi2sd { dst, src } => {
                op_modrm(buf, Some(SCALAR_DOUBLE), rr(true, PReg(dst.0), src), &[TWO_BYTE, 0x2a]);
            }
            Inst::Cvttsd2si { dst, src } => {
                op_modrm(buf, Some(SCALAR_DOUBLE), rr(true, dst, PReg(src.0)), &[TWO_BYTE, 0x2c]);
            }
            Inst::MovsdLoad { dst, mem } => {
                op_modrm(buf, Some(SCALAR_DOUBLE), rm_mem(false, dst.0, mem), &[TWO_BYTE, 0x10]);
            }
            Inst::MovsdStore { mem, src } => {
                op_modrm(buf, Some(SCALAR_DOUBLE), rm_mem(false, src.0, mem), &[TWO_BYTE, 0x11]);
            }
            Inst::MovupsLoad { dst, mem } => {
                op_modrm(buf, None, rm_mem(false, dst.0, mem), &[TWO_BYTE, 0x10]);
            }
            Inst::MovupsStore { mem, src } => {
                op_modrm(buf, None, rm_mem(false, src.0, mem), &[TWO_BYTE, 0x11]);
            }
            Inst::Movapd { dst, src } => {
                op_modrm(buf, Some(OPERAND_SIZE_16), rr(false, PReg(dst.0), PReg(src.0)), &[TWO_BYTE, 0x28]);
            }
            Inst::Xorpd { dst, src } => {
                op_modrm(buf, Some(OPERAND_SIZE_16), rr(false, PReg(dst.0), PReg(src.0)), &[TWO_BYTE, 0x57]);
            }
            Inst::Ucomisd { a, b } => {
                op_modrm(buf, Some(OPERAND_SIZE_16), rr(false, PReg(a.0), PReg(b.0)), &[TWO_BYTE, 0x2e]);
            }
            Inst::Raw(ref bytes) => buf.put_bytes(bytes),
        }
    }
}
