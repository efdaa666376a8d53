//! Loop rotation: a loop written as the generator writes it, its test at
//! the top and a jump back at the bottom,
//!
//! ```text
//! H: <test>; jcc exit        →   <test>; jcc exit     (the guard)
//!    <body>                      B: <body>
//!    jmp H                          <test>; jcc !cond, B
//! exit:                          exit:
//! ```
//!
//! runs one branch an iteration instead of two, and its body, entered
//! only from the guard and from its own bottom, has a place before it that
//! runs once when the loop runs at all (where `hoist` puts what the body
//! computes the same every time).
//!
//! The test is duplicated, so it must be short and free of anything but
//! arithmetic and loads into vregs and the compare: at most `MAX_TEST`
//! instructions before its `jcc`, no label among them, and every jump to
//! `H` must be an unconditional jump from below it. (A physical register
//! the test wrote could be what the body's first block needs there, such
//! as a system call's number, which must be set in the call's block.)

use crate::ir::{Dst, Function, Inst, Label, Operand, Reg};
use crate::operands::{for_each_reg, Role};

use super::label_references;

/// Instructions a test may have before its `cmp`'s `jcc`.
const MAX_TEST: usize = 4;

/// Rotates every loop of `f` whose shape allows it.
pub fn rotate_loops(f: &mut Function) {
    let refs = label_references(f);
    let mut rotations = Vec::new();
    for (h, inst) in f.body.iter().enumerate() {
        let Inst::Label(head) = inst else { continue };
        if let Some(test_end) = rotatable(f, h, *head, &refs[head.0 as usize]) {
            rotations.push((h, test_end, *head));
        }
    }
    if rotations.is_empty() {
        return;
    }
    // Where each rotated loop's head and its test are, by head label.
    let mut test_of: Vec<Option<(usize, usize, Label)>> = vec![None; f.labels.len()];
    // The instructions of the tests, which move with their head.
    let mut in_test = vec![false; f.body.len()];
    for &(h, test_end, head) in &rotations {
        in_test[h + 1..=test_end].iter_mut().for_each(|t| *t = true);
        f.labels.push(format!("__vbeam_loop{}", f.labels.len()));
        let body_label = Label(f.labels.len() as u32 - 1);
        test_of[head.0 as usize] = Some((h, test_end, body_label));
    }
    let old = std::mem::take(&mut f.body);
    let mut body = Vec::with_capacity(old.len() + rotations.len() * (MAX_TEST + 2));
    // Each instruction of the new body as the old one it copies (the head's
    // new label as the head, the bottom test's jumps as the jump back).
    let mut copied = Vec::with_capacity(body.capacity());
    for (i, inst) in old.iter().enumerate() {
        match inst {
            Inst::Label(head) if test_of[head.0 as usize].is_some_and(|(h, _, _)| h == i) => {
                let (_, test_end, body_label) = test_of[head.0 as usize].expect("a rotated head");
                body.extend_from_slice(&old[i + 1..=test_end]);
                body.push(Inst::Label(body_label));
                copied.extend(i + 1..=test_end);
                copied.push(i);
            }
            _ if in_test[i] => {}
            Inst::Jmp(head) if test_of[head.0 as usize].is_some() => {
                let (h, test_end, body_label) = test_of[head.0 as usize].expect("a rotated head");
                let Inst::Jcc(cond, exit) = old[test_end] else { unreachable!("a test ends in a jcc") };
                body.extend_from_slice(&old[h + 1..test_end]);
                body.push(Inst::Jcc(cond.inverse(), body_label));
                copied.extend(h + 1..=test_end);
                if old.get(i + 1) != Some(&Inst::Label(exit)) {
                    body.push(Inst::Jmp(exit));
                    copied.push(i);
                }
            }
            other => {
                body.push(other.clone());
                copied.push(i);
            }
        }
    }
    f.body = body;
    if !f.sources.is_empty() {
        f.sources = copied.iter().map(|&i| f.sources[i]).collect();
    }
}

/// The index of the `jcc` ending the test of the loop whose head label
/// `head` stands at `h`, if the loop can be rotated.
fn rotatable(f: &Function, h: usize, head: Label, refs: &[usize]) -> Option<usize> {
    let body = &f.body;
    let test_end = (h + 1..body.len().min(h + MAX_TEST + 2)).find(|&i| matches!(body[i], Inst::Jcc(..)))?;
    let Inst::Jcc(_, exit) = body[test_end] else { return None };
    let duplicable = body[h + 1..test_end].iter().all(|inst| {
        let mut writes_vregs_only = true;
        for_each_reg(inst, |r, role| writes_vregs_only &= role == Role::Use || matches!(r, Reg::V(_)));
        let kind = matches!(
            inst,
            Inst::Mov { dst: Dst::Reg(_), src: Operand::Reg(_) | Operand::Imm(_) }
                | Inst::Bin { .. }
                | Inst::Unary { .. }
                | Inst::Load { .. }
                | Inst::Cmp { .. }
        );
        kind && writes_vregs_only
    });
    let jumps_back = !refs.is_empty() && refs.iter().all(|&r| r > test_end && body[r] == Inst::Jmp(head));
    // The body must not begin with a second jcc on the test's flags.
    let body_starts_plainly = !matches!(body.get(test_end + 1), Some(Inst::Jcc(..)));
    (test_end > h + 1
        && matches!(body[test_end - 1], Inst::Cmp { .. })
        && duplicable
        && jumps_back
        && body_starts_plainly
        && exit != head)
        .then_some(test_end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{BinOp, Cond, Src};
    use crate::opt::tests::function;

    fn counting_loop(latch: Inst) -> Function {
        let (head, exit) = (Label(0), Label(1));
        function(
            vec![],
            vec![
                Inst::Label(head),
                Inst::Cmp { a: Reg::V(0), b: Src::Imm(10) },
                Inst::Jcc(Cond::Ge, exit),
                Inst::Bin { op: BinOp::Add, dst: Reg::V(0), a: Reg::V(0), b: Src::Imm(1) },
                latch,
                Inst::Label(exit),
                Inst::Ret,
            ],
        )
    }

    #[test]
    fn a_loop_tested_at_the_top_is_tested_at_the_bottom() {
        let mut f = counting_loop(Inst::Jmp(Label(0)));
        rotate_loops(&mut f);
        let body_label = Label(2);
        assert_eq!(
            f.body,
            vec![
                Inst::Cmp { a: Reg::V(0), b: Src::Imm(10) },
                Inst::Jcc(Cond::Ge, Label(1)),
                Inst::Label(body_label),
                Inst::Bin { op: BinOp::Add, dst: Reg::V(0), a: Reg::V(0), b: Src::Imm(1) },
                Inst::Cmp { a: Reg::V(0), b: Src::Imm(10) },
                Inst::Jcc(Cond::Lt, body_label),
                Inst::Label(Label(1)),
                Inst::Ret,
            ]
        );
    }

    #[test]
    fn a_test_that_sets_a_physical_register_stays_as_it_is() {
        // The body's first block may need it there (a system call's number).
        let mut f = counting_loop(Inst::Jmp(Label(0)));
        f.body.insert(1, Inst::Mov { dst: Dst::Reg(Reg::P(crate::ir::PReg(16))), src: Operand::Imm(4) });
        let before = f.body.clone();
        rotate_loops(&mut f);
        assert_eq!(f.body, before);
    }

    #[test]
    fn a_head_jumped_to_conditionally_stays_as_it_is() {
        let mut f = counting_loop(Inst::Jcc(Cond::Ne, Label(0)));
        let before = f.body.clone();
        rotate_loops(&mut f);
        assert_eq!(f.body, before);
    }
}
