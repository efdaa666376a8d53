//! The lowering driver both instruction sets share: a function's frame,
//! where each value lives, parameter binding, moves, calls into the
//! runtime, the division-by-zero exit and system calls are handled here
//! once; each ISA (`isa::<arch>::lower`) implements `Machine`, the few
//! instructions these are built from, and selects the instructions for
//! the rest of the IR.

use std::marker::PhantomData;
use std::ops::Range;

use crate::code::{CodeBuffer, RelocTarget};
use crate::error::CompileError;
use crate::ir::{self, Dst, Function, Operand, PReg, Reg, Src};
use crate::operands::Plan;
use crate::os::{self, Failure, Trap};
use crate::regalloc::{Allocation, Loc};
use crate::regs::RegSet;
use crate::runtime;
use crate::target::{Os, Target};

/// One function ready to lower: renumbered, allocated, with its system
/// calls planned.
pub struct FnCtx<'a> {
    pub func: &'a Function,
    pub alloc: &'a Allocation,
    /// Plans of the body's `syscall`s by instruction index, sorted.
    pub syscalls: &'a [(usize, Plan)],
    /// Number of IR stack slots the body uses.
    pub ir_slots: u32,
}

impl FnCtx<'_> {
    pub fn syscall_plan(&self, index: usize) -> Plan {
        let k = self.syscalls.binary_search_by_key(&index, |(i, _)| *i).expect("every syscall is planned");
        self.syscalls[k].1
    }
    /// Fresh local labels beyond the IR's own, for branches inside lowered
    /// sequences.
    pub fn first_internal_label(&self) -> u32 {
        self.func.labels.len() as u32
    }
}

/// A prologue moves the stack pointer down at most this far between two
/// writes to the stack, whatever the frame's size: a frame larger than
/// the guard below the stack cannot step over it, and the overflow is
/// caught at the stack pointer, where the fault report recognises it (as
/// gcc's `-fstack-clash-protection` probes). The call's return address
/// (x86_64) or the frame record (arm64) has always just been written.
pub const STACK_PROBE_INTERVAL: u32 = 4096;
/// Frames of up to this many probe intervals are probed by straight-line
/// code; larger ones by a loop.
pub const STACK_PROBES_UNROLLED: u32 = 4;
/// On UEFI (see `Lowering::checks_stack_limit`), how far below the stack
/// limit a prologue may move the stack pointer before its check sends it
/// to the report: a frame up to this size is made, then checked, so it may
/// overflow into the reserve below the limit (only arm64's frame record is
/// written there before the check); a larger one is checked before it is
/// made.
pub const STACK_LIMIT_OVERSHOOT: u32 = 4096;
// Most of the reserve below the limit is left to the report and the
// firmware.
const _: () = assert!(STACK_LIMIT_OVERSHOOT as i64 <= os::uefi::STACK_RESERVE / 4);

/// The next of the lowering's own labels, counted by `next`.
fn take_label(next: &mut u32) -> u32 {
    *next += 1;
    *next - 1
}

/// Frame slots, 8 bytes each: the callee-saved registers the function
/// saves, then the IR's stack slots, then spill slots.
#[derive(Clone, Debug)]
pub struct Frame {
    pub saved: Vec<PReg>,
    pub ir_slots: u32,
    pub spill_slots: u32,
}

impl Frame {
    pub fn new(saved: RegSet, ir_slots: u32, spill_slots: u32) -> Frame {
        Frame { saved: saved.iter().collect(), ir_slots, spill_slots }
    }
    pub fn saved_slot(&self, k: usize) -> u32 {
        k as u32
    }
    pub fn ir_slot(&self, n: u32) -> u32 {
        self.saved.len() as u32 + n
    }
    pub fn spill_slot(&self, n: u32) -> u32 {
        self.saved.len() as u32 + self.ir_slots + n
    }
    /// Frame size in bytes, a multiple of 16 so calls stay aligned.
    pub fn size(&self) -> u32 {
        let slots = self.saved.len() as u32 + self.ir_slots + self.spill_slots;
        (slots * 8).div_ceil(16) * 16
    }
}

/// A value's location for a move: a register, a frame slot, or a constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoveSrc {
    Reg(PReg),
    Slot(u32),
    Imm(i64),
}

/// An instruction set as the lowering driver sees it.
pub trait Machine: Sized {
    type Inst;
    fn encode(inst: Self::Inst, buf: &mut CodeBuffer);
    /// Sets up the frame and saves the callee-saved registers the function
    /// uses (parameters are bound after it).
    fn prologue(l: &mut Lowering<Self>);
    /// Restores what the prologue saved and returns.
    fn epilogue(l: &mut Lowering<Self>);
    fn load_slot(l: &mut Lowering<Self>, dst: PReg, slot: u32);
    fn store_slot(l: &mut Lowering<Self>, src: PReg, slot: u32);
    /// `dst := src` for distinct registers.
    fn mov_rr(l: &mut Lowering<Self>, dst: PReg, src: PReg);
    fn mov_imm(l: &mut Lowering<Self>, dst: PReg, imm: i64);
    /// The register that reads as `imm`: `scratch` loaded with it, unless
    /// the ISA has a register that reads as that constant.
    fn imm_reg(l: &mut Lowering<Self>, imm: i64, scratch: PReg) -> PReg {
        Self::mov_imm(l, scratch, imm);
        scratch
    }
    /// Stores `imm` into a frame slot in one instruction, if one can.
    fn store_imm(l: &mut Lowering<Self>, slot: u32, imm: i64) -> bool;
    fn call(l: &mut Lowering<Self>, target: RelocTarget);
    /// Calls the firmware function whose address is in `function`, its
    /// arguments already in place (see `os::firmware_args`).
    fn call_firmware(l: &mut Lowering<Self>, function: PReg);
    /// Calls the stack overflow report (`os::STACK_OVERFLOW`) where the
    /// prologue's check of the stack limit failed, with a frame record
    /// that names the function and leads to its caller.
    fn call_stack_overflow(l: &mut Lowering<Self>);
    /// Saves registers around a runtime call, keeping the stack aligned at
    /// the call, and restores them after it.
    fn save_for_call(l: &mut Lowering<Self>, regs: &[PReg]);
    fn restore_after_call(l: &mut Lowering<Self>, regs: &[PReg]);
    /// Enters the kernel.
    fn trap(l: &mut Lowering<Self>, trap: Trap);
    /// `reg := -reg` when the carry flag is set.
    fn negate_if_carry(l: &mut Lowering<Self>, reg: PReg);
    /// Every IR instruction the driver does not lower itself.
    fn select(l: &mut Lowering<Self>, index: usize, inst: &ir::Inst);
}

/// One function being lowered for machine `M`.
pub struct Lowering<'a, M> {
    pub f: &'a FnCtx<'a>,
    pub target: Target,
    pub frame: Frame,
    pub buf: &'a mut CodeBuffer,
    /// The function's two scratch registers.
    pub s0: PReg,
    pub s1: PReg,
    /// Scratch registers the IR also names whose IR values are parked in
    /// their slots during the current instruction (see `regalloc`).
    parked: RegSet,
    next_label: u32,
    /// Local label of the call to the division-by-zero routine, once needed.
    div_zero: Option<u32>,
    /// Local label of the call to the stack overflow report, once needed.
    stack_overflow: Option<u32>,
    machine: PhantomData<M>,
}

/// Frames of more slots than this cannot be addressed: a slot's byte
/// offset must fit a signed 32-bit displacement.
const MAX_FRAME_SLOTS: u64 = i32::MAX as u64 / 8 - 1;

/// Lowers and emits one allocated function.
pub fn lower_function<M: Machine>(target: Target, f: &FnCtx, buf: &mut CodeBuffer) -> Result<(), CompileError> {
    let slots = f.alloc.saved.len() as u64 + f.ir_slots as u64 + f.alloc.spill_slots as u64;
    if slots > MAX_FRAME_SLOTS {
        return Err(CompileError::TooLarge(format!(
            "function {} needs {slots} frame slots; at most {MAX_FRAME_SLOTS} are supported",
            f.func.name
        )));
    }
    let capacity = buf.bytes.capacity();
    emit_function::<M>(target, f, buf);
    if buf.resolve_labels().is_ok() {
        return Ok(());
    }
    // A conditional branch beyond its reach (arm64's ±1 MiB): once more
    // with branches that reach anywhere.
    let listing = buf.listing.as_ref().map(|l| Box::new(l.restarted()));
    let ir_starts = buf.ir_starts.as_ref().map(|_| Vec::new());
    *buf = CodeBuffer::with_capacity(capacity);
    buf.listing = listing;
    buf.ir_starts = ir_starts;
    buf.long_branches = true;
    emit_function::<M>(target, f, buf);
    buf.resolve_labels().map_err(|label| {
        CompileError::TooLarge(format!("function {}: branch to label {label} out of range", f.func.name))
    })
}

/// Emits one allocated function, its labels left unresolved.
fn emit_function<M: Machine>(target: Target, f: &FnCtx, buf: &mut CodeBuffer) {
    let frame = Frame::new(f.alloc.saved, f.ir_slots, f.alloc.spill_slots);
    let [s0, s1] = f.alloc.scratch;
    let mut l = Lowering {
        f,
        target,
        frame,
        buf,
        s0,
        s1,
        parked: RegSet::EMPTY,
        next_label: f.first_internal_label(),
        div_zero: None,
        stack_overflow: None,
        machine: PhantomData::<M>,
    };
    M::prologue(&mut l);
    l.park(f.alloc.parked_at_entry);
    l.bind_params();
    l.unpark();
    let runs = cold_runs(&f.func.body);
    let mut cold = Vec::with_capacity(runs.len());
    let mut runs = runs.into_iter().peekable();
    let mut i = 0;
    while i < f.func.body.len() {
        match runs.next_if(|run| run.branch == i) {
            Some(run) => {
                cold.push((l.branch_to_cold(i), run.insts.clone()));
                i = run.insts.end;
            }
            None => {
                l.lower_at(i);
                i += 1;
            }
        }
    }
    l.out_of_line(cold);
}

/// A run of instructions entered only by falling through the conditional
/// branch before it, ending in `Trap` and followed by the branch's target
/// (a bounds check's panic path): lowered after the body, so the hot path
/// falls through the branch instead of jumping over the run.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ColdRun {
    /// The `Jcc` the run follows.
    branch: usize,
    /// The run, its `Trap` last.
    insts: Range<usize>,
}

/// The cold runs of a body, in order. Each instruction is looked at about
/// once: the search from one `Jcc` stops at the next label or branch.
fn cold_runs(body: &[ir::Inst]) -> Vec<ColdRun> {
    use ir::Inst as I;
    let mut runs = Vec::new();
    for (branch, inst) in body.iter().enumerate() {
        let I::Jcc(_, target) = inst else { continue };
        let Some(len) = body[branch + 1..]
            .iter()
            .position(|i| matches!(i, I::Label(_) | I::Jmp(_) | I::Jcc(..) | I::Ret | I::Trap))
        else {
            continue;
        };
        let trap = branch + 1 + len;
        let target_follows = body[trap + 1..]
            .iter()
            .map_while(|i| match i {
                I::Label(l) => Some(l),
                _ => None,
            })
            .any(|l| l == target);
        if body[trap] == I::Trap && target_follows {
            runs.push(ColdRun { branch, insts: branch + 1..trap + 1 });
        }
    }
    runs
}

impl<M: Machine> Lowering<'_, M> {
    /// Lowers instruction `i` of the body.
    fn lower_at(&mut self, i: usize) {
        self.buf.list_ir(Some(i));
        let inst = &self.f.func.body[i];
        if !self.f.alloc.parked_slots.is_empty() && may_use_scratch(inst) {
            self.park(self.f.alloc.parked_at(i));
        }
        self.inst(i, inst);
        self.unpark();
    }
    /// Lowers the `Jcc` at `i`, which a cold run follows, as a branch to
    /// a fresh label for the run when the condition does not hold; returns
    /// that label.
    fn branch_to_cold(&mut self, i: usize) -> u32 {
        let ir::Inst::Jcc(cond, _) = self.f.func.body[i] else { unreachable!("a cold run follows a jcc") };
        let label = self.new_label();
        self.buf.list_ir(Some(i));
        self.inst(i, &ir::Inst::Jcc(cond.inverse(), ir::Label(label)));
        label
    }

    pub fn emit(&mut self, inst: M::Inst) {
        M::encode(inst, self.buf);
    }
    pub fn new_label(&mut self) -> u32 {
        take_label(&mut self.next_label)
    }
    /// The label of the out-of-line call to the division-by-zero routine.
    pub fn div_zero_label(&mut self) -> u32 {
        *self.div_zero.get_or_insert_with(|| take_label(&mut self.next_label))
    }
    /// The label of the out-of-line call to the stack overflow report.
    pub fn stack_overflow_label(&mut self) -> u32 {
        *self.stack_overflow.get_or_insert_with(|| take_label(&mut self.next_label))
    }
    /// Whether the prologue compares the frame's bottom with the stack
    /// limit (`os::uefi::STACK_LIMIT`) and calls the report below it: on
    /// UEFI, in every function but the report itself. The firmware maps
    /// all memory and handles processor faults itself, so no guard page
    /// below the stack can catch an overflow. The cost: the limit's load,
    /// a compare and a branch not taken (x86_64 `cmp rsp, [rip + limit];
    /// jb`, arm64 `adrp; ldr; cmp; b.lo`); for a frame larger than
    /// `STACK_LIMIT_OVERSHOOT`, the room above the limit is computed
    /// first, in two instructions more on x86_64, one or two on arm64.
    pub fn checks_stack_limit(&self) -> bool {
        self.target.os == Os::Uefi && self.f.func.name != os::STACK_OVERFLOW
    }

    /// Where `r` is during the current instruction.
    pub fn loc(&self, r: Reg) -> Loc {
        match r {
            Reg::V(v) => self.f.alloc.loc(v),
            Reg::P(p) if self.parked.contains(p) => Loc::Spill(self.f.alloc.parked_slot(p)),
            Reg::P(p) => Loc::Reg(p),
        }
    }
    /// Moves the IR's values of the scratch registers `regs` to their
    /// slots, where the next instruction finds them.
    fn park(&mut self, regs: RegSet) {
        for r in regs.iter() {
            M::store_slot(self, r, self.frame.spill_slot(self.f.alloc.parked_slot(r)));
        }
        self.parked = regs;
    }
    /// Moves the parked values back to their registers.
    fn unpark(&mut self) {
        for r in std::mem::replace(&mut self.parked, RegSet::EMPTY).iter() {
            M::load_slot(self, r, self.frame.spill_slot(self.f.alloc.parked_slot(r)));
        }
    }

    /// The register holding `r`, loading it into `scratch` if it is spilled.
    #[inline]
    pub fn read(&mut self, r: Reg, scratch: PReg) -> PReg {
        match self.loc(r) {
            Loc::Reg(p) => p,
            Loc::Spill(n) => {
                M::load_slot(self, scratch, self.frame.spill_slot(n));
                scratch
            }
        }
    }
    /// The register holding `s`, constants given by `Machine::imm_reg`.
    pub fn read_src(&mut self, s: Src, scratch: PReg) -> PReg {
        match s {
            Src::Reg(r) => self.read(r, scratch),
            Src::Imm(i) => M::imm_reg(self, i, scratch),
        }
    }
    /// The register a result for `r` is best computed in: its own, or s0.
    pub fn dst_reg(&self, r: Reg) -> PReg {
        match self.loc(r) {
            Loc::Reg(p) => p,
            Loc::Spill(_) => self.s0,
        }
    }
    /// Puts the value computed in `val` into `r`'s location.
    #[inline]
    pub fn write(&mut self, r: Reg, val: PReg) {
        match self.loc(r) {
            Loc::Reg(p) => self.mov_rr(p, val),
            Loc::Spill(n) => M::store_slot(self, val, self.frame.spill_slot(n)),
        }
    }
    pub fn mov_rr(&mut self, dst: PReg, src: PReg) {
        if dst != src {
            M::mov_rr(self, dst, src);
        }
    }
    pub fn mov_to_reg(&mut self, dst: PReg, src: MoveSrc) {
        match src {
            MoveSrc::Reg(r) => self.mov_rr(dst, r),
            MoveSrc::Slot(k) => M::load_slot(self, dst, k),
            MoveSrc::Imm(i) => M::mov_imm(self, dst, i),
        }
    }
    /// Performs simultaneous moves into registers (see `parallel_move`).
    pub fn parallel(&mut self, moves: &[(PReg, MoveSrc)]) {
        let mut seq = Vec::new();
        parallel_move(moves, self.s0, |d, s| seq.push((d, s)));
        for (d, s) in seq {
            self.mov_to_reg(d, s);
        }
    }

    /// Moves the incoming arguments to the parameters' locations: spilled
    /// ones are stored first (that only reads registers), then the
    /// register ones as one parallel move.
    fn bind_params(&mut self) {
        let mut moves = Vec::new();
        for (k, p) in self.f.func.params.iter().enumerate() {
            let arg = self.target.cc.args[k];
            match self.loc(*p) {
                Loc::Spill(n) => M::store_slot(self, arg, self.frame.spill_slot(n)),
                Loc::Reg(r) => moves.push((r, MoveSrc::Reg(arg))),
            }
        }
        self.parallel(&moves);
    }

    fn inst(&mut self, i: usize, inst: &ir::Inst) {
        use ir::Inst as I;
        match inst {
            I::Mov { dst, src } => self.mov(*dst, src),
            I::Call(name) => {
                let target = self.buf.function_symbol(name);
                M::call(self, target);
            }
            I::CallWith { callee, args, dst } => self.runtime_call(i, callee, args, *dst),
            I::CallFirmware { function, args, dst } => self.firmware_call(i, *function, args, *dst),
            I::Ret => M::epilogue(self),
            I::Syscall => self.syscall(i),
            I::Label(l) => self.buf.bind_label(l.0),
            I::Nop => {}
            other => M::select(self, i, other),
        }
    }

    fn mov(&mut self, dst: Dst, src: &Operand) {
        let (dst, src) = self.mov_operands(dst, src);
        let dst_slot = match dst {
            MoveDst::Reg(p) => return self.mov_to_reg(p, src),
            MoveDst::Slot(k) => k,
        };
        match src {
            MoveSrc::Reg(r) => M::store_slot(self, r, dst_slot),
            MoveSrc::Imm(i) if M::store_imm(self, dst_slot, i) => {}
            MoveSrc::Slot(k) if k == dst_slot => {}
            other => {
                self.mov_to_reg(self.s0, other);
                M::store_slot(self, self.s0, dst_slot);
            }
        }
    }

    /// The source and destination of an IR `mov`, resolved to registers,
    /// frame slots and constants.
    fn mov_operands(&self, dst: Dst, src: &Operand) -> (MoveDst, MoveSrc) {
        let src = match *src {
            Operand::Reg(r) => self.move_src(Src::Reg(r)),
            Operand::Imm(i) => MoveSrc::Imm(i),
            Operand::Stack(n) => MoveSrc::Slot(self.frame.ir_slot(n)),
        };
        let dst = match dst {
            Dst::Reg(r) => match self.loc(r) {
                Loc::Reg(p) => MoveDst::Reg(p),
                Loc::Spill(n) => MoveDst::Slot(self.frame.spill_slot(n)),
            },
            Dst::Stack(n) => MoveDst::Slot(self.frame.ir_slot(n)),
        };
        (dst, src)
    }

    /// Where an IR source operand is, for a move.
    fn move_src(&self, s: Src) -> MoveSrc {
        match s {
            Src::Imm(i) => MoveSrc::Imm(i),
            Src::Reg(r) => match self.loc(r) {
                Loc::Reg(p) => MoveSrc::Reg(p),
                Loc::Spill(n) => MoveSrc::Slot(self.frame.spill_slot(n)),
            },
        }
    }

    /// A system call as planned (`os::syscall`), its failure reported as
    /// −errno on every system, and what the IR keeps live in registers the
    /// kernel destroys beyond the IR's convention saved around it.
    fn syscall(&mut self, i: usize) {
        let kernel = os::kernel(self.target).expect("system calls are planned only where there is a kernel");
        let plan = self.f.syscall_plan(i);
        let saved: Vec<PReg> = self.f.alloc.live_across(i).intersect(plan.preserved).iter().collect();
        M::save_for_call(self, &saved);
        if let Some(number) = plan.number {
            M::mov_imm(self, kernel.number, number);
        }
        M::trap(self, kernel.trap);
        if kernel.failure == Failure::CarrySet {
            M::negate_if_carry(self, self.target.cc.syscall_result);
        }
        M::restore_after_call(self, &saved);
    }

    /// Calls a runtime routine with `args` in the argument registers and the
    /// result (if any) into `dst`, saving every caller-saved register the IR
    /// keeps live across the instruction.
    fn runtime_call(&mut self, i: usize, routine: &str, args: &[Src], dst: Option<Reg>) {
        let cc = self.target.cc;
        let saved: Vec<PReg> = self.f.alloc.live_across(i).intersect(cc.caller_saved).iter().collect();
        M::save_for_call(self, &saved);
        let moves: Vec<(PReg, MoveSrc)> = args.iter().zip(cc.args).map(|(a, r)| (*r, self.move_src(*a))).collect();
        self.parallel(&moves);
        let target = self.buf.function_symbol(routine);
        M::call(self, target);
        if let Some(d) = dst {
            self.write(d, cc.result);
        }
        M::restore_after_call(self, &saved);
    }

    /// Calls firmware code at the address `function` holds, with `args` in
    /// the firmware's argument registers, saving what a runtime call saves.
    fn firmware_call(&mut self, i: usize, function: Reg, args: &[Src], dst: Option<Reg>) {
        let cc = self.target.cc;
        let saved: Vec<PReg> = self.f.alloc.live_across(i).intersect(cc.caller_saved).iter().collect();
        M::save_for_call(self, &saved);
        // The address waits in s1, which no argument occupies or needs.
        let address = self.read(function, self.s1);
        self.mov_rr(self.s1, address);
        let moves: Vec<(PReg, MoveSrc)> =
            args.iter().zip(os::firmware_args(self.target)).map(|(a, r)| (*r, self.move_src(*a))).collect();
        self.parallel(&moves);
        M::call_firmware(self, self.s1);
        if let Some(d) = dst {
            self.write(d, cc.result);
        }
        M::restore_after_call(self, &saved);
    }

    /// Code placed after the body: the cold runs, each at its label, then
    /// the calls to the division-by-zero routine and to the stack
    /// overflow report. What an instruction's
    /// lowering depends on (its allocation, parked registers, registers
    /// live across it) is kept by index, so a run lowers here as in place.
    fn out_of_line(&mut self, cold: Vec<(u32, Range<usize>)>) {
        for (label, insts) in cold {
            self.buf.bind_label(label);
            insts.for_each(|i| self.lower_at(i));
        }
        if let Some(label) = self.div_zero {
            self.buf.list_ir(None);
            self.buf.bind_label(label);
            let target = self.buf.function_symbol(runtime::DIV_ZERO);
            M::call(self, target);
        }
        if let Some(label) = self.stack_overflow {
            self.buf.list_ir(None);
            self.buf.bind_label(label);
            M::call_stack_overflow(self);
        }
    }
}

/// Orders simultaneous register moves `dst ← src` (destinations distinct)
/// so that no source is overwritten before it is read, breaking cycles
/// through `scratch`. Moves from slots and constants come last, once every
/// register has been read. Calls `emit(dst, src)` for each move.
pub fn parallel_move(moves: &[(PReg, MoveSrc)], scratch: PReg, mut emit: impl FnMut(PReg, MoveSrc)) {
    let mut pending: Vec<(PReg, PReg)> = moves
        .iter()
        .filter_map(|&(d, s)| match s {
            MoveSrc::Reg(r) if r != d => Some((d, r)),
            _ => None,
        })
        .collect();
    while !pending.is_empty() {
        let ready = pending.iter().position(|&(d, _)| !pending.iter().any(|&(_, s)| s == d));
        match ready {
            Some(k) => {
                let (d, s) = pending.swap_remove(k);
                emit(d, MoveSrc::Reg(s));
            }
            None => {
                // Every destination is still some move's source: a cycle.
                // Park one destination's value in scratch and read it there.
                let (d, _) = pending[0];
                emit(scratch, MoveSrc::Reg(d));
                for m in pending.iter_mut() {
                    if m.1 == d {
                        m.1 = scratch;
                    }
                }
            }
        }
    }
    for &(d, s) in moves {
        if !matches!(s, MoveSrc::Reg(_)) {
            emit(d, s);
        }
    }
}

/// Where a `mov` writes: a register or a frame slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoveDst {
    Reg(PReg),
    Slot(u32),
}

/// Whether lowering `inst` may use the scratch registers. Branches never
/// do, so a value parked around an instruction is restored on every path.
fn may_use_scratch(inst: &ir::Inst) -> bool {
    use ir::Inst as I;
    !matches!(
        inst,
        I::Label(_) | I::Nop | I::Jmp(_) | I::Jcc(..) | I::Call(_) | I::Ret | I::Trap | I::Syscall | I::Raw(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Cond, Format, Inst, Isa, Label, Src};
    use crate::operands::CallInfo;
    use crate::operands::Plan;
    use crate::{isa, regalloc};

    struct NoInfo;
    impl CallInfo for NoInfo {
        fn call_arity(&self, _: &str) -> Option<u32> {
            Some(0)
        }
        fn syscall_plan(&self, _: usize) -> Option<Plan> {
            None
        }
        fn returns_value(&self) -> bool {
            true
        }
    }

    /// A bounds check's shape: `index <u limit` or the panic path.
    fn bounds_check(index: Reg, limit: i64, ok: Label) -> Vec<Inst> {
        vec![
            Inst::Cmp { a: index, b: Src::Imm(limit) },
            Inst::Jcc(Cond::Ltu, ok),
            Inst::CallWith {
                callee: runtime::INDEX_PANIC.into(),
                args: vec![Src::Reg(index), Src::Imm(limit)],
                dst: None,
            },
            Inst::Trap,
            Inst::Label(ok),
        ]
    }

    #[test]
    fn conditions_invert_exactly() {
        for c in Cond::ALL {
            for (a, b) in [(0, 0), (-1, 1), (1, -1), (3, 2), (i64::MIN, i64::MAX)] {
                assert_ne!(c.holds(a, b), c.inverse().holds(a, b), "{c:?} {a} {b}");
            }
        }
    }

    #[test]
    fn cold_runs_are_panic_paths_skipped_by_their_branch() {
        let (v, ok, other) = (Reg::V(0), Label(0), Label(1));
        let body = [bounds_check(v, 4, ok), vec![Inst::Ret]].concat();
        assert_eq!(cold_runs(&body), [ColdRun { branch: 1, insts: 2..4 }]);
        // The target after other labels.
        let mut body = bounds_check(v, 4, ok);
        body.insert(4, Inst::Label(other));
        assert_eq!(cold_runs(&body), [ColdRun { branch: 1, insts: 2..4 }]);
        // Entered by a label too.
        let mut body = bounds_check(v, 4, ok);
        body.insert(2, Inst::Label(other));
        assert_eq!(cold_runs(&body), []);
        // Not ending in a trap.
        let mut body = bounds_check(v, 4, ok);
        body[3] = Inst::Jmp(ok);
        assert_eq!(cold_runs(&body), []);
        // The branch's target is not what follows the trap.
        let mut body = bounds_check(v, 4, ok);
        body[4] = Inst::Label(other);
        assert_eq!(cold_runs(&body), []);
        // A trap right after the branch, at the end of the body.
        let body = [Inst::Jcc(Cond::Eq, ok), Inst::Trap];
        assert_eq!(cold_runs(&body), []);
    }

    /// A passing bounds check is a branch not taken: the instruction before
    /// the check's target branches forward to its panic path, placed after
    /// the body and ending the function's code.
    #[test]
    fn passing_bounds_checks_fall_through() {
        for isa in [Isa::X86_64, Isa::Arm64] {
            let target = Target::new(isa, Format::Elf64);
            let ok = Label(0);
            let mut func = Function {
                name: "f".into(),
                arity: 1,
                exported: false,
                params: vec![Reg::V(0)],
                locals: 1,
                body: [
                    bounds_check(Reg::V(0), 10, ok),
                    vec![
                        Inst::Mov { dst: Dst::Reg(Reg::P(target.cc.result)), src: Operand::Reg(Reg::V(0)) },
                        Inst::Ret,
                    ],
                ]
                .concat(),
                labels: vec!["ok".into()],
                ..Default::default()
            };
            let n = regalloc::renumber(&mut func).len();
            let alloc = regalloc::allocate(&func, n, target.cc, &NoInfo, RegSet::EMPTY);
            let f = FnCtx { func: &func, alloc: &alloc, syscalls: &[], ir_slots: 0 };
            let mut buf = CodeBuffer::new();
            match isa {
                Isa::X86_64 => lower_function::<isa::x86_64::lower::X86_64>(target, &f, &mut buf),
                Isa::Arm64 => lower_function::<isa::arm64::lower::Arm64>(target, &f, &mut buf),
            }
            .unwrap();
            let at = |offset: u32| buf.label_offset(offset).unwrap() as usize;
            let (ok, cold) = (at(0), at(f.first_internal_label()));
            let word = |k: usize| u32::from_le_bytes(buf.bytes[k..k + 4].try_into().unwrap());
            match isa {
                Isa::X86_64 => {
                    // jae rel32; ud2.
                    assert_eq!(buf.bytes[ok - 6..ok - 4], [0x0f, 0x83], "{isa:?}");
                    assert_eq!(word(ok - 4) as i32 as i64, cold as i64 - ok as i64, "{isa:?}");
                    assert!(buf.bytes.ends_with(&[0x0f, 0x0b]), "{isa:?}");
                }
                Isa::Arm64 => {
                    // b.hs; brk #1.
                    let b_hs = word(ok - 4);
                    assert_eq!(b_hs & 0xff00_001f, 0x5400_0002, "{isa:?}");
                    assert_eq!((b_hs >> 5 & 0x7ffff) as usize * 4, cold - (ok - 4), "{isa:?}");
                    assert_eq!(word(buf.bytes.len() - 4), 0xd420_0020, "{isa:?}");
                }
            }
            assert!(cold > ok, "{isa:?}");
        }
    }

    /// Runs the moves on a register file and checks the result.
    fn check(moves: &[(PReg, MoveSrc)]) {
        let mut regs: Vec<i64> = (0..32).map(|i| 100 + i).collect();
        let before = regs.clone();
        parallel_move(moves, PReg(31), |d, s| {
            regs[d.0 as usize] = match s {
                MoveSrc::Reg(r) => regs[r.0 as usize],
                MoveSrc::Slot(n) => 1000 + n as i64,
                MoveSrc::Imm(i) => i,
            }
        });
        for &(d, s) in moves {
            let want = match s {
                MoveSrc::Reg(r) => before[r.0 as usize],
                MoveSrc::Slot(n) => 1000 + n as i64,
                MoveSrc::Imm(i) => i,
            };
            assert_eq!(regs[d.0 as usize], want, "{moves:?}");
        }
    }

    #[test]
    fn parallel_moves_respect_every_source() {
        let r = PReg;
        check(&[(r(0), MoveSrc::Reg(r(1))), (r(1), MoveSrc::Reg(r(0)))]);
        check(&[(r(0), MoveSrc::Reg(r(1))), (r(1), MoveSrc::Reg(r(2))), (r(2), MoveSrc::Reg(r(0)))]);
        check(&[(r(0), MoveSrc::Reg(r(1))), (r(1), MoveSrc::Reg(r(2))), (r(3), MoveSrc::Reg(r(0)))]);
        check(&[(r(0), MoveSrc::Imm(7)), (r(1), MoveSrc::Reg(r(0))), (r(2), MoveSrc::Slot(3))]);
        check(&[
            (r(4), MoveSrc::Reg(r(4))),
            (r(5), MoveSrc::Reg(r(6))),
            (r(6), MoveSrc::Reg(r(5))),
            (r(7), MoveSrc::Reg(r(5))),
        ]);
    }
}
