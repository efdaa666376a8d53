//! Calls of the builtins `sqrt` and `abs` become the instruction each
//! routine is (`runtime::math`): the same bits, without the call. The
//! argument and result stay in the registers the call convention puts
//! them in, so the code around the call is unchanged; the call's clobbers
//! go, which the IR never relies on.

use super::{Body, Context};
use crate::ir::{BinOp, Inst, Reg, Src};

/// `abs` clears the sign bit.
const ALL_BUT_SIGN: i64 = i64::MAX;

pub fn run(body: &mut Body, ctx: &Context) {
    let (arg, result) = (Reg::P(ctx.cc.args[0]), Reg::P(ctx.cc.result));
    for inst in &mut body.func.body {
        let Inst::Call(name) = inst else { continue };
        let inlined = match name.as_str() {
            "sqrt" => Inst::FloatSqrt { dst: result, src: Src::Reg(arg) },
            "abs" => Inst::Bin { op: BinOp::And, dst: result, a: arg, b: Src::Imm(ALL_BUT_SIGN) },
            _ => continue,
        };
        if !(ctx.defines)(name) {
            *inst = inlined;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Dst, Operand};
    use crate::opt::tests::run_pass;
    use crate::regs::x86::{RAX, RDI};

    fn call_of(name: &str) -> Vec<Inst> {
        vec![
            Inst::Mov { dst: Dst::Reg(Reg::P(RDI)), src: Operand::Reg(Reg::V(0)) },
            Inst::Call(name.into()),
            Inst::Mov { dst: Dst::Reg(Reg::V(1)), src: Operand::Reg(Reg::P(RAX)) },
        ]
    }

    #[test]
    fn builtin_sqrt_and_abs_become_instructions_on_the_call_registers() {
        let sqrt = run_pass(run, vec![Reg::V(0)], call_of("sqrt"), &[]);
        assert_eq!(sqrt[1], Inst::FloatSqrt { dst: Reg::P(RAX), src: Src::Reg(Reg::P(RDI)) });
        let abs = run_pass(run, vec![Reg::V(0)], call_of("abs"), &[]);
        assert_eq!(abs[1], Inst::Bin { op: BinOp::And, dst: Reg::P(RAX), a: Reg::P(RDI), b: Src::Imm(i64::MAX) });
        assert_eq!((sqrt[0].clone(), sqrt[2].clone()), (call_of("sqrt")[0].clone(), call_of("sqrt")[2].clone()));
    }

    #[test]
    fn a_module_s_own_sqrt_and_other_calls_stay_calls() {
        assert_eq!(run_pass(run, vec![Reg::V(0)], call_of("sqrt"), &["sqrt"]), call_of("sqrt"));
        assert_eq!(run_pass(run, vec![Reg::V(0)], call_of("floor"), &[]), call_of("floor"));
    }
}
