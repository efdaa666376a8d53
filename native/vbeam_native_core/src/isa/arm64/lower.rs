//! Allocated IR → ARM64 machine instructions, emitted straight into the
//! function's code buffer.
//!
//! Frame: `stp x29, x30, [sp, #-16]!; sub sp, sp, #size; mov x29, sp`. The
//! frame pointer points at the bottom of the frame, so frame slot k (see
//! `lower::Frame`) is `[x29 + 8k]`, a scaled unsigned offset, and IR
//! `push`/`pop` (16 bytes each, keeping sp aligned) never move a slot.
//! Spilled vregs go through the function's two scratch registers; x30 is a
//! third scratch between calls, since the prologue saves it anyway.

use super::imms::load_imm64;
use super::inst::{AluOp, Cond as C, Dr, FpuOp, ImmOp, Inst, ShiftOp, Width, Xr, SP, XZR};
use crate::code::{CodeBuffer, RelocTarget};
use crate::error::CompileError;
use crate::ir::{self, BinOp, Cond, Dst, FloatOp, Format, Operand, PReg, Reg, Src, UnOp};
use crate::lower::{mov_operands, move_src, parallel_move, FnCtx, Frame, MoveDst, MoveSrc};
use crate::regalloc::Loc;
use crate::regs::{arm64::*, CallConv};
use crate::runtime;
use crate::target::Target;

/// The third scratch register (the link register, saved by the prologue).
const S2: Xr = LR;
/// Largest frame whose every slot a scaled 12-bit offset reaches.
const MAX_FRAME_SLOTS: u32 = 4095;
/// Linux's `svc` immediate, and macOS's.
const SVC_LINUX: u16 = 0;
const SVC_MACOS: u16 = 0x80;
const LINUX_EXIT: i64 = 93;
const MACOS_EXIT: i64 = 1;

pub struct Lowerer<'a> {
    f: &'a FnCtx<'a>,
    cc: &'static CallConv,
    frame: Frame,
    buf: &'a mut CodeBuffer,
    s0: Xr,
    s1: Xr,
    next_label: u32,
    div_zero: Option<u32>,
}

/// Floating-point work registers: no value lives in an FP register across
/// IR instructions, so these need no allocation.
const D0: Dr = Dr(0);
const D1: Dr = Dr(1);

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

pub fn lower_function(target: Target, f: &FnCtx, buf: &mut CodeBuffer) -> Result<(), CompileError> {
    let frame = Frame::new(f.alloc.saved, f.ir_slots, f.alloc.spill_slots);
    if frame.size() / 8 > MAX_FRAME_SLOTS {
        return Err(CompileError::TooLarge(format!(
            "function {} needs {} frame slots; at most {MAX_FRAME_SLOTS} are supported",
            f.func.name,
            frame.size() / 8
        )));
    }
    let [s0, s1] = f.alloc.scratch;
    let mut l = Lowerer { f, cc: target.cc, frame, buf, s0, s1, next_label: f.first_internal_label(), div_zero: None };
    l.prologue();
    for (i, inst) in f.func.body.iter().enumerate() {
        l.inst(i, inst);
    }
    l.out_of_line();
    l.buf.resolve_labels().map_err(|label| {
        CompileError::TooLarge(format!("function {}: branch to label {label} out of range", f.func.name))
    })
}

/// The process entry point: clear the heap register when the program
/// allocates (the first allocation then maps a region), call `main`, then
/// exit with status 0.
pub fn emit_entry(buf: &mut CodeBuffer, main: RelocTarget, format: Format, allocates: bool) {
    let (number_reg, number, svc) = match format {
        Format::Macho => (X16, MACOS_EXIT, SVC_MACOS),
        _ => (X8, LINUX_EXIT, SVC_LINUX),
    };
    let mut insts = Vec::new();
    if allocates {
        insts.push(Inst::Movz { dst: X28, imm16: 0, shift: 0 });
    }
    insts.extend([Inst::Bl { target: main }, Inst::Movz { dst: X0, imm16: 0, shift: 0 }]);
    insts.extend(load_imm64(number_reg, number));
    insts.push(Inst::Svc { imm16: svc });
    for inst in insts {
        inst.emit(buf);
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

impl Lowerer<'_> {
    fn emit(&mut self, inst: Inst) {
        inst.emit(self.buf);
    }
    fn emit_all(&mut self, insts: Vec<Inst>) {
        for i in insts {
            i.emit(self.buf);
        }
    }
    fn new_label(&mut self) -> u32 {
        self.next_label += 1;
        self.next_label - 1
    }
    fn load_slot(&mut self, dst: Xr, k: u32) {
        self.emit(Inst::Load { width: Width::B64, dst, base: FP, offset: 8 * k });
    }
    fn store_slot(&mut self, src: Xr, k: u32) {
        self.emit(Inst::Store { width: Width::B64, src, base: FP, offset: 8 * k });
    }
    fn mov_imm(&mut self, dst: Xr, v: i64) {
        let seq = load_imm64(dst, v);
        self.emit_all(seq);
    }
    fn mov_rr(&mut self, dst: Xr, src: Xr) {
        if dst != src {
            self.emit(Inst::MovRR { dst, src });
        }
    }

    fn read(&mut self, r: Reg, scratch: Xr) -> Xr {
        match self.f.loc(r) {
            Loc::Reg(p) => p,
            Loc::Spill(n) => {
                self.load_slot(scratch, self.frame.spill_slot(n));
                scratch
            }
        }
    }
    /// The register holding `s`; zero reads as xzr, other constants are
    /// materialised in `scratch`.
    fn read_src(&mut self, s: Src, scratch: Xr) -> Xr {
        match s {
            Src::Reg(r) => self.read(r, scratch),
            Src::Imm(0) => XZR,
            Src::Imm(i) => {
                self.mov_imm(scratch, i);
                scratch
            }
        }
    }
    fn dst_reg(&self, r: Reg) -> Xr {
        match self.f.loc(r) {
            Loc::Reg(p) => p,
            Loc::Spill(_) => self.s0,
        }
    }
    fn write(&mut self, r: Reg, val: Xr) {
        match self.f.loc(r) {
            Loc::Reg(p) => self.mov_rr(p, val),
            Loc::Spill(n) => self.store_slot(val, self.frame.spill_slot(n)),
        }
    }
    fn mov_to_reg(&mut self, dst: Xr, src: MoveSrc) {
        match src {
            MoveSrc::Reg(r) => self.mov_rr(dst, r),
            MoveSrc::Slot(k) => self.load_slot(dst, k),
            MoveSrc::Imm(i) => self.mov_imm(dst, i),
        }
    }
    fn parallel(&mut self, moves: &[(PReg, MoveSrc)]) {
        let mut seq = Vec::new();
        parallel_move(moves, self.s0, |d, s| seq.push((d, s)));
        for (d, s) in seq {
            self.mov_to_reg(d, s);
        }
    }

    fn prologue(&mut self) {
        self.emit(Inst::StpPre { a: FP, b: LR, base: SP, offset: -16 });
        let size = self.frame.size() as i64;
        if size > 0 {
            let seq = add_imm(SP, SP, -size).expect("frame size is bounded");
            self.emit_all(seq);
        }
        self.emit(Inst::MovSp { dst: FP, src: SP });
        for k in 0..self.frame.saved.len() {
            self.store_slot(self.frame.saved[k], self.frame.saved_slot(k));
        }
        let mut moves = Vec::new();
        for (k, p) in self.f.func.params.iter().enumerate() {
            let arg = self.cc.args[k];
            match self.f.loc(*p) {
                Loc::Spill(n) => self.store_slot(arg, self.frame.spill_slot(n)),
                Loc::Reg(r) => moves.push((r, MoveSrc::Reg(arg))),
            }
        }
        self.parallel(&moves);
    }

    fn epilogue(&mut self) {
        for k in 0..self.frame.saved.len() {
            self.load_slot(self.frame.saved[k], self.frame.saved_slot(k));
        }
        let seq = add_imm(SP, FP, self.frame.size() as i64).expect("frame size is bounded");
        self.emit_all(seq);
        self.emit(Inst::LdpPost { a: FP, b: LR, base: SP, offset: 16 });
        self.emit(Inst::Ret);
    }

    fn out_of_line(&mut self) {
        if let Some(label) = self.div_zero {
            self.buf.bind_label(label);
            let target = self.buf.function_symbol(runtime::DIV_ZERO);
            self.emit(Inst::Bl { target });
        }
    }

    /// Address `base + offset` as (base register, offset form) for a memory
    /// access of `width`, using x30 for offsets no immediate form reaches.
    fn access(&mut self, width: Width, base: Xr, offset: i32, load: Option<Xr>, store: Option<Xr>) {
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
            self.mov_imm(S2, offset as i64);
            match (load, store) {
                (Some(dst), _) => Inst::LoadIndexed { width, dst, base, index: S2, scaled: false },
                (_, Some(src)) => Inst::StoreIndexed { width, src, base, index: S2, scaled: false },
                _ => unreachable!(),
            }
        };
        self.emit(inst);
    }

    fn inst(&mut self, i: usize, inst: &ir::Inst) {
        use ir::Inst as I;
        let (s0, s1) = (self.s0, self.s1);
        match inst {
            I::Mov { dst, src } => self.mov(*dst, src),
            I::Bin { op, dst, a, b } => self.bin(*op, *dst, *a, *b),
            I::Unary { op, dst, src } => {
                let v = self.read_src(*src, s1);
                let t = self.dst_reg(*dst);
                self.emit(match op {
                    UnOp::Neg => Inst::AluRRR { op: AluOp::Sub, dst: t, a: XZR, b: v },
                    UnOp::Not => Inst::AluRRR { op: AluOp::Orn, dst: t, a: XZR, b: v },
                });
                self.write(*dst, t);
            }
            I::Load { width, dst, base, offset } => {
                let b = self.read(*base, s0);
                let t = self.dst_reg(*dst);
                let w = width_of(*width);
                self.access(w, b, *offset, Some(t), None);
                self.write(*dst, t);
            }
            I::Store { width, base, offset, src } => {
                let b = self.read(*base, s0);
                let v = self.read_src(*src, s1);
                let w = width_of(*width);
                self.access(w, b, *offset, None, Some(v));
            }
            I::Lea { dst, symbol } => {
                let t = self.dst_reg(*dst);
                let target = self.buf.data_symbol(symbol);
                self.emit(Inst::Adrp { dst: t, target });
                self.emit(Inst::AddLo12 { dst: t, src: t, target });
                self.write(*dst, t);
            }
            I::Cmp { a, b } => {
                let ra = self.read(*a, s0);
                match b {
                    Src::Imm(v) if (0..4096).contains(v) => {
                        self.emit(Inst::AluRRImm12 { op: ImmOp::Subs, dst: XZR, a: ra, imm12: *v as u16, lsl12: false })
                    }
                    Src::Imm(v) if (-4095..0).contains(v) => self.emit(Inst::AluRRImm12 {
                        op: ImmOp::Adds,
                        dst: XZR,
                        a: ra,
                        imm12: (-*v) as u16,
                        lsl12: false,
                    }),
                    _ => {
                        let rb = self.read_src(*b, s1);
                        self.emit(Inst::AluRRR { op: AluOp::Subs, dst: XZR, a: ra, b: rb });
                    }
                }
            }
            I::Jmp(l) => self.emit(Inst::B { target: l.0 }),
            I::Jcc(c, l) => self.emit(Inst::BCond { cond: cond_of(*c), target: l.0 }),
            I::Call(name) => {
                let target = self.buf.function_symbol(name);
                self.emit(Inst::Bl { target });
            }
            I::CallIndirect(r) => {
                let reg = self.read(*r, s0);
                self.emit(Inst::Blr { reg });
            }
            I::Ret => self.epilogue(),
            I::Push(s) => {
                let v = self.read_src(*s, s0);
                self.emit(Inst::StorePre { src: v, base: SP, offset: -16 });
            }
            I::Pop(r) => {
                let t = self.dst_reg(*r);
                self.emit(Inst::LoadPost { dst: t, base: SP, offset: 16 });
                self.write(*r, t);
            }
            I::Syscall => match self.f.syscall_plan(i).number {
                Some(number) => {
                    self.mov_imm(X8, number);
                    self.emit(Inst::Svc { imm16: SVC_LINUX });
                }
                None => self.emit(Inst::Svc { imm16: SVC_MACOS }),
            },
            I::Label(l) => self.buf.bind_label(l.0),
            I::Nop => {}
            I::Trap => self.emit(Inst::Brk { imm16: 1 }),
            I::Raw(bytes) => self.emit(Inst::Raw(bytes.clone())),
            I::CallWith { callee, args, dst } => self.runtime_call(i, callee, args, *dst),
            I::FloatBin { op, dst, a, b } => {
                let ra = self.read_src(*a, s0);
                let rb = self.read_src(*b, s1);
                self.emit(Inst::FmovToFp { dst: D0, src: ra });
                self.emit(Inst::FmovToFp { dst: D1, src: rb });
                let op = match op {
                    FloatOp::Add => FpuOp::Fadd,
                    FloatOp::Sub => FpuOp::Fsub,
                    FloatOp::Mul => FpuOp::Fmul,
                    FloatOp::Div => FpuOp::Fdiv,
                };
                self.emit(Inst::FpuRRR { op, dst: D0, a: D0, b: D1 });
                let t = self.dst_reg(*dst);
                self.emit(Inst::FmovFromFp { dst: t, src: D0 });
                self.write(*dst, t);
            }
            I::IntToFloat { dst, src } => {
                let v = self.read_src(*src, s0);
                self.emit(Inst::Scvtf { dst: D0, src: v });
                let t = self.dst_reg(*dst);
                self.emit(Inst::FmovFromFp { dst: t, src: D0 });
                self.write(*dst, t);
            }
            I::FloatToInt { dst, src } => {
                let v = self.read_src(*src, s0);
                self.emit(Inst::FmovToFp { dst: D0, src: v });
                let t = self.dst_reg(*dst);
                self.emit(Inst::Fcvtzs { dst: t, src: D0 });
                self.write(*dst, t);
            }
            other => unreachable!("`expand` rewrites {other:?} before lowering"),
        }
    }

    fn mov(&mut self, dst: Dst, src: &Operand) {
        let (dst, src) = mov_operands(self.f, &self.frame, dst, src);
        let dst_slot = match dst {
            MoveDst::Reg(p) => return self.mov_to_reg(p, src),
            MoveDst::Slot(k) => k,
        };
        match src {
            MoveSrc::Reg(r) => self.store_slot(r, dst_slot),
            MoveSrc::Imm(0) => self.store_slot(XZR, dst_slot),
            MoveSrc::Slot(k) if k == dst_slot => {}
            other => {
                self.mov_to_reg(self.s0, other);
                self.store_slot(self.s0, dst_slot);
            }
        }
    }

    fn bin(&mut self, op: BinOp, dst: Reg, a: Reg, b: Src) {
        let (s0, s1) = (self.s0, self.s1);
        let ra = self.read(a, s0);
        let t = self.dst_reg(dst);
        if let (BinOp::Add | BinOp::Sub, Src::Imm(v)) = (op, b) {
            let value = if op == BinOp::Sub { v.checked_neg() } else { Some(v) };
            if let Some(seq) = value.and_then(|v| add_imm(t, ra, v)) {
                self.emit_all(seq);
                return self.write(dst, t);
            }
        }
        if let (BinOp::Shl | BinOp::Shr | BinOp::Sar, Src::Imm(v)) = (op, b) {
            let amount = (v & 63) as u8;
            let sop = match op {
                BinOp::Shl => ShiftOp::Lsl,
                BinOp::Shr => ShiftOp::Lsr,
                _ => ShiftOp::Asr,
            };
            self.emit(Inst::ShiftImm { op: sop, dst: t, a: ra, amount });
            return self.write(dst, t);
        }
        let rb = self.read_src(b, s1);
        let alu = |op| Inst::AluRRR { op, dst: t, a: ra, b: rb };
        match op {
            BinOp::Add => self.emit(alu(AluOp::Add)),
            BinOp::Sub => self.emit(alu(AluOp::Sub)),
            BinOp::And => self.emit(alu(AluOp::And)),
            BinOp::Or => self.emit(alu(AluOp::Orr)),
            BinOp::Xor => self.emit(alu(AluOp::Eor)),
            BinOp::Mul => self.emit(Inst::Mul { dst: t, a: ra, b: rb }),
            BinOp::Shl => self.emit(Inst::ShiftRRR { op: ShiftOp::Lsl, dst: t, a: ra, b: rb }),
            BinOp::Shr => self.emit(Inst::ShiftRRR { op: ShiftOp::Lsr, dst: t, a: ra, b: rb }),
            BinOp::Sar => self.emit(Inst::ShiftRRR { op: ShiftOp::Asr, dst: t, a: ra, b: rb }),
            // sdiv already wraps MIN / -1 to MIN and never traps; only a
            // zero divisor needs the explicit check the spec asks for.
            BinOp::Sdiv | BinOp::Srem => {
                if !matches!(b, Src::Imm(v) if v != 0) {
                    let label = self.div_zero_label();
                    self.emit(Inst::Cbz { reg: rb, target: label });
                }
                if op == BinOp::Sdiv {
                    self.emit(Inst::Sdiv { dst: t, a: ra, b: rb });
                } else {
                    self.emit(Inst::Sdiv { dst: S2, a: ra, b: rb });
                    self.emit(Inst::Msub { dst: t, a: S2, b: rb, c: ra });
                }
            }
        }
        self.write(dst, t);
    }

    fn div_zero_label(&mut self) -> u32 {
        match self.div_zero {
            Some(l) => l,
            None => {
                let l = self.new_label();
                self.div_zero = Some(l);
                l
            }
        }
    }

    /// Calls a runtime routine with `args` in the argument registers and the
    /// result (if any) into `dst`, saving every caller-saved register the IR
    /// keeps live across the instruction (in pairs, keeping sp aligned).
    fn runtime_call(&mut self, i: usize, routine: &str, args: &[Src], dst: Option<Reg>) {
        let saved: Vec<Xr> = self.f.alloc.live_across(i).intersect(self.cc.caller_saved).iter().collect();
        for pair in saved.chunks(2) {
            self.emit(Inst::StpPre { a: pair[0], b: *pair.get(1).unwrap_or(&XZR), base: SP, offset: -16 });
        }
        let moves: Vec<(PReg, MoveSrc)> =
            args.iter().zip(self.cc.args).map(|(a, r)| (*r, move_src(self.f, &self.frame, *a))).collect();
        self.parallel(&moves);
        let target = self.buf.function_symbol(routine);
        self.emit(Inst::Bl { target });
        if let Some(d) = dst {
            self.write(d, X0);
        }
        for pair in saved.chunks(2).rev() {
            self.emit(Inst::LdpPost { a: pair[0], b: *pair.get(1).unwrap_or(&XZR), base: SP, offset: 16 });
        }
    }
}
