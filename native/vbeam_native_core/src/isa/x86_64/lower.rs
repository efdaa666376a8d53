//! x86_64 instruction selection under the shared lowering driver
//! (`crate::lower`), emitted straight into the function's code buffer.
//!
//! Frame: `push rbp; mov rbp, rsp; sub rsp, size`; frame slot k (see
//! `lower::Frame`) is `[rbp - 8(k+1)]`, so IR `push`/`pop` never move a slot.
//! A function with no frame slots and no IR `push`/`pop` only pushes the
//! callee-saved registers it uses.
//! Spilled vregs are read into the function's two scratch registers and
//! written back from them.

use super::inst::{AluOp, Amode, Inst, Narrow, Scale, ShiftOp, SseOp, Xmm, CC};
use crate::code::{CodeBuffer, RelocTarget};
use crate::ir::{self, BinOp, Cond, FloatOp, PReg, Reg, Src, UnOp, Width};
use crate::isa::divisor::{Adjust, ConstantDivisor};
use crate::lower::{Lowering, Machine, STACK_LIMIT_OVERSHOOT, STACK_PROBES_UNROLLED, STACK_PROBE_INTERVAL};
use crate::os::{self, uefi, StartStep, Trap};
use crate::regalloc::Loc;
use crate::regs::{x86::*, RegSet};

/// x86_64 under the shared lowering driver.
pub struct X86_64;

fn cc_of(c: Cond) -> CC {
    match c {
        Cond::Eq => CC::E,
        Cond::Ne => CC::NE,
        Cond::Lt => CC::L,
        Cond::Le => CC::LE,
        Cond::Gt => CC::G,
        Cond::Ge => CC::GE,
        Cond::Ltu => CC::B,
        Cond::Leu => CC::BE,
        Cond::Gtu => CC::A,
        Cond::Geu => CC::AE,
    }
}

/// The xmm register `p` is (see `regs::FP_BASE`).
fn xmm(p: PReg) -> Xmm {
    Xmm(p.fp_number())
}

/// The floating-point scratch registers (see `CallConv::fp_scratch`).
fn fp_scratch(l: &Lowering<X86_64>) -> (Xmm, Xmm) {
    let [f0, f1] = l.target.cc.fp_scratch;
    (xmm(f0), xmm(f1))
}

/// The xmm register holding float `s`: its own, or `tmp` loaded with it
/// (from a general-purpose register, a spill slot or a constant; a
/// constant goes through `gpr`).
fn xmm_of(l: &mut Lowering<X86_64>, s: Src, tmp: Xmm, gpr: PReg) -> Xmm {
    match s {
        Src::Reg(r) => match l.loc(r) {
            Loc::Reg(p) if p.is_fp() => xmm(p),
            Loc::Reg(p) => {
                l.emit(Inst::MovqToXmm { dst: tmp, src: p });
                tmp
            }
            Loc::Spill(n) => {
                let mem = slot(l.frame.spill_slot(n));
                l.emit(Inst::MovsdLoad { dst: tmp, mem });
                tmp
            }
        },
        Src::Imm(0) => {
            l.emit(Inst::Xorpd { dst: tmp, src: tmp });
            tmp
        }
        Src::Imm(bits) => {
            l.emit(Inst::MovRI { dst: gpr, imm: bits });
            l.emit(Inst::MovqToXmm { dst: tmp, src: gpr });
            tmp
        }
    }
}

/// The xmm register a float result for `r` is best computed in: its own,
/// or `tmp`.
fn xmm_dst(l: &Lowering<X86_64>, r: Reg, tmp: Xmm) -> Xmm {
    match l.loc(r) {
        Loc::Reg(p) if p.is_fp() => xmm(p),
        _ => tmp,
    }
}

/// Puts the float computed in `x` into `r`'s location.
fn write_xmm(l: &mut Lowering<X86_64>, r: Reg, x: Xmm) {
    match l.loc(r) {
        Loc::Reg(p) if p.is_fp() => {
            if xmm(p) != x {
                l.emit(Inst::Movapd { dst: xmm(p), src: x });
            }
        }
        Loc::Reg(p) => l.emit(Inst::MovqFromXmm { dst: p, src: x }),
        Loc::Spill(n) => {
            let mem = slot(l.frame.spill_slot(n));
            l.emit(Inst::MovsdStore { mem, src: x });
        }
    }
}

/// The float register of `r`, if it lives in one.
fn fp_loc(l: &Lowering<X86_64>, r: Reg) -> Option<Xmm> {
    match l.loc(r) {
        Loc::Reg(p) if p.is_fp() => Some(xmm(p)),
        _ => None,
    }
}

/// The narrow access for a width, None for 64 bits.
fn narrow(w: Width) -> Option<Narrow> {
    match w {
        Width::W8 => Some(Narrow::B8),
        Width::W16 => Some(Narrow::B16),
        Width::W32 => Some(Narrow::B32),
        Width::W64 => None,
    }
}

fn imm32(i: i64) -> Option<i32> {
    i32::try_from(i).ok()
}

/// The process's first instructions (see `os::start`).
pub fn emit_start(buf: &mut CodeBuffer, steps: &[StartStep]) {
    for step in steps {
        let inst = match *step {
            // Entered with rsp 8 past a 16-byte boundary, as a function is.
            StartStep::RealignAfterCall => Inst::AluRI { op: AluOp::Sub, dst: RSP, imm: 8 },
            StartStep::Zero(reg) => Inst::MovRI { dst: reg, imm: 0 },
            StartStep::Save(reg, entry) => {
                let target = buf.data_symbol(entry);
                Inst::LeaRip { dst: R11, target }.emit(buf);
                Inst::Store { mem: Amode::base_disp(R11, 0), src: reg }
            }
            StartStep::SwitchStack(reg) => Inst::MovRR { dst: RSP, src: reg },
            StartStep::SaveStackArguments { argc, argv } => {
                // argc at [rsp], argv from rsp + 8.
                for (value, entry) in [
                    (Inst::Load { dst: R11, mem: Amode::base_disp(RSP, 0) }, argc),
                    (Inst::Lea { dst: R11, mem: Amode::base_disp(RSP, 8) }, argv),
                ] {
                    value.emit(buf);
                    let target = buf.data_symbol(entry);
                    Inst::LeaRip { dst: R10, target }.emit(buf);
                    Inst::Store { mem: Amode::base_disp(R10, 0), src: R11 }.emit(buf);
                }
                continue;
            }
            StartStep::Call(name) => Inst::Call { target: buf.function_symbol(name) },
            StartStep::EnterKernel { number, value, trap } => {
                debug_assert_eq!(trap, Trap::Syscall);
                Inst::MovRI { dst: number, imm: value }.emit(buf);
                Inst::Syscall
            }
        };
        inst.emit(buf);
    }
}

/// Bytes a Microsoft x64 caller reserves for the callee's register
/// arguments.
const SHADOW_SPACE: i32 = 32;

/// `sub rsp, size`, writing a zero at each `STACK_PROBE_INTERVAL` on the
/// way and at the bottom when the frame is larger than one interval. A
/// loop counts down with r11, which holds nothing at a function's entry
/// (it is neither an argument nor preserved, in the System V and
/// Microsoft conventions alike).
fn allocate_frame(l: &mut Lowering<X86_64>, size: u32) {
    let sub =
        |l: &mut Lowering<X86_64>, bytes: u32| l.emit(Inst::AluRI { op: AluOp::Sub, dst: RSP, imm: bytes as i32 });
    let probe = |l: &mut Lowering<X86_64>| l.emit(Inst::StoreImm { mem: Amode::base_disp(RSP, 0), imm: 0 });
    if size <= STACK_PROBE_INTERVAL {
        if size > 0 {
            sub(l, size);
        }
        return;
    }
    let (intervals, rest) = (size / STACK_PROBE_INTERVAL, size % STACK_PROBE_INTERVAL);
    if intervals <= STACK_PROBES_UNROLLED {
        for _ in 0..intervals {
            sub(l, STACK_PROBE_INTERVAL);
            probe(l);
        }
    } else {
        let bottom = -((intervals * STACK_PROBE_INTERVAL) as i32);
        l.emit(Inst::Lea { dst: R11, mem: Amode::base_disp(RSP, bottom) });
        let top = l.new_label();
        l.buf.bind_label(top);
        sub(l, STACK_PROBE_INTERVAL);
        probe(l);
        l.emit(Inst::AluRR { op: AluOp::Cmp, dst: RSP, src: R11 });
        l.emit(Inst::Jcc { cc: CC::NE, target: top });
    }
    if rest > 0 {
        sub(l, rest);
        probe(l);
    }
}

/// `sub rsp, size` on UEFI, where the stack limit guards the stack (see
/// `Lowering::checks_stack_limit`) and probes would guard nothing: a
/// frame up to `STACK_LIMIT_OVERSHOOT` is made, then its bottom compared
/// with the limit; a larger one is made once the room above the limit
/// (r11, free at the entry as for the probes) is known to hold it.
fn allocate_checked_frame(l: &mut Lowering<X86_64>, size: u32) {
    let limit = l.buf.data_symbol(uefi::STACK_LIMIT);
    let overflow = l.stack_overflow_label();
    let sub = Inst::AluRI { op: AluOp::Sub, dst: RSP, imm: size as i32 };
    if size <= STACK_LIMIT_OVERSHOOT {
        if size > 0 {
            l.emit(sub);
        }
        l.emit(Inst::AluRRip { op: AluOp::Cmp, dst: RSP, target: limit });
        l.emit(Inst::Jcc { cc: CC::B, target: overflow });
    } else {
        l.emit(Inst::MovRR { dst: R11, src: RSP });
        l.emit(Inst::AluRRip { op: AluOp::Sub, dst: R11, target: limit });
        l.emit(Inst::AluRI { op: AluOp::Cmp, dst: R11, imm: size as i32 });
        l.emit(Inst::Jcc { cc: CC::B, target: overflow });
        l.emit(sub);
    }
}

/// Frame slot k (see `lower::Frame`) below the frame pointer.
fn slot(k: u32) -> Amode {
    Amode::base_disp(RBP, -8 * (k as i32 + 1))
}

impl Machine for X86_64 {
    type Inst = Inst;

    fn encode(inst: Inst, buf: &mut CodeBuffer) {
        inst.emit(buf);
    }

    /// Every function keeps a frame record (rbp → the caller's rbp, then
    /// the return address), so faults and debuggers can name its callers.
    fn prologue(l: &mut Lowering<Self>) {
        l.emit(Inst::Push { reg: RBP });
        l.emit(Inst::MovRR { dst: RBP, src: RSP });
        l.buf.frame_ready = l.buf.bytes.len() as u32;
        l.buf.frame_size = l.frame.size();
        if l.checks_stack_limit() {
            allocate_checked_frame(l, l.frame.size());
        } else {
            allocate_frame(l, l.frame.size());
        }
        for k in 0..l.frame.saved.len() {
            let mem = slot(l.frame.saved_slot(k));
            l.emit(Inst::Store { mem, src: l.frame.saved[k] });
        }
    }

    fn epilogue(l: &mut Lowering<Self>) {
        for k in 0..l.frame.saved.len() {
            let mem = slot(l.frame.saved_slot(k));
            l.emit(Inst::Load { dst: l.frame.saved[k], mem });
        }
        l.emit(Inst::MovRR { dst: RSP, src: RBP });
        l.emit(Inst::Pop { reg: RBP });
        l.emit(Inst::Ret);
    }

    fn load_slot(l: &mut Lowering<Self>, dst: PReg, k: u32) {
        l.emit(match dst.is_fp() {
            true => Inst::MovsdLoad { dst: xmm(dst), mem: slot(k) },
            false => Inst::Load { dst, mem: slot(k) },
        });
    }
    fn store_slot(l: &mut Lowering<Self>, src: PReg, k: u32) {
        l.emit(match src.is_fp() {
            true => Inst::MovsdStore { mem: slot(k), src: xmm(src) },
            false => Inst::Store { mem: slot(k), src },
        });
    }
    fn mov_rr(l: &mut Lowering<Self>, dst: PReg, src: PReg) {
        l.emit(match (dst.is_fp(), src.is_fp()) {
            (false, false) => Inst::MovRR { dst, src },
            (true, true) => Inst::Movapd { dst: xmm(dst), src: xmm(src) },
            (true, false) => Inst::MovqToXmm { dst: xmm(dst), src },
            (false, true) => Inst::MovqFromXmm { dst, src: xmm(src) },
        });
    }
    /// A float register's constant goes through s0, which a move never
    /// needs otherwise when its destination is a register.
    fn mov_imm(l: &mut Lowering<Self>, dst: PReg, imm: i64) {
        if dst.is_fp() {
            xmm_of(l, Src::Imm(imm), xmm(dst), l.s0);
        } else {
            l.emit(Inst::MovRI { dst, imm });
        }
    }
    fn store_imm(l: &mut Lowering<Self>, k: u32, imm: i64) -> bool {
        let Some(imm) = imm32(imm) else { return false };
        l.emit(Inst::StoreImm { mem: slot(k), imm });
        true
    }
    fn call(l: &mut Lowering<Self>, target: RelocTarget) {
        l.emit(Inst::Call { target });
    }
    /// The Microsoft x64 convention: the caller reserves 32 bytes of
    /// shadow space above the return address.
    fn call_firmware(l: &mut Lowering<Self>, function: PReg) {
        l.emit(Inst::AluRI { op: AluOp::Sub, dst: RSP, imm: SHADOW_SPACE });
        l.emit(Inst::CallR { reg: function });
        l.emit(Inst::AluRI { op: AluOp::Add, dst: RSP, imm: SHADOW_SPACE });
    }
    /// The frame record is made before the check, and the stack pointer
    /// is 16-byte aligned there.
    fn call_stack_overflow(l: &mut Lowering<Self>) {
        let target = l.buf.function_symbol(os::STACK_OVERFLOW);
        l.emit(Inst::Call { target });
    }
    /// Pushes each register, then 8 bytes of padding for an odd count.
    fn save_for_call(l: &mut Lowering<Self>, regs: &[PReg]) {
        push_all(l, regs);
        if regs.len() % 2 == 1 {
            l.emit(Inst::AluRI { op: AluOp::Sub, dst: RSP, imm: 8 });
        }
    }
    fn restore_after_call(l: &mut Lowering<Self>, regs: &[PReg]) {
        if regs.len() % 2 == 1 {
            l.emit(Inst::AluRI { op: AluOp::Add, dst: RSP, imm: 8 });
        }
        pop_all(l, regs);
    }
    fn trap(l: &mut Lowering<Self>, trap: Trap) {
        debug_assert_eq!(trap, Trap::Syscall);
        l.emit(Inst::Syscall);
    }
    fn negate_if_carry(l: &mut Lowering<Self>, reg: PReg) {
        let done = l.new_label();
        l.emit(Inst::Jcc { cc: CC::AE, target: done });
        l.emit(Inst::Neg { reg });
        l.buf.bind_label(done);
    }

    fn select(l: &mut Lowering<Self>, i: usize, inst: &ir::Inst) {
        use ir::Inst as I;
        let (s0, s1) = (l.s0, l.s1);
        match inst {
            I::Bin { op, dst, a, b } => bin(l, i, *op, *dst, *a, *b),
            I::Unary { op, dst, src } => {
                let t = l.dst_reg(*dst);
                let v = l.read_src(*src, t);
                l.mov_rr(t, v);
                l.emit(match op {
                    UnOp::Neg => Inst::Neg { reg: t },
                    UnOp::Not => Inst::Not { reg: t },
                });
                l.write(*dst, t);
            }
            I::Load { width: Width::W64, dst, base, offset } if fp_loc(l, *dst).is_some() => {
                let b = l.read(*base, s0);
                let mem = Amode::base_disp(b, *offset);
                l.emit(Inst::MovsdLoad { dst: fp_loc(l, *dst).expect("a float register"), mem });
            }
            I::Store { width: Width::W64, base, offset, src: Src::Reg(r) } if fp_loc(l, *r).is_some() => {
                let b = l.read(*base, s0);
                let mem = Amode::base_disp(b, *offset);
                l.emit(Inst::MovsdStore { mem, src: fp_loc(l, *r).expect("a float register") });
            }
            I::FramePointer { dst } => {
                let t = l.dst_reg(*dst);
                l.mov_rr(t, RBP);
                l.write(*dst, t);
            }
            I::Copy16 { dst, dst_offset, src, src_offset } => {
                let (f0, _) = fp_scratch(l);
                let s = l.read(*src, s0);
                l.emit(Inst::MovupsLoad { dst: f0, mem: Amode::base_disp(s, *src_offset) });
                let d = l.read(*dst, s1);
                l.emit(Inst::MovupsStore { mem: Amode::base_disp(d, *dst_offset), src: f0 });
            }
            I::LoadElement { width, dst, base, index } => {
                let mem = element(l, *width, *base, *index);
                match fp_loc(l, *dst) {
                    Some(d) if *width == Width::W64 => l.emit(Inst::MovsdLoad { dst: d, mem }),
                    _ => {
                        let t = l.dst_reg(*dst);
                        l.emit(match narrow(*width) {
                            None => Inst::Load { dst: t, mem },
                            Some(width) => Inst::LoadNarrow { width, dst: t, mem },
                        });
                        l.write(*dst, t);
                    }
                }
            }
            I::StoreElement { width, base, index, src } => {
                let mut mem = element(l, *width, *base, *index);
                match (narrow(*width), *src) {
                    (None, Src::Imm(v)) if imm32(v).is_some() => l.emit(Inst::StoreImm { mem, imm: v as i32 }),
                    (None, Src::Reg(r)) if fp_loc(l, r).is_some() => {
                        l.emit(Inst::MovsdStore { mem, src: fp_loc(l, r).expect("a float register") })
                    }
                    (width, src) => {
                        let v = match src {
                            Src::Reg(r) => match l.loc(r) {
                                Loc::Reg(p) if !p.is_fp() => Some(p),
                                _ => None,
                            },
                            Src::Imm(_) => None,
                        };
                        // A value not in a register needs s1, which may hold
                        // the index: the address goes to s0 first.
                        let v = match v {
                            Some(v) => v,
                            None => {
                                l.emit(Inst::Lea { dst: s0, mem });
                                mem = Amode::base_disp(s0, 0);
                                l.read_src(src, s1)
                            }
                        };
                        l.emit(match width {
                            None => Inst::Store { mem, src: v },
                            Some(width) => Inst::StoreNarrow { width, mem, src: v },
                        });
                    }
                }
            }
            I::Load { width, dst, base, offset } => {
                let b = l.read(*base, s0);
                let t = l.dst_reg(*dst);
                let mem = Amode::base_disp(b, *offset);
                l.emit(match narrow(*width) {
                    None => Inst::Load { dst: t, mem },
                    Some(width) => Inst::LoadNarrow { width, dst: t, mem },
                });
                l.write(*dst, t);
            }
            I::Store { width, base, offset, src } => {
                let b = l.read(*base, s0);
                let mem = Amode::base_disp(b, *offset);
                match (narrow(*width), src) {
                    (None, Src::Imm(v)) if imm32(*v).is_some() => l.emit(Inst::StoreImm { mem, imm: *v as i32 }),
                    (None, _) => {
                        let v = l.read_src(*src, s1);
                        l.emit(Inst::Store { mem, src: v });
                    }
                    (Some(width), _) => {
                        let v = l.read_src(*src, s1);
                        l.emit(Inst::StoreNarrow { width, mem, src: v });
                    }
                }
            }
            I::Lea { dst, symbol } => {
                let t = l.dst_reg(*dst);
                let target = l.buf.symbol(symbol);
                l.emit(Inst::LeaRip { dst: t, target });
                l.write(*dst, t);
            }
            I::Cmp { a, b } => {
                let ra = l.read(*a, s0);
                match b {
                    Src::Imm(v) if imm32(*v).is_some() => {
                        l.emit(Inst::AluRI { op: AluOp::Cmp, dst: ra, imm: *v as i32 })
                    }
                    _ => {
                        let rb = l.read_src(*b, s1);
                        l.emit(Inst::AluRR { op: AluOp::Cmp, dst: ra, src: rb });
                    }
                }
            }
            I::Jmp(label) => l.emit(Inst::Jmp { target: label.0 }),
            I::Jcc(c, label) => l.emit(Inst::Jcc { cc: cc_of(*c), target: label.0 }),
            I::CallIndirect(r) => {
                let reg = l.read(*r, s0);
                l.emit(Inst::CallR { reg });
            }
            I::Push(s) => match s {
                Src::Imm(v) if imm32(*v).is_some() => l.emit(Inst::PushImm { imm: *v as i32 }),
                _ => {
                    let reg = l.read_src(*s, s0);
                    l.emit(Inst::Push { reg });
                }
            },
            I::Pop(r) => {
                let t = l.dst_reg(*r);
                l.emit(Inst::Pop { reg: t });
                l.write(*r, t);
            }
            I::Trap => l.emit(Inst::Ud2),
            I::Raw(bytes) => l.emit(Inst::Raw(bytes.clone())),
            I::FloatBin { op, dst, a, b } => float_bin(l, *op, *dst, *a, *b),
            I::FloatSqrt { dst, src } => {
                let (f0, f1) = fp_scratch(l);
                let v = xmm_of(l, *src, f1, s0);
                let d = xmm_dst(l, *dst, f0);
                // As for cvtsi2sd below: sqrtsd keeps the upper half of `d`.
                if d != v {
                    l.emit(Inst::Xorpd { dst: d, src: d });
                }
                l.emit(Inst::SseBin { op: SseOp::Sqrt, dst: d, src: v });
                write_xmm(l, *dst, d);
            }
            I::IntToFloat { dst, src } => {
                let (f0, _) = fp_scratch(l);
                let v = l.read_src(*src, s0);
                let d = xmm_dst(l, *dst, f0);
                // cvtsi2sd keeps the register's upper half: zeroed first, the
                // result waits for nothing the register held before (a loop's
                // float chain, say: spectral-norm ran 5x slower), as gcc does.
                l.emit(Inst::Xorpd { dst: d, src: d });
                l.emit(Inst::Cvtsi2sd { dst: d, src: v });
                write_xmm(l, *dst, d);
            }
            I::FloatToInt { dst, src } => {
                let (f0, _) = fp_scratch(l);
                let v = xmm_of(l, *src, f0, s0);
                let t = l.dst_reg(*dst);
                l.emit(Inst::Cvttsd2si { dst: t, src: v });
                l.write(*dst, t);
            }
            other => unreachable!("`expand` rewrites {other:?} before lowering"),
        }
    }
}

/// The address of element `index` of `width` bytes from `base`, the
/// registers read into s0 and s1 when spilled.
fn element(l: &mut Lowering<X86_64>, width: Width, base: Reg, index: Reg) -> Amode {
    let (s0, s1) = (l.s0, l.s1);
    let b = l.read(base, s0);
    let i = l.read(index, s1);
    let scale = match width {
        Width::W8 => Scale::S1,
        Width::W16 => Scale::S2,
        Width::W32 => Scale::S4,
        Width::W64 => Scale::S8,
    };
    Amode { base: b, index: Some((i, scale)), disp: 0 }
}

/// `dst := a op b` in SSE's two-address form: computed in dst's own
/// register unless that register holds b (and not a).
fn float_bin(l: &mut Lowering<X86_64>, op: FloatOp, dst: Reg, a: Src, b: Src) {
    let (s0, s1) = (l.s0, l.s1);
    let (f0, f1) = fp_scratch(l);
    let op = match op {
        FloatOp::Add => SseOp::Add,
        FloatOp::Sub => SseOp::Sub,
        FloatOp::Mul => SseOp::Mul,
        FloatOp::Div => SseOp::Div,
    };
    let rb = xmm_of(l, b, f1, s1);
    let d = xmm_dst(l, dst, f0);
    let a_in_d = matches!(a, Src::Reg(r) if fp_loc(l, r) == Some(d));
    let t = if rb == d && !a_in_d { f0 } else { d };
    let ra = xmm_of(l, a, t, s0);
    if ra != t {
        l.emit(Inst::Movapd { dst: t, src: ra });
    }
    l.emit(Inst::SseBin { op, dst: t, src: rb });
    write_xmm(l, dst, t);
}

fn push_all(l: &mut Lowering<X86_64>, regs: &[PReg]) {
    for r in regs {
        l.emit(Inst::Push { reg: *r });
    }
}

fn pop_all(l: &mut Lowering<X86_64>, regs: &[PReg]) {
    for r in regs.iter().rev() {
        l.emit(Inst::Pop { reg: *r });
    }
}

/// Pushes the registers the IR keeps live across instruction `i` that
/// `clobbered` contains; returns them for `pop_all`.
fn save(l: &mut Lowering<X86_64>, i: usize, clobbered: RegSet) -> Vec<PReg> {
    let regs: Vec<PReg> = l.f.alloc.live_across(i).intersect(clobbered).iter().collect();
    push_all(l, &regs);
    regs
}

fn bin(l: &mut Lowering<X86_64>, i: usize, op: BinOp, dst: Reg, a: Reg, b: Src) {
    let (s0, s1) = (l.s0, l.s1);
    let alu = match op {
        BinOp::Add => Some(AluOp::Add),
        BinOp::Sub => Some(AluOp::Sub),
        BinOp::And => Some(AluOp::And),
        BinOp::Or => Some(AluOp::Or),
        BinOp::Xor => Some(AluOp::Xor),
        _ => None,
    };
    match op {
        BinOp::Sdiv | BinOp::Srem => return division(l, i, op, dst, a, b),
        BinOp::Shl | BinOp::Shr | BinOp::Sar => return shift(l, i, op, dst, a, b),
        BinOp::Mul => {
            if let Src::Imm(v) = b {
                if let Some(imm) = imm32(v) {
                    let ra = l.read(a, s0);
                    let t = l.dst_reg(dst);
                    l.emit(Inst::ImulRRI { dst: t, src: ra, imm });
                    return l.write(dst, t);
                }
            }
        }
        _ => {}
    }
    let ra = l.read(a, s0);
    // A constant added into another register: one three-address lea.
    if let (BinOp::Add | BinOp::Sub, Src::Imm(v)) = (op, b) {
        let disp = if op == BinOp::Sub { v.checked_neg() } else { Some(v) };
        let d = l.dst_reg(dst);
        if let Some(disp) = disp.and_then(imm32).filter(|_| d != ra) {
            l.emit(Inst::Lea { dst: d, mem: Amode::base_disp(ra, disp) });
            return l.write(dst, d);
        }
    }
    // b as a register, or as an imm32 for the ALU forms.
    let b_imm = match b {
        Src::Imm(v) if alu.is_some() => imm32(v),
        _ => None,
    };
    let rb = match b_imm {
        Some(_) => None,
        None => Some(l.read_src(b, s1)),
    };
    let d = l.dst_reg(dst);
    // Two-address form: compute in d unless d holds b (and not a).
    let commutative = matches!(op, BinOp::Add | BinOp::And | BinOp::Or | BinOp::Xor | BinOp::Mul);
    let (t, x, y) = match rb {
        Some(rb) if rb == d && ra != d && commutative => (d, d, Some(ra)),
        Some(rb) if rb == d && ra != d => (s0, ra, Some(rb)),
        _ => (d, ra, rb),
    };
    if x != t {
        l.emit(Inst::MovRR { dst: t, src: x });
    }
    match (alu, y) {
        (Some(op), Some(y)) => l.emit(Inst::AluRR { op, dst: t, src: y }),
        (Some(op), None) => l.emit(Inst::AluRI { op, dst: t, imm: b_imm.expect("an immediate operand") }),
        (None, Some(y)) => l.emit(Inst::ImulRR { dst: t, src: y }),
        (None, None) => unreachable!("mul by a register"),
    }
    l.write(dst, t);
}

/// Shifts by a register need the count in cl; shifts by a constant use
/// it mod 64.
fn shift(l: &mut Lowering<X86_64>, i: usize, op: BinOp, dst: Reg, a: Reg, b: Src) {
    let (s0, s1) = (l.s0, l.s1);
    let sop = match op {
        BinOp::Shl => ShiftOp::Shl,
        BinOp::Shr => ShiftOp::Shr,
        _ => ShiftOp::Sar,
    };
    match b {
        Src::Imm(v) => {
            let ra = l.read(a, s0);
            let t = l.dst_reg(dst);
            if t != ra {
                l.emit(Inst::MovRR { dst: t, src: ra });
            }
            let amount = (v & 63) as u8;
            if amount != 0 {
                l.emit(Inst::ShiftImm { op: sop, dst: t, amount });
            }
            l.write(dst, t);
        }
        Src::Reg(rb) => {
            let ra = l.read(a, s0);
            if ra != s0 {
                l.emit(Inst::MovRR { dst: s0, src: ra });
            }
            let count = l.read(rb, s1);
            let saved = save(l, i, RegSet::of(&[RCX]));
            l.emit(Inst::MovRR { dst: RCX, src: count });
            l.emit(Inst::ShiftCl { op: sop, dst: s0 });
            pop_all(l, &saved);
            l.write(dst, s0);
        }
    }
}

/// Signed division with the spec's edge cases: a zero divisor calls the
/// division-by-zero routine; a divisor of -1 negates (so MIN / -1 wraps
/// to MIN and the remainder is 0) instead of letting idiv trap.
fn division(l: &mut Lowering<X86_64>, i: usize, op: BinOp, dst: Reg, a: Reg, b: Src) {
    if let Src::Imm(d) = b {
        if let Some(plan) = ConstantDivisor::of(d) {
            return division_by_constant(l, i, op, dst, a, plan, d);
        }
    }
    let (s0, s1) = (l.s0, l.s1);
    let ra = l.read(a, s0);
    if ra != s0 {
        l.emit(Inst::MovRR { dst: s0, src: ra });
    }
    let rb = l.read_src(b, s1);
    if rb != s1 {
        l.emit(Inst::MovRR { dst: s1, src: rb });
    }
    let known = match b {
        Src::Imm(v) => Some(v),
        Src::Reg(_) => None,
    };
    if known.is_none() || known == Some(0) {
        let label = l.div_zero_label();
        l.emit(Inst::TestRR { a: s1, b: s1 });
        l.emit(Inst::Jcc { cc: CC::E, target: label });
    }
    let done = l.new_label();
    if known.is_none() || known == Some(-1) {
        let normal = l.new_label();
        l.emit(Inst::AluRI { op: AluOp::Cmp, dst: s1, imm: -1 });
        l.emit(Inst::Jcc { cc: CC::NE, target: normal });
        match op {
            BinOp::Sdiv => l.emit(Inst::Neg { reg: s0 }),
            _ => l.emit(Inst::MovRI { dst: s0, imm: 0 }),
        }
        l.emit(Inst::Jmp { target: done });
        l.buf.bind_label(normal);
    }
    let saved = save(l, i, l.target.cc.division_clobbers);
    l.emit(Inst::MovRR { dst: RAX, src: s0 });
    l.emit(Inst::Cqo);
    l.emit(Inst::Idiv { src: s1 });
    let result = if op == BinOp::Sdiv { RAX } else { RDX };
    l.emit(Inst::MovRR { dst: s0, src: result });
    pop_all(l, &saved);
    l.buf.bind_label(done);
    l.write(dst, s0);
}

/// Signed division by a constant as `ConstantDivisor` plans it: the
/// dividend in s0, the quotient into s1 (through rdx:rax for a
/// multiplication, saved around it when the IR keeps values there).
fn division_by_constant(
    l: &mut Lowering<X86_64>,
    i: usize,
    op: BinOp,
    dst: Reg,
    a: Reg,
    plan: ConstantDivisor,
    d: i64,
) {
    let (s0, s1) = (l.s0, l.s1);
    let ra = l.read(a, s0);
    if ra != s0 {
        l.emit(Inst::MovRR { dst: s0, src: ra });
    }
    match plan {
        ConstantDivisor::PowerOfTwo { shift, negative } => {
            l.emit(Inst::MovRR { dst: s1, src: s0 });
            l.emit(Inst::ShiftImm { op: ShiftOp::Sar, dst: s1, amount: 63 });
            l.emit(Inst::ShiftImm { op: ShiftOp::Shr, dst: s1, amount: (64 - shift) as u8 });
            l.emit(Inst::AluRR { op: AluOp::Add, dst: s1, src: s0 });
            l.emit(Inst::ShiftImm { op: ShiftOp::Sar, dst: s1, amount: shift as u8 });
            if negative {
                l.emit(Inst::Neg { reg: s1 });
            }
        }
        ConstantDivisor::Magic { multiplier, adjust, shift } => {
            let saved = save(l, i, l.target.cc.division_clobbers);
            l.emit(Inst::MovRI { dst: RAX, imm: multiplier });
            l.emit(Inst::ImulWide { src: s0 });
            match adjust {
                Adjust::None => {}
                Adjust::Add => l.emit(Inst::AluRR { op: AluOp::Add, dst: RDX, src: s0 }),
                Adjust::Sub => l.emit(Inst::AluRR { op: AluOp::Sub, dst: RDX, src: s0 }),
            }
            if shift > 0 {
                l.emit(Inst::ShiftImm { op: ShiftOp::Sar, dst: RDX, amount: shift as u8 });
            }
            l.emit(Inst::MovRR { dst: RAX, src: RDX });
            l.emit(Inst::ShiftImm { op: ShiftOp::Shr, dst: RAX, amount: 63 });
            l.emit(Inst::AluRR { op: AluOp::Add, dst: RDX, src: RAX });
            l.emit(Inst::MovRR { dst: s1, src: RDX });
            pop_all(l, &saved);
        }
    }
    if op == BinOp::Sdiv {
        return l.write(dst, s1);
    }
    // n - q * d, where d fits an imul immediate.
    l.emit(Inst::ImulRRI { dst: s1, src: s1, imm: d as i32 });
    l.emit(Inst::AluRR { op: AluOp::Sub, dst: s0, src: s1 });
    l.write(dst, s0);
}
