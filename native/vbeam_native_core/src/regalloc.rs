//! Linear-scan register allocation (after Poletto & Sarkar) over the live
//! intervals of `liveness`, with the physical registers the IR names and the
//! registers calls clobber as fixed segments.
//!
//! A vreg lives in one register, or in one spill slot, for its whole
//! interval ("spill everywhere"): the lowerer reads and writes spilled vregs
//! through the function's two scratch registers. Values live across calls
//! therefore land in callee-saved registers or on the stack, never in a
//! register a call destroys, and loops need no special care because an
//! interval already covers every point where its vreg is live.

use std::collections::HashMap;

use crate::error::CompileError;
use crate::ir::{Function, PReg, Reg};
use crate::liveness::{self, Liveness};
use crate::operands::{for_each_reg, for_each_reg_mut, CallInfo};
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
}

impl Allocation {
    pub fn loc(&self, vreg: u32) -> Loc {
        self.locs[vreg as usize]
    }
    pub fn live_across(&self, index: usize) -> RegSet {
        match self.pregs_live_across.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(k) => self.pregs_live_across[k].1,
            Err(_) => RegSet::EMPTY,
        }
    }
}

/// Renames the function's vregs to `0..n` in order of first appearance
/// (params first) and returns `n`, so later passes can use plain vectors.
pub fn renumber(func: &mut Function) -> usize {
    let mut map: HashMap<u32, u32> = HashMap::new();
    let mut rename = |r: &mut Reg| {
        if let Reg::V(v) = r {
            let next = map.len() as u32;
            *v = *map.entry(*v).or_insert(next);
        }
    };
    for p in &mut func.params {
        rename(p);
    }
    for inst in &mut func.body {
        for_each_reg_mut(inst, |r, _| rename(r));
    }
    map.len()
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
pub fn allocate(
    func: &Function,
    num_vregs: usize,
    cc: &CallConv,
    info: &dyn CallInfo,
    reserved: RegSet,
) -> Result<Allocation, CompileError> {
    let named = named_pregs(func);
    let mut scratch_iter = cc.scratch_candidates.iter().copied().filter(|r| !named.contains(*r) && !reserved.contains(*r));
    let (Some(s0), Some(s1)) = (scratch_iter.next(), scratch_iter.next()) else {
        return Err(CompileError::InvalidFunction {
            function: func.name.clone(),
            reason: "the function names every register the backend could use as scratch".into(),
        });
    };
    let live = liveness::analyze(func, num_vregs, cc, info);
    let pool: Vec<PReg> = cc
        .allocatable
        .iter()
        .copied()
        .filter(|r| *r != s0 && *r != s1 && !reserved.contains(*r))
        .collect();
    let locs = linear_scan(&live, &pool);
    let mut spill_slots = 0;
    let mut used = RegSet::EMPTY;
    for loc in &locs {
        match loc {
            Loc::Reg(r) => used = used.with(*r),
            Loc::Spill(s) => spill_slots = spill_slots.max(s + 1),
        }
    }
    let saved = used.union(live.pregs_written).union(RegSet::of(&[s0, s1])).intersect(cc.callee_saved).minus(reserved);
    Ok(Allocation { locs, scratch: [s0, s1], spill_slots, saved, pregs_live_across: live.pregs_live_across })
}

fn linear_scan(live: &Liveness, pool: &[PReg]) -> Vec<Loc> {
    let mut order: Vec<(u32, u32, u32)> = live
        .intervals
        .iter()
        .enumerate()
        .filter_map(|(v, iv)| iv.map(|(s, e)| (s, e, v as u32)))
        .collect();
    order.sort_unstable();
    let mut locs = vec![Loc::Spill(u32::MAX); live.intervals.len()];
    let mut next_slot = 0u32;
    // Active intervals: (end, vreg, register).
    let mut active: Vec<(u32, u32, PReg)> = Vec::with_capacity(pool.len());
    let mut free = RegSet::of(pool);
    let fits = |r: PReg, s: u32, e: u32| !liveness::overlaps(&live.fixed[r.0 as usize], s, e);
    for (start, end, v) in order {
        active.retain(|&(e, _, r)| {
            let keep = e >= start;
            if !keep {
                free = free.with(r);
            }
            keep
        });
        if let Some(r) = pool.iter().copied().find(|r| free.contains(*r) && fits(*r, start, end)) {
            free = free.without(r);
            active.push((end, v, r));
            locs[v as usize] = Loc::Reg(r);
            continue;
        }
        // No register: spill whichever of this interval and the active ones
        // (whose register this interval could use) ends last.
        let victim = active
            .iter()
            .enumerate()
            .filter(|(_, &(e, _, r))| e > end && fits(r, start, end))
            .max_by_key(|(_, &(e, _, _))| e)
            .map(|(k, _)| k);
        match victim {
            Some(k) => {
                let (_, spilled, r) = active.swap_remove(k);
                locs[spilled as usize] = Loc::Spill(next_slot);
                next_slot += 1;
                active.push((end, v, r));
                locs[v as usize] = Loc::Reg(r);
            }
            None => {
                locs[v as usize] = Loc::Spill(next_slot);
                next_slot += 1;
            }
        }
    }
    locs
}
