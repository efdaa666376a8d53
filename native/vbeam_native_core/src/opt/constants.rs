//! Constant and copy propagation with constant folding, and common
//! subexpressions, within extended basic blocks (from a label to the next:
//! a `jcc`'s fall-through keeps what was known before it).
//!
//! A vreg moved an immediate is that constant, one moved another vreg a
//! copy of it, until either is written again. Reads of a constant become
//! immediates where the operand may be one, reads of a copy read the
//! original, and operations on constants are computed here with the IR's
//! 64-bit wrapping semantics. An operation on the same operands (the same
//! vregs, not written since) as an earlier one in the block becomes a copy
//! of that one's result, while it holds it (a float operation too: both
//! round alike). Physical registers are left alone: calls,
//! system calls and the lowering's fixed registers change them, and a vreg
//! read in place of one would cross those.

use std::collections::VecDeque;

use super::{vreg_index, Body, Context};
use crate::ir::{BinOp, Dst, FloatOp, Inst, Operand, Reg, Src, UnOp};
use crate::operands::{for_each_reg, for_each_reg_mut, Role};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fact {
    Constant(i64),
    /// A copy of the vreg taken while it was at `version`.
    Copy {
        of: u32,
        version: u32,
    },
}

/// What is known about each vreg at one point of a block.
struct Facts {
    /// Bumped at each label: facts from an older block are forgotten.
    block: u32,
    /// Per vreg: the block its fact was learnt in, and the fact.
    facts: Vec<(u32, Option<Fact>)>,
    /// Per vreg: how many times it was written so far.
    versions: Vec<u32>,
}

impl Facts {
    fn of(&self, v: usize) -> Option<Fact> {
        match self.facts[v] {
            (block, Some(Fact::Copy { of, version })) if block == self.block => {
                (self.versions[of as usize] == version).then_some(Fact::Copy { of, version })
            }
            (block, fact) if block == self.block => fact,
            _ => None,
        }
    }
    fn constant(&self, r: Reg) -> Option<i64> {
        match vreg_index(r).and_then(|v| self.of(v)) {
            Some(Fact::Constant(c)) => Some(c),
            _ => None,
        }
    }
    fn constant_src(&self, s: Src) -> Option<i64> {
        match s {
            Src::Reg(r) => self.constant(r),
            Src::Imm(_) => None,
        }
    }
    fn constant_operand(&self, o: &Operand) -> Option<i64> {
        match o {
            Operand::Reg(r) => self.constant(*r),
            _ => None,
        }
    }
    /// The vreg whose copy `r` is, if any.
    fn original(&self, r: Reg) -> Option<Reg> {
        match vreg_index(r).and_then(|v| self.of(v)) {
            Some(Fact::Copy { of, .. }) => Some(Reg::V(of)),
            _ => None,
        }
    }
    /// Records that `inst` wrote vreg `v`.
    fn written(&mut self, v: usize, inst: &Inst) {
        self.versions[v] += 1;
        let fact = match inst {
            Inst::Mov { src: Operand::Imm(c), .. } => Some(Fact::Constant(*c)),
            Inst::Mov { src: Operand::Reg(Reg::V(of)), .. } if *of as usize != v => {
                Some(Fact::Copy { of: *of, version: self.versions[*of as usize] })
            }
            _ => None,
        };
        self.facts[v] = (self.block, fact);
    }
}

/// A vreg as it was at one write, or an immediate.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Value {
    Vreg { v: u32, version: u32 },
    Imm(i64),
}

/// An operation on values, which gives the same result every time.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Computation {
    Bin(BinOp, Value, Value),
    Unary(UnOp, Value),
    Float(FloatOp, Value, Value),
    IntToFloat(Value),
}

/// The block's last computations, newest last: a repeated operation is
/// usually near the first, and a short list is searched faster than a
/// map is kept.
#[derive(Default)]
struct Recent(VecDeque<(Computation, Holder)>);

impl Recent {
    const KEPT: usize = 4;
    fn find(&self, c: Computation) -> Option<Holder> {
        self.0.iter().rev().find(|(k, _)| *k == c).map(|(_, h)| *h)
    }
    fn add(&mut self, c: Computation, h: Holder) {
        if self.0.len() == Self::KEPT {
            self.0.pop_front();
        }
        self.0.push_back((c, h));
    }
    fn clear(&mut self) {
        self.0.clear();
    }
}

/// Where a computation's result is: the vreg, at the version it wrote.
#[derive(Clone, Copy)]
struct Holder {
    v: u32,
    version: u32,
}

impl Facts {
    fn value(&self, s: Src) -> Option<Value> {
        match s {
            Src::Reg(r) => {
                let v = vreg_index(r)?;
                Some(Value::Vreg { v: v as u32, version: self.versions[v] })
            }
            Src::Imm(c) => Some(Value::Imm(c)),
        }
    }
    /// What `inst` computes, and into which vreg, if it only computes.
    fn computation(&self, inst: &Inst) -> Option<(Computation, usize)> {
        let reg = |r: Reg| self.value(Src::Reg(r));
        let (computation, dst) = match *inst {
            Inst::Bin { op, dst, a, b } => (Computation::Bin(op, reg(a)?, self.value(b)?), dst),
            Inst::Unary { op, dst, src } => (Computation::Unary(op, self.value(src)?), dst),
            Inst::FloatBin { op, dst, a, b } => (Computation::Float(op, self.value(a)?, self.value(b)?), dst),
            Inst::IntToFloat { dst, src } => (Computation::IntToFloat(self.value(src)?), dst),
            _ => return None,
        };
        Some((computation, vreg_index(dst)?))
    }
}

pub fn run(body: &mut Body, _: &Context) {
    let n = body.vregs as usize;
    let mut facts = Facts { block: 1, facts: vec![(0, None); n], versions: vec![0; n] };
    let mut computed = Recent::default();
    for inst in &mut body.func.body {
        if matches!(inst, Inst::Label(_) | Inst::Raw(_)) {
            facts.block += 1;
            computed.clear();
            continue;
        }
        for_each_reg_mut(inst, |r, role| {
            if role == Role::Use {
                if let Some(original) = facts.original(*r) {
                    *r = original;
                }
            }
        });
        for_each_src_mut(inst, |s| {
            if let Some(c) = facts.constant_src(*s) {
                *s = Src::Imm(c);
            }
        });
        if let Inst::Mov { src, .. } = inst {
            if let Some(c) = facts.constant_operand(src) {
                *src = Operand::Imm(c);
            }
        }
        if let Some(simpler) = simplify(inst, &facts) {
            *inst = simpler;
        }
        let computation = facts.computation(inst);
        if let Some((c, dst)) = computation {
            let held = computed.find(c).filter(|h| facts.versions[h.v as usize] == h.version);
            if let Some(h) = held {
                *inst = Inst::Mov { dst: Dst::Reg(Reg::V(dst as u32)), src: Operand::Reg(Reg::V(h.v)) };
            }
        }
        let mut written = None;
        for_each_reg(inst, |r, role| {
            if role == Role::Def {
                written = vreg_index(r);
            }
        });
        if let Some(v) = written {
            facts.written(v, inst);
        }
        if let Some((c, dst)) = computation.filter(|_| !matches!(inst, Inst::Mov { .. })) {
            computed.add(c, Holder { v: dst as u32, version: facts.versions[dst] });
        }
    }
}

/// The operands that may be immediates, of the instructions expansion
/// leaves (`mov`'s source is an `Operand`, handled beside). Float
/// operations keep their registers: the allocator holds a float constant
/// in a float register, where an immediate operand would be built again
/// through a general-purpose one at every use (spectral-norm ran 2.8×
/// slower so).
fn for_each_src_mut(inst: &mut Inst, mut f: impl FnMut(&mut Src)) {
    match inst {
        Inst::Bin { b: s, .. }
        | Inst::Unary { src: s, .. }
        | Inst::Store { src: s, .. }
        | Inst::Cmp { b: s, .. }
        | Inst::Push(s)
        | Inst::IntToFloat { src: s, .. } => f(s),
        Inst::CallWith { args, .. } => args.iter_mut().for_each(f),
        _ => {}
    }
}

/// `inst` computed from what is known, when that makes it simpler.
fn simplify(inst: &Inst, facts: &Facts) -> Option<Inst> {
    let constant = |dst: Reg, c: i64| Some(Inst::Mov { dst: Dst::Reg(dst), src: Operand::Imm(c) });
    match *inst {
        Inst::Unary { op, dst, src: Src::Imm(c) } => match op {
            UnOp::Neg => constant(dst, c.wrapping_neg()),
            UnOp::Not => constant(dst, !c),
        },
        Inst::Bin { op, dst, a, b: Src::Imm(b) } => match facts.constant(a) {
            Some(a) => fold(op, a, b).and_then(|c| constant(dst, c)),
            None => identity(op, dst, a, b),
        },
        // A constant first operand of a commutative operation goes second,
        // where it may be an immediate.
        Inst::Bin {
            op: op @ (BinOp::Add | BinOp::Mul | BinOp::And | BinOp::Or | BinOp::Xor),
            dst,
            a,
            b: Src::Reg(b),
        } => {
            let a = facts.constant(a)?;
            Some(Inst::Bin { op, dst, a: b, b: Src::Imm(a) })
        }
        _ => None,
    }
}

/// `a op b` as the IR computes it; None where it panics (division by 0).
fn fold(op: BinOp, a: i64, b: i64) -> Option<i64> {
    // Shift counts are taken mod 64.
    let count = (b & 63) as u32;
    Some(match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::And => a & b,
        BinOp::Or => a | b,
        BinOp::Xor => a ^ b,
        BinOp::Sdiv | BinOp::Srem if b == 0 => return None,
        // MIN / -1 wraps to MIN, remainder 0.
        BinOp::Sdiv => a.wrapping_div(b),
        BinOp::Srem => a.wrapping_rem(b),
        BinOp::Shl => ((a as u64) << count) as i64,
        BinOp::Shr => ((a as u64) >> count) as i64,
        BinOp::Sar => a >> count,
    })
}

/// `a op b` without the operation, when b makes it `a` or a constant.
fn identity(op: BinOp, dst: Reg, a: Reg, b: i64) -> Option<Inst> {
    let src = match (op, b) {
        (BinOp::Add | BinOp::Sub | BinOp::Or | BinOp::Xor, 0) => Operand::Reg(a),
        (BinOp::Shl | BinOp::Shr | BinOp::Sar, b) if b & 63 == 0 => Operand::Reg(a),
        (BinOp::Mul | BinOp::Sdiv, 1) | (BinOp::And, -1) => Operand::Reg(a),
        (BinOp::Mul | BinOp::And, 0) | (BinOp::Srem, 1 | -1) => Operand::Imm(0),
        _ => return None,
    };
    Some(Inst::Mov { dst: Dst::Reg(dst), src })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Cond, Label};
    use crate::opt::tests::run_pass;
    use crate::regs::x86::RDI;

    fn v(n: u32) -> Reg {
        Reg::V(n)
    }
    fn imm(dst: u32, c: i64) -> Inst {
        Inst::Mov { dst: Dst::Reg(v(dst)), src: Operand::Imm(c) }
    }
    fn mov(dst: Reg, src: Reg) -> Inst {
        Inst::Mov { dst: Dst::Reg(dst), src: Operand::Reg(src) }
    }
    fn bin(op: BinOp, dst: u32, a: u32, b: Src) -> Inst {
        Inst::Bin { op, dst: v(dst), a: v(a), b }
    }
    fn optimized(params: u32, body: Vec<Inst>) -> Vec<Inst> {
        run_pass(run, (0..params).map(v).collect(), body, &[])
    }

    #[test]
    fn operations_on_constants_are_folded_with_wrapping_semantics() {
        let cases = [
            (BinOp::Add, i64::MAX, 1, i64::MIN),
            (BinOp::Sub, i64::MIN, 1, i64::MAX),
            (BinOp::Mul, 1 << 62, 4, 0),
            (BinOp::Sdiv, i64::MIN, -1, i64::MIN),
            (BinOp::Srem, i64::MIN, -1, 0),
            (BinOp::Sdiv, -7, 2, -3),
            (BinOp::Srem, -7, 2, -1),
            (BinOp::Shl, 1, 65, 2),
            (BinOp::Shr, -1, 60, 15),
            (BinOp::Sar, -16, 66, -4),
            (BinOp::And, 12, 10, 8),
            (BinOp::Or, 12, 10, 14),
            (BinOp::Xor, 12, 10, 6),
        ];
        for (op, a, b, result) in cases {
            let body = optimized(0, vec![imm(0, a), imm(1, b), bin(op, 2, 0, Src::Reg(v(1))), Inst::Ret]);
            assert_eq!(body[2], imm(2, result), "{op:?} {a} {b}");
        }
        let body = optimized(0, vec![imm(0, 5), Inst::Unary { op: UnOp::Neg, dst: v(1), src: Src::Reg(v(0)) }]);
        assert_eq!(body[1], imm(1, -5));
    }

    #[test]
    fn division_by_a_constant_zero_is_left_to_panic() {
        let body = optimized(0, vec![imm(0, 7), imm(1, 0), bin(BinOp::Sdiv, 2, 0, Src::Reg(v(1)))]);
        assert_eq!(body[2], bin(BinOp::Sdiv, 2, 0, Src::Imm(0)));
    }

    #[test]
    fn copies_are_read_through_until_either_side_is_written() {
        let body = optimized(
            2,
            vec![
                mov(v(2), v(0)),
                bin(BinOp::Add, 3, 2, Src::Reg(v(2))),
                Inst::Load { width: crate::ir::Width::W64, dst: v(0), base: v(1), offset: 0 },
                bin(BinOp::Add, 4, 2, Src::Imm(1)),
            ],
        );
        assert_eq!(body[1], bin(BinOp::Add, 3, 0, Src::Reg(v(0))));
        assert_eq!(body[3], bin(BinOp::Add, 4, 2, Src::Imm(1)), "v0 was written: v2 is no longer its copy");
    }

    #[test]
    fn facts_end_at_labels_and_survive_a_conditional_branch() {
        let body = optimized(
            1,
            vec![
                imm(1, 3),
                Inst::Cmp { a: v(0), b: Src::Reg(v(1)) },
                Inst::Jcc(Cond::Eq, Label(0)),
                Inst::Push(Src::Reg(v(1))),
                Inst::Label(Label(0)),
                Inst::Push(Src::Reg(v(1))),
            ],
        );
        assert_eq!(body[1], Inst::Cmp { a: v(0), b: Src::Imm(3) });
        assert_eq!(body[3], Inst::Push(Src::Imm(3)));
        assert_eq!(body[5], Inst::Push(Src::Reg(v(1))));
    }

    #[test]
    fn physical_registers_are_neither_propagated_nor_replaced() {
        let body =
            optimized(0, vec![mov(Reg::P(RDI), v(0)), mov(v(1), Reg::P(RDI)), Inst::Push(Src::Reg(v(1))), imm(0, 1)]);
        assert_eq!(body[2], Inst::Push(Src::Reg(v(1))));
    }

    #[test]
    fn identities_and_a_constant_first_operand() {
        let body = optimized(
            2,
            vec![
                bin(BinOp::Mul, 2, 0, Src::Imm(1)),
                bin(BinOp::Shl, 3, 0, Src::Imm(64)),
                bin(BinOp::And, 4, 0, Src::Imm(0)),
                imm(5, 9),
                bin(BinOp::Add, 6, 5, Src::Reg(v(1))),
                bin(BinOp::Sub, 7, 5, Src::Reg(v(1))),
            ],
        );
        assert_eq!(body[0], mov(v(2), v(0)));
        assert_eq!(body[1], mov(v(3), v(0)));
        assert_eq!(body[2], imm(4, 0));
        assert_eq!(body[4], bin(BinOp::Add, 6, 1, Src::Imm(9)));
        assert_eq!(body[5], bin(BinOp::Sub, 7, 5, Src::Reg(v(1))));
    }

    #[test]
    fn an_operation_repeated_on_unchanged_operands_reads_the_first_result() {
        use crate::ir::Label;
        let body = vec![
            bin(BinOp::Add, 2, 0, Src::Reg(v(1))),
            bin(BinOp::Add, 3, 0, Src::Reg(v(1))),
            // Another operation, and the same on other operands.
            bin(BinOp::Sub, 4, 0, Src::Reg(v(1))),
            bin(BinOp::Add, 5, 0, Src::Reg(v(4))),
            // An operand written: computed again.
            bin(BinOp::Add, 0, 0, Src::Imm(1)),
            bin(BinOp::Add, 6, 0, Src::Reg(v(1))),
            // A new block forgets.
            Inst::Label(Label(0)),
            bin(BinOp::Add, 7, 0, Src::Reg(v(1))),
            Inst::Ret,
        ];
        let out = optimized(2, body.clone());
        assert_eq!(out[1], mov(v(3), v(2)));
        assert_eq!(out[2..], body[2..]);
    }
}
