//! Allocated IR → x86_64 machine instructions, emitted straight into the
//! function's code buffer.
//!
//! Frame: `push rbp; mov rbp, rsp; sub rsp, size`; frame slot k (see
//! `lower::Frame`) is `[rbp - 8(k+1)]`, so IR `push`/`pop` never move a slot.
//! A function with no frame slots and no IR `push`/`pop` only pushes the
//! callee-saved registers it uses.
//! Spilled vregs are read into the function's two scratch registers and
//! written back from them.

use super::inst::{AluOp, Amode, Inst, Narrow, ShiftOp, SseOp, Xmm, CC};
use crate::code::{CodeBuffer, RelocTarget};
use crate::error::CompileError;
use crate::ir::{self, BinOp, Cond, Dst, FloatOp, Operand, PReg, Reg, Src, UnOp, Width};
use crate::lower::{mov_operands, move_src, parallel_move, FnCtx, Frame, MoveDst, MoveSrc};
use crate::regalloc::Loc;
use crate::regs::{call_conv, x86::*, CallConv};
use crate::runtime;
use crate::target::Target;

pub struct Lowerer<'a> {
    f: &'a FnCtx<'a>,
    cc: &'static CallConv,
    frame: Frame,
    buf: &'a mut CodeBuffer,
    s0: PReg,
    s1: PReg,
    next_label: u32,
    /// Local label of the call to the division-by-zero routine, once needed.
    div_zero: Option<u32>,
}

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

/// Floating-point work registers: no value lives in an FP register across
/// IR instructions, so these need no allocation.
const XMM0: Xmm = Xmm(0);
const XMM1: Xmm = Xmm(1);

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

/// Lowers and emits one function.
pub fn lower_function(target: Target, f: &FnCtx, buf: &mut CodeBuffer) -> Result<(), CompileError> {
    let frame = Frame::new(f.alloc.saved, f.ir_slots, f.alloc.spill_slots);
    let [s0, s1] = f.alloc.scratch;
    let mut l = Lowerer { f, cc: target.cc, frame, buf, s0, s1, next_label: f.first_internal_label(), div_zero: None };
    l.prologue();
    for (i, inst) in f.func.body.iter().enumerate() {
        l.inst(i, inst);
    }
    l.out_of_line();
    l.buf.resolve_labels().map_err(|label| CompileError::InvalidFunction {
        function: f.func.name.clone(),
        reason: format!("branch to label {label} out of range"),
    })
}

/// The process entry point: clear the heap register when the program
/// allocates (the first allocation then maps a region), call `main`, then
/// exit with status 0.
pub fn emit_entry(buf: &mut CodeBuffer, main: RelocTarget, exit_number: i64, allocates: bool) {
    if allocates {
        Inst::MovRI { dst: call_conv(crate::ir::Isa::X86_64).heap, imm: 0 }.emit(buf);
    }
    for inst in [
        Inst::Call { target: main },
        Inst::MovRI { dst: RDI, imm: 0 },
        Inst::MovRI { dst: RAX, imm: exit_number },
        Inst::Syscall,
    ] {
        inst.emit(buf);
    }
}

impl Lowerer<'_> {
    fn emit(&mut self, inst: Inst) {
        inst.emit(self.buf);
    }
    fn new_label(&mut self) -> u32 {
        self.next_label += 1;
        self.next_label - 1
    }
    fn slot(&self, k: u32) -> Amode {
        Amode::base_disp(RBP, -8 * (k as i32 + 1))
    }
    fn spill_slot(&self, n: u32) -> Amode {
        self.slot(self.frame.spill_slot(n))
    }

    /// The register holding `r`, loading it into `scratch` if it is spilled.
    fn read(&mut self, r: Reg, scratch: PReg) -> PReg {
        match self.f.loc(r) {
            Loc::Reg(p) => p,
            Loc::Spill(n) => {
                let mem = self.spill_slot(n);
                self.emit(Inst::Load { dst: scratch, mem });
                scratch
            }
        }
    }
    /// The register holding `s`, materialising constants in `scratch`.
    fn read_src(&mut self, s: Src, scratch: PReg) -> PReg {
        match s {
            Src::Reg(r) => self.read(r, scratch),
            Src::Imm(i) => {
                self.emit(Inst::MovRI { dst: scratch, imm: i });
                scratch
            }
        }
    }
    /// The register a result for `r` is best computed in: its own, or s0.
    fn dst_reg(&self, r: Reg) -> PReg {
        match self.f.loc(r) {
            Loc::Reg(p) => p,
            Loc::Spill(_) => self.s0,
        }
    }
    /// Puts the value computed in `val` into `r`'s location.
    fn write(&mut self, r: Reg, val: PReg) {
        match self.f.loc(r) {
            Loc::Reg(p) if p == val => {}
            Loc::Reg(p) => self.emit(Inst::MovRR { dst: p, src: val }),
            Loc::Spill(n) => {
                let mem = self.spill_slot(n);
                self.emit(Inst::Store { mem, src: val });
            }
        }
    }
    fn mov_to_reg(&mut self, dst: PReg, src: MoveSrc) {
        match src {
            MoveSrc::Reg(r) if r == dst => {}
            MoveSrc::Reg(r) => self.emit(Inst::MovRR { dst, src: r }),
            MoveSrc::Slot(k) => {
                let mem = self.slot(k);
                self.emit(Inst::Load { dst, mem });
            }
            MoveSrc::Imm(i) => self.emit(Inst::MovRI { dst, imm: i }),
        }
    }

    /// Whether the function needs no frame pointer: nothing lives in frame
    /// slots and the IR never moves rsp itself, so callee-saved registers
    /// can simply be pushed and popped.
    fn frameless(&self) -> bool {
        self.frame.ir_slots == 0
            && self.frame.spill_slots == 0
            && !self.f.func.body.iter().any(|i| matches!(i, ir::Inst::Push(_) | ir::Inst::Pop(_)))
    }

    /// Bytes of padding a frameless function adds so rsp is 16-byte aligned
    /// at its calls (it is 8 past alignment on entry).
    fn frameless_pad(&self) -> i32 {
        if self.frame.saved.len().is_multiple_of(2) {
            8
        } else {
            0
        }
    }

    fn prologue(&mut self) {
        if self.frameless() {
            for k in 0..self.frame.saved.len() {
                self.emit(Inst::Push { reg: self.frame.saved[k] });
            }
            let pad = self.frameless_pad();
            if pad != 0 {
                self.emit(Inst::AluRI { op: AluOp::Sub, dst: RSP, imm: pad });
            }
        } else {
            self.emit(Inst::Push { reg: RBP });
            self.emit(Inst::MovRR { dst: RBP, src: RSP });
            let size = self.frame.size();
            if size > 0 {
                self.emit(Inst::AluRI { op: AluOp::Sub, dst: RSP, imm: size as i32 });
            }
            for k in 0..self.frame.saved.len() {
                let mem = self.slot(self.frame.saved_slot(k));
                self.emit(Inst::Store { mem, src: self.frame.saved[k] });
            }
        }
        // Bind parameters: spilled ones are stored first (that only reads
        // registers), then the register ones as one parallel move.
        let mut moves = Vec::new();
        for (k, p) in self.f.func.params.iter().enumerate() {
            let arg = self.cc.args[k];
            match self.f.loc(*p) {
                Loc::Spill(n) => {
                    let mem = self.spill_slot(n);
                    self.emit(Inst::Store { mem, src: arg });
                }
                Loc::Reg(r) => moves.push((r, MoveSrc::Reg(arg))),
            }
        }
        self.parallel(&moves);
    }

    fn parallel(&mut self, moves: &[(PReg, MoveSrc)]) {
        let mut seq = Vec::new();
        parallel_move(moves, self.s0, |d, s| seq.push((d, s)));
        for (d, s) in seq {
            self.mov_to_reg(d, s);
        }
    }

    fn epilogue(&mut self) {
        if self.frameless() {
            let pad = self.frameless_pad();
            if pad != 0 {
                self.emit(Inst::AluRI { op: AluOp::Add, dst: RSP, imm: pad });
            }
            for k in (0..self.frame.saved.len()).rev() {
                self.emit(Inst::Pop { reg: self.frame.saved[k] });
            }
            self.emit(Inst::Ret);
            return;
        }
        for k in 0..self.frame.saved.len() {
            let mem = self.slot(self.frame.saved_slot(k));
            self.emit(Inst::Load { dst: self.frame.saved[k], mem });
        }
        self.emit(Inst::MovRR { dst: RSP, src: RBP });
        self.emit(Inst::Pop { reg: RBP });
        self.emit(Inst::Ret);
    }

    /// Code placed after the body: the call to the division-by-zero routine.
    fn out_of_line(&mut self) {
        if let Some(label) = self.div_zero {
            self.buf.bind_label(label);
            let target = self.buf.function_symbol(runtime::DIV_ZERO);
            self.emit(Inst::Call { target });
        }
    }

    fn inst(&mut self, i: usize, inst: &ir::Inst) {
        use ir::Inst as I;
        let (s0, s1) = (self.s0, self.s1);
        match inst {
            I::Mov { dst, src } => self.mov(*dst, src),
            I::Bin { op, dst, a, b } => self.bin(i, *op, *dst, *a, *b),
            I::Unary { op, dst, src } => {
                let t = self.dst_reg(*dst);
                let v = self.read_src(*src, t);
                if v != t {
                    self.emit(Inst::MovRR { dst: t, src: v });
                }
                self.emit(match op {
                    UnOp::Neg => Inst::Neg { reg: t },
                    UnOp::Not => Inst::Not { reg: t },
                });
                self.write(*dst, t);
            }
            I::Load { width, dst, base, offset } => {
                let b = self.read(*base, s0);
                let t = self.dst_reg(*dst);
                let mem = Amode::base_disp(b, *offset);
                self.emit(match narrow(*width) {
                    None => Inst::Load { dst: t, mem },
                    Some(width) => Inst::LoadNarrow { width, dst: t, mem },
                });
                self.write(*dst, t);
            }
            I::Store { width, base, offset, src } => {
                let b = self.read(*base, s0);
                let mem = Amode::base_disp(b, *offset);
                match (narrow(*width), src) {
                    (None, Src::Imm(v)) if imm32(*v).is_some() => self.emit(Inst::StoreImm { mem, imm: *v as i32 }),
                    (None, _) => {
                        let v = self.read_src(*src, s1);
                        self.emit(Inst::Store { mem, src: v });
                    }
                    (Some(width), _) => {
                        let v = self.read_src(*src, s1);
                        self.emit(Inst::StoreNarrow { width, mem, src: v });
                    }
                }
            }
            I::Lea { dst, symbol } => {
                let t = self.dst_reg(*dst);
                let target = self.buf.data_symbol(symbol);
                self.emit(Inst::LeaRip { dst: t, target });
                self.write(*dst, t);
            }
            I::Cmp { a, b } => {
                let ra = self.read(*a, s0);
                match b {
                    Src::Imm(v) if imm32(*v).is_some() => {
                        self.emit(Inst::AluRI { op: AluOp::Cmp, dst: ra, imm: *v as i32 })
                    }
                    _ => {
                        let rb = self.read_src(*b, s1);
                        self.emit(Inst::AluRR { op: AluOp::Cmp, dst: ra, src: rb });
                    }
                }
            }
            I::Jmp(l) => self.emit(Inst::Jmp { target: l.0 }),
            I::Jcc(c, l) => self.emit(Inst::Jcc { cc: cc_of(*c), target: l.0 }),
            I::Call(name) => {
                let target = self.buf.function_symbol(name);
                self.emit(Inst::Call { target });
            }
            I::CallIndirect(r) => {
                let reg = self.read(*r, s0);
                self.emit(Inst::CallR { reg });
            }
            I::Ret => self.epilogue(),
            I::Push(s) => match s {
                Src::Imm(v) if imm32(*v).is_some() => self.emit(Inst::PushImm { imm: *v as i32 }),
                _ => {
                    let reg = self.read_src(*s, s0);
                    self.emit(Inst::Push { reg });
                }
            },
            I::Pop(r) => {
                let t = self.dst_reg(*r);
                self.emit(Inst::Pop { reg: t });
                self.write(*r, t);
            }
            I::Syscall => {
                if let Some(number) = self.f.syscall_plan(i).number {
                    self.emit(Inst::MovRI { dst: RAX, imm: number });
                }
                self.emit(Inst::Syscall);
            }
            I::Label(l) => self.buf.bind_label(l.0),
            I::Nop => {}
            I::Trap => self.emit(Inst::Ud2),
            I::Raw(bytes) => self.emit(Inst::Raw(bytes.clone())),
            I::CallWith { callee, args, dst } => self.runtime_call(i, callee, args, *dst),
            I::FloatBin { op, dst, a, b } => {
                let ra = self.read_src(*a, s0);
                let rb = self.read_src(*b, s1);
                self.emit(Inst::MovqToXmm { dst: XMM0, src: ra });
                self.emit(Inst::MovqToXmm { dst: XMM1, src: rb });
                let op = match op {
                    FloatOp::Add => SseOp::Add,
                    FloatOp::Sub => SseOp::Sub,
                    FloatOp::Mul => SseOp::Mul,
                    FloatOp::Div => SseOp::Div,
                };
                self.emit(Inst::SseBin { op, dst: XMM0, src: XMM1 });
                let t = self.dst_reg(*dst);
                self.emit(Inst::MovqFromXmm { dst: t, src: XMM0 });
                self.write(*dst, t);
            }
            I::IntToFloat { dst, src } => {
                let v = self.read_src(*src, s0);
                self.emit(Inst::Cvtsi2sd { dst: XMM0, src: v });
                let t = self.dst_reg(*dst);
                self.emit(Inst::MovqFromXmm { dst: t, src: XMM0 });
                self.write(*dst, t);
            }
            I::FloatToInt { dst, src } => {
                let v = self.read_src(*src, s0);
                self.emit(Inst::MovqToXmm { dst: XMM0, src: v });
                let t = self.dst_reg(*dst);
                self.emit(Inst::Cvttsd2si { dst: t, src: XMM0 });
                self.write(*dst, t);
            }
            other => unreachable!("`expand` rewrites {other:?} before lowering"),
        }
    }

    fn mov(&mut self, dst: Dst, src: &Operand) {
        let s0 = self.s0;
        let (dst, src) = mov_operands(self.f, &self.frame, dst, src);
        let dst_slot = match dst {
            MoveDst::Reg(p) => return self.mov_to_reg(p, src),
            MoveDst::Slot(k) => k,
        };
        let mem = self.slot(dst_slot);
        match src {
            MoveSrc::Reg(r) => self.emit(Inst::Store { mem, src: r }),
            MoveSrc::Imm(i) if imm32(i).is_some() => self.emit(Inst::StoreImm { mem, imm: i as i32 }),
            MoveSrc::Slot(k) if k == dst_slot => {}
            other => {
                self.mov_to_reg(s0, other);
                self.emit(Inst::Store { mem, src: s0 });
            }
        }
    }

    fn bin(&mut self, i: usize, op: BinOp, dst: Reg, a: Reg, b: Src) {
        let (s0, s1) = (self.s0, self.s1);
        let alu = match op {
            BinOp::Add => Some(AluOp::Add),
            BinOp::Sub => Some(AluOp::Sub),
            BinOp::And => Some(AluOp::And),
            BinOp::Or => Some(AluOp::Or),
            BinOp::Xor => Some(AluOp::Xor),
            _ => None,
        };
        match op {
            BinOp::Sdiv | BinOp::Srem => return self.division(i, op, dst, a, b),
            BinOp::Shl | BinOp::Shr | BinOp::Sar => return self.shift(i, op, dst, a, b),
            BinOp::Mul => {
                if let Src::Imm(v) = b {
                    if let Some(imm) = imm32(v) {
                        let ra = self.read(a, s0);
                        let t = self.dst_reg(dst);
                        self.emit(Inst::ImulRRI { dst: t, src: ra, imm });
                        return self.write(dst, t);
                    }
                }
            }
            _ => {}
        }
        let ra = self.read(a, s0);
        // A constant added into another register: one three-address lea.
        if let (BinOp::Add | BinOp::Sub, Src::Imm(v)) = (op, b) {
            let disp = if op == BinOp::Sub { v.checked_neg() } else { Some(v) };
            let d = self.dst_reg(dst);
            if let Some(disp) = disp.and_then(imm32).filter(|_| d != ra) {
                self.emit(Inst::Lea { dst: d, mem: Amode::base_disp(ra, disp) });
                return self.write(dst, d);
            }
        }
        // b as a register, or as an imm32 for the ALU forms.
        let b_imm = match b {
            Src::Imm(v) if alu.is_some() => imm32(v),
            _ => None,
        };
        let rb = match b_imm {
            Some(_) => None,
            None => Some(self.read_src(b, s1)),
        };
        let d = self.dst_reg(dst);
        // Two-address form: compute in d unless d holds b (and not a).
        let commutative = matches!(op, BinOp::Add | BinOp::And | BinOp::Or | BinOp::Xor | BinOp::Mul);
        let (t, x, y) = match rb {
            Some(rb) if rb == d && ra != d && commutative => (d, d, Some(ra)),
            Some(rb) if rb == d && ra != d => (s0, ra, Some(rb)),
            _ => (d, ra, rb),
        };
        if x != t {
            self.emit(Inst::MovRR { dst: t, src: x });
        }
        match (alu, y) {
            (Some(op), Some(y)) => self.emit(Inst::AluRR { op, dst: t, src: y }),
            (Some(op), None) => self.emit(Inst::AluRI { op, dst: t, imm: b_imm.expect("an immediate operand") }),
            (None, Some(y)) => self.emit(Inst::ImulRR { dst: t, src: y }),
            (None, None) => unreachable!("mul by a register"),
        }
        self.write(dst, t);
    }

    /// Pushes the registers the IR keeps live across instruction `i` that
    /// `clobbered` contains; returns them for `restore`.
    fn save(&mut self, i: usize, clobbered: crate::regs::RegSet) -> Vec<PReg> {
        let regs: Vec<PReg> = self.f.alloc.live_across(i).intersect(clobbered).iter().collect();
        for r in &regs {
            self.emit(Inst::Push { reg: *r });
        }
        regs
    }
    fn restore(&mut self, regs: &[PReg]) {
        for r in regs.iter().rev() {
            self.emit(Inst::Pop { reg: *r });
        }
    }

    /// Shifts by a register need the count in cl; shifts by a constant use
    /// it mod 64.
    fn shift(&mut self, i: usize, op: BinOp, dst: Reg, a: Reg, b: Src) {
        let (s0, s1) = (self.s0, self.s1);
        let sop = match op {
            BinOp::Shl => ShiftOp::Shl,
            BinOp::Shr => ShiftOp::Shr,
            _ => ShiftOp::Sar,
        };
        match b {
            Src::Imm(v) => {
                let ra = self.read(a, s0);
                let t = self.dst_reg(dst);
                if t != ra {
                    self.emit(Inst::MovRR { dst: t, src: ra });
                }
                let amount = (v & 63) as u8;
                if amount != 0 {
                    self.emit(Inst::ShiftImm { op: sop, dst: t, amount });
                }
                self.write(dst, t);
            }
            Src::Reg(rb) => {
                let ra = self.read(a, s0);
                if ra != s0 {
                    self.emit(Inst::MovRR { dst: s0, src: ra });
                }
                let count = self.read(rb, s1);
                let saved = self.save(i, crate::regs::RegSet::of(&[RCX]));
                self.emit(Inst::MovRR { dst: RCX, src: count });
                self.emit(Inst::ShiftCl { op: sop, dst: s0 });
                self.restore(&saved);
                self.write(dst, s0);
            }
        }
    }

    /// Signed division with the spec's edge cases: a zero divisor calls the
    /// division-by-zero routine; a divisor of -1 negates (so MIN / -1 wraps
    /// to MIN and the remainder is 0) instead of letting idiv trap.
    fn division(&mut self, i: usize, op: BinOp, dst: Reg, a: Reg, b: Src) {
        let (s0, s1) = (self.s0, self.s1);
        let ra = self.read(a, s0);
        if ra != s0 {
            self.emit(Inst::MovRR { dst: s0, src: ra });
        }
        let rb = self.read_src(b, s1);
        if rb != s1 {
            self.emit(Inst::MovRR { dst: s1, src: rb });
        }
        let known = match b {
            Src::Imm(v) => Some(v),
            Src::Reg(_) => None,
        };
        if known.is_none() || known == Some(0) {
            let label = match self.div_zero {
                Some(l) => l,
                None => {
                    let l = self.new_label();
                    self.div_zero = Some(l);
                    l
                }
            };
            self.emit(Inst::TestRR { a: s1, b: s1 });
            self.emit(Inst::Jcc { cc: CC::E, target: label });
        }
        let done = self.new_label();
        if known.is_none() || known == Some(-1) {
            let normal = self.new_label();
            self.emit(Inst::AluRI { op: AluOp::Cmp, dst: s1, imm: -1 });
            self.emit(Inst::Jcc { cc: CC::NE, target: normal });
            match op {
                BinOp::Sdiv => self.emit(Inst::Neg { reg: s0 }),
                _ => self.emit(Inst::MovRI { dst: s0, imm: 0 }),
            }
            self.emit(Inst::Jmp { target: done });
            self.buf.bind_label(normal);
        }
        let saved = self.save(i, self.cc.division_clobbers);
        self.emit(Inst::MovRR { dst: RAX, src: s0 });
        self.emit(Inst::Cqo);
        self.emit(Inst::Idiv { src: s1 });
        let result = if op == BinOp::Sdiv { RAX } else { RDX };
        self.emit(Inst::MovRR { dst: s0, src: result });
        self.restore(&saved);
        self.buf.bind_label(done);
        self.write(dst, s0);
    }

    /// Calls a runtime routine with `args` in the argument registers and the
    /// result (if any) into `dst`, saving every caller-saved register the IR
    /// keeps live across the instruction.
    fn runtime_call(&mut self, i: usize, routine: &str, args: &[Src], dst: Option<Reg>) {
        let saved = self.save(i, self.cc.caller_saved);
        let pad = saved.len() % 2 == 1;
        if pad {
            self.emit(Inst::AluRI { op: AluOp::Sub, dst: RSP, imm: 8 });
        }
        let moves: Vec<(PReg, MoveSrc)> =
            args.iter().zip(self.cc.args).map(|(a, r)| (*r, move_src(self.f, &self.frame, *a))).collect();
        self.parallel(&moves);
        let target = self.buf.function_symbol(routine);
        self.emit(Inst::Call { target });
        if let Some(d) = dst {
            self.write(d, RAX);
        }
        if pad {
            self.emit(Inst::AluRI { op: AluOp::Add, dst: RSP, imm: 8 });
        }
        self.restore(&saved);
    }
}
