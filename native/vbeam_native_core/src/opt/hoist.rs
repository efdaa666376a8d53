//! Loop-invariant code motion, of the instructions a loop's body begins
//! with. Those that compute the same value on every iteration (their
//! operands written nowhere in the loop, their result written only there,
//! and, for loads, memory written nowhere in the loop) are moved before
//! the loop's label, where they run once, when the loop is entered.
//!
//! Only the invariant instructions the body *begins* with move: in the
//! first iteration they ran right after the loop was entered, so running
//! them there instead changes nothing, not even which check panics first
//! (a bounds check moves with its panic path, and a load is never run
//! earlier than it was). After `rotate`, the place before the label is
//! after the loop's guard, so nothing moves into a path that never entered
//! the loop.

use std::collections::HashMap;

use crate::ir::{Dst, Function, Inst, Label, Operand, Reg};
use crate::operands::{for_each_reg, Role};

use super::label_references;

/// How many times, on average, an instruction may be looked at as part of
/// a loop around it.
const SCANS_PER_INSTRUCTION: usize = 8;

/// Hoists the invariant beginnings of `f`'s loops, innermost first.
pub fn hoist_loop_prefixes(f: &mut Function) {
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
    for (start, end, label) in loops {
        budget = match budget.checked_sub(end - start + 1) {
            Some(left) => left,
            None => break,
        };
        let start = label_at[label.0 as usize];
        let hoisted = hoist_prefix(f, start, end, &refs, &label_at);
        // The label moved after what was hoisted, which moved up by one.
        for i in start + 1..hoisted {
            match &f.body[i - 1] {
                Inst::Label(l) => label_at[l.0 as usize] = i - 1,
                Inst::Jmp(l) | Inst::Jcc(_, l) => {
                    refs[l.0 as usize].iter_mut().filter(|r| **r == i).for_each(|r| *r = i - 1)
                }
                _ => {}
            }
        }
        label_at[label.0 as usize] = hoisted.max(start + 1) - 1;
    }
}

/// Moves the invariant beginning of the loop `start..=end` (a label at
/// `start`) before its label; returns the index after what moved.
fn hoist_prefix(f: &mut Function, start: usize, end: usize, refs: &[Vec<usize>], label_at: &[usize]) -> usize {
    let span = &f.body[start..=end];
    let entered_only_at_its_label = span.iter().skip(1).all(|inst| match inst {
        Inst::Label(l) => refs[l.0 as usize].iter().all(|&r| (start..=end).contains(&r)),
        _ => true,
    });
    let keeps_memory = span.iter().enumerate().all(|(k, inst)| !writes_memory(inst, span.get(k + 1)));
    if !entered_only_at_its_label || !keeps_memory {
        return start + 1;
    }
    let mut writes: HashMap<Reg, u32> = HashMap::new();
    for inst in span {
        for_each_reg(inst, |r, role| {
            if role == Role::Def {
                *writes.entry(r).or_default() += 1;
            }
        });
    }
    let body = &f.body;
    let mut hoisted = start + 1;
    while hoisted < end {
        if body[hoisted] == Inst::Nop {
            hoisted += 1;
        } else if invariant(&body[hoisted], &writes) {
            take(&body[hoisted], &mut writes);
            hoisted += 1;
        } else if let Some(after) = invariant_check(body, hoisted, &mut writes, refs, label_at) {
            hoisted = after;
        } else {
            break;
        }
    }
    f.body[start..hoisted].rotate_left(1);
    hoisted
}

/// Whether `inst` may write memory a load in the loop reads (a call may),
/// `next` being the instruction after it.
fn writes_memory(inst: &Inst, next: Option<&Inst>) -> bool {
    match inst {
        // A panic's call never returns: nothing after it reads memory.
        Inst::CallWith { .. } => next != Some(&Inst::Trap),
        Inst::Store { .. }
        | Inst::StoreElement { .. }
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

/// Whether `inst` computes a vreg written nowhere else in the loop from
/// values the loop does not change.
fn invariant(inst: &Inst, writes: &HashMap<Reg, u32>) -> bool {
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
    computes && operands_invariant(inst, writes)
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
    refs: &[Vec<usize>],
    label_at: &[usize],
) -> Option<usize> {
    let (Inst::Cmp { .. }, Some(Inst::Jcc(_, ok))) = (&body[at], body.get(at + 1)) else { return None };
    let ok_at = label_at[ok.0 as usize];
    if refs[ok.0 as usize] != [at + 1] || ok_at <= at + 2 || body[ok_at - 1] != Inst::Trap {
        return None;
    }
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
            other => invariant(other, writes),
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
        hoist_loop_prefixes(&mut f);
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
        hoist_loop_prefixes(&mut f);
        assert_eq!(f.body, before);
    }

    #[test]
    fn a_value_the_loop_changes_stays() {
        // The index register of the check, written by the loop.
        let mut body = summing_loop(None);
        body[2] = Inst::Cmp { a: Reg::V(1), b: Src::Reg(Reg::V(2)) };
        let mut f = function(vec![], body);
        hoist_loop_prefixes(&mut f);
        assert_eq!(f.body.iter().position(|i| *i == Inst::Label(Label(0))), Some(1));
    }
}
