//! Dead code elimination: an instruction whose only effect is to write a
//! vreg that nothing reads is removed, and with it the reads it made, which
//! may leave others unread in turn (a worklist over read counts, so the
//! pass is linear). Only instructions that cannot fault are removed: not
//! loads (an address may be bad, and a fault is observable), nor division
//! by anything but a non-zero constant.

use super::{vreg_index, Body, Context};
use crate::ir::{BinOp, Dst, Inst, Reg, Src};
use crate::operands::{for_each_reg, Role};

const NONE: u32 = u32::MAX;

pub fn run(body: &mut Body, _: &Context) {
    let insts = &mut body.func.body;
    let mut reads = vec![0u32; body.vregs as usize];
    // The removable writes of each vreg, as linked lists through `next_write`.
    let mut first_write = vec![NONE; body.vregs as usize];
    let mut next_write = vec![NONE; insts.len()];
    for (i, inst) in insts.iter().enumerate() {
        for_each_reg(inst, |r, role| {
            if let (Role::Use, Some(v)) = (role, vreg_index(r)) {
                reads[v] += 1;
            }
        });
        if let Some(v) = removable_write(inst) {
            next_write[i] = first_write[v];
            first_write[v] = i as u32;
        }
    }
    let mut unread: Vec<usize> = (0..reads.len()).filter(|&v| reads[v] == 0 && first_write[v] != NONE).collect();
    while let Some(v) = unread.pop() {
        let mut i = std::mem::replace(&mut first_write[v], NONE);
        while i != NONE {
            let removed = std::mem::replace(&mut insts[i as usize], Inst::Nop);
            for_each_reg(&removed, |r, role| {
                if let (Role::Use, Some(u)) = (role, vreg_index(r)) {
                    reads[u] -= 1;
                    if reads[u] == 0 && first_write[u] != NONE {
                        unread.push(u);
                    }
                }
            });
            i = next_write[i as usize];
        }
    }
}

/// The vreg `inst` writes, if writing it is all `inst` does.
fn removable_write(inst: &Inst) -> Option<usize> {
    let dst = match inst {
        Inst::Mov { dst: Dst::Reg(dst), .. } => dst,
        Inst::Bin { op: BinOp::Sdiv | BinOp::Srem, b, dst, .. } => match b {
            Src::Imm(divisor) if *divisor != 0 => dst,
            _ => return None,
        },
        Inst::Bin { dst, .. }
        | Inst::Unary { dst, .. }
        | Inst::Lea { dst, .. }
        | Inst::FloatBin { dst, .. }
        | Inst::IntToFloat { dst, .. }
        | Inst::FloatToInt { dst, .. }
        | Inst::FloatSqrt { dst, .. } => dst,
        _ => return None,
    };
    match dst {
        Reg::V(v) => Some(*v as usize),
        Reg::P(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Operand, Width};
    use crate::opt::tests::run_pass;
    use crate::regs::x86::RAX;

    fn v(n: u32) -> Reg {
        Reg::V(n)
    }
    fn add(dst: u32, a: u32, b: i64) -> Inst {
        Inst::Bin { op: BinOp::Add, dst: v(dst), a: v(a), b: Src::Imm(b) }
    }
    fn optimized(body: Vec<Inst>) -> Vec<Inst> {
        run_pass(run, vec![v(0)], body, &[]).into_iter().filter(|i| *i != Inst::Nop).collect()
    }

    #[test]
    fn chains_of_unread_values_go_whole() {
        let kept = Inst::Mov { dst: Dst::Reg(Reg::P(RAX)), src: Operand::Reg(v(3)) };
        let body = optimized(vec![add(1, 0, 1), add(2, 1, 1), add(3, 0, 2), add(4, 2, 3), kept.clone(), Inst::Ret]);
        assert_eq!(body, vec![add(3, 0, 2), kept, Inst::Ret]);
    }

    #[test]
    fn loads_and_divisions_that_may_panic_stay() {
        let load = Inst::Load { width: Width::W64, dst: v(1), base: v(0), offset: 8 };
        let divide = |b| Inst::Bin { op: BinOp::Sdiv, dst: v(2), a: v(0), b };
        let body = optimized(vec![load.clone(), divide(Src::Reg(v(0))), divide(Src::Imm(0)), divide(Src::Imm(3))]);
        assert_eq!(body, vec![load, divide(Src::Reg(v(0))), divide(Src::Imm(0))]);
    }

    #[test]
    fn a_value_that_reads_itself_in_a_loop_stays() {
        let body = vec![Inst::Label(crate::ir::Label(0)), add(0, 0, 1), Inst::Jmp(crate::ir::Label(0))];
        assert_eq!(optimized(body.clone()), body);
    }
}
