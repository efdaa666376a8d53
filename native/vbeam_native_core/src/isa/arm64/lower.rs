//! ARM64 instruction selection under the shared lowering driver
//! (`crate::lower`), emitted straight into the function's code buffer.
//!
//! Frame: `sub sp, sp, #(size + 16); stp x29, x30, [sp]; mov x29, sp`.
//! The frame record sits at the bottom, where x29 points, as AAPCS64 has
//! it, so debuggers and the fault handler walk the chain of callers; frame
//! slot k (see `lower::Frame`) is `[x29 + 16 + 8k]`, a scaled unsigned
//! offset up to slot 4093 and `[x29, x30, lsl #3]` beyond, and IR
//! `push`/`pop` (16 bytes each, keeping sp aligned) never move a slot.
//! Spilled vregs go through the function's two scratch registers; x30 is a
//! third scratch between calls, since the prologue saves it anyway: no
//! value stays in it while a slot is accessed.

use super::imms::load_imm64;
use super::inst::{AluOp, Cond as C, Dr, FpuOp, ImmOp, Inst, ShiftOp, Width, Xr, SP, XZR};
use crate::code::{CodeBuffer, RelocTarget};
use crate::ir::{self, BinOp, Cond, FloatOp, PReg, Reg, Src, UnOp};
use crate::isa::divisor::{Adjust, ConstantDivisor};
use crate::lower::{Lowering, Machine, STACK_LIMIT_OVERSHOOT, STACK_PROBES_UNROLLED, STACK_PROBE_INTERVAL};
use crate::os::{self, uefi, StartStep, Trap};
use crate::regalloc::Loc;
use crate::regs::arm64::*;

/// The third scratch register (the link register, saved by the prologue).
const S2: Xr = LR;
/// The frame record (caller's x29, return address) below the slots.
const RECORD: i64 = 16;
/// 8-byte units above x29 a scaled 12-bit offset reaches.
const UNITS_BY_OFFSET: i64 = 4096;

/// Frame slot k's distance from x29 in 8-byte units, past the record.
fn slot_unit(k: u32) -> i64 {
    k as i64 + RECORD / 8
}

/// ARM64 under the shared lowering driver.
pub struct Arm64;

/// The d register `p` is (see `regs::FP_BASE`).
fn dreg(p: PReg) -> Dr {
    Dr(p.fp_number())
}

/// The floating-point scratch registers (see `CallConv::fp_scratch`).
fn fp_scratch(l: &Lowering<Arm64>) -> (Dr, Dr) {
    let [f0, f1] = l.target.cc.fp_scratch;
    (dreg(f0), dreg(f1))
}

/// The d register holding float `s`: its own, or `tmp` loaded with it
/// (from a general-purpose register, a spill slot or a constant; a
/// constant goes through `gpr`).
fn d_of(l: &mut Lowering<Arm64>, s: Src, tmp: Dr, gpr: Xr) -> Dr {
    let tmp_reg = PReg(crate::regs::FP_BASE + tmp.0);
    match s {
        Src::Reg(r) => match l.loc(r) {
            Loc::Reg(p) if p.is_fp() => return dreg(p),
            Loc::Reg(p) => l.emit(Inst::FmovToFp { dst: tmp, src: p }),
            Loc::Spill(n) => Arm64::load_slot(l, tmp_reg, l.frame.spill_slot(n)),
        },
        Src::Imm(0) => l.emit(Inst::FmovToFp { dst: tmp, src: XZR }),
        Src::Imm(bits) => {
            Arm64::mov_imm(l, gpr, bits);
            l.emit(Inst::FmovToFp { dst: tmp, src: gpr });
        }
    }
    tmp
}

/// The d register a float result for `r` is best computed in: its own,
/// or `tmp`.
fn d_dst(l: &Lowering<Arm64>, r: Reg, tmp: Dr) -> Dr {
    fp_loc(l, r).unwrap_or(tmp)
}

/// Puts the float computed in `d` into `r`'s location.
fn write_d(l: &mut Lowering<Arm64>, r: Reg, d: Dr) {
    match l.loc(r) {
        Loc::Reg(p) if p.is_fp() => {
            if dreg(p) != d {
                l.emit(Inst::FmovDD { dst: dreg(p), src: d });
            }
        }
        Loc::Reg(p) => l.emit(Inst::FmovFromFp { dst: p, src: d }),
        Loc::Spill(n) => Arm64::store_slot(l, PReg(crate::regs::FP_BASE + d.0), l.frame.spill_slot(n)),
    }
}

/// The float register of `r`, if it lives in one.
fn fp_loc(l: &Lowering<Arm64>, r: Reg) -> Option<Dr> {
    match l.loc(r) {
        Loc::Reg(p) if p.is_fp() => Some(dreg(p)),
        _ => None,
    }
}

/// Whether a 64-bit float access at `offset` fits `ldr d`/`str d`.
fn fp_offset(offset: i32) -> Option<u32> {
    (0..32768).contains(&offset).then_some(offset as u32).filter(|o| o % 8 == 0)
}

fn width_of(w: ir::Width) -> Width {
    match w {
        ir::Width::W8 => Width::B8,
        ir::Width::W16 => Width::B16,
        ir::Width::W32 => Width::B32,
        ir::Width::W64 => Width::B64,
    }
}

fn cond_of(c: Cond) -> C {
    match c {
        Cond::Eq => C::Eq,
        Cond::Ne => C::Ne,
        Cond::Lt => C::Lt,
        Cond::Le => C::Le,
        Cond::Gt => C::Gt,
        Cond::Ge => C::Ge,
        Cond::Ltu => C::Lo,
        Cond::Leu => C::Ls,
        Cond::Gtu => C::Hi,
        Cond::Geu => C::Hs,
    }
}

/// The process's first instructions (see `os::start`).
pub fn emit_start(buf: &mut CodeBuffer, steps: &[StartStep]) {
    for step in steps {
        let insts = match *step {
            // sp is 16-byte aligned however the entry point is reached.
            StartStep::RealignAfterCall => Vec::new(),
            StartStep::Zero(reg) => vec![Inst::Movz { dst: reg, imm16: 0, shift: 0 }],
            StartStep::Save(reg, entry) => {
                let target = buf.data_symbol(entry);
                vec![
                    Inst::Adrp { dst: X9, target },
                    Inst::AddLo12 { dst: X9, src: X9, target },
                    Inst::Store { width: Width::B64, src: reg, base: X9, offset: 0 },
                ]
            }
            StartStep::SwitchStack(reg) => vec![Inst::MovSp { dst: SP, src: reg }],
            StartStep::SaveStackArguments { argc, argv } => {
                // argc at [sp], argv from sp + 8.
                let mut insts = Vec::new();
                for (value, entry) in [
                    (Inst::Load { width: Width::B64, dst: X9, base: SP, offset: 0 }, argc),
                    (Inst::AluRRImm12 { op: ImmOp::Add, dst: X9, a: SP, imm12: 8, lsl12: false }, argv),
                ] {
                    let target = buf.data_symbol(entry);
                    insts.extend([
                        value,
                        Inst::Adrp { dst: X10, target },
                        Inst::AddLo12 { dst: X10, src: X10, target },
                        Inst::Store { width: Width::B64, src: X9, base: X10, offset: 0 },
                    ]);
                }
                insts
            }
            StartStep::Call(name) => vec![Inst::Bl { target: buf.function_symbol(name) }],
            StartStep::EnterKernel { number, value, trap: Trap::Svc(imm16) } => {
                let mut insts = load_imm64(number, value);
                insts.push(Inst::Svc { imm16 });
                insts
            }
            StartStep::EnterKernel { trap: Trap::Syscall, .. } => unreachable!("arm64 kernels trap by svc"),
        };
        for inst in insts {
            inst.emit(buf);
        }
    }
}

/// `dst = src + value` with add/sub immediates (up to two instructions for
/// values below 2^24), or None when the value needs a register.
fn add_imm(dst: Xr, src: Xr, value: i64) -> Option<Vec<Inst>> {
    let (op, magnitude) = if value < 0 { (ImmOp::Sub, value.unsigned_abs()) } else { (ImmOp::Add, value as u64) };
    if magnitude >= 1 << 24 {
        return None;
    }
    let (hi, lo) = ((magnitude >> 12) as u16, (magnitude & 0xfff) as u16);
    let mut out = Vec::new();
    let mut from = src;
    if hi != 0 {
        out.push(Inst::AluRRImm12 { op, dst, a: from, imm12: hi, lsl12: true });
        from = dst;
    }
    if lo != 0 || out.is_empty() {
        out.push(Inst::AluRRImm12 { op, dst, a: from, imm12: lo, lsl12: false });
    }
    Some(out)
}

/// `sub sp, sp, #size`, writing a zero at each `STACK_PROBE_INTERVAL` on
/// the way when the frame is larger than one interval (the caller writes
/// the bottom). A loop counts down with x16, which holds nothing at a
/// function's entry (AAPCS64's intra-procedure-call register).
fn allocate_frame(l: &mut Lowering<Arm64>, size: u32) {
    let down = |l: &mut Lowering<Arm64>, bytes: u32| {
        emit_all(l, add_imm(SP, SP, -i64::from(bytes)).expect("a step within an add's immediates"));
    };
    let probe = |l: &mut Lowering<Arm64>| l.emit(Inst::Store { width: Width::B64, src: XZR, base: SP, offset: 0 });
    if size <= STACK_PROBE_INTERVAL {
        return down(l, size);
    }
    let (intervals, rest) = (size / STACK_PROBE_INTERVAL, size % STACK_PROBE_INTERVAL);
    if intervals <= STACK_PROBES_UNROLLED {
        for _ in 0..intervals {
            down(l, STACK_PROBE_INTERVAL);
            probe(l);
        }
    } else {
        emit_all(l, load_imm64(X16, i64::from(intervals)));
        let top = l.new_label();
        l.buf.bind_label(top);
        down(l, STACK_PROBE_INTERVAL);
        probe(l);
        l.emit(Inst::AluRRImm12 { op: ImmOp::Subs, dst: X16, a: X16, imm12: 1, lsl12: false });
        l.emit(Inst::BCond { cond: C::Ne, target: top });
    }
    if rest > 0 {
        down(l, rest);
    }
}

/// x16 := the stack limit (see `Lowering::checks_stack_limit`); x16 holds
/// nothing at a function's entry.
fn load_stack_limit(l: &mut Lowering<Arm64>) {
    let target = l.buf.data_symbol(uefi::STACK_LIMIT);
    l.emit(Inst::Adrp { dst: X16, target });
    l.emit(Inst::LoadLo12 { dst: X16, base: X16, target });
}

/// `sub sp, sp, #size` for a frame up to `STACK_LIMIT_OVERSHOOT` on UEFI,
/// checked once its record is made.
fn allocate_small_frame(l: &mut Lowering<Arm64>, size: u32) {
    emit_all(l, add_imm(SP, SP, -i64::from(size)).expect("a frame within an add's immediates"));
}

/// `sub sp, sp, #size` on UEFI once the room above the stack limit is
/// known to hold a frame larger than `STACK_LIMIT_OVERSHOOT`, without
/// probes: the limit guards the stack. A frame of 16 MiB or more, beyond
/// an add's immediates, is larger than the whole stack: it always
/// overflows.
fn check_room_for_frame(l: &mut Lowering<Arm64>, size: u32) {
    let overflow = l.stack_overflow_label();
    let Some(limit_plus_frame) = add_imm(X16, X16, i64::from(size)) else {
        return l.emit(Inst::B { target: overflow });
    };
    load_stack_limit(l);
    emit_all(l, limit_plus_frame);
    l.emit(Inst::CmpSp { b: X16 });
    l.emit(Inst::BCond { cond: C::Lo, target: overflow });
    allocate_small_frame(l, size);
}

/// Emits a sequence of instructions.
fn emit_all(l: &mut Lowering<Arm64>, insts: Vec<Inst>) {
    for inst in insts {
        l.emit(inst);
    }
}

impl Machine for Arm64 {
    type Inst = Inst;

    fn encode(inst: Inst, buf: &mut CodeBuffer) {
        inst.emit(buf);
    }

    fn prologue(l: &mut Lowering<Self>) {
        let total = l.frame.size() + RECORD as u32;
        l.buf.frame_size = total;
        if !l.checks_stack_limit() {
            allocate_frame(l, total);
        } else if total > STACK_LIMIT_OVERSHOOT {
            check_room_for_frame(l, total);
        } else {
            allocate_small_frame(l, total);
        }
        // The record, at the bottom, is the frame's last probe.
        l.emit(Inst::Stp { a: FP, b: LR, base: SP, offset: 0 });
        l.emit(Inst::MovSp { dst: FP, src: SP });
        l.buf.frame_ready = l.buf.bytes.len() as u32;
        if l.checks_stack_limit() && total <= STACK_LIMIT_OVERSHOOT {
            // x29 is sp, which `cmp` (shifted register) cannot name.
            load_stack_limit(l);
            l.emit(Inst::AluRRR { op: AluOp::Subs, dst: XZR, a: FP, b: X16 });
            let overflow = l.stack_overflow_label();
            l.emit(Inst::BCond { cond: C::Lo, target: overflow });
        }
        for k in 0..l.frame.saved.len() {
            Self::store_slot(l, l.frame.saved[k], l.frame.saved_slot(k));
        }
    }

    fn epilogue(l: &mut Lowering<Self>) {
        for k in 0..l.frame.saved.len() {
            Self::load_slot(l, l.frame.saved[k], l.frame.saved_slot(k));
        }
        l.emit(Inst::MovSp { dst: SP, src: FP });
        let total = l.frame.size() as i64 + RECORD;
        match add_imm(SP, SP, total) {
            Some(seq) => {
                l.emit(Inst::Ldp { a: FP, b: LR, base: SP, offset: 0 });
                emit_all(l, seq);
            }
            // The record moves to the top of the frame, through x29 with
            // x30 addressing the top, and is popped from there.
            None => {
                emit_all(l, load_imm64(S2, total - RECORD));
                l.emit(Inst::AluRRR { op: AluOp::Add, dst: S2, a: FP, b: S2 });
                for half in [0, 8] {
                    l.emit(Inst::Load { width: Width::B64, dst: FP, base: SP, offset: half });
                    l.emit(Inst::Store { width: Width::B64, src: FP, base: S2, offset: half });
                }
                l.emit(Inst::MovSp { dst: SP, src: S2 });
                l.emit(Inst::LdpPost { a: FP, b: LR, base: SP, offset: RECORD as i16 });
            }
        }
        l.emit(Inst::Ret);
    }

    /// Frame slot k is `[x29 + 16 + 8k]`, or `[x29, x30, lsl #3]` with
    /// k + 2 in x30.
    fn load_slot(l: &mut Lowering<Self>, dst: PReg, k: u32) {
        let unit = slot_unit(k);
        if dst.is_fp() {
            let (base, offset) = fp_slot_address(l, unit);
            return l.emit(Inst::FpLoad { dst: dreg(dst), base, offset });
        }
        if unit < UNITS_BY_OFFSET {
            l.emit(Inst::Load { width: Width::B64, dst, base: FP, offset: 8 * unit as u32 });
        } else {
            Self::mov_imm(l, S2, unit);
            l.emit(Inst::LoadIndexed { width: Width::B64, dst, base: FP, index: S2, scaled: true });
        }
    }
    fn store_slot(l: &mut Lowering<Self>, src: PReg, k: u32) {
        let unit = slot_unit(k);
        if src.is_fp() {
            let (base, offset) = fp_slot_address(l, unit);
            return l.emit(Inst::FpStore { src: dreg(src), base, offset });
        }
        if unit < UNITS_BY_OFFSET {
            l.emit(Inst::Store { width: Width::B64, src, base: FP, offset: 8 * unit as u32 });
        } else {
            Self::mov_imm(l, S2, unit);
            l.emit(Inst::StoreIndexed { width: Width::B64, src, base: FP, index: S2, scaled: true });
        }
    }
    fn mov_rr(l: &mut Lowering<Self>, dst: PReg, src: PReg) {
        l.emit(match (dst.is_fp(), src.is_fp()) {
            (false, false) => Inst::MovRR { dst, src },
            (true, true) => Inst::FmovDD { dst: dreg(dst), src: dreg(src) },
            (true, false) => Inst::FmovToFp { dst: dreg(dst), src },
            (false, true) => Inst::FmovFromFp { dst, src: dreg(src) },
        });
    }
    /// A float register's constant goes through s0, which a move never
    /// needs otherwise when its destination is a register.
    fn mov_imm(l: &mut Lowering<Self>, dst: PReg, imm: i64) {
        if dst.is_fp() {
            d_of(l, Src::Imm(imm), dreg(dst), l.s0);
        } else {
            emit_all(l, load_imm64(dst, imm));
        }
    }
    /// Zero reads as xzr.
    fn imm_reg(l: &mut Lowering<Self>, imm: i64, scratch: PReg) -> PReg {
        if imm == 0 {
            return XZR;
        }
        Self::mov_imm(l, scratch, imm);
        scratch
    }
    fn store_imm(l: &mut Lowering<Self>, k: u32, imm: i64) -> bool {
        if imm != 0 {
            return false;
        }
        Self::store_slot(l, XZR, k);
        true
    }
    fn call(l: &mut Lowering<Self>, target: RelocTarget) {
        l.emit(Inst::Bl { target });
    }
    /// UEFI's arm64 convention is AAPCS64, the program's own.
    fn call_firmware(l: &mut Lowering<Self>, function: PReg) {
        l.emit(Inst::Blr { reg: function });
    }
    /// A frame larger than `STACK_LIMIT_OVERSHOOT` is checked before it
    /// is made: the call gets a record of its own, where the frame's
    /// would be.
    fn call_stack_overflow(l: &mut Lowering<Self>) {
        if l.frame.size() + RECORD as u32 > STACK_LIMIT_OVERSHOOT {
            l.emit(Inst::StpPre { a: FP, b: LR, base: SP, offset: -(RECORD as i16) });
            l.emit(Inst::MovSp { dst: FP, src: SP });
        }
        let target = l.buf.function_symbol(os::STACK_OVERFLOW);
        l.emit(Inst::Bl { target });
    }
    /// Stores the registers in pairs, keeping sp 16-byte aligned.
    fn save_for_call(l: &mut Lowering<Self>, regs: &[PReg]) {
        for pair in regs.chunks(2) {
            l.emit(Inst::StpPre { a: pair[0], b: *pair.get(1).unwrap_or(&XZR), base: SP, offset: -16 });
        }
    }
    fn restore_after_call(l: &mut Lowering<Self>, regs: &[PReg]) {
        for pair in regs.chunks(2).rev() {
            l.emit(Inst::LdpPost { a: pair[0], b: *pair.get(1).unwrap_or(&XZR), base: SP, offset: 16 });
        }
    }
    fn trap(l: &mut Lowering<Self>, trap: Trap) {
        let Trap::Svc(imm16) = trap else { unreachable!("arm64 kernels are entered by svc") };
        l.emit(Inst::Svc { imm16 });
    }
    /// `cneg reg, reg, hs`.
    fn negate_if_carry(l: &mut Lowering<Self>, reg: PReg) {
        l.emit(Inst::Csneg { dst: reg, a: reg, b: reg, cond: C::Lo });
    }

    fn select(l: &mut Lowering<Self>, _: usize, inst: &ir::Inst) {
        use ir::Inst as I;
        let (s0, s1) = (l.s0, l.s1);
        match inst {
            I::Bin { op, dst, a, b } => bin(l, *op, *dst, *a, *b),
            I::Unary { op, dst, src } => {
                let v = l.read_src(*src, s1);
                let t = l.dst_reg(*dst);
                l.emit(match op {
                    UnOp::Neg => Inst::AluRRR { op: AluOp::Sub, dst: t, a: XZR, b: v },
                    UnOp::Not => Inst::AluRRR { op: AluOp::Orn, dst: t, a: XZR, b: v },
                });
                l.write(*dst, t);
            }
            I::Load { width: ir::Width::W64, dst, base, offset } if fp_loc(l, *dst).is_some() => {
                let b = l.read(*base, s0);
                let d = fp_loc(l, *dst).expect("a float register");
                match fp_offset(*offset) {
                    Some(offset) => l.emit(Inst::FpLoad { dst: d, base: b, offset }),
                    None => {
                        access(l, Width::B64, b, *offset, Some(s1), None);
                        l.emit(Inst::FmovToFp { dst: d, src: s1 });
                    }
                }
            }
            I::Store { width: ir::Width::W64, base, offset, src: Src::Reg(r) } if fp_loc(l, *r).is_some() => {
                let b = l.read(*base, s0);
                let v = fp_loc(l, *r).expect("a float register");
                match fp_offset(*offset) {
                    Some(offset) => l.emit(Inst::FpStore { src: v, base: b, offset }),
                    None => {
                        l.emit(Inst::FmovFromFp { dst: s1, src: v });
                        access(l, Width::B64, b, *offset, None, Some(s1));
                    }
                }
            }
            I::LoadElement { width, dst, base, index } => {
                let b = l.read(*base, s0);
                let i = l.read(*index, s1);
                let width = width_of(*width);
                match fp_loc(l, *dst) {
                    Some(d) => {
                        l.emit(Inst::LoadIndexed { width, dst: S2, base: b, index: i, scaled: true });
                        l.emit(Inst::FmovToFp { dst: d, src: S2 });
                    }
                    None => {
                        let t = l.dst_reg(*dst);
                        l.emit(Inst::LoadIndexed { width, dst: t, base: b, index: i, scaled: true });
                        l.write(*dst, t);
                    }
                }
            }
            I::StoreElement { width, base, index, src } => {
                let b = l.read(*base, s0);
                let i = l.read(*index, s1);
                // The value in the third scratch when it is not in a
                // general-purpose register.
                let v = match *src {
                    Src::Reg(r) => match l.loc(r) {
                        Loc::Reg(p) if p.is_fp() => {
                            l.emit(Inst::FmovFromFp { dst: S2, src: dreg(p) });
                            S2
                        }
                        Loc::Reg(p) => p,
                        Loc::Spill(n) => {
                            Arm64::load_slot(l, S2, l.frame.spill_slot(n));
                            S2
                        }
                    },
                    Src::Imm(v) => Arm64::imm_reg(l, v, S2),
                };
                l.emit(Inst::StoreIndexed { width: width_of(*width), src: v, base: b, index: i, scaled: true });
            }
            I::Load { width, dst, base, offset } => {
                let b = l.read(*base, s0);
                let t = l.dst_reg(*dst);
                let w = width_of(*width);
                access(l, w, b, *offset, Some(t), None);
                l.write(*dst, t);
            }
            I::FramePointer { dst } => {
                let t = l.dst_reg(*dst);
                l.emit(Inst::MovRR { dst: t, src: FP });
                l.write(*dst, t);
            }
            I::Copy16 { dst, dst_offset, src, src_offset } => {
                let (f0, _) = fp_scratch(l);
                let s = l.read(*src, s0);
                let (s, offset) = q_address(l, s, *src_offset);
                l.emit(Inst::QLoadUnscaled { dst: f0, base: s, offset });
                let d = l.read(*dst, s1);
                let (d, offset) = q_address(l, d, *dst_offset);
                l.emit(Inst::QStoreUnscaled { src: f0, base: d, offset });
            }
            I::Store { width, base, offset, src } => {
                let b = l.read(*base, s0);
                let v = l.read_src(*src, s1);
                let w = width_of(*width);
                access(l, w, b, *offset, None, Some(v));
            }
            I::Lea { dst, symbol } => {
                let t = l.dst_reg(*dst);
                let target = l.buf.symbol(symbol);
                l.emit(Inst::Adrp { dst: t, target });
                l.emit(Inst::AddLo12 { dst: t, src: t, target });
                l.write(*dst, t);
            }
            I::Cmp { a, b } => {
                let ra = l.read(*a, s0);
                match b {
                    Src::Imm(v) if (0..4096).contains(v) => {
                        l.emit(Inst::AluRRImm12 { op: ImmOp::Subs, dst: XZR, a: ra, imm12: *v as u16, lsl12: false })
                    }
                    Src::Imm(v) if (-4095..0).contains(v) => {
                        l.emit(Inst::AluRRImm12 { op: ImmOp::Adds, dst: XZR, a: ra, imm12: (-*v) as u16, lsl12: false })
                    }
                    _ => {
                        let rb = l.read_src(*b, s1);
                        l.emit(Inst::AluRRR { op: AluOp::Subs, dst: XZR, a: ra, b: rb });
                    }
                }
            }
            I::Jmp(label) => l.emit(Inst::B { target: label.0 }),
            I::Jcc(c, label) => l.emit(Inst::BCond { cond: cond_of(*c), target: label.0 }),
            I::CallIndirect(r) => {
                let reg = l.read(*r, s0);
                l.emit(Inst::Blr { reg });
            }
            I::Push(s) => {
                let v = l.read_src(*s, s0);
                l.emit(Inst::StorePre { src: v, base: SP, offset: -16 });
            }
            I::Pop(r) => {
                let t = l.dst_reg(*r);
                l.emit(Inst::LoadPost { dst: t, base: SP, offset: 16 });
                l.write(*r, t);
            }
            I::Trap => l.emit(Inst::Brk { imm16: 1 }),
            I::Raw(bytes) => l.emit(Inst::Raw(bytes.clone())),
            I::FloatBin { op, dst, a, b } => {
                let (f0, f1) = fp_scratch(l);
                let ra = d_of(l, *a, f0, s0);
                let rb = d_of(l, *b, f1, s1);
                let op = match op {
                    FloatOp::Add => FpuOp::Fadd,
                    FloatOp::Sub => FpuOp::Fsub,
                    FloatOp::Mul => FpuOp::Fmul,
                    FloatOp::Div => FpuOp::Fdiv,
                };
                let d = d_dst(l, *dst, f0);
                l.emit(Inst::FpuRRR { op, dst: d, a: ra, b: rb });
                write_d(l, *dst, d);
            }
            I::FloatSqrt { dst, src } => {
                let (f0, f1) = fp_scratch(l);
                let v = d_of(l, *src, f1, s0);
                let d = d_dst(l, *dst, f0);
                l.emit(Inst::Fsqrt { dst: d, src: v });
                write_d(l, *dst, d);
            }
            I::IntToFloat { dst, src } => {
                let (f0, _) = fp_scratch(l);
                let v = l.read_src(*src, s0);
                let d = d_dst(l, *dst, f0);
                l.emit(Inst::Scvtf { dst: d, src: v });
                write_d(l, *dst, d);
            }
            I::FloatToInt { dst, src } => {
                let (f0, _) = fp_scratch(l);
                let v = d_of(l, *src, f0, s0);
                let t = l.dst_reg(*dst);
                l.emit(Inst::Fcvtzs { dst: t, src: v });
                l.write(*dst, t);
            }
            other => unreachable!("`expand` rewrites {other:?} before lowering"),
        }
    }
}

/// A frame slot `unit` 8-byte units above x29 as the base and offset of a
/// `ldr d`/`str d`, computing the address in x30 beyond the offset's reach.
fn fp_slot_address(l: &mut Lowering<Arm64>, unit: i64) -> (Xr, u32) {
    match fp_offset((8 * unit).try_into().unwrap_or(-1)) {
        Some(offset) => (FP, offset),
        None => {
            Arm64::mov_imm(l, S2, 8 * unit);
            l.emit(Inst::AluRRR { op: AluOp::Add, dst: S2, a: FP, b: S2 });
            (S2, 0)
        }
    }
}

/// `base + offset` as the base and offset of a `ldur q`/`stur q`, computing
/// the address in x30 beyond the offset's reach.
fn q_address(l: &mut Lowering<Arm64>, base: Xr, offset: i32) -> (Xr, i16) {
    if (-256..256).contains(&offset) {
        return (base, offset as i16);
    }
    Arm64::mov_imm(l, S2, offset as i64);
    l.emit(Inst::AluRRR { op: AluOp::Add, dst: S2, a: base, b: S2 });
    (S2, 0)
}

/// Address `base + offset` as (base register, offset form) for a memory
/// access of `width`, using x30 for offsets no immediate form reaches.
fn access(l: &mut Lowering<Arm64>, width: Width, base: Xr, offset: i32, load: Option<Xr>, store: Option<Xr>) {
    let w = width.bytes() as i32;
    let inst = if offset >= 0 && offset % w == 0 && offset / w < 4096 {
        match (load, store) {
            (Some(dst), _) => Inst::Load { width, dst, base, offset: offset as u32 },
            (_, Some(src)) => Inst::Store { width, src, base, offset: offset as u32 },
            _ => unreachable!(),
        }
    } else if (-256..256).contains(&offset) {
        match (load, store) {
            (Some(dst), _) => Inst::LoadUnscaled { width, dst, base, offset: offset as i16 },
            (_, Some(src)) => Inst::StoreUnscaled { width, src, base, offset: offset as i16 },
            _ => unreachable!(),
        }
    } else {
        Arm64::mov_imm(l, S2, offset as i64);
        match (load, store) {
            (Some(dst), _) => Inst::LoadIndexed { width, dst, base, index: S2, scaled: false },
            (_, Some(src)) => Inst::StoreIndexed { width, src, base, index: S2, scaled: false },
            _ => unreachable!(),
        }
    };
    l.emit(inst);
}

fn bin(l: &mut Lowering<Arm64>, op: BinOp, dst: Reg, a: Reg, b: Src) {
    let (s0, s1) = (l.s0, l.s1);
    let ra = l.read(a, s0);
    let t = l.dst_reg(dst);
    if let (BinOp::Add | BinOp::Sub, Src::Imm(v)) = (op, b) {
        let value = if op == BinOp::Sub { v.checked_neg() } else { Some(v) };
        if let Some(seq) = value.and_then(|v| add_imm(t, ra, v)) {
            emit_all(l, seq);
            return l.write(dst, t);
        }
    }
    if let (BinOp::Shl | BinOp::Shr | BinOp::Sar, Src::Imm(v)) = (op, b) {
        let amount = (v & 63) as u8;
        let sop = match op {
            BinOp::Shl => ShiftOp::Lsl,
            BinOp::Shr => ShiftOp::Lsr,
            _ => ShiftOp::Asr,
        };
        l.emit(Inst::ShiftImm { op: sop, dst: t, a: ra, amount });
        return l.write(dst, t);
    }
    if let (BinOp::Sdiv | BinOp::Srem, Src::Imm(d)) = (op, b) {
        if let Some(plan) = ConstantDivisor::of(d) {
            division_by_constant(l, op, t, ra, plan, d);
            return l.write(dst, t);
        }
    }
    let rb = l.read_src(b, s1);
    let alu = |op| Inst::AluRRR { op, dst: t, a: ra, b: rb };
    match op {
        BinOp::Add => l.emit(alu(AluOp::Add)),
        BinOp::Sub => l.emit(alu(AluOp::Sub)),
        BinOp::And => l.emit(alu(AluOp::And)),
        BinOp::Or => l.emit(alu(AluOp::Orr)),
        BinOp::Xor => l.emit(alu(AluOp::Eor)),
        BinOp::Mul => l.emit(Inst::Mul { dst: t, a: ra, b: rb }),
        BinOp::Shl => l.emit(Inst::ShiftRRR { op: ShiftOp::Lsl, dst: t, a: ra, b: rb }),
        BinOp::Shr => l.emit(Inst::ShiftRRR { op: ShiftOp::Lsr, dst: t, a: ra, b: rb }),
        BinOp::Sar => l.emit(Inst::ShiftRRR { op: ShiftOp::Asr, dst: t, a: ra, b: rb }),
        // sdiv already wraps MIN / -1 to MIN and never traps; only a
        // zero divisor needs the explicit check the spec asks for.
        BinOp::Sdiv | BinOp::Srem => {
            if !matches!(b, Src::Imm(v) if v != 0) {
                let label = l.div_zero_label();
                l.emit(Inst::Cbz { reg: rb, target: label });
            }
            if op == BinOp::Sdiv {
                l.emit(Inst::Sdiv { dst: t, a: ra, b: rb });
            } else {
                l.emit(Inst::Sdiv { dst: S2, a: ra, b: rb });
                l.emit(Inst::Msub { dst: t, a: S2, b: rb, c: ra });
            }
        }
    }
    l.write(dst, t);
}

/// `t := n / d` or `n % d` for a constant `d` as `ConstantDivisor` plans
/// it, the quotient formed in x30 with s1 beside it.
fn division_by_constant(l: &mut Lowering<Arm64>, op: BinOp, t: Xr, n: Xr, plan: ConstantDivisor, d: i64) {
    let s1 = l.s1;
    let shift = |l: &mut Lowering<Arm64>, op, dst, a, amount: u32| {
        l.emit(Inst::ShiftImm { op, dst, a, amount: amount as u8 });
    };
    match plan {
        ConstantDivisor::PowerOfTwo { shift: k, negative } => {
            shift(l, ShiftOp::Asr, S2, n, 63);
            shift(l, ShiftOp::Lsr, S2, S2, 64 - k);
            l.emit(Inst::AluRRR { op: AluOp::Add, dst: S2, a: S2, b: n });
            shift(l, ShiftOp::Asr, S2, S2, k);
            if negative {
                l.emit(Inst::AluRRR { op: AluOp::Sub, dst: S2, a: XZR, b: S2 });
            }
        }
        ConstantDivisor::Magic { multiplier, adjust, shift: s } => {
            Arm64::mov_imm(l, s1, multiplier);
            l.emit(Inst::Smulh { dst: S2, a: n, b: s1 });
            match adjust {
                Adjust::None => {}
                Adjust::Add => l.emit(Inst::AluRRR { op: AluOp::Add, dst: S2, a: S2, b: n }),
                Adjust::Sub => l.emit(Inst::AluRRR { op: AluOp::Sub, dst: S2, a: S2, b: n }),
            }
            if s > 0 {
                shift(l, ShiftOp::Asr, S2, S2, s);
            }
            shift(l, ShiftOp::Lsr, s1, S2, 63);
            l.emit(Inst::AluRRR { op: AluOp::Add, dst: S2, a: S2, b: s1 });
        }
    }
    if op == BinOp::Sdiv {
        l.emit(Inst::MovRR { dst: t, src: S2 });
    } else {
        Arm64::mov_imm(l, s1, d);
        l.emit(Inst::Msub { dst: t, a: S2, b: s1, c: n });
    }
}
