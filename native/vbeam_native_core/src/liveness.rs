//! Control-flow graph, liveness and live intervals of one function.
//!
//! Program points: the function entry (where parameters are defined) owns
//! points 0..=2 and instruction `i` owns `3(i+1)` (its reads), `3(i+1)+1`
//! (registers it clobbers) and `3(i+1)+2` (its writes). An operand read by
//! the last use at instruction `i` thus never conflicts with a register the
//! instruction clobbers, while a value live across it always does.
//!
//! A vreg gets one interval `[first point, last point]` covering every point
//! where it is live (no holes: simple and conservative). A physical register
//! named by the IR, or clobbered by an instruction, gets exact segments: the
//! allocator keeps vregs out of a register while its segments overlap them.

use crate::ir::{Function, Inst, PReg, Reg};
use crate::operands::{for_each_reg, implicit, CallInfo, Implicit, Role};
use crate::regs::{CallConv, RegSet};

pub const ENTRY_DEF: u32 = 2;

pub fn use_point(i: usize) -> u32 {
    3 * (i as u32 + 1)
}
pub fn clobber_point(i: usize) -> u32 {
    use_point(i) + 1
}
pub fn def_point(i: usize) -> u32 {
    use_point(i) + 2
}

/// A basic block: the instructions `start..end` of the body.
#[derive(Clone, Debug)]
pub struct Block {
    pub start: usize,
    pub end: usize,
    pub succs: [Option<usize>; 2],
}

/// Splits the body into basic blocks (a label starts one, a branch or `ret`
/// ends one). `label_block[l]` is the block label `l` starts.
pub fn blocks(func: &Function) -> (Vec<Block>, Vec<usize>) {
    let body = &func.body;
    let mut starts = vec![0usize];
    for (i, inst) in body.iter().enumerate() {
        match inst {
            Inst::Label(_) if i > 0 && *starts.last().unwrap() != i => starts.push(i),
            Inst::Jmp(_) | Inst::Jcc(..) | Inst::Ret | Inst::Trap if i + 1 < body.len() => starts.push(i + 1),
            _ => {}
        }
    }
    starts.dedup();
    let mut label_block = vec![usize::MAX; func.labels.len()];
    let mut blocks: Vec<Block> = Vec::with_capacity(starts.len());
    for (b, &start) in starts.iter().enumerate() {
        let end = starts.get(b + 1).copied().unwrap_or(body.len());
        for inst in &body[start..end] {
            if let Inst::Label(l) = inst {
                label_block[l.0 as usize] = b;
            }
        }
        blocks.push(Block { start, end, succs: [None, None] });
    }
    let n = blocks.len();
    for (b, block) in blocks.iter_mut().enumerate() {
        let next = (b + 1 < n).then_some(b + 1);
        block.succs = match body[block.start..block.end].last() {
            Some(Inst::Jmp(l)) => [Some(label_block[l.0 as usize]), None],
            Some(Inst::Jcc(_, l)) => [Some(label_block[l.0 as usize]), next],
            Some(Inst::Ret | Inst::Trap) => [None, None],
            _ => [next, None],
        };
    }
    (blocks, label_block)
}

/// Per-instruction facts the allocator and the lowering share.
pub struct Liveness {
    /// Per dense vreg: `[start, end]` points, or `None` for a vreg that never occurs.
    pub intervals: Vec<Option<(u32, u32)>>,
    /// Per physical register: sorted, disjoint `[start, end]` segments where
    /// the register is not available to vregs.
    pub fixed: Vec<Vec<(u32, u32)>>,
    /// Physical registers the IR writes explicitly or implicitly.
    pub pregs_written: RegSet,
    /// For instructions that call runtime routines or destroy registers
    /// for themselves: the physical registers the IR keeps live across them.
    pub pregs_live_across: Vec<(usize, RegSet)>,
}

/// One bit set over dense vregs per basic block, in one allocation.
struct BlockBits {
    words: usize,
    bits: Vec<u64>,
}

impl BlockBits {
    fn new(blocks: usize, vregs: usize) -> BlockBits {
        let words = vregs.div_ceil(64);
        BlockBits { words, bits: vec![0; blocks * words] }
    }
    fn row(&self, b: usize) -> &[u64] {
        &self.bits[b * self.words..(b + 1) * self.words]
    }
    fn row_mut(&mut self, b: usize) -> &mut [u64] {
        &mut self.bits[b * self.words..(b + 1) * self.words]
    }
    fn set(&mut self, b: usize, v: u32) {
        self.bits[b * self.words + v as usize / 64] |= 1 << (v % 64);
    }
    fn contains(&self, b: usize, v: u32) -> bool {
        self.bits[b * self.words + v as usize / 64] >> (v % 64) & 1 != 0
    }
    /// The vregs in block `b`'s set.
    fn iter(&self, b: usize) -> impl Iterator<Item = u32> + '_ {
        self.row(b).iter().enumerate().flat_map(|(w, &bits)| {
            let mut rest = bits;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let t = rest.trailing_zeros();
                    rest &= rest - 1;
                    w as u32 * 64 + t
                })
            })
        })
    }
}

/// Uses and defs of one instruction, explicit and implicit, split into
/// vregs and physical registers.
struct Effects {
    /// `vregs[start..split]` are read, `vregs[split..end]` written.
    start: u32,
    split: u32,
    end: u32,
    puses: RegSet,
    pdefs: RegSet,
    imp: Implicit,
}

/// The effects of every instruction, computed once for both passes, and
/// the vregs they name.
fn effects(func: &Function, cc: &CallConv, info: &dyn CallInfo) -> (Vec<Effects>, Vec<u32>) {
    let mut vregs = Vec::with_capacity(3 * func.body.len());
    let mut defs = Vec::new();
    let all = func
        .body
        .iter()
        .enumerate()
        .map(|(i, inst)| {
            let imp = implicit(inst, i, cc, info);
            let (mut puses, mut pdefs) = (imp.uses, imp.defs);
            let start = vregs.len() as u32;
            defs.clear();
            for_each_reg(inst, |r, role| match (r, role) {
                (Reg::V(v), Role::Use) => vregs.push(v),
                (Reg::V(v), Role::Def) => defs.push(v),
                (Reg::P(p), Role::Use) => puses = puses.with(p),
                (Reg::P(p), Role::Def) => pdefs = pdefs.with(p),
            });
            let split = vregs.len() as u32;
            vregs.extend_from_slice(&defs);
            Effects { start, split, end: vregs.len() as u32, puses, pdefs, imp }
        })
        .collect();
    (all, vregs)
}

/// Computes liveness of a function whose vregs are dense `0..num_vregs`.
pub fn analyze(func: &Function, num_vregs: usize, cc: &CallConv, info: &dyn CallInfo) -> Liveness {
    let (blocks, _) = blocks(func);
    let nb = blocks.len();
    let (effects, vregs) = effects(func, cc, info);

    // Local gen/kill sets.
    let mut vgen = BlockBits::new(nb, num_vregs);
    let mut vkill = BlockBits::new(nb, num_vregs);
    let mut pgen = vec![RegSet::EMPTY; nb];
    let mut pkill = vec![RegSet::EMPTY; nb];
    let mut pregs_written = RegSet::EMPTY;
    for (b, block) in blocks.iter().enumerate() {
        for fx in &effects[block.start..block.end] {
            for &v in &vregs[fx.start as usize..fx.split as usize] {
                if !vkill.contains(b, v) {
                    vgen.set(b, v);
                }
            }
            for &v in &vregs[fx.split as usize..fx.end as usize] {
                vkill.set(b, v);
            }
            pgen[b] = pgen[b].union(fx.puses.minus(pkill[b]));
            pkill[b] = pkill[b].union(fx.pdefs);
            pregs_written = pregs_written.union(fx.pdefs);
        }
    }

    // Backward dataflow to a fixed point.
    let mut vin = BlockBits::new(nb, num_vregs);
    let mut vout = BlockBits::new(nb, num_vregs);
    let mut pin = vec![RegSet::EMPTY; nb];
    let mut pout = vec![RegSet::EMPTY; nb];
    let mut changed = true;
    while changed {
        changed = false;
        for b in (0..nb).rev() {
            let mut po = RegSet::EMPTY;
            for &s in blocks[b].succs.iter().flatten() {
                for w in 0..vout.words {
                    vout.row_mut(b)[w] |= vin.row(s)[w];
                }
                po = po.union(pin[s]);
            }
            for w in 0..vin.words {
                let live_in = vgen.row(b)[w] | (vout.row(b)[w] & !vkill.row(b)[w]);
                if live_in != vin.row(b)[w] {
                    vin.row_mut(b)[w] = live_in;
                    changed = true;
                }
            }
            let pi = pgen[b].union(po.minus(pkill[b]));
            if pi != pin[b] {
                pin[b] = pi;
                changed = true;
            }
            pout[b] = po;
        }
    }

    // Vreg intervals.
    let mut intervals: Vec<Option<(u32, u32)>> = vec![None; num_vregs];
    let mut extend = |v: u32, p: u32| {
        let slot = &mut intervals[v as usize];
        *slot = Some(match *slot {
            None => (p, p),
            Some((s, e)) => (s.min(p), e.max(p)),
        });
    };
    for r in &func.params {
        if let Reg::V(v) = r {
            extend(*v, ENTRY_DEF);
        }
    }
    let mut fixed: Vec<Vec<(u32, u32)>> = vec![Vec::new(); 32];
    let mut pregs_live_across = Vec::new();
    for (b, block) in blocks.iter().enumerate() {
        let (first, last) = (block.start, block.end.max(block.start + 1) - 1);
        let block_start = if b == 0 { 0 } else { use_point(first) };
        let block_end = def_point(last);
        for v in vin.iter(b) {
            extend(v, block_start);
        }
        for v in vout.iter(b) {
            extend(v, block_end);
        }
        // Backward scan for exact physical-register segments.
        let mut live = pout[b];
        let mut open_end = [0u32; 32];
        for p in live.iter() {
            open_end[p.0 as usize] = block_end;
        }
        for i in (block.start..block.end).rev() {
            let fx = &effects[i];
            for &v in &vregs[fx.start as usize..fx.split as usize] {
                extend(v, use_point(i));
            }
            for &v in &vregs[fx.split as usize..fx.end as usize] {
                extend(v, def_point(i));
            }
            if fx.imp.runtime_call || !fx.imp.clobbers_operands.is_empty() || !fx.imp.preserves.is_empty() {
                pregs_live_across.push((i, live.minus(fx.pdefs)));
            }
            for p in fx.pdefs.iter() {
                let end = if live.contains(p) { open_end[p.0 as usize] } else { def_point(i) };
                fixed[p.0 as usize].push((def_point(i), end));
                live = live.without(p);
            }
            for p in fx.imp.clobbers.iter() {
                fixed[p.0 as usize].push((clobber_point(i), clobber_point(i)));
            }
            for p in fx.imp.clobbers_operands.iter() {
                fixed[p.0 as usize].push((use_point(i), def_point(i)));
            }
            for p in fx.puses.iter() {
                if !live.contains(p) {
                    open_end[p.0 as usize] = use_point(i);
                    live = live.with(p);
                }
            }
        }
        for p in live.iter() {
            fixed[p.0 as usize].push((block_start, open_end[p.0 as usize]));
        }
    }
    for segs in &mut fixed {
        segs.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(segs.len());
        for &(s, e) in segs.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1 + 1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *segs = merged;
    }
    pregs_live_across.sort_unstable_by_key(|(i, _)| *i);
    Liveness { intervals, fixed, pregs_written, pregs_live_across }
}

/// Whether `[s, e]` overlaps one of the sorted, disjoint `segments`.
pub fn overlaps(segments: &[(u32, u32)], s: u32, e: u32) -> bool {
    let i = segments.partition_point(|&(_, end)| end < s);
    segments.get(i).is_some_and(|&(start, _)| start <= e)
}

pub fn preg_segments(l: &Liveness, p: PReg) -> &[(u32, u32)] {
    &l.fixed[p.0 as usize]
}
