//! Which vregs hold floats: the register class each vreg is allocated in.
//!
//! The IR keeps floats as bit patterns in 64-bit vregs, so a vreg's class
//! is inferred from what the body does with it. A vreg is a float when a
//! float operation reads or writes it, and nothing but float operations and
//! instructions that only move its 64 bits (copies, 64-bit loads and
//! stores, arguments and results of runtime calls) does. Copies join
//! vregs into one class, so a value and its copies live in the same kind of
//! register. Every other vreg is an integer, and so is any vreg an integer
//! instruction touches: a float whose bits an integer instruction reads
//! stays in a general-purpose register, and the float instructions move it
//! across.

use crate::ir::{Dst, Function, Inst, Operand, Reg, Src, Width};
use crate::operands::for_each_reg;

const FLOAT_USE: u8 = 1;
const INT_USE: u8 = 2;

/// Per dense vreg (see `regalloc::renumber`): whether it is a float.
pub fn float_vregs(func: &Function, num_vregs: usize) -> Vec<bool> {
    let mut classes = Classes { parent: (0..num_vregs as u32).collect(), uses: vec![0; num_vregs] };
    for inst in &func.body {
        classes.note(inst);
    }
    (0..num_vregs as u32)
        .map(|v| {
            let root = classes.find(v) as usize;
            classes.uses[root] == FLOAT_USE
        })
        .collect()
}

/// Vregs joined by copies (union-find) and how each set is used.
struct Classes {
    parent: Vec<u32>,
    /// Per set root: `FLOAT_USE` and `INT_USE` bits.
    uses: Vec<u8>,
}

impl Classes {
    fn find(&mut self, mut v: u32) -> u32 {
        while self.parent[v as usize] != v {
            let grandparent = self.parent[self.parent[v as usize] as usize];
            self.parent[v as usize] = grandparent;
            v = grandparent;
        }
        v
    }
    fn union(&mut self, a: u32, b: u32) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.parent[b as usize] = a;
            self.uses[a as usize] |= self.uses[b as usize];
        }
    }
    fn mark(&mut self, r: Reg, use_kind: u8) {
        if let Reg::V(v) = r {
            let root = self.find(v) as usize;
            self.uses[root] |= use_kind;
        }
    }
    fn mark_src(&mut self, s: Src, use_kind: u8) {
        if let Src::Reg(r) = s {
            self.mark(r, use_kind);
        }
    }

    fn note(&mut self, inst: &Inst) {
        match inst {
            Inst::Mov { dst: Dst::Reg(Reg::V(d)), src: Operand::Reg(Reg::V(s)) } => self.union(*d, *s),
            // Constants, physical registers and stack slots: bits moved.
            Inst::Mov { .. } => {}
            Inst::Load { width: Width::W64, base, .. } => self.mark(*base, INT_USE),
            Inst::Store { width: Width::W64, base, .. } => self.mark(*base, INT_USE),
            Inst::FramePointer { dst } => self.mark(*dst, INT_USE),
            Inst::Copy16 { dst, src, .. } => {
                self.mark(*dst, INT_USE);
                self.mark(*src, INT_USE);
            }
            Inst::LoadElement { width: Width::W64, base, index, .. }
            | Inst::StoreElement { width: Width::W64, base, index, .. } => {
                self.mark(*base, INT_USE);
                self.mark(*index, INT_USE);
            }
            // Arguments and results pass through general-purpose registers.
            Inst::CallWith { .. } => {}
            Inst::FloatBin { dst, a, b, .. } => {
                self.mark(*dst, FLOAT_USE);
                self.mark_src(*a, FLOAT_USE);
                self.mark_src(*b, FLOAT_USE);
            }
            Inst::FloatSqrt { dst, src } => {
                self.mark(*dst, FLOAT_USE);
                self.mark_src(*src, FLOAT_USE);
            }
            Inst::IntToFloat { dst, src } => {
                self.mark(*dst, FLOAT_USE);
                self.mark_src(*src, INT_USE);
            }
            Inst::FloatToInt { dst, src } => {
                self.mark(*dst, INT_USE);
                self.mark_src(*src, FLOAT_USE);
            }
            other => for_each_reg(other, |r, _| self.mark(r, INT_USE)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{BinOp, FloatOp};

    fn func(body: Vec<Inst>) -> Function {
        Function {
            name: "f".into(),
            arity: 0,
            exported: false,
            params: vec![],
            locals: 0,
            body,
            labels: vec![],
            ..Default::default()
        }
    }
    fn fadd(d: u32, a: u32, b: u32) -> Inst {
        Inst::FloatBin { op: FloatOp::Add, dst: Reg::V(d), a: Src::Reg(Reg::V(a)), b: Src::Reg(Reg::V(b)) }
    }

    #[test]
    fn float_arithmetic_and_its_copies_are_floats() {
        let f = func(vec![
            Inst::Mov { dst: Dst::Reg(Reg::V(0)), src: Operand::Imm(0x3ff0_0000_0000_0000) },
            Inst::Load { width: Width::W64, dst: Reg::V(1), base: Reg::V(4), offset: 0 },
            fadd(2, 0, 1),
            Inst::Mov { dst: Dst::Reg(Reg::V(3)), src: Operand::Reg(Reg::V(2)) },
            Inst::Store { width: Width::W64, base: Reg::V(4), offset: 8, src: Src::Reg(Reg::V(3)) },
        ]);
        assert_eq!(float_vregs(&f, 5), vec![true, true, true, true, false]);
    }

    #[test]
    fn an_integer_use_anywhere_makes_the_whole_copy_class_integer() {
        let f = func(vec![
            fadd(0, 1, 1),
            Inst::Mov { dst: Dst::Reg(Reg::V(2)), src: Operand::Reg(Reg::V(0)) },
            Inst::Bin { op: BinOp::And, dst: Reg::V(3), a: Reg::V(2), b: Src::Imm(1) },
            fadd(4, 1, 1),
        ]);
        assert_eq!(float_vregs(&f, 5), vec![false, true, false, false, true]);
    }

    #[test]
    fn values_that_are_only_moved_stay_integers() {
        let f = func(vec![Inst::Load { width: Width::W64, dst: Reg::V(0), base: Reg::V(1), offset: 0 }]);
        assert_eq!(float_vregs(&f, 2), vec![false, false]);
    }
}
