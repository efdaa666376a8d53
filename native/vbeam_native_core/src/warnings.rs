//! Diagnostics that never change the output: the signatures of front-end
//! bugs in IR that compiles. A vreg read that no path from the entry writes
//! (constants and `os.args` read from vregs nothing wrote), and a `cmp` of a
//! register with itself (sum-type tests compiled as `cmp R, R`).
//!
//! What counts as a read of a vreg:
//! - an explicit vreg operand the instruction reads. An instruction that
//!   reads and writes the same vreg (`{add, V, V, 1}`, the in-place
//!   `{neg, V}`, `array_append`'s array) reads it before it writes it, so
//!   its own write does not count for that read. Implicit operands (the
//!   argument registers a call reads, the result register of `ret`) are
//!   physical registers, never counted;
//! - in code the entry reaches: a read in unreachable code is not reported
//!   (it never runs), and a write there writes nothing.
//!
//! Parameters are written at the entry. A `cmp` of a register with itself
//! is reported wherever it stands: it is wrong whether or not it runs.
//!
//! Whether some path from the entry writes a vreg before a read that no
//! earlier write of its block covers, in block b:
//! - no reachable block writes the vreg: no;
//! - a block that strictly dominates b writes it: yes (one sweep of the
//!   dominator tree's preorder intervals decides all of a vreg's reads);
//! - else a walk back from b through predecessors looks for a block that
//!   writes it (a write in b itself counts when a loop brings control back
//!   to b). It goes nowhere all of whose predecessors come before the
//!   first block that writes the vreg (see `ancestors_below`), so a read
//!   before the vreg's writes, outside the loops around them, is decided
//!   at once. The blocks of a walk that finds none are remembered for the
//!   vreg's later walks. A vreg's walks visit at most a budget of blocks
//!   that grows with its occurrences; past it the read is taken as
//!   written, so a warning is never wrong, though in a huge function with
//!   tangled control flow one may be missed.
//!
//! So time is linear in the function's size but for the dominators (as in
//! `liveness`) and a sort of each vreg's blocks; no set of vregs per block
//! (quadratic for long functions) is ever built.

use std::collections::HashMap;
use std::fmt;

use crate::error::CompileError;
use crate::ir::{Function, Inst, Isa, Module, Reg, Src};
use crate::liveness::{Cfg, Dominators};
use crate::operands::{for_each_reg, Role};
use crate::regs::preg_name;
use crate::validate::check_labels;

/// A warning about a module that compiles. Instruction indices are 1-based,
/// as the errors count them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// Instruction `index` of `function` reads `vreg`, which no path from
    /// the function's entry writes.
    UnwrittenRead { function: String, index: usize, vreg: u32 },
    /// Instruction `index` of `function` is `{cmp, R, R}`.
    CmpWithItself { function: String, index: usize, reg: Register },
}

/// A register as the IR names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Register {
    Vreg(u32),
    /// A physical register, by its architectural name (`rax`, `x0`).
    Preg(String),
}

impl fmt::Display for Register {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Register::Vreg(n) => write!(f, "vreg {n}"),
            Register::Preg(name) => f.write_str(name),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::UnwrittenRead { function, index, vreg } => {
                write!(f, "warning: {function}, instruction {index}: vreg {vreg} is read but no path writes it")
            }
            Warning::CmpWithItself { function, index, reg } => {
                write!(f, "warning: {function}, instruction {index}: cmp of {reg} with itself")
            }
        }
    }
}

/// The warnings of every function of the module, in module order.
pub fn module_warnings(module: &Module) -> Result<Vec<Warning>, CompileError> {
    let mut warnings = Vec::new();
    for f in &module.functions {
        warnings.extend(function_warnings(module.isa, f)?);
    }
    Ok(warnings)
}

/// The warnings of one function, in instruction order (at one instruction,
/// unwritten reads by vreg number, then the `cmp`). The control flow needs
/// every label defined once: the error otherwise.
pub fn function_warnings(isa: Isa, func: &Function) -> Result<Vec<Warning>, CompileError> {
    check_labels(func)?;
    let mut unwritten = unwritten_reads(func).into_iter().peekable();
    let mut warnings = Vec::new();
    for (i, inst) in func.body.iter().enumerate() {
        let index = i + 1;
        while let Some((_, vreg)) = unwritten.next_if(|&(k, _)| k == i) {
            warnings.push(Warning::UnwrittenRead { function: func.name.clone(), index, vreg });
        }
        if let Inst::Cmp { a, b: Src::Reg(b) } = inst {
            if a == b {
                let reg = match *a {
                    Reg::V(n) => Register::Vreg(n),
                    Reg::P(p) => Register::Preg(preg_name(isa, p)),
                };
                warnings.push(Warning::CmpWithItself { function: func.name.clone(), index, reg });
            }
        }
    }
    Ok(warnings)
}

/// The reads no path from the entry writes before them, as (0-based
/// instruction, vreg), sorted.
fn unwritten_reads(func: &Function) -> Vec<(usize, u32)> {
    let cfg = Cfg::new(func);
    let mut vregs = VregNumbers::new(func.body.len());
    // Per vreg: whether it is a parameter; the block of its last write in
    // the scan.
    let mut parameter = Vec::new();
    let mut last_write = Vec::new();
    for r in &func.params {
        if let Reg::V(v) = *r {
            let id = vregs.id(v);
            parameter.resize(vregs.original.len(), false);
            parameter[id] = true;
        }
    }
    // One scan of the reachable blocks: each block writing a vreg (once),
    // and each read no earlier write in its block covers, as
    // (vreg, block, instruction).
    let mut writes: Vec<(u32, u32)> = Vec::new();
    let mut reads: Vec<(u32, u32, u32)> = Vec::new();
    for (b, block) in cfg.blocks.iter().enumerate().filter(|(b, _)| cfg.reachable(*b)) {
        for i in block.start..block.end {
            for_each_reg(&func.body[i], |r, role| {
                let Reg::V(v) = r else { return };
                let id = vregs.id(v);
                parameter.resize(vregs.original.len(), false);
                last_write.resize(vregs.original.len(), u32::MAX);
                if parameter[id] || last_write[id] == b as u32 {
                    return;
                }
                match role {
                    Role::Use => reads.push((id as u32, b as u32, i as u32)),
                    Role::Def => {
                        last_write[id] = b as u32;
                        writes.push((id as u32, b as u32));
                    }
                }
            });
        }
    }
    let count = parameter.len();
    let reads = Grouped::new(count, &reads, |r| r.0);
    let writes = Grouped::new(count, &writes, |w| w.0);
    let dominators = Dominators::new(&cfg);
    let mut sweep = DominanceSweep::default();
    let mut search = WriteSearch::new(&cfg);
    let mut unwritten = Vec::new();
    for id in 0..count {
        let reads = reads.of(id);
        if reads.is_empty() {
            continue;
        }
        let original = vregs.original[id];
        let writers = writes.of(id);
        if writers.is_empty() {
            unwritten.extend(reads.iter().map(|&(_, _, i)| (i as usize, original)));
            continue;
        }
        let dominated = sweep.run(&cfg, &dominators, writers.iter().map(|w| w.1), reads.iter().map(|r| r.1));
        search.start(id as u32, writers.iter().map(|w| w.1), reads.len() + writers.len());
        // A block's reads are consecutive and share the answer.
        let mut k = 0;
        while k < reads.len() {
            let b = reads[k].1;
            let end = k + reads[k..].iter().take_while(|r| r.1 == b).count();
            if !dominated[k] && !search.written_before(b) {
                unwritten.extend(reads[k..end].iter().map(|&(_, _, i)| (i as usize, original)));
            }
            k = end;
        }
    }
    // An instruction may read a vreg twice.
    unwritten.sort_unstable();
    unwritten.dedup();
    unwritten
}

/// Dense numbers for a function's vregs, in order of first sight: a table
/// over the numbers generators write (small ones), a map for the others.
struct VregNumbers {
    table: Vec<u32>,
    map: HashMap<u32, u32>,
    /// The vreg each dense number stands for.
    original: Vec<u32>,
}

impl VregNumbers {
    fn new(instructions: usize) -> VregNumbers {
        VregNumbers { table: vec![u32::MAX; 4 * instructions + 1024], map: HashMap::new(), original: Vec::new() }
    }
    fn id(&mut self, v: u32) -> usize {
        let slot = match self.table.get_mut(v as usize) {
            Some(slot) => slot,
            None => self.map.entry(v).or_insert(u32::MAX),
        };
        if *slot == u32::MAX {
            *slot = self.original.len() as u32;
            self.original.push(v);
        }
        *slot as usize
    }
}

/// Items grouped by a key below `count`, each group in the items' order.
struct Grouped<T> {
    /// The group of key k is `items[start[k]..start[k + 1]]`.
    start: Vec<u32>,
    items: Vec<T>,
}

impl<T: Copy> Grouped<T> {
    fn new(count: usize, items: &[T], key: impl Fn(&T) -> u32) -> Grouped<T> {
        let mut start = vec![0u32; count + 1];
        for item in items {
            start[key(item) as usize + 1] += 1;
        }
        for k in 0..count {
            start[k + 1] += start[k];
        }
        let mut next = start.clone();
        let mut grouped = items.to_vec();
        for item in items {
            let slot = &mut next[key(item) as usize];
            grouped[*slot as usize] = *item;
            *slot += 1;
        }
        Grouped { start, items: grouped }
    }
    fn of(&self, k: usize) -> &[T] {
        &self.items[self.start[k] as usize..self.start[k + 1] as usize]
    }
}

/// Which blocks a set of blocks strictly dominates. A block's dominator
/// subtree is an interval of preorder numbers, and two subtrees are nested
/// or disjoint, so a sweep in preorder keeps the writers' subtrees that
/// hold the current block on a stack, innermost last.
#[derive(Default)]
struct DominanceSweep {
    /// (first preorder number, end, block) of each writer's subtree.
    subtrees: Vec<(u32, u32, u32)>,
    /// (preorder number, position) of each read's block.
    queries: Vec<(u32, u32)>,
    open: Vec<(u32, u32)>,
    dominated: Vec<bool>,
}

impl DominanceSweep {
    /// For each block of `reads` in turn, whether a block of `writers`
    /// other than itself dominates it.
    fn run(
        &mut self,
        cfg: &Cfg,
        dominators: &Dominators,
        writers: impl Iterator<Item = u32>,
        reads: impl Iterator<Item = u32>,
    ) -> &[bool] {
        let subtree = |b: u32| {
            let k = cfg.rpo_index[b as usize] as usize;
            (dominators.pre[k], dominators.pre[k] + dominators.size[k])
        };
        self.subtrees.clear();
        self.subtrees.extend(writers.map(|w| {
            let (first, end) = subtree(w);
            (first, end, w)
        }));
        self.subtrees.sort_unstable();
        self.queries.clear();
        self.queries.extend(reads.enumerate().map(|(k, b)| (subtree(b).0, k as u32)));
        self.dominated.clear();
        self.dominated.resize(self.queries.len(), false);
        self.queries.sort_unstable();
        self.open.clear();
        let mut next = 0;
        for &(pre, k) in &self.queries {
            while let Some(&(first, end, w)) = self.subtrees.get(next).filter(|s| s.0 <= pre) {
                while self.open.last().is_some_and(|&(e, _)| e <= first) {
                    self.open.pop();
                }
                self.open.push((end, w));
                next += 1;
            }
            while self.open.last().is_some_and(|&(e, _)| e <= pre) {
                self.open.pop();
            }
            // The read's own block, when it writes after the read, is the
            // innermost subtree: it does not count.
            let own = self.open.last().is_some_and(|&(_, w)| subtree(w).0 == pre);
            self.dominated[k as usize] = self.open.len() > own as usize;
        }
        &self.dominated
    }
}

/// Blocks a vreg's walks may visit per block it occurs in, and in any case.
const SEARCH_BLOCKS_PER_OCCURRENCE: usize = 16;
const SEARCH_BLOCKS_MIN: usize = 64;

/// Walks back through predecessors from blocks that read one vreg, looking
/// for a block that writes it. Marks are stamped with the vreg's number or
/// the walk's, plus one, so they need no clearing.
struct WriteSearch<'a> {
    cfg: &'a Cfg,
    ancestors_below: Vec<u32>,
    stamp: u32,
    writes: Vec<u32>,
    /// The first block that writes the vreg.
    first_writer: u32,
    /// Blocks no path from the entry reaches after a write of the vreg.
    clean: Vec<u32>,
    walk: u32,
    visited: Vec<u32>,
    budget: usize,
    stack: Vec<u32>,
    seen: Vec<u32>,
}

impl<'a> WriteSearch<'a> {
    fn new(cfg: &'a Cfg) -> WriteSearch<'a> {
        let blocks = cfg.blocks.len();
        WriteSearch {
            cfg,
            ancestors_below: ancestors_below(cfg),
            stamp: 0,
            writes: vec![0; blocks],
            first_writer: 0,
            clean: vec![0; blocks],
            walk: 0,
            visited: vec![0; blocks],
            budget: 0,
            stack: Vec::new(),
            seen: Vec::new(),
        }
    }
    /// Starts on vreg number `id`, written by the blocks `writers`, which
    /// occurs in `occurrences` (block, role) pairs.
    fn start(&mut self, id: u32, writers: impl Iterator<Item = u32>, occurrences: usize) {
        self.stamp = id + 1;
        self.first_writer = u32::MAX;
        for w in writers {
            self.writes[w as usize] = self.stamp;
            self.first_writer = self.first_writer.min(w);
        }
        self.budget = SEARCH_BLOCKS_MIN + SEARCH_BLOCKS_PER_OCCURRENCE * occurrences;
    }
    /// Whether some path from the entry writes the vreg before the start of
    /// block `b` (true too once the vreg's budget is spent).
    fn written_before(&mut self, b: u32) -> bool {
        if self.ancestors_below[b as usize] <= self.first_writer {
            return false;
        }
        self.walk += 1;
        self.stack.clear();
        self.seen.clear();
        self.stack.push(b);
        while let Some(x) = self.stack.pop() {
            for &p in self.cfg.preds(x as usize) {
                let p = p as usize;
                if !self.cfg.reachable(p) {
                    continue;
                }
                if self.writes[p] == self.stamp {
                    return true;
                }
                if self.visited[p] == self.walk
                    || self.clean[p] == self.stamp
                    || self.ancestors_below[p] <= self.first_writer
                {
                    continue;
                }
                if self.budget == 0 {
                    return true;
                }
                self.budget -= 1;
                self.visited[p] = self.walk;
                self.seen.push(p as u32);
                self.stack.push(p as u32);
            }
        }
        // Every block the walk saw has only blocks it saw before it.
        self.clean[b as usize] = self.stamp;
        for &x in &self.seen {
            self.clean[x as usize] = self.stamp;
        }
        false
    }
}

/// For each block, a bound below which lie all the blocks that paths from
/// the entry reach it through. A path into block b from a block at or
/// after b takes an edge from a block at or after b to one at or before
/// it: a back edge whose span (from its target to its source) holds b. So
/// a block no span holds is reached only from blocks before it, and one
/// that a run of overlapping spans holds only from blocks before the
/// run's end (spans that merely touch are joined too: a looser bound).
fn ancestors_below(cfg: &Cfg) -> Vec<u32> {
    let n = cfg.blocks.len();
    // Spans opened minus spans closed at each block.
    let mut opened = vec![0i32; n + 1];
    for (t, block) in cfg.blocks.iter().enumerate().filter(|(t, _)| cfg.reachable(*t)) {
        for &h in block.succs.iter().flatten().filter(|&&h| h <= t) {
            opened[h] += 1;
            opened[t + 1] -= 1;
        }
    }
    let mut spans_holding = 0;
    let held: Vec<bool> = opened[..n]
        .iter()
        .map(|d| {
            spans_holding += d;
            spans_holding > 0
        })
        .collect();
    let mut below = vec![0u32; n];
    for b in (0..n).rev() {
        below[b] = match (held[b], held.get(b + 1)) {
            (true, Some(true)) => below[b + 1],
            (true, _) => b as u32 + 1,
            (false, _) => b as u32,
        };
    }
    below
}
