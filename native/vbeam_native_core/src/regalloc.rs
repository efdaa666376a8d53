//! Linear-scan register allocation (after Poletto & Sarkar) over the live
//! intervals of `liveness`, with the physical registers the IR names and the
//! registers calls clobber as fixed segments.
//!
//! A vreg lives in one register, or in one spill slot, for its whole
//! interval ("spill everywhere"; vregs whose intervals do not overlap share
//! slots): the lowerer reads and writes spilled vregs through the
//! function's two scratch registers. Values live across calls
//! therefore land in callee-saved registers or on the stack, never in a
//! register a call destroys, and loops need no special care because an
//! interval already covers every point where its vreg is live.
//!
//! The scratch registers are two candidates the IR never names, when it
//! leaves two. A function may name more, even every candidate (on x86_64
//! the other registers are argument, result, division, shift and heap
//! registers): it then gets named ones. Around each instruction that may
//! use scratch registers while the IR keeps a value in one (an operand, or
//! a value live across it), the lowering parks that value in a spill slot
//! of the register's, where the instruction reads and writes it. Branches
//! never use scratch registers, so a parked value is restored on every
//! path.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::ir::{Dst, Function, Inst, Operand, PReg, Reg, Src};
use crate::liveness::{self, Liveness};
use crate::operands::{for_each_reg, for_each_reg_mut, CallInfo};
use crate::reg_class;
use crate::regs::{CallConv, RegSet};

/// Where a vreg lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    Reg(PReg),
    /// Spill slot N of the frame.
    Spill(u32),
}

#[derive(Clone, Debug)]
pub struct Allocation {
    /// Per dense vreg (see `renumber`).
    pub locs: Vec<Loc>,
    /// Two registers the lowerer may use freely inside one instruction.
    pub scratch: [PReg; 2],
    pub spill_slots: u32,
    /// Callee-saved registers the function writes and must restore.
    pub saved: RegSet,
    /// Physical registers the IR keeps live across instructions that call a
    /// runtime routine or need registers of their own (sorted by index).
    pub pregs_live_across: Vec<(usize, RegSet)>,
    /// Scratch registers the IR also names, with the spill slot each one's
    /// IR values are parked in.
    pub parked_slots: Vec<(PReg, u32)>,
    /// Where those registers hold values of the IR: per instruction (sorted
    /// by index), and at the entry.
    pub parked_at: Vec<(usize, RegSet)>,
    pub parked_at_entry: RegSet,
}

impl Allocation {
    pub fn loc(&self, vreg: u32) -> Loc {
        self.locs[vreg as usize]
    }
    pub fn live_across(&self, index: usize) -> RegSet {
        at_instruction(&self.pregs_live_across, index)
    }
    /// The scratch registers holding values of the IR at instruction `index`.
    pub fn parked_at(&self, index: usize) -> RegSet {
        at_instruction(&self.parked_at, index)
    }
    /// The spill slot a parked scratch register's IR values are kept in.
    pub fn parked_slot(&self, reg: PReg) -> u32 {
        self.parked_slots.iter().find(|(r, _)| *r == reg).expect("a parked register has a slot").1
    }
}

fn at_instruction(sets: &[(usize, RegSet)], index: usize) -> RegSet {
    match sets.binary_search_by_key(&index, |(i, _)| *i) {
        Ok(k) => sets[k].1,
        Err(_) => RegSet::EMPTY,
    }
}

/// Renames the function's vregs to `0..n` in order of first appearance
/// (params first), so later passes can use plain vectors. Returns the
/// original number of each renamed vreg.
pub fn renumber(func: &mut Function) -> Vec<u32> {
    // vreg numbers are usually small: a table beats hashing; a hash map
    // keeps huge, sparse numbers cheap.
    let mut max = 0u32;
    let mut seen = |r: &mut Reg| {
        if let Reg::V(v) = r {
            max = max.max(*v);
        }
    };
    func.params.iter_mut().for_each(&mut seen);
    for inst in &mut func.body {
        for_each_reg_mut(inst, |r, _| seen(r));
    }
    let mut original = Vec::new();
    if (max as usize) < 4 * func.body.len() + 1024 {
        let mut table = vec![u32::MAX; max as usize + 1];
        rename_all(func, |v| {
            let slot = &mut table[v as usize];
            if *slot == u32::MAX {
                *slot = original.len() as u32;
                original.push(v);
            }
            *slot
        });
    } else {
        let mut map: HashMap<u32, u32> = HashMap::new();
        rename_all(func, |v| {
            *map.entry(v).or_insert_with(|| {
                original.push(v);
                original.len() as u32 - 1
            })
        });
    }
    original
}

/// Replaces every vreg number `v` of the function by `rename(v)`, params
/// first, then in body order.
fn rename_all(func: &mut Function, mut rename: impl FnMut(u32) -> u32) {
    let mut apply = |r: &mut Reg| {
        if let Reg::V(v) = r {
            *v = rename(*v);
        }
    };
    func.params.iter_mut().for_each(&mut apply);
    for inst in &mut func.body {
        for_each_reg_mut(inst, |r, _| apply(r));
    }
}

/// Physical registers the function's IR names explicitly.
pub fn named_pregs(func: &Function) -> RegSet {
    let mut set = RegSet::EMPTY;
    for inst in &func.body {
        for_each_reg(inst, |r, _| {
            if let Reg::P(p) = r {
                set = set.with(p);
            }
        });
    }
    for p in &func.params {
        if let Reg::P(p) = p {
            set = set.with(*p);
        }
    }
    set
}

/// Allocates a renumbered function. `reserved` are registers no vreg may
/// use beyond the convention's own (the heap register when the module
/// allocates).
pub fn allocate(func: &Function, num_vregs: usize, cc: &CallConv, info: &dyn CallInfo, reserved: RegSet) -> Allocation {
    let named = named_pregs(func);
    let candidates = cc.scratch_candidates.iter().copied().filter(|r| !reserved.contains(*r));
    let mut scratch =
        candidates.clone().filter(|r| !named.contains(*r)).chain(candidates.filter(|r| named.contains(*r)));
    let (Some(s0), Some(s1)) = (scratch.next(), scratch.next()) else {
        unreachable!("every convention has at least two scratch candidates it does not reserve")
    };
    let live = liveness::analyze(func, num_vregs, cc, info, RegSet::of(&[s0, s1]).intersect(named));
    let pool: Vec<PReg> =
        cc.allocatable.iter().copied().filter(|r| *r != s0 && *r != s1 && !reserved.contains(*r)).collect();
    let fp_pool: Vec<PReg> = cc.fp_allocatable.iter().copied().filter(|r| !reserved.contains(*r)).collect();
    let hints = Hints { fixed: hints(func, num_vregs, cc), operands: operand_hints(func, num_vregs) };
    let is_float = reg_class::float_vregs(func, num_vregs);
    // Each class is scanned on its own; the floats' spill slots follow
    // the integers'.
    let mut locs = vec![Loc::Spill(u32::MAX); num_vregs];
    let int_slots = linear_scan(&live, &pool, &hints, |v| !is_float[v], &mut locs);
    let fp_slots = linear_scan(&live, &fp_pool, &hints, |v| is_float[v], &mut locs);
    let mut spill_slots = int_slots + fp_slots;
    let mut used = RegSet::EMPTY;
    for (v, loc) in locs.iter_mut().enumerate() {
        match loc {
            Loc::Reg(r) => used = used.with(*r),
            Loc::Spill(s) if is_float[v] && *s != u32::MAX => *s += int_slots,
            Loc::Spill(_) => {}
        }
    }
    let parked = live.watched_busy.iter().fold(live.watched_busy_at_entry, |set, (_, regs)| set.union(*regs));
    let parked_slots = parked
        .iter()
        .map(|r| {
            spill_slots += 1;
            (r, spill_slots - 1)
        })
        .collect();
    let saved = used.union(live.pregs_written).union(RegSet::of(&[s0, s1])).intersect(cc.callee_saved).minus(reserved);
    Allocation {
        locs,
        scratch: [s0, s1],
        spill_slots,
        saved,
        pregs_live_across: live.pregs_live_across,
        parked_slots,
        parked_at: live.watched_busy,
        parked_at_entry: live.watched_busy_at_entry,
    }
}

/// The register each vreg would best live in: the physical register it is
/// copied to or from (an argument set up for a call, a result read back, a
/// parameter), so the copy disappears when the allocator can honour it.
fn hints(func: &Function, num_vregs: usize, cc: &CallConv) -> Vec<Option<PReg>> {
    let mut hints = vec![None; num_vregs];
    for (k, p) in func.params.iter().enumerate() {
        if let Reg::V(v) = p {
            hints[*v as usize] = cc.args.get(k).copied();
        }
    }
    for inst in &func.body {
        if let Inst::Mov { dst: Dst::Reg(d), src: Operand::Reg(s) } = inst {
            match (*d, *s) {
                (Reg::P(p), Reg::V(v)) | (Reg::V(v), Reg::P(p)) => {
                    hints[v as usize].get_or_insert(p);
                }
                _ => {}
            }
        }
    }
    hints
}

/// Where each vreg would best live, first to last: `fixed`, else the
/// register of the vreg in `operands` (its first operand), and not that
/// of its second.
struct Hints {
    fixed: Vec<Option<PReg>>,
    operands: Vec<OperandHint>,
}

/// The operands of the instruction that writes a vreg, for the register
/// it would best take: x86_64's two-operand instructions compute `dst op=
/// src` in place, so `dst` in `a`'s register (where `a` ends there) saves
/// the copy of `a`, and `dst` in `b`'s register costs a third register.
#[derive(Clone, Copy, Default)]
struct OperandHint {
    same_as: Option<u32>,
    not_as: Option<u32>,
}

fn operand_hints(func: &Function, num_vregs: usize) -> Vec<OperandHint> {
    let mut hints = vec![OperandHint::default(); num_vregs];
    let vreg = |r: Reg| match r {
        Reg::V(v) => Some(v),
        Reg::P(_) => None,
    };
    let src_vreg = |s: Src| match s {
        Src::Reg(r) => vreg(r),
        Src::Imm(_) => None,
    };
    for inst in &func.body {
        let (dst, same_as, not_as) = match *inst {
            Inst::Mov { dst: Dst::Reg(d), src: Operand::Reg(s) } => (d, vreg(s), None),
            Inst::Bin { dst, a, b, .. } => (dst, vreg(a), src_vreg(b)),
            Inst::Unary { dst, src, .. } => (dst, src_vreg(src), None),
            Inst::FloatBin { dst, a, b, .. } => (dst, src_vreg(a), src_vreg(b)),
            _ => continue,
        };
        if let Some(d) = vreg(dst) {
            let hint = &mut hints[d as usize];
            if hint.same_as.is_none() && hint.not_as.is_none() {
                *hint = OperandHint { same_as: same_as.filter(|a| *a != d), not_as: not_as.filter(|b| *b != d) };
            }
        }
    }
    hints
}

/// Spill slots, each shared by vregs whose intervals do not overlap, so a
/// frame holds about as many as values are spilled at once.
#[derive(Default)]
struct SpillSlots {
    count: u32,
    /// `(end of the interval, slot)` for slots in use.
    in_use: BinaryHeap<Reverse<(u32, u32)>>,
    /// `(end of its last interval, slot)` for the others.
    free: BinaryHeap<Reverse<(u32, u32)>>,
}

impl SpillSlots {
    /// Frees the slots of intervals that end before `point`.
    fn release_before(&mut self, point: u32) {
        while let Some(&Reverse((end, slot))) = self.in_use.peek() {
            if end >= point {
                break;
            }
            self.in_use.pop();
            self.free.push(Reverse((end, slot)));
        }
    }
    /// A slot for the interval `[start, end]`: one free since before its
    /// start (that of a victim began earlier than the scan's position),
    /// else a new one.
    fn take(&mut self, start: u32, end: u32) -> u32 {
        let slot = match self.free.peek() {
            Some(&Reverse((since, slot))) if since < start => {
                self.free.pop();
                slot
            }
            _ => {
                self.count += 1;
                self.count - 1
            }
        };
        self.in_use.push(Reverse((end, slot)));
        slot
    }
}

/// Allocates the vregs `in_class` selects from `pool`, writing their
/// locations into `locs`; returns the number of spill slots they use.
fn linear_scan(
    live: &Liveness,
    pool: &[PReg],
    hints: &Hints,
    in_class: impl Fn(usize) -> bool,
    locs: &mut [Loc],
) -> u32 {
    let mut order: Vec<(u32, u32, u32)> = live
        .intervals
        .iter()
        .enumerate()
        .filter(|(v, _)| in_class(*v))
        .filter_map(|(v, iv)| iv.map(|(s, e)| (s, e, v as u32)))
        .collect();
    order.sort_unstable();
    let mut slots = SpillSlots::default();
    // Active intervals: (end, vreg, register).
    let mut active: Vec<(u32, u32, PReg)> = Vec::with_capacity(pool.len());
    let mut free = RegSet::of(pool);
    let fits = |r: PReg, s: u32, e: u32| !liveness::overlaps(&live.fixed[r.0 as usize], s, e);
    for (start, end, v) in order {
        slots.release_before(start);
        active.retain(|&(e, _, r)| {
            let keep = e >= start;
            if !keep {
                free = free.with(r);
            }
            keep
        });
        let available = |r: PReg| pool.contains(&r) && free.contains(r) && fits(r, start, end);
        let register_of = |u: Option<u32>| match u.map(|u| locs[u as usize]) {
            Some(Loc::Reg(r)) => Some(r),
            _ => None,
        };
        let operands = hints.operands[v as usize];
        let avoided = register_of(operands.not_as);
        let chosen = hints.fixed[v as usize]
            .filter(|r| available(*r))
            .or_else(|| register_of(operands.same_as).filter(|r| available(*r)))
            .or_else(|| pool.iter().copied().find(|r| available(*r) && Some(*r) != avoided))
            .or_else(|| avoided.filter(|r| available(*r)));
        if let Some(r) = chosen {
            free = free.without(r);
            active.push((end, v, r));
            locs[v as usize] = Loc::Reg(r);
            continue;
        }
        // No register: spill whichever of this interval and the active ones
        // (whose register this interval could use) costs least.
        let active_cost = |&(e, u, _): &(u32, u32, PReg)| {
            let (s, _) = live.intervals[u as usize].expect("an active vreg has an interval");
            spill_cost(live, u, s, e)
        };
        let victim = active
            .iter()
            .enumerate()
            .filter(|(_, &(_, _, r))| fits(r, start, end))
            .min_by_key(|(_, a)| active_cost(a))
            .filter(|(_, a)| active_cost(a) < spill_cost(live, v, start, end))
            .map(|(k, _)| k);
        match victim {
            Some(k) => {
                let (spilled_end, spilled, r) = active.swap_remove(k);
                let (spilled_start, _) = live.intervals[spilled as usize].expect("an active vreg has an interval");
                locs[spilled as usize] = Loc::Spill(slots.take(spilled_start, spilled_end));
                active.push((end, v, r));
                locs[v as usize] = Loc::Reg(r);
            }
            None => locs[v as usize] = Loc::Spill(slots.take(start, end)),
        }
    }
    slots.count
}

/// What spilling vreg `v` of interval `[start, end]` costs, to compare: its
/// occurrences' weights (`Liveness::use_weights`) per point of the
/// interval, so values used in inner loops keep registers before values
/// that live long and are used seldom; of equal weights, ending later
/// costs less.
fn spill_cost(live: &Liveness, v: u32, start: u32, end: u32) -> (u32, Reverse<u32>) {
    let weight = live.use_weights[v as usize] / (end - start + 1) as f32;
    // A non-negative float's bits order as the float does.
    (weight.to_bits(), Reverse(end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{BinOp, Dst, Function, Inst, Isa, Label, Operand, Src};
    use crate::regs::{call_conv, x86};

    struct NoInfo;
    impl CallInfo for NoInfo {
        fn call_arity(&self, _: &str) -> Option<u32> {
            Some(1)
        }
        fn syscall_plan(&self, _: usize) -> Option<crate::operands::Plan> {
            None
        }
        fn returns_value(&self) -> bool {
            true
        }
    }

    fn func(body: Vec<Inst>, labels: usize) -> Function {
        Function {
            name: "f".into(),
            arity: 1,
            exported: false,
            params: vec![Reg::V(0)],
            locals: 0,
            body,
            labels: (0..labels).map(|i| format!("l{i}")).collect(),
            ..Default::default()
        }
    }

    fn mov(dst: Reg, src: Reg) -> Inst {
        Inst::Mov { dst: Dst::Reg(dst), src: Operand::Reg(src) }
    }

    fn alloc(f: &mut Function) -> Allocation {
        let n = renumber(f).len();
        allocate(f, n, call_conv(Isa::X86_64), &NoInfo, RegSet::EMPTY)
    }

    #[test]
    fn values_live_across_calls_avoid_caller_saved_registers() {
        let cc = call_conv(Isa::X86_64);
        let mut f = func(
            vec![
                mov(Reg::P(x86::RDI), Reg::V(0)),
                Inst::Call("g".into()),
                Inst::Bin { op: BinOp::Add, dst: Reg::V(1), a: Reg::V(0), b: Src::Imm(1) },
                mov(Reg::P(x86::RAX), Reg::V(1)),
                Inst::Ret,
            ],
            0,
        );
        let a = alloc(&mut f);
        match a.loc(0) {
            Loc::Reg(r) => assert!(cc.callee_saved.contains(r), "v0 in {r:?}"),
            Loc::Spill(_) => {}
        }
        if let Loc::Reg(r) = a.loc(0) {
            assert!(a.saved.contains(r));
        }
    }

    #[test]
    fn a_call_that_never_returns_leaves_caller_saved_registers_usable() {
        // v1 spans the panic path's call, which a Trap follows: nothing
        // after that call reads v1, so v1 may sit in a caller-saved register.
        let cc = call_conv(Isa::X86_64);
        let ok = Label(0);
        let mut f = func(
            vec![
                Inst::Bin { op: BinOp::Add, dst: Reg::V(1), a: Reg::V(0), b: Src::Imm(1) },
                Inst::Cmp { a: Reg::V(0), b: Src::Imm(10) },
                Inst::Jcc(crate::ir::Cond::Lt, ok),
                Inst::CallWith { callee: "panic".into(), args: vec![Src::Reg(Reg::V(0))], dst: None },
                Inst::Trap,
                Inst::Label(ok),
                mov(Reg::P(x86::RAX), Reg::V(1)),
                Inst::Ret,
            ],
            1,
        );
        let a = alloc(&mut f);
        match a.loc(1) {
            Loc::Reg(r) => assert!(cc.caller_saved.contains(r), "v1 in {r:?}"),
            Loc::Spill(_) => panic!("v1 spilled"),
        }
    }

    #[test]
    fn loop_carried_values_keep_their_register_through_the_loop() {
        // v1 is read at the top of the loop and written at the bottom: its
        // interval must cover the whole loop, so v2 (live inside) cannot
        // share its register.
        let top = Label(0);
        let mut f = func(
            vec![
                Inst::Mov { dst: Dst::Reg(Reg::V(1)), src: Operand::Imm(0) },
                Inst::Label(top),
                Inst::Bin { op: BinOp::Add, dst: Reg::V(2), a: Reg::V(1), b: Src::Imm(1) },
                Inst::Bin { op: BinOp::Add, dst: Reg::V(1), a: Reg::V(2), b: Src::Reg(Reg::V(0)) },
                Inst::Cmp { a: Reg::V(1), b: Src::Imm(100) },
                Inst::Jcc(crate::ir::Cond::Lt, top),
                mov(Reg::P(x86::RAX), Reg::V(1)),
                Inst::Ret,
            ],
            1,
        );
        let a = alloc(&mut f);
        assert_ne!(a.loc(0), a.loc(1));
        assert_ne!(a.loc(1), a.loc(2));
        assert_ne!(a.loc(0), a.loc(2));
    }

    #[test]
    fn a_float_result_stays_out_of_its_second_operands_register() {
        // v3 = v1 / v2 where v2 ends there and v1 lives on: in v2's
        // register, x86's `divsd` (in place on its first operand) would
        // need a copy of v1 into a third register and one back.
        use crate::ir::FloatOp;
        let mut f = func(
            vec![
                Inst::IntToFloat { dst: Reg::V(1), src: Src::Reg(Reg::V(0)) },
                Inst::IntToFloat { dst: Reg::V(2), src: Src::Imm(3) },
                Inst::FloatBin { op: FloatOp::Div, dst: Reg::V(3), a: Src::Reg(Reg::V(1)), b: Src::Reg(Reg::V(2)) },
                Inst::FloatBin { op: FloatOp::Add, dst: Reg::V(4), a: Src::Reg(Reg::V(3)), b: Src::Reg(Reg::V(1)) },
                Inst::FloatToInt { dst: Reg::V(5), src: Src::Reg(Reg::V(4)) },
                Inst::Cmp { a: Reg::V(5), b: Src::Imm(0) },
                Inst::Ret,
            ],
            0,
        );
        let a = alloc(&mut f);
        assert!(matches!(a.loc(3), Loc::Reg(_)));
        assert_ne!(a.loc(3), a.loc(2));
    }

    #[test]
    fn many_simultaneous_values_spill_to_distinct_slots() {
        let n = 40u32;
        let mut body: Vec<Inst> = (1..=n)
            .map(|v| Inst::Bin { op: BinOp::Add, dst: Reg::V(v), a: Reg::V(0), b: Src::Imm(v as i64) })
            .collect();
        for v in 1..=n {
            body.push(Inst::Bin { op: BinOp::Add, dst: Reg::V(0), a: Reg::V(0), b: Src::Reg(Reg::V(v)) });
        }
        body.push(mov(Reg::P(x86::RAX), Reg::V(0)));
        body.push(Inst::Ret);
        let mut f = func(body, 0);
        let a = alloc(&mut f);
        let spilled: Vec<u32> =
            a.locs.iter().filter_map(|l| if let Loc::Spill(s) = l { Some(*s) } else { None }).collect();
        assert!(!spilled.is_empty());
        let mut unique = spilled.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), spilled.len());
        let regs: Vec<PReg> = a.locs.iter().filter_map(|l| if let Loc::Reg(r) = l { Some(*r) } else { None }).collect();
        assert!(regs.iter().all(|r| !a.scratch.contains(r)));
    }

    #[test]
    fn values_spilled_one_after_another_share_slots() {
        // Two rounds of 40 values live at once, the second after the first.
        let n = 40u32;
        let mut body = Vec::new();
        for round in 0..2 {
            let first = 1 + round * n;
            body.extend((first..first + n).map(|v| Inst::Bin {
                op: BinOp::Add,
                dst: Reg::V(v),
                a: Reg::V(0),
                b: Src::Imm(v as i64),
            }));
            body.extend((first..first + n).map(|v| Inst::Bin {
                op: BinOp::Add,
                dst: Reg::V(0),
                a: Reg::V(0),
                b: Src::Reg(Reg::V(v)),
            }));
        }
        body.push(mov(Reg::P(x86::RAX), Reg::V(0)));
        body.push(Inst::Ret);
        let mut f = func(body, 0);
        let a = alloc(&mut f);
        let spilled = |vregs: std::ops::Range<u32>| vregs.filter(|v| matches!(a.loc(*v), Loc::Spill(_))).count();
        let (first, second) = (spilled(1..1 + n), spilled(1 + n..1 + 2 * n));
        assert!(second > 0);
        assert_eq!(a.spill_slots as usize, first.max(second) + spilled(0..1));
    }

    #[test]
    fn values_used_in_loops_keep_registers_before_values_used_outside() {
        // v1, the loop's counter, is set first and lives longest; v2..=v21,
        // more values than registers, are each set and read once before the
        // loop. Spilling what ends last would spill the counter.
        let outer: std::ops::RangeInclusive<u32> = 2..=21;
        let mut body = vec![Inst::Mov { dst: Dst::Reg(Reg::V(1)), src: Operand::Imm(0) }];
        body.extend(outer.clone().map(|v| Inst::Bin {
            op: BinOp::Add,
            dst: Reg::V(v),
            a: Reg::V(0),
            b: Src::Imm(v as i64),
        }));
        body.extend(outer.clone().map(|v| Inst::Bin {
            op: BinOp::Add,
            dst: Reg::V(0),
            a: Reg::V(0),
            b: Src::Reg(Reg::V(v)),
        }));
        let top = Label(0);
        body.extend([
            Inst::Label(top),
            Inst::Bin { op: BinOp::Add, dst: Reg::V(1), a: Reg::V(1), b: Src::Imm(1) },
            Inst::Cmp { a: Reg::V(1), b: Src::Imm(100) },
            Inst::Jcc(crate::ir::Cond::Lt, top),
            mov(Reg::P(x86::RAX), Reg::V(1)),
            Inst::Ret,
        ]);
        let mut f = func(body, 1);
        let a = alloc(&mut f);
        assert!(outer.into_iter().any(|v| matches!(a.loc(v), Loc::Spill(_))), "too few values to spill any");
        assert!(matches!(a.loc(1), Loc::Reg(_)), "the loop's counter is spilled");
    }

    #[test]
    fn fixed_registers_are_not_given_to_overlapping_values() {
        // rdi holds an argument from its write to the call; v1 lives across
        // that range and must not be put in rdi.
        let mut f = func(
            vec![
                Inst::Mov { dst: Dst::Reg(Reg::V(1)), src: Operand::Imm(5) },
                mov(Reg::P(x86::RDI), Reg::V(0)),
                Inst::Bin { op: BinOp::Add, dst: Reg::V(2), a: Reg::V(1), b: Src::Imm(1) },
                Inst::Call("g".into()),
                mov(Reg::P(x86::RAX), Reg::V(2)),
                Inst::Ret,
            ],
            0,
        );
        let a = alloc(&mut f);
        assert_ne!(a.loc(1), Loc::Reg(x86::RDI));
    }
}
