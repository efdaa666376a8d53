//! Control-flow graph, liveness and live intervals of one function.
//!
//! Program points: the function entry (where parameters are defined) owns
//! points 0..=2 and instruction `i` owns `3(i+1)` (its reads), `3(i+1)+1`
//! (registers it clobbers) and `3(i+1)+2` (its writes). An operand read by
//! the last use at instruction `i` thus never conflicts with a register the
//! instruction clobbers, while a value live across it always does.
//!
//! A physical register named by the IR, or clobbered by an instruction, gets
//! exact segments from a dataflow over register sets (a machine word per
//! block): the allocator keeps vregs out of a register while its segments
//! overlap them.
//!
//! A vreg gets one interval `[first point, last point]` (no holes: simple
//! and conservative) covering every point where it holds a value a later
//! instruction may read. A read that no write reaches holds an unspecified
//! value (the spec), so paths from the entry to such reads need no cover.
//! Intervals are built without sets of live vregs per block, whose total
//! size is blocks × values: quadratic for a long function whose values stay
//! live. Call an edge to a block at or before its source a back edge:
//!
//! - A path without back edges runs forward through the body, so a value
//!   written at d and read at u is live only within `[d, u]`, which the
//!   span of the vreg's occurrences covers.
//! - A back edge t → h carries a value only if the vreg is live into h,
//!   and the interval must then cover the whole span of h..=t. A path that
//!   leaves an interval must come back into it over a back edge whose span
//!   overlaps the interval, so closing every interval under the spans that
//!   overlap it (for back edges that carry the vreg) covers every path.
//! - Whether a vreg is live into a loop header: a vreg written once, in a
//!   block that dominates its reads (most values), can only be if that
//!   block strictly dominates the header. Any other is not if the header
//!   writes it before reading it; else a walk back from its reads tells,
//!   within a budget of blocks that grows with its occurrences (past it,
//!   the vreg is taken as live into every header).
//!
//! Time and memory are linear in the size of the function, but for the
//! dominator iteration (a few passes over the blocks in practice), the
//! register-set dataflow (as many passes as loops nest) and finding the
//! loops around a block (a logarithm of the blocks, twice per vreg).

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

impl Block {
    /// The block's first point (the entry's for the first block).
    fn first_point(&self, b: usize) -> u32 {
        if b == 0 {
            0
        } else {
            use_point(self.start)
        }
    }
    fn last_point(&self) -> u32 {
        def_point(self.end.max(self.start + 1) - 1)
    }
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
    /// For each instruction where one of the registers `analyze` watches
    /// holds a value of the IR (an operand, or a value live across it):
    /// those registers, sorted by instruction.
    pub watched_busy: Vec<(usize, RegSet)>,
    /// The watched registers whose value at the entry the IR reads.
    pub watched_busy_at_entry: RegSet,
    /// Per dense vreg: the sum over its occurrences of their weights (see
    /// `occurrence_weights`), what spilling it costs.
    pub use_weights: Vec<f32>,
}

/// The blocks with their predecessors, and the blocks the entry reaches.
pub(crate) struct Cfg {
    pub(crate) blocks: Vec<Block>,
    /// The predecessors of block b are `preds[pred_start[b]..pred_start[b + 1]]`.
    pred_start: Vec<u32>,
    preds: Vec<u32>,
    /// The blocks the entry reaches, in reverse postorder.
    pub(crate) rpo: Vec<u32>,
    /// Each block's position in `rpo`, `UNREACHABLE` for the others.
    pub(crate) rpo_index: Vec<u32>,
}

const UNREACHABLE: u32 = u32::MAX;

impl Cfg {
    pub(crate) fn new(func: &Function) -> Cfg {
        let (blocks, _) = blocks(func);
        let n = blocks.len();
        let mut pred_start = vec![0u32; n + 1];
        for block in &blocks {
            for &s in block.succs.iter().flatten() {
                pred_start[s + 1] += 1;
            }
        }
        for b in 0..n {
            pred_start[b + 1] += pred_start[b];
        }
        let mut next = pred_start.clone();
        let mut preds = vec![0u32; pred_start[n] as usize];
        for (b, block) in blocks.iter().enumerate() {
            for &s in block.succs.iter().flatten() {
                preds[next[s] as usize] = b as u32;
                next[s] += 1;
            }
        }
        // Depth-first from the entry: (block, successors visited so far).
        // A block is marked reached with 0 and numbered at the end.
        let mut rpo_index = vec![UNREACHABLE; n];
        let mut postorder = Vec::with_capacity(n);
        let mut stack = vec![(0usize, 0usize)];
        rpo_index[0] = 0;
        while let Some(top) = stack.last_mut() {
            let (b, visited) = *top;
            if visited == 2 {
                postorder.push(b as u32);
                stack.pop();
                continue;
            }
            top.1 += 1;
            if let Some(s) = blocks[b].succs[visited] {
                if rpo_index[s] == UNREACHABLE {
                    rpo_index[s] = 0;
                    stack.push((s, 0));
                }
            }
        }
        let mut rpo = postorder;
        rpo.reverse();
        for (k, &b) in rpo.iter().enumerate() {
            rpo_index[b as usize] = k as u32;
        }
        Cfg { blocks, pred_start, preds, rpo, rpo_index }
    }
    pub(crate) fn preds(&self, b: usize) -> &[u32] {
        &self.preds[self.pred_start[b] as usize..self.pred_start[b + 1] as usize]
    }
    pub(crate) fn reachable(&self, b: usize) -> bool {
        self.rpo_index[b] != UNREACHABLE
    }
    /// The back edges t → h of reachable blocks, as `(h, t)`.
    fn back_edges(&self) -> Vec<(u32, u32)> {
        let mut edges = Vec::new();
        for &t in &self.rpo {
            for &h in self.blocks[t as usize].succs.iter().flatten() {
                if h <= t as usize {
                    edges.push((h as u32, t));
                }
            }
        }
        edges
    }
}

/// The dominator tree of the reachable blocks (the iteration of Cooper,
/// Harvey and Kennedy over reverse postorder), numbered in preorder so that
/// whether a block dominates another is two comparisons.
pub(crate) struct Dominators {
    /// By position in reverse postorder: preorder number and subtree size.
    pub(crate) pre: Vec<u32>,
    pub(crate) size: Vec<u32>,
}

impl Dominators {
    pub(crate) fn new(cfg: &Cfg) -> Dominators {
        let m = cfg.rpo.len();
        // Immediate dominators, as positions in reverse postorder.
        let mut idom = vec![UNREACHABLE; m];
        idom[0] = 0;
        let mut changed = true;
        while changed {
            changed = false;
            for k in 1..m {
                let mut new = UNREACHABLE;
                for &p in cfg.preds(cfg.rpo[k] as usize) {
                    let p = cfg.rpo_index[p as usize];
                    if p == UNREACHABLE || idom[p as usize] == UNREACHABLE {
                        continue;
                    }
                    new = if new == UNREACHABLE { p } else { common_dominator(&idom, p, new) };
                }
                if idom[k] != new {
                    idom[k] = new;
                    changed = true;
                }
            }
        }
        // A block's immediate dominator comes before it in reverse
        // postorder: sizes fold back to front, numbers go front to back.
        let mut size = vec![1u32; m];
        for k in (1..m).rev() {
            size[idom[k] as usize] += size[k];
        }
        let mut pre = vec![0u32; m];
        let mut next_free = vec![1u32; m];
        for k in 1..m {
            let parent = idom[k] as usize;
            pre[k] = next_free[parent];
            next_free[parent] += size[k];
            next_free[k] = pre[k] + 1;
        }
        Dominators { pre, size }
    }
    /// Whether reachable block `a` dominates reachable block `b`.
    fn dominates(&self, cfg: &Cfg, a: usize, b: usize) -> bool {
        let (a, b) = (cfg.rpo_index[a] as usize, cfg.rpo_index[b] as usize);
        self.pre[a] <= self.pre[b] && self.pre[b] < self.pre[a] + self.size[a]
    }
}

fn common_dominator(idom: &[u32], mut a: u32, mut b: u32) -> u32 {
    while a != b {
        while a > b {
            a = idom[a as usize];
        }
        while b > a {
            b = idom[b as usize];
        }
    }
    a
}

/// The spans `h..=t` of the back edges, so that those containing a block
/// are found in a logarithm of the blocks plus their number: a segment tree
/// over the blocks, each span stored at the nodes that cover it.
struct LoopSpans {
    leaves: usize,
    /// The back edges stored at node k are `edges[node_start[k]..node_start[k + 1]]`.
    node_start: Vec<u32>,
    edges: Vec<u32>,
}

impl LoopSpans {
    fn new(blocks: usize, spans: &[(u32, u32)]) -> LoopSpans {
        let leaves = blocks.next_power_of_two();
        let mut node_start = vec![0u32; 2 * leaves + 1];
        cover(leaves, spans, |node, _| node_start[node + 1] += 1);
        for k in 0..2 * leaves {
            node_start[k + 1] += node_start[k];
        }
        let mut next = node_start.clone();
        let mut edges = vec![0u32; node_start[2 * leaves] as usize];
        cover(leaves, spans, |node, e| {
            edges[next[node] as usize] = e;
            next[node] += 1;
        });
        LoopSpans { leaves, node_start, edges }
    }
    /// The back edges whose span contains block `b`.
    fn containing(&self, b: usize) -> impl Iterator<Item = u32> + '_ {
        std::iter::successors(Some(b + self.leaves), |&node| (node > 1).then_some(node / 2))
            .flat_map(|node| &self.edges[self.node_start[node] as usize..self.node_start[node + 1] as usize])
            .copied()
    }
}

/// Calls `f(node, e)` for the nodes of the segment tree with `leaves`
/// leaves that together cover span `e`, for every span.
fn cover(leaves: usize, spans: &[(u32, u32)], mut f: impl FnMut(usize, u32)) {
    for (e, &(h, t)) in spans.iter().enumerate() {
        let (mut lo, mut hi) = (h as usize + leaves, t as usize + leaves + 1);
        while lo < hi {
            if lo & 1 == 1 {
                f(lo, e as u32);
                lo += 1;
            }
            if hi & 1 == 1 {
                hi -= 1;
                f(hi, e as u32);
            }
            lo /= 2;
            hi /= 2;
        }
    }
}

/// Computes liveness of a function whose vregs are dense `0..num_vregs`,
/// reporting where the `watched` physical registers hold values of the IR.
pub fn analyze(func: &Function, num_vregs: usize, cc: &CallConv, info: &dyn CallInfo, watched: RegSet) -> Liveness {
    let cfg = Cfg::new(func);
    let back_edges = cfg.back_edges();
    // One forward scan: where vregs occur, and the physical registers each
    // instruction reads and writes, explicitly or implicitly.
    let mut vregs = VregFacts::new(num_vregs, !back_edges.is_empty(), occurrence_weights(&cfg, &back_edges));
    for r in &func.params {
        if let Reg::V(v) = *r {
            vregs.param(v);
        }
    }
    let mut pregs = Vec::with_capacity(func.body.len());
    let mut special = Vec::new();
    for (b, block) in cfg.blocks.iter().enumerate() {
        for (i, inst) in func.body.iter().enumerate().take(block.end).skip(block.start) {
            let mut imp = implicit(inst, i, cc, info);
            // A `Trap` follows only a call that never returns (a panic,
            // an exit): it destroys nothing a later instruction could
            // read, so the values whose intervals span it keep any
            // register.
            if matches!(func.body.get(i + 1), Some(Inst::Trap)) {
                imp.clobbers = RegSet::EMPTY;
            }
            if imp != Implicit::default() {
                special.push((i, imp));
            }
            let (mut uses, mut defs) = (imp.uses, imp.defs);
            for_each_reg(inst, |r, role| match (r, role) {
                (Reg::V(v), Role::Use) => vregs.read(v, b, i),
                (Reg::V(v), Role::Def) => vregs.write(v, b, i),
                (Reg::P(p), Role::Use) => uses = uses.with(p),
                (Reg::P(p), Role::Def) => defs = defs.with(p),
            });
            pregs.push((uses, defs));
        }
    }
    let use_weights = std::mem::take(&mut vregs.use_weights);
    let mut live = Liveness {
        intervals: vregs.intervals(&cfg, &back_edges),
        fixed: vec![Vec::new(); 64],
        pregs_written: RegSet::EMPTY,
        pregs_live_across: Vec::new(),
        watched_busy: Vec::new(),
        watched_busy_at_entry: RegSet::EMPTY,
        use_weights,
    };
    physical_segments(&cfg, &pregs, &special, watched, &mut live);
    live
}

/// Where a vreg occurs in one block.
#[derive(Clone, Copy)]
struct Occurrence {
    block: u32,
    /// `READ_FIRST`, `READ`, `WRITTEN`.
    flags: u8,
}

/// Read before any write in the block.
const READ_FIRST: u8 = 1;
const READ: u8 = 2;
const WRITTEN: u8 = 4;

/// What the scan of the body finds about vregs: the span of each one's
/// occurrences and, in a function with loops, the blocks each occurs in
/// and how often and where it is written.
struct VregFacts {
    facts: Vec<VregFact>,
    loops: bool,
    /// `(vreg, occurrence)` in the order of the body.
    occurrences: Vec<(u32, Occurrence)>,
    /// Per block, the weight of an occurrence in it; per vreg, the sum of
    /// its occurrences' weights.
    block_weights: Vec<f32>,
    use_weights: Vec<f32>,
}

/// What the scan finds about one vreg.
#[derive(Clone, Copy)]
struct VregFact {
    /// The first and last points of its occurrences, and their blocks.
    first: u32,
    last: u32,
    first_block: u32,
    last_block: u32,
    /// With loops: its last entry in `occurrences` (`NONE` before the
    /// first), the block of its last write, and how many writes it has (a
    /// parameter's at the entry included; saturating).
    last_occurrence: u32,
    written_in: u32,
    writes: u8,
    is_param: bool,
}

const NONE: u32 = u32::MAX;

/// How to tell whether a vreg carries a value into a loop header.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Carried {
    /// It never does: never written (or only where the entry does not
    /// reach), or read only in the block that writes it, after the write.
    Never,
    /// Written once, in this block (`None`: a parameter, written at the
    /// entry) which dominates every read: it does only into headers that
    /// block strictly dominates.
    DominatedBy(Option<u32>),
    /// Any other: walk back from its reads.
    Search,
}

impl VregFacts {
    fn new(num_vregs: usize, loops: bool, block_weights: Vec<f32>) -> VregFacts {
        let fact = VregFact {
            first: NONE,
            last: 0,
            first_block: 0,
            last_block: 0,
            last_occurrence: NONE,
            written_in: 0,
            writes: 0,
            is_param: false,
        };
        VregFacts {
            facts: vec![fact; num_vregs],
            loops,
            occurrences: Vec::new(),
            block_weights,
            use_weights: vec![0.0; num_vregs],
        }
    }
    fn param(&mut self, v: u32) {
        let fact = &mut self.facts[v as usize];
        (fact.first, fact.last) = (ENTRY_DEF, ENTRY_DEF);
        (fact.writes, fact.is_param) = (1, true);
    }
    fn read(&mut self, v: u32, block: usize, i: usize) {
        self.occurs(v, block, use_point(i), READ);
    }
    fn write(&mut self, v: u32, block: usize, i: usize) {
        self.occurs(v, block, def_point(i), WRITTEN);
        let fact = &mut self.facts[v as usize];
        fact.writes = fact.writes.saturating_add(1);
        fact.written_in = block as u32;
    }
    /// Occurrences come in the order of the body.
    #[inline]
    fn occurs(&mut self, v: u32, block: usize, point: u32, how: u8) {
        self.use_weights[v as usize] += self.block_weights[block];
        let fact = &mut self.facts[v as usize];
        let block = block as u32;
        if fact.first == NONE {
            (fact.first, fact.first_block) = (point, block);
        }
        if self.loops {
            if fact.last_occurrence == NONE || fact.last_block != block {
                fact.last_occurrence = self.occurrences.len() as u32;
                let first = if how == READ { READ_FIRST } else { 0 };
                self.occurrences.push((v, Occurrence { block, flags: first }));
            }
            self.occurrences[fact.last_occurrence as usize].1.flags |= how;
        }
        (fact.last, fact.last_block) = (point, block);
    }

    /// The interval of every vreg (see the module's documentation).
    fn intervals(self, cfg: &Cfg, back_edges: &[(u32, u32)]) -> Vec<Option<(u32, u32)>> {
        let occurring = |fact: &VregFact| (fact.first != NONE).then_some(*fact);
        if back_edges.is_empty() {
            return self.facts.iter().map(|f| occurring(f).map(|f| (f.first, f.last))).collect();
        }
        // Each vreg's occurrences together (a counting sort).
        let num_vregs = self.facts.len();
        let mut occ_start = vec![0u32; num_vregs + 1];
        for (v, _) in &self.occurrences {
            occ_start[*v as usize + 1] += 1;
        }
        for v in 0..num_vregs {
            occ_start[v + 1] += occ_start[v];
        }
        let mut next = occ_start.clone();
        let mut by_vreg = vec![Occurrence { block: 0, flags: 0 }; self.occurrences.len()];
        for &(v, occ) in &self.occurrences {
            by_vreg[next[v as usize] as usize] = occ;
            next[v as usize] += 1;
        }

        let dominators = Dominators::new(cfg);
        let spans = LoopSpans::new(cfg.blocks.len(), back_edges);
        let edge_points: Vec<(u32, u32)> = back_edges
            .iter()
            .map(|&(h, t)| (cfg.blocks[h as usize].first_point(h as usize), cfg.blocks[t as usize].last_point()))
            .collect();
        let mut search = LiveIntoSearch::new(cfg);
        let mut intervals = Vec::with_capacity(num_vregs);
        for (v, fact) in self.facts.iter().enumerate() {
            let Some(mut fact) = occurring(fact) else {
                intervals.push(None);
                continue;
            };
            let occs = &by_vreg[occ_start[v] as usize..occ_start[v + 1] as usize];
            let carried = match fact.writes {
                0 => Carried::Never,
                // A parameter's occurrences are all reads.
                1 if fact.is_param && occs.is_empty() => Carried::Never,
                1 if fact.is_param => Carried::DominatedBy(None),
                1 => single_write(cfg, &dominators, fact.written_in as usize, occs),
                _ => Carried::Search,
            };
            if carried == Carried::Never {
                intervals.push(Some((fact.first, fact.last)));
                continue;
            }
            // Whether a search for it ran, and within its budget.
            let mut searched: Option<bool> = None;
            let mut live_into = |h: u32| match carried {
                Carried::Never => false,
                Carried::DominatedBy(None) => true,
                Carried::DominatedBy(Some(d)) => d != h && dominators.dominates(cfg, d as usize, h as usize),
                // Not into a header that writes it before reading it.
                Carried::Search
                    if occs
                        .binary_search_by_key(&h, |o| o.block)
                        .is_ok_and(|k| occs[k].flags & (READ_FIRST | WRITTEN) == WRITTEN) =>
                {
                    false
                }
                Carried::Search => {
                    let complete = *searched.get_or_insert_with(|| search.run(v as u32, occs));
                    !complete || search.found(v as u32, h)
                }
            };
            loop {
                let before = (fact.first, fact.last);
                // A loop's span that overlaps the interval without lying
                // inside it contains the block of one of its ends.
                let candidates =
                    spans.containing(fact.first_block as usize).chain(spans.containing(fact.last_block as usize));
                for e in candidates {
                    let (h, t) = back_edges[e as usize];
                    let (first, last) = edge_points[e as usize];
                    let overlaps_partly =
                        first <= fact.last && last >= fact.first && (first < fact.first || last > fact.last);
                    if overlaps_partly && live_into(h) {
                        if first < fact.first {
                            (fact.first, fact.first_block) = (first, h);
                        }
                        if last > fact.last {
                            (fact.last, fact.last_block) = (last, t);
                        }
                    }
                }
                if (fact.first, fact.last) == before {
                    break;
                }
            }
            intervals.push(Some((fact.first, fact.last)));
        }
        intervals
    }
}

/// How a vreg written once, in block `d`, carries values into headers.
fn single_write(cfg: &Cfg, dominators: &Dominators, d: usize, occs: &[Occurrence]) -> Carried {
    if !cfg.reachable(d) {
        return Carried::Never;
    }
    let mut read_elsewhere = false;
    for occ in occs {
        let b = occ.block as usize;
        if b == d {
            if occ.flags & READ_FIRST != 0 {
                return Carried::Search;
            }
        } else {
            read_elsewhere = true;
            if cfg.reachable(b) && !dominators.dominates(cfg, d, b) {
                return Carried::Search;
            }
        }
    }
    if read_elsewhere {
        Carried::DominatedBy(Some(d as u32))
    } else {
        Carried::Never
    }
}

/// How much more an occurrence inside a loop weighs than one outside it,
/// and the deepest nesting that still adds weight.
const LOOP_WEIGHT: f32 = 8.0;
const MAX_LOOP_DEPTH: i32 = 5;

/// The weight of an occurrence in each block: `LOOP_WEIGHT` to the number
/// of loops around the block (at most `MAX_LOOP_DEPTH`), except in a block
/// that returns or traps (a bounds check's panic path), which runs at most
/// once a call. A loop is the span from a header to the last block with a
/// back edge to it; the depths are prefix sums over the spans.
fn occurrence_weights(cfg: &Cfg, back_edges: &[(u32, u32)]) -> Vec<f32> {
    let n = cfg.blocks.len();
    let mut last_tail: Vec<Option<u32>> = vec![None; n];
    for &(h, t) in back_edges {
        let tail = &mut last_tail[h as usize];
        *tail = (*tail).max(Some(t));
    }
    let mut depth_change = vec![0i32; n + 1];
    for (h, t) in last_tail.iter().enumerate().filter_map(|(h, t)| Some((h, (*t)? as usize))) {
        depth_change[h] += 1;
        depth_change[t + 1] -= 1;
    }
    let mut depth = 0;
    depth_change[..n]
        .iter()
        .zip(&cfg.blocks)
        .map(|(change, block)| {
            depth += change;
            let exits = block.succs == [None, None];
            if exits {
                1.0
            } else {
                LOOP_WEIGHT.powi(depth.min(MAX_LOOP_DEPTH))
            }
        })
        .collect()
}

/// Blocks a search may visit per block a vreg occurs in, and in any case.
const SEARCH_BLOCKS_PER_OCCURRENCE: usize = 16;
const SEARCH_BLOCKS_MIN: usize = 64;

/// Finds the blocks a vreg is live into by walking back from the blocks
/// that read it before writing it, through blocks that do not write it.
/// Marks are stamped with the vreg's number plus one, so they need no
/// clearing between vregs.
struct LiveIntoSearch<'a> {
    cfg: &'a Cfg,
    live_into: Vec<u32>,
    written: Vec<u32>,
    stack: Vec<u32>,
}

impl<'a> LiveIntoSearch<'a> {
    fn new(cfg: &'a Cfg) -> LiveIntoSearch<'a> {
        LiveIntoSearch { cfg, live_into: Vec::new(), written: Vec::new(), stack: Vec::new() }
    }
    /// Marks the blocks vreg `v` is live into; false if that takes more
    /// than its budget of blocks (the marks are then incomplete).
    fn run(&mut self, v: u32, occs: &[Occurrence]) -> bool {
        if self.live_into.is_empty() {
            self.live_into = vec![0; self.cfg.blocks.len()];
            self.written = vec![0; self.cfg.blocks.len()];
        }
        let stamp = v + 1;
        let mut budget = SEARCH_BLOCKS_MIN + SEARCH_BLOCKS_PER_OCCURRENCE * occs.len();
        self.stack.clear();
        for occ in occs {
            if occ.flags & WRITTEN != 0 {
                self.written[occ.block as usize] = stamp;
            }
            if occ.flags & READ_FIRST != 0 {
                self.live_into[occ.block as usize] = stamp;
                self.stack.push(occ.block);
            }
        }
        while let Some(b) = self.stack.pop() {
            for &p in self.cfg.preds(b as usize) {
                let p = p as usize;
                if self.live_into[p] == stamp || self.written[p] == stamp || !self.cfg.reachable(p) {
                    continue;
                }
                if budget == 0 {
                    return false;
                }
                budget -= 1;
                self.live_into[p] = stamp;
                self.stack.push(p as u32);
            }
        }
        true
    }
    /// Whether the last run, for `v`, found it live into block `b`.
    fn found(&self, v: u32, b: u32) -> bool {
        self.live_into[b as usize] == v + 1
    }
}

/// Exact segments of the physical registers, which registers the IR
/// writes, those it keeps live across instructions that need it, and where
/// the `watched` ones hold its values. `pregs[i]` are the registers
/// instruction i reads and writes; `special` the instructions with
/// implicit effects, in order.
fn physical_segments(
    cfg: &Cfg,
    pregs: &[(RegSet, RegSet)],
    special: &[(usize, Implicit)],
    watched: RegSet,
    live: &mut Liveness,
) {
    let blocks = &cfg.blocks;
    let nb = blocks.len();
    // Local gen/kill sets.
    let mut pgen = vec![RegSet::EMPTY; nb];
    let mut pkill = vec![RegSet::EMPTY; nb];
    for (b, block) in blocks.iter().enumerate() {
        for &(uses, defs) in &pregs[block.start..block.end] {
            pgen[b] = pgen[b].union(uses.minus(pkill[b]));
            pkill[b] = pkill[b].union(defs);
            live.pregs_written = live.pregs_written.union(defs);
        }
    }

    // Backward dataflow to a fixed point.
    let mut pin = vec![RegSet::EMPTY; nb];
    let mut pout = vec![RegSet::EMPTY; nb];
    let mut changed = true;
    while changed {
        changed = false;
        for b in (0..nb).rev() {
            let po = blocks[b].succs.iter().flatten().fold(RegSet::EMPTY, |s, &succ| s.union(pin[succ]));
            let pi = pgen[b].union(po.minus(pkill[b]));
            if pi != pin[b] {
                pin[b] = pi;
                changed = true;
            }
            pout[b] = po;
        }
    }
    live.watched_busy_at_entry = pin[0].intersect(watched);

    // Backward scan of each block for exact segments.
    let fixed = &mut live.fixed;
    let mut special = special.iter().rev().peekable();
    for (b, block) in blocks.iter().enumerate().rev() {
        let block_start = block.first_point(b);
        let block_end = block.last_point();
        let mut regs = pout[b];
        let mut open_end = [0u32; 64];
        for p in regs.iter() {
            open_end[p.0 as usize] = block_end;
        }
        for i in (block.start..block.end).rev() {
            let (uses, defs) = pregs[i];
            let imp = special.next_if(|(k, _)| *k == i).map_or(Implicit::default(), |(_, imp)| *imp);
            if imp.runtime_call || !imp.clobbers_operands.is_empty() || !imp.preserves.is_empty() {
                live.pregs_live_across.push((i, regs.minus(defs)));
            }
            let busy = regs.union(uses).union(defs).intersect(watched);
            if !busy.is_empty() {
                live.watched_busy.push((i, busy));
            }
            for p in defs.iter() {
                let end = if regs.contains(p) { open_end[p.0 as usize] } else { def_point(i) };
                fixed[p.0 as usize].push((def_point(i), end));
                regs = regs.without(p);
            }
            for p in imp.clobbers.iter() {
                fixed[p.0 as usize].push((clobber_point(i), clobber_point(i)));
            }
            for p in imp.clobbers_operands.iter() {
                fixed[p.0 as usize].push((use_point(i), def_point(i)));
            }
            for p in uses.iter() {
                if !regs.contains(p) {
                    open_end[p.0 as usize] = use_point(i);
                    regs = regs.with(p);
                }
            }
        }
        for p in regs.iter() {
            fixed[p.0 as usize].push((block_start, open_end[p.0 as usize]));
        }
    }
    for segs in fixed.iter_mut() {
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
    live.pregs_live_across.sort_unstable_by_key(|(i, _)| *i);
    live.watched_busy.sort_unstable_by_key(|(i, _)| *i);
}

/// Whether `[s, e]` overlaps one of the sorted, disjoint `segments`.
pub fn overlaps(segments: &[(u32, u32)], s: u32, e: u32) -> bool {
    let i = segments.partition_point(|&(_, end)| end < s);
    segments.get(i).is_some_and(|&(start, _)| start <= e)
}

pub fn preg_segments(l: &Liveness, p: PReg) -> &[(u32, u32)] {
    &l.fixed[p.0 as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{BinOp, Cond, Dst, Isa, Label, Operand, Src};
    use crate::regs::call_conv;

    struct NoInfo;
    impl CallInfo for NoInfo {
        fn call_arity(&self, _: &str) -> Option<u32> {
            Some(0)
        }
        fn syscall_plan(&self, _: usize) -> Option<crate::operands::Plan> {
            None
        }
        fn returns_value(&self) -> bool {
            false
        }
    }

    /// A random function over vregs `0..VREGS` (vreg 0 a parameter): its
    /// labels placed once each, branches forward and back among them.
    fn random_function(seed: u64, len: usize) -> Function {
        const LABELS: u32 = 5;
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut body = Vec::new();
        let mut to_place: Vec<u32> = (0..LABELS).collect();
        for _ in 0..len {
            let v = |k: u64| Reg::V(k as u32);
            match next(12) {
                0 if !to_place.is_empty() => {
                    let l = to_place.swap_remove(next(to_place.len() as u64) as usize);
                    body.push(Inst::Label(Label(l)));
                }
                1 => body.push(Inst::Jmp(Label(next(LABELS as u64) as u32))),
                2 | 3 => {
                    body.push(Inst::Cmp { a: v(next(VREGS)), b: Src::Imm(3) });
                    body.push(Inst::Jcc(Cond::Lt, Label(next(LABELS as u64) as u32)));
                }
                4 => body.push(Inst::Ret),
                5 => body.push(Inst::Mov { dst: Dst::Reg(v(next(VREGS))), src: Operand::Imm(1) }),
                _ => {
                    let b = if next(3) == 0 { Src::Imm(1) } else { Src::Reg(v(next(VREGS))) };
                    body.push(Inst::Bin { op: BinOp::Add, dst: v(next(VREGS)), a: v(next(VREGS)), b });
                }
            }
        }
        body.extend(to_place.into_iter().map(|l| Inst::Label(Label(l))));
        body.push(Inst::Ret);
        Function {
            name: "f".into(),
            arity: 1,
            exported: false,
            params: vec![Reg::V(0)],
            locals: VREGS as u32,
            body,
            labels: (0..LABELS).map(|l| format!("l{l}")).collect(),
            ..Default::default()
        }
    }
    const VREGS: u64 = 6;

    /// The points vreg `v`'s interval must cover, by brute force over the
    /// instructions: its every occurrence, and every point where it holds a
    /// value some write put there that a later read may still read.
    fn required_points(f: &Function, v: u32) -> Vec<u32> {
        let n = f.body.len();
        let (reads, writes): (Vec<bool>, Vec<bool>) = f
            .body
            .iter()
            .map(|inst| {
                let (mut r, mut w) = (false, false);
                for_each_reg(inst, |reg, role| {
                    if reg == Reg::V(v) {
                        match role {
                            Role::Use => r = true,
                            Role::Def => w = true,
                        }
                    }
                });
                (r, w)
            })
            .unzip();
        let target = |l: &Label| f.body.iter().position(|i| *i == Inst::Label(*l)).unwrap();
        let succs: Vec<Vec<usize>> = (0..n)
            .map(|i| match &f.body[i] {
                Inst::Jmp(l) => vec![target(l)],
                Inst::Jcc(_, l) => [target(l), i + 1].into_iter().filter(|&s| s < n).collect(),
                Inst::Ret => vec![],
                _ => (i + 1 < n).then_some(i + 1).into_iter().collect(),
            })
            .collect();
        let param = f.params.contains(&Reg::V(v));
        let mut executed = vec![false; n];
        let mut stack = vec![0];
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut executed[i], true) {
                stack.extend(&succs[i]);
            }
        }
        // Whether a write reaches the start of i; whether v is read after
        // the end of i before it is written again.
        let (mut reached, mut live_out) = (vec![false; n], vec![false; n]);
        reached[0] = param;
        let mut changed = true;
        while changed {
            changed = false;
            for i in 0..n {
                for &s in &succs[i] {
                    if (reached[i] || writes[i] && executed[i]) && !reached[s] {
                        reached[s] = true;
                        changed = true;
                    }
                }
                let live = succs[i].iter().any(|&s| reads[s] || (live_out[s] && !writes[s]));
                if live && !live_out[i] {
                    live_out[i] = true;
                    changed = true;
                }
            }
        }
        let mut points = Vec::new();
        if param && (reads[0] || (live_out[0] && !writes[0])) {
            points.push(ENTRY_DEF);
        }
        for i in 0..n {
            if reads[i] {
                points.push(use_point(i));
            }
            if writes[i] {
                points.push(def_point(i));
            }
            if reached[i] && live_out[i] && !writes[i] {
                points.extend([use_point(i), clobber_point(i), def_point(i)]);
            }
        }
        points
    }

    #[test]
    fn occurrences_weigh_eight_times_more_per_loop_around_them() {
        let (outer, inner, ok) = (Label(0), Label(1), Label(2));
        let set = |v, imm| Inst::Mov { dst: Dst::Reg(Reg::V(v)), src: Operand::Imm(imm) };
        let test = |v| Inst::Cmp { a: Reg::V(v), b: Src::Imm(3) };
        let body = vec![
            set(0, 0),
            Inst::Label(outer),
            set(1, 1),
            Inst::Label(inner),
            set(2, 2),
            test(2),
            Inst::Jcc(Cond::Lt, inner),
            // A path that traps runs once.
            Inst::Jcc(Cond::Ne, ok),
            set(3, 1),
            Inst::Trap,
            Inst::Label(ok),
            test(1),
            Inst::Jcc(Cond::Lt, outer),
            // A second back edge to the same header: the same loop.
            test(0),
            Inst::Jcc(Cond::Lt, outer),
            set(3, 0),
            Inst::Ret,
        ];
        let f = Function {
            name: "f".into(),
            arity: 0,
            exported: false,
            params: vec![],
            locals: 4,
            body,
            labels: vec!["outer".into(), "inner".into(), "ok".into()],
            ..Default::default()
        };
        let live = analyze(&f, 4, call_conv(Isa::X86_64), &NoInfo, RegSet::EMPTY);
        assert_eq!(live.use_weights, [1.0 + 8.0, 8.0 + 8.0, 64.0 + 64.0, 1.0 + 1.0]);
    }

    #[test]
    fn intervals_cover_every_value_on_every_path() {
        let cc = call_conv(Isa::X86_64);
        for seed in 0..3000 {
            let f = random_function(seed, 10 + seed as usize % 50);
            let live = analyze(&f, VREGS as usize, cc, &NoInfo, RegSet::EMPTY);
            for v in 0..VREGS as u32 {
                for p in required_points(&f, v) {
                    let covered = live.intervals[v as usize].is_some_and(|(s, e)| s <= p && p <= e);
                    assert!(
                        covered,
                        "seed {seed}: v{v} not live at point {p}: {:?}\n{:#?}",
                        live.intervals[v as usize], f.body
                    );
                }
            }
        }
    }
}
