//! V's `math` functions on f64 (binary64 bit patterns in integer
//! registers): `sqrt` by the hardware (correctly rounded), `floor` and
//! `ceil` from truncation, `abs` by clearing the sign; `exp`, `log`,
//! `pow`, `sin` and `cos` in `libm`.

use super::libm;
use crate::ir::{BinOp, Cond, FloatOp, Inst, Reg, Src};
use crate::os::Builder;

const SIGN: i64 = i64::MIN;
/// Exponent field (biased) from which every double is an integer: 2^52.
const INTEGRAL_EXPONENT: i64 = 1023 + 52;
const EXPONENT_MASK: i64 = 0x7ff;
const MANTISSA_BITS: i64 = 52;
const ONE: i64 = 0x3ff0_0000_0000_0000;

/// Whether `name` is one of these builtins (none allocates).
pub fn builtin(name: &str) -> Option<()> {
    ["sqrt", "abs", "floor", "ceil"].contains(&name).then_some(()).or_else(|| libm::builtin(name))
}

/// Builds the math routine `name`; false if it is not one.
pub fn routine(b: &mut Builder, name: &str) -> bool {
    match name {
        "sqrt" => {
            let [x] = b.params();
            let r = b.vreg();
            b.push(Inst::FloatSqrt { dst: r, src: Src::Reg(x) });
            b.ret(Src::Reg(r));
        }
        "abs" => {
            let [x] = b.params();
            let r = b.op(BinOp::And, x, Src::Imm(!SIGN));
            b.ret(Src::Reg(r));
        }
        "floor" => round_toward(b, Direction::Down),
        "ceil" => round_toward(b, Direction::Up),
        _ => return libm::routine(b, name),
    }
    true
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Down,
    Up,
}

/// `floor(x)` / `ceil(x)`: x itself when it is already an integer (|x| of
/// 2^52 or more, infinities, NaN, zeros); else x truncated toward zero,
/// moved one down (floor) or up (ceil) when that passed x, a zero result
/// keeping x's sign (`ceil(-0.5)` is -0.0).
fn round_toward(b: &mut Builder, direction: Direction) {
    let [x] = b.params();
    let (itself, adjusted) = (b.label(), b.label());
    let exponent = b.op(BinOp::Shr, x, Src::Imm(MANTISSA_BITS));
    b.bin(BinOp::And, exponent, exponent, Src::Imm(EXPONENT_MASK));
    b.cmp(exponent, Src::Imm(INTEGRAL_EXPONENT));
    b.jcc(Cond::Ge, itself);
    let magnitude = b.op(BinOp::And, x, Src::Imm(!SIGN));
    b.cmp(magnitude, Src::Imm(0));
    b.jcc(Cond::Eq, itself);
    let whole = b.vreg();
    b.push(Inst::FloatToInt { dst: whole, src: Src::Reg(x) });
    let t = b.vreg();
    b.push(Inst::IntToFloat { dst: t, src: Src::Reg(whole) });
    // The sign of t - x (exact for finite doubles; +0.0 when equal) says
    // which side of x t is: as integers, positive doubles are positive.
    let difference = b.vreg();
    b.push(Inst::FloatBin { op: FloatOp::Sub, dst: difference, a: Src::Reg(t), b: Src::Reg(x) });
    let (on_its_side, step) = match direction {
        Direction::Down => (Cond::Le, FloatOp::Sub),
        Direction::Up => (Cond::Ge, FloatOp::Add),
    };
    b.cmp(difference, Src::Imm(0));
    b.jcc(on_its_side, adjusted);
    b.push(Inst::FloatBin { op: step, dst: t, a: Src::Reg(t), b: Src::Imm(ONE) });
    b.jmp(adjusted);
    b.bind(itself);
    b.ret(Src::Reg(x));
    b.bind(adjusted);
    let sign = b.op(BinOp::And, x, Src::Imm(SIGN));
    let result = with_sign_if_zero(b, t, sign);
    b.ret(Src::Reg(result));
}

/// `value` with `sign` when it is a zero (truncation gives +0.0).
fn with_sign_if_zero(b: &mut Builder, value: Reg, sign: Reg) -> Reg {
    let nonzero = b.label();
    b.cmp(value, Src::Imm(0));
    b.jcc(Cond::Ne, nonzero);
    b.bin(BinOp::Or, value, value, Src::Reg(sign));
    b.bind(nonzero);
    value
}
