//! Loop-invariant code motion. What a loop computes the same on every
//! iteration (operands written nowhere in the loop, the result written only
//! there, and, for loads, memory written nowhere in the loop) moves before
//! the loop's label, where it runs once, when the loop is entered.
//!
//! First the invariant instructions the body *begins* with: in the first
//! iteration they ran right after the loop was entered, so running them
//! there instead changes nothing, not even which check panics first (a
//! bounds check moves with its panic path, and a load is never run earlier
//! than it was). Then, further down the body's straight line, what cannot
//! fault: computations, and loads of the headers of arrays the loop checks
//! or through pointers it has already read through, past bounds checks of
//! indices the loop changes (see `hoist_beyond_prefix`). After `rotate`, the place before
//! the label is after the loop's guard, so nothing moves into a path that
//! never entered the loop.

use std::collections::{HashMap, HashSet};

use crate::ir::{BinOp, Dst, Function, Inst, Label, Operand, Reg, Src, Width};
use crate::operands::{for_each_reg, Role};
use crate::runtime::INDEX_PANIC;

use super::label_references;

/// How many times, on average, an instruction may be looked at as part of
/// a loop around it.
const SCANS_PER_INSTRUCTION: usize = 8;

/// Hoists what `f`'s loops compute the same every time, innermost first.
pub fn hoist_loop_invariants(f: &mut Function) {
    let mut refs = label_references(f);
    let mut label_at = vec![usize::MAX; f.labels.len()];
    for (i, inst) in f.body.iter().enumerate() {
        if let Inst::Label(l) = inst {
            label_at[l.0 as usize] = i;
        }
    }
    // A loop: a label every jump to which comes from below it, up to the
    // last of those jumps.
    let mut loops: Vec<(usize, usize, Label)> = refs
        .iter()
        .enumerate()
        .filter(|(l, r)| !r.is_empty() && r.iter().all(|&i| i > label_at[*l]))
        .map(|(l, r)| (label_at[l], *r.iter().max().expect("not empty"), Label(l as u32)))
        .collect();
    loops.sort_by_key(|&(start, end, _)| end - start);
    // Each loop is scanned once, so the work is the nesting depth times
    // the size: bounded here, deep nests past the bound left as they are,
    // to keep the pass linear.
    let mut budget = SCANS_PER_INSTRUCTION * f.body.len() + 1024;
    // Counted the first time a loop has something to merge.
    let mut counts = None;
    for (start, end, label) in loops {
        budget = match budget.checked_sub(end - start + 1) {
            Some(left) => left,
            None => break,
        };
        let start = label_at[label.0 as usize];
        let order = hoist_from_loop(f, start, end, &refs, &label_at);
        let moved = order.iter().position(|&old| old == start).expect("the label is in the loop");
        merge_duplicates(f, start, start + moved, end, &mut counts);
        // Labels and jumps that moved: the loop's label, the prefix's
        // checks, and what stayed below what left the loop.
        let mut new_of_old = vec![0; order.len()];
        order.iter().enumerate().for_each(|(new, old)| new_of_old[old - start] = start + new);
        let mut targets = Vec::new();
        for (new, &old) in order.iter().enumerate() {
            match &f.body[start + new] {
                Inst::Label(l) => label_at[l.0 as usize] = start + new,
                Inst::Jmp(l) | Inst::Jcc(_, l) if start + new != old => targets.push(*l),
                _ => {}
            }
        }
        targets.sort_unstable_by_key(|l| l.0);
        targets.dedup();
        for l in targets {
            refs[l.0 as usize]
                .iter_mut()
                .filter(|r| (start..=end).contains(*r))
                .for_each(|r| *r = new_of_old[*r - start]);
        }
    }
}

/// How many times each register is written and read in the function.
struct RegCounts {
    defs: HashMap<Reg, u32>,
    uses: HashMap<Reg, u32>,
}

impl RegCounts {
    fn of(f: &Function) -> RegCounts {
        let mut counts = RegCounts { defs: HashMap::new(), uses: HashMap::new() };
        f.params.iter().for_each(|p| *counts.defs.entry(*p).or_default() += 1);
        for inst in &f.body {
            for_each_reg(inst, |r, role| {
                let count = if role == Role::Def { &mut counts.defs } else { &mut counts.uses };
                *count.entry(r).or_default() += 1;
            });
        }
        counts
    }
    fn get(map: &HashMap<Reg, u32>, r: Reg) -> u32 {
        map.get(&r).copied().unwrap_or(0)
    }
}

/// Loops that read one header several times (an array indexed in
/// several places) had one load of it for each: once they all sit before
/// the loop (`hoisted..label`), the first keeps the value and the others
/// go, their results renamed to its within the loop (`label..=end`), so
/// the loop holds the value in one register rather than several. Only
/// results written once in the function and read only before the loop's
/// end are renamed, so nothing else sees the change.
fn merge_duplicates(f: &mut Function, hoisted: usize, label: usize, end: usize, counts: &mut Option<RegCounts>) {
    /// Beyond this many hoisted instructions, comparing them all costs
    /// more than it may save.
    const MAX_COMPARED: usize = 64;
    if label - hoisted < 2 || label - hoisted > MAX_COMPARED {
        return;
    }
    let keys: Vec<Inst> = f.body[hoisted..label].iter().filter_map(value_key).map(|(key, _)| key).collect();
    if keys.iter().enumerate().all(|(k, key)| !keys[..k].contains(key)) {
        return;
    }
    let counts = counts.get_or_insert_with(|| RegCounts::of(f));
    let mut kept: Vec<(Inst, Reg)> = Vec::new();
    let mut rename: HashMap<Reg, Reg> = HashMap::new();
    // The panic paths of checks among the hoisted run only when they fail:
    // what they compute is neither kept nor merged.
    let mut in_panic_path = false;
    for at in hoisted..label {
        let inst = &f.body[at];
        match inst {
            Inst::Jcc(..) => in_panic_path = true,
            Inst::Label(_) => in_panic_path = false,
            _ => {}
        }
        if in_panic_path {
            continue;
        }
        let Some((key, dst)) = value_key(inst) else { continue };
        if RegCounts::get(&counts.defs, dst) != 1 {
            continue;
        }
        match kept.iter().find(|(k, _)| *k == key) {
            Some((_, first)) => {
                rename.insert(dst, *first);
            }
            None => kept.push((key, dst)),
        }
    }
    if rename.is_empty() {
        return;
    }
    // Renamed only if every read is in the loop (or among the hoisted).
    let mut reads_here: HashMap<Reg, u32> = HashMap::new();
    for inst in &f.body[hoisted..=end] {
        for_each_reg(inst, |r, role| {
            if role == Role::Use && rename.contains_key(&r) {
                *reads_here.entry(r).or_default() += 1;
            }
        });
    }
    rename.retain(|r, _| RegCounts::get(&reads_here, *r) == RegCounts::get(&counts.uses, *r));
    for at in hoisted..=end {
        let inst = &mut f.body[at];
        if value_key(inst).is_some_and(|(_, dst)| rename.contains_key(&dst)) {
            *inst = Inst::Nop;
            continue;
        }
        crate::operands::for_each_reg_mut(inst, |r, role| {
            if let (Role::Use, Some(first)) = (role, rename.get(r)) {
                *r = *first;
            }
        });
    }
    for (gone, first) in rename {
        let reads = counts.uses.remove(&gone).unwrap_or(0);
        *counts.uses.entry(first).or_default() += reads;
        counts.defs.remove(&gone);
    }
}

/// An instruction that computes one vreg from its operands alone, with
/// that vreg blanked out (so equal keys compute equal values), and the vreg.
fn value_key(inst: &Inst) -> Option<(Inst, Reg)> {
    let pure = matches!(
        inst,
        Inst::Load { .. }
            | Inst::Lea { .. }
            | Inst::Bin { .. }
            | Inst::Unary { .. }
            | Inst::Mov { dst: Dst::Reg(Reg::V(_)), src: Operand::Imm(_) | Operand::Reg(Reg::V(_)) }
    );
    if !pure {
        return None;
    }
    let mut key = inst.clone();
    let mut dst = None;
    crate::operands::for_each_reg_mut(&mut key, |r, role| {
        if role == Role::Def {
            dst = Some(*r);
            *r = Reg::P(crate::ir::PReg(u8::MAX));
        }
    });
    dst.filter(|d| matches!(d, Reg::V(_))).map(|d| (key, d))
}

/// Moves what the loop `start..=end` (a label at `start`) computes the
/// same on every iteration before its label: its invariant beginning, then
/// invariant loads and computations further down the body's straight line
/// (see `hoist_beyond_prefix`). Returns, for each new position from
/// `start` to `end`, the old position of the instruction now there.
fn hoist_from_loop(f: &mut Function, start: usize, end: usize, refs: &[Vec<usize>], label_at: &[usize]) -> Vec<usize> {
    let unchanged = || (start..=end).collect();
    let span = &f.body[start..=end];
    let entered_only_at_its_label = span.iter().skip(1).all(|inst| match inst {
        Inst::Label(l) => refs[l.0 as usize].iter().all(|&r| (start..=end).contains(&r)),
        _ => true,
    });
    if !entered_only_at_its_label {
        return unchanged();
    }
    let mut stores_elements = false;
    for (k, inst) in span.iter().enumerate() {
        if writes_memory(inst, span.get(k + 1)) {
            if !matches!(inst, Inst::StoreElement { .. }) {
                return unchanged();
            }
            stores_elements = true;
        }
    }
    let memory = LoopMemory { stores_elements, headers: checked_headers(&f.body, start, end, refs, label_at) };
    let mut writes: HashMap<Reg, u32> = HashMap::new();
    for inst in span {
        for_each_reg(inst, |r, role| {
            if role == Role::Def {
                *writes.entry(r).or_default() += 1;
            }
        });
    }
    let body = &f.body;
    let mut prefix_end = start + 1;
    while prefix_end < end {
        if body[prefix_end] == Inst::Nop {
            prefix_end += 1;
        } else if invariant(&body[prefix_end], &writes, &memory) {
            take(&body[prefix_end], &mut writes);
            prefix_end += 1;
        } else if let Some(after) = invariant_check(body, prefix_end, &mut writes, &memory, refs, label_at) {
            prefix_end = after;
        } else {
            break;
        }
    }
    let further = hoist_beyond_prefix(body, start + 1..prefix_end, end, &mut writes, &memory, refs, label_at);
    if prefix_end == start + 1 && further.is_empty() {
        return unchanged();
    }
    // New order: the prefix, what moved from further down, the label, the
    // rest of the loop.
    let mut order: Vec<usize> = (start + 1..prefix_end).chain(further.iter().copied()).collect();
    order.push(start);
    let mut further = further.into_iter().peekable();
    for old in prefix_end..=end {
        if further.peek() == Some(&old) {
            further.next();
        } else {
            order.push(old);
        }
    }
    let mut taken: Vec<Inst> = order.iter().map(|&old| std::mem::replace(&mut f.body[old], Inst::Nop)).collect();
    f.body[start..=end].swap_with_slice(&mut taken);
    if !f.sources.is_empty() {
        let moved: Vec<u32> = order.iter().map(|&old| f.sources[old]).collect();
        f.sources[start..=end].copy_from_slice(&moved);
    }
    order
}

/// Past the invariant beginning (`prefix`), the instructions of the loop's
/// straight line (up to its first branch other than a bounds check) that
/// compute the same every time and cannot fault: computations, and loads
/// through a register the loop never writes that is an array or string
/// the loop checks indices of (see `LoopMemory::headers`) or a pointer
/// read through on every iteration before the first check passed over.
/// (`written_in_loop` excludes a pointer the loop loads, such as the data
/// pointer an element at a constant index is read through.) They may move
/// past bounds checks that depend on the iteration (an invariant check
/// stops the scan: it may be what makes a later load valid), as they run
/// on every iteration that does not panic, and moving them changes
/// nothing but which of a panic and a read of valid memory comes first.
/// Their results must not be read before them in the loop. Returns their
/// positions, in order.
fn hoist_beyond_prefix(
    body: &[Inst],
    prefix: std::ops::Range<usize>,
    end: usize,
    writes: &mut HashMap<Reg, u32>,
    memory: &LoopMemory,
    refs: &[Vec<usize>],
    label_at: &[usize],
) -> Vec<usize> {
    // What the prefix computes is as good as computed before the loop.
    let written_in_loop: HashSet<Reg> = writes.iter().filter(|(_, n)| **n > 0).map(|(r, _)| *r).collect();
    // Pointers read through on every iteration before any check is passed
    // over (the prefix's, outside its checks' panic paths; then the
    // straight line's up to the first check skipped): valid, or the loop
    // faults there first anyway.
    let mut dereferenced: HashSet<Reg> = HashSet::new();
    let mut in_panic_path = false;
    for inst in &body[prefix.clone()] {
        match inst {
            Inst::Jcc(..) => in_panic_path = true,
            Inst::Label(_) => in_panic_path = false,
            _ if !in_panic_path => dereferenced.extend(memory_base(inst)),
            _ => {}
        }
    }
    let mut passed_a_check = false;
    let from = prefix.end;
    let mut moved = Vec::new();
    let mut read_in_place: HashSet<Reg> = HashSet::new();
    let stays = |inst: &Inst, read_in_place: &mut HashSet<Reg>| {
        for_each_reg(inst, |r, role| {
            if role == Role::Use {
                read_in_place.insert(r);
            }
        })
    };
    let mut at = from;
    while at < end {
        let inst = &body[at];
        if let Some(after) = bounds_check(body, at, refs, label_at) {
            if operands_invariant(&body[at], writes) {
                break;
            }
            body[at..after].iter().for_each(|inst| stays(inst, &mut read_in_place));
            passed_a_check = true;
            at = after;
            continue;
        }
        if matches!(inst, Inst::Label(_) | Inst::Jmp(_) | Inst::Jcc(..) | Inst::Ret | Inst::Trap) {
            break;
        }
        if !passed_a_check {
            dereferenced.extend(memory_base(inst));
        }
        let cannot_fault = match inst {
            Inst::Load { base, .. } => {
                !written_in_loop.contains(base) && (memory.headers.contains(base) || dereferenced.contains(base))
            }
            Inst::Bin { op: BinOp::Sdiv | BinOp::Srem, b, .. } => matches!(b, Src::Imm(n) if *n != 0),
            Inst::LoadElement { .. } => false,
            _ => true,
        };
        let result_unread = defs(inst).all(|r| !read_in_place.contains(&r));
        if cannot_fault && result_unread && invariant(inst, writes, memory) {
            take(inst, writes);
            moved.push(at);
        } else {
            stays(inst, &mut read_in_place);
        }
        at += 1;
    }
    moved
}

/// A bounds check the expansion wrote at `at`: `cmp; jcc ok; <load of the
/// length, call of the index panic>; trap; ok:`. Returns the index after
/// its label.
fn bounds_check(body: &[Inst], at: usize, refs: &[Vec<usize>], label_at: &[usize]) -> Option<usize> {
    let ok_at = check_with_panic_path(body, at, refs, label_at)?;
    let path = &body[at + 2..ok_at - 1];
    let (Some(Inst::CallWith { callee, .. }), before) = (path.last(), &path[..path.len().saturating_sub(1)]) else {
        return None;
    };
    let plain = before.iter().all(|inst| matches!(inst, Inst::Load { .. } | Inst::Mov { .. }));
    (callee == INDEX_PANIC && plain).then_some(ok_at + 1)
}

/// A check at `at` with a path that ends in a trap: `cmp; jcc ok; <path>;
/// trap; ok:`, `ok` reached only from the check. Returns where `ok` is.
fn check_with_panic_path(body: &[Inst], at: usize, refs: &[Vec<usize>], label_at: &[usize]) -> Option<usize> {
    let (Inst::Cmp { .. }, Some(Inst::Jcc(_, ok))) = (&body[at], body.get(at + 1)) else { return None };
    let ok_at = label_at[ok.0 as usize];
    let shaped = refs[ok.0 as usize] == [at + 1] && ok_at > at + 2 && body[ok_at - 1] == Inst::Trap;
    shaped.then_some(ok_at)
}

/// The pointer a memory access reads or writes through.
fn memory_base(inst: &Inst) -> Option<Reg> {
    match inst {
        Inst::Load { base, .. }
        | Inst::Store { base, .. }
        | Inst::LoadElement { base, .. }
        | Inst::StoreElement { base, .. }
        | Inst::Copy16 { dst: base, .. } => Some(*base),
        _ => None,
    }
}

/// The registers `inst` writes.
fn defs(inst: &Inst) -> impl Iterator<Item = Reg> {
    let mut out = Vec::new();
    for_each_reg(inst, |r, role| {
        if role == Role::Def {
            out.push(r);
        }
    });
    out.into_iter()
}

/// Whether `inst` may write memory a load in the loop reads (a call may),
/// `next` being the instruction after it.
fn writes_memory(inst: &Inst, next: Option<&Inst>) -> bool {
    match inst {
        // A panic's call never returns: nothing after it reads memory.
        Inst::CallWith { .. } => next != Some(&Inst::Trap),
        Inst::Store { .. }
        | Inst::StoreElement { .. }
        | Inst::Copy16 { .. }
        | Inst::Call(_)
        | Inst::CallIndirect(_)
        | Inst::CallFirmware { .. }
        | Inst::Syscall
        | Inst::Raw(_)
        | Inst::Push(_)
        | Inst::Pop(_)
        | Inst::Mov { dst: Dst::Stack(_), .. } => true,
        _ => false,
    }
}

/// What a loop does with memory, which decides the loads that may leave it.
struct LoopMemory {
    /// Whether it stores, only elements, each after its bounds check, so
    /// within an element buffer (a loop storing anything else keeps its
    /// loads). No such store reaches a header: loads of the headers of
    /// `headers` still read the same every time; nothing else loaded does.
    stores_elements: bool,
    /// The arrays and strings whose indices the loop checks. An array or
    /// a string always points at its header (the IR has no null array),
    /// so loading from one cannot fault.
    headers: HashSet<Reg>,
}

impl LoopMemory {
    fn load_may_move(&self, inst: &Inst) -> bool {
        match inst {
            Inst::Load { width: Width::W64, base, offset: 0 | 8 | 16, .. } if self.stores_elements => {
                self.headers.contains(base)
            }
            Inst::Load { .. } | Inst::LoadElement { .. } => !self.stores_elements,
            _ => true,
        }
    }
}

/// The arrays and strings whose indices the loop `start..=end` checks:
/// the registers the panic paths of its bounds checks load the length of.
fn checked_headers(body: &[Inst], start: usize, end: usize, refs: &[Vec<usize>], label_at: &[usize]) -> HashSet<Reg> {
    let mut headers = HashSet::new();
    for at in start..=end {
        if let Some(after) = bounds_check(body, at, refs, label_at) {
            headers.extend(body[at + 2..after].iter().filter_map(|inst| match inst {
                Inst::Load { base, offset: 8, .. } => Some(*base),
                _ => None,
            }));
        }
    }
    headers
}

/// Whether `inst` computes a vreg written nowhere else in the loop from
/// values the loop does not change (reading memory only as `memory`
/// allows).
fn invariant(inst: &Inst, writes: &HashMap<Reg, u32>, memory: &LoopMemory) -> bool {
    let computes = matches!(
        inst,
        Inst::Mov { dst: Dst::Reg(_), src: Operand::Reg(_) | Operand::Imm(_) }
            | Inst::Bin { .. }
            | Inst::Unary { .. }
            | Inst::Load { .. }
            | Inst::LoadElement { .. }
            | Inst::Lea { .. }
            | Inst::FloatBin { .. }
            | Inst::FloatSqrt { .. }
            | Inst::IntToFloat { .. }
            | Inst::FloatToInt { .. }
    );
    computes && memory.load_may_move(inst) && operands_invariant(inst, writes)
}

/// Whether every register `inst` reads is a vreg the loop does not write,
/// and every one it writes a vreg written only there.
fn operands_invariant(inst: &Inst, writes: &HashMap<Reg, u32>) -> bool {
    let mut ok = true;
    for_each_reg(inst, |r, role| {
        let written = writes.get(&r).copied().unwrap_or(0);
        ok &= matches!(r, Reg::V(_)) && written == if role == Role::Def { 1 } else { 0 };
    });
    ok
}

/// A bounds check at `at` whose operands the loop does not change, and its
/// panic path: `cmp; jcc ok; <path ending in a trap>; ok:`. Returns the
/// index after its label, the path's writes taken.
fn invariant_check(
    body: &[Inst],
    at: usize,
    writes: &mut HashMap<Reg, u32>,
    memory: &LoopMemory,
    refs: &[Vec<usize>],
    label_at: &[usize],
) -> Option<usize> {
    let ok_at = check_with_panic_path(body, at, refs, label_at)?;
    // No label on the path: it is entered only from the check.
    if body[at + 2..ok_at].iter().any(|inst| matches!(inst, Inst::Label(_))) {
        return None;
    }
    if !operands_invariant(&body[at], writes) {
        return None;
    }
    let path = &body[at + 2..ok_at - 1];
    for (k, inst) in path.iter().enumerate() {
        let moves = match inst {
            Inst::CallWith { .. } => operands_invariant(inst, writes),
            other => invariant(other, writes, memory),
        };
        if !moves {
            path[..k].iter().for_each(|inst| give_back(inst, writes));
            return None;
        }
        take(inst, writes);
    }
    Some(ok_at + 1)
}

/// Undoes `take`.
fn give_back(inst: &Inst, writes: &mut HashMap<Reg, u32>) {
    for_each_reg(inst, |r, role| {
        if role == Role::Def {
            *writes.get_mut(&r).expect("a write the loop counted") += 1;
        }
    });
}

/// Counts `inst`'s writes as gone from the loop.
fn take(inst: &Inst, writes: &mut HashMap<Reg, u32>) {
    for_each_reg(inst, |r, role| {
        if role == Role::Def {
            *writes.get_mut(&r).expect("a write the loop counted") -= 1;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{BinOp, Cond, Src, Width};
    use crate::opt::tests::function;

    /// A loop summing `a[i]`, its bounds checked against the length the
    /// body loads first: `top: len = a.len; check i < len; ...; i += 1;
    /// jcc top`.
    fn summing_loop(extra: Option<Inst>) -> Vec<Inst> {
        let (top, ok) = (Label(0), Label(1));
        let mut body = vec![
            Inst::Label(top),
            Inst::Load { width: Width::W64, dst: Reg::V(2), base: Reg::V(0), offset: 8 },
            Inst::Cmp { a: Reg::V(5), b: Src::Reg(Reg::V(2)) },
            Inst::Jcc(Cond::Ltu, ok),
            Inst::CallWith { callee: "panic".into(), args: vec![Src::Reg(Reg::V(5))], dst: None },
            Inst::Trap,
            Inst::Label(ok),
            Inst::LoadElement { width: Width::W64, dst: Reg::V(3), base: Reg::V(0), index: Reg::V(1) },
            Inst::Bin { op: BinOp::Add, dst: Reg::V(4), a: Reg::V(4), b: Src::Reg(Reg::V(3)) },
        ];
        body.extend(extra);
        body.extend([
            Inst::Bin { op: BinOp::Add, dst: Reg::V(1), a: Reg::V(1), b: Src::Imm(1) },
            Inst::Cmp { a: Reg::V(1), b: Src::Imm(100) },
            Inst::Jcc(Cond::Lt, top),
            Inst::Ret,
        ]);
        body
    }

    #[test]
    fn an_invariant_load_and_check_move_before_the_loop() {
        let mut f = function(vec![], summing_loop(None));
        hoist_loop_invariants(&mut f);
        let label_at = f.body.iter().position(|i| *i == Inst::Label(Label(0))).unwrap();
        assert_eq!(label_at, 6, "{:#?}", f.body);
        assert!(matches!(f.body[0], Inst::Load { offset: 8, .. }));
        assert!(matches!(f.body[7], Inst::LoadElement { .. }));
    }

    #[test]
    fn nothing_moves_out_of_a_loop_that_stores() {
        let store = Inst::Store { width: Width::W64, base: Reg::V(6), offset: 0, src: Src::Imm(0) };
        let mut f = function(vec![], summing_loop(Some(store)));
        let before = f.body.clone();
        hoist_loop_invariants(&mut f);
        assert_eq!(f.body, before);
    }

    #[test]
    fn a_value_the_loop_changes_stays() {
        // The index register of the check, written by the loop.
        let mut body = summing_loop(None);
        body[2] = Inst::Cmp { a: Reg::V(1), b: Src::Reg(Reg::V(2)) };
        let mut f = function(vec![], body);
        hoist_loop_invariants(&mut f);
        assert_eq!(f.body.iter().position(|i| *i == Inst::Label(Label(0))), Some(1));
    }

    /// `top: check i < a.len (the index varies); x = b.len; y = [p + 16]
    /// where p = b.data; ...; i += 1; jcc top`, with the length of `a`
    /// loaded before the loop.
    /// The check is of an index of `b` (its panic path loads `b`'s length)
    /// when `b_checked`.
    fn loop_past_a_varying_check(b_checked: bool) -> Vec<Inst> {
        let (top, ok) = (Label(0), Label(1));
        let (a_len, i, b, x, p, y) = (Reg::V(0), Reg::V(1), Reg::V(2), Reg::V(3), Reg::V(4), Reg::V(5));
        let length = match b_checked {
            true => Inst::Load { width: Width::W64, dst: Reg::V(8), base: b, offset: 8 },
            false => Inst::Nop,
        };
        vec![
            Inst::Label(top),
            Inst::Cmp { a: i, b: Src::Reg(a_len) },
            Inst::Jcc(Cond::Ltu, ok),
            length,
            Inst::CallWith { callee: INDEX_PANIC.into(), args: vec![Src::Reg(i), Src::Reg(a_len)], dst: None },
            Inst::Trap,
            Inst::Label(ok),
            Inst::Load { width: Width::W64, dst: x, base: b, offset: 8 },
            Inst::Load { width: Width::W64, dst: p, base: b, offset: 0 },
            Inst::Load { width: Width::W64, dst: y, base: p, offset: 16 },
            Inst::PrintInt(Src::Reg(y)),
            Inst::Bin { op: BinOp::Add, dst: i, a: i, b: Src::Reg(x) },
            Inst::Cmp { a: i, b: Src::Imm(100) },
            Inst::Jcc(Cond::Lt, top),
            Inst::Ret,
        ]
    }

    #[test]
    fn header_loads_move_past_a_check_that_varies_but_not_a_load_through_a_loaded_pointer() {
        let mut f = function(vec![], loop_past_a_varying_check(true));
        hoist_loop_invariants(&mut f);
        // `x` and `p` (loads from `b`, which the loop never writes) now come
        // first; `y`, read through `p`, stays after the check.
        assert!(matches!(f.body[0], Inst::Load { offset: 8, .. }), "{:#?}", f.body);
        assert!(matches!(f.body[1], Inst::Load { offset: 0, .. }), "{:#?}", f.body);
        assert_eq!(f.body[2], Inst::Label(Label(0)));
        let ok = f.body.iter().position(|i| *i == Inst::Label(Label(1))).unwrap();
        assert!(matches!(f.body[ok + 1], Inst::Load { offset: 16, .. }), "{:#?}", f.body);
        assert!(matches!(f.body[4], Inst::Jcc(Cond::Ltu, Label(1))));
    }

    #[test]
    fn an_invariant_check_after_a_varying_one_stops_the_loads_below_it() {
        // The second check's operands never change: it may be what makes
        // the load below it valid (an element at a constant index).
        let mut body = loop_past_a_varying_check(true);
        let ok2 = Label(2);
        body.splice(
            7..7,
            [
                Inst::Cmp { a: Reg::V(6), b: Src::Reg(Reg::V(7)) },
                Inst::Jcc(Cond::Ltu, ok2),
                Inst::CallWith { callee: INDEX_PANIC.into(), args: vec![], dst: None },
                Inst::Trap,
                Inst::Label(ok2),
            ],
        );
        let mut f = function(vec![], body);
        let before = f.body.clone();
        hoist_loop_invariants(&mut f);
        assert_eq!(f.body, before);
    }

    #[test]
    fn a_loop_storing_only_checked_elements_keeps_the_checked_headers_out_of_it() {
        // `top: check i < a.len; p = a.data; a[i] = 0; q = b.data; x = [q];
        // ...`: the store reaches no header, so the loads of a's header
        // leave; b's header (no check of b) and the element stay.
        let (top, ok) = (Label(0), Label(1));
        let (a, i, limit, p, b, q, x, len) =
            (Reg::V(0), Reg::V(1), Reg::V(2), Reg::V(3), Reg::V(4), Reg::V(5), Reg::V(6), Reg::V(7));
        let mut f = function(
            vec![],
            vec![
                Inst::Label(top),
                Inst::Load { width: Width::W64, dst: limit, base: a, offset: 8 },
                Inst::Cmp { a: i, b: Src::Reg(limit) },
                Inst::Jcc(Cond::Ltu, ok),
                Inst::Load { width: Width::W64, dst: len, base: a, offset: 8 },
                Inst::CallWith { callee: INDEX_PANIC.into(), args: vec![Src::Reg(i), Src::Reg(len)], dst: None },
                Inst::Trap,
                Inst::Label(ok),
                Inst::Load { width: Width::W64, dst: p, base: a, offset: 0 },
                Inst::StoreElement { width: Width::W64, base: p, index: i, src: Src::Imm(0) },
                Inst::Load { width: Width::W64, dst: q, base: b, offset: 0 },
                Inst::LoadElement { width: Width::W64, dst: x, base: q, index: i },
                Inst::PrintInt(Src::Reg(x)),
                Inst::Bin { op: BinOp::Add, dst: i, a: i, b: Src::Imm(1) },
                Inst::Cmp { a: i, b: Src::Imm(100) },
                Inst::Jcc(Cond::Lt, top),
                Inst::Ret,
            ],
        );
        hoist_loop_invariants(&mut f);
        let label_at = f.body.iter().position(|i| *i == Inst::Label(top)).unwrap();
        let before_loop: Vec<&Inst> = f.body[..label_at].iter().collect();
        assert!(
            matches!(
                before_loop[..],
                [Inst::Load { base: Reg::V(0), offset: 8, .. }, Inst::Load { base: Reg::V(0), offset: 0, .. }]
            ),
            "{:#?}",
            f.body
        );
    }

    #[test]
    fn the_same_header_loaded_twice_is_loaded_once_before_the_loop() {
        let load = |dst| Inst::Load { width: Width::W64, dst, base: Reg::V(0), offset: 8 };
        let body = |first: Inst, second: Inst| {
            vec![
                Inst::Label(Label(0)),
                first,
                second,
                Inst::Bin { op: BinOp::Add, dst: Reg::V(4), a: Reg::V(2), b: Src::Reg(Reg::V(3)) },
                Inst::PrintInt(Src::Reg(Reg::V(4))),
                Inst::Bin { op: BinOp::Add, dst: Reg::V(1), a: Reg::V(1), b: Src::Imm(1) },
                Inst::Cmp { a: Reg::V(1), b: Src::Imm(10) },
                Inst::Jcc(Cond::Lt, Label(0)),
                Inst::Ret,
            ]
        };
        let mut f = function(vec![], body(load(Reg::V(2)), load(Reg::V(3))));
        hoist_loop_invariants(&mut f);
        let loads = f.body.iter().filter(|i| matches!(i, Inst::Load { .. })).count();
        assert_eq!(loads, 1, "{:#?}", f.body);
        let sum = Inst::Bin { op: BinOp::Add, dst: Reg::V(4), a: Reg::V(2), b: Src::Reg(Reg::V(2)) };
        assert!(f.body.contains(&sum), "{:#?}", f.body);
        // A second load of another field stays a load of its own.
        let other = Inst::Load { width: Width::W64, dst: Reg::V(3), base: Reg::V(0), offset: 0 };
        let mut f = function(vec![], body(load(Reg::V(2)), other));
        hoist_loop_invariants(&mut f);
        assert_eq!(f.body.iter().filter(|i| matches!(i, Inst::Load { .. })).count(), 2);
    }

    #[test]
    fn a_load_through_a_pointer_neither_checked_nor_read_before_stays_after_the_check() {
        // `b` may be null (a struct pointer): its loads may fault, and must
        // not fault before the check's panic.
        let mut f = function(vec![], loop_past_a_varying_check(false));
        let before = f.body.clone();
        hoist_loop_invariants(&mut f);
        assert_eq!(f.body, before);
    }
}
