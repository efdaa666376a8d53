//! V's `math.exp`, `log`, `pow`, `sin` and `cos` on f64 (binary64 bit
//! patterns in integer registers), written from the mathematics with the
//! IR's own operations: binary64 add, subtract, multiply and divide
//! (rounded to nearest, no fused multiply-add), conversions, and 64-bit
//! integer arithmetic. No table but the bits of 2/pi.
//!
//! Every function computes its result as a double-double h + l (an
//! unevaluated sum of two doubles, ~106 bits) and returns h + l rounded
//! once. The exact products behind the double-doubles are Dekker's (a
//! Veltkamp split by 2^27 + 1), sums Knuth's two-sum; a double-double
//! operation errs by about 2^-100 relative. The error of h + l (from the
//! analysis below, not a formal proof) is under 2^-73 relative for exp,
//! log, sin and cos and 2^-70 for pow, so the result errs by less than
//! about 0.5 + 2^-16 ulp: it is the correctly rounded double except
//! perhaps when the exact value lies that close to a midpoint between two
//! doubles. tests/libm.rs measures it against MPFR: every one of millions
//! of results per function was the correctly rounded one.
//!
//! - exp(x): x = k ln2 + r, |r| <= ln2/2 (k = x/ln2 rounded with the
//!   1.5 * 2^52 trick; ln2 in three pieces, the first two of 42 bits so
//!   k ln2 needs no rounding; r's error ~2^-95), e^r by its Taylor series
//!   to r^16 (first term left out 2^-74; terms from r^7 on, below 2^-23,
//!   in binary64: 2^-75), the rest in double-double, then 2^k e^r: in two
//!   exact steps for normal results, and for subnormal ones rounded once
//!   at the subnormal spacing (1 + w puts w on the grid of 2^-52).
//! - log(x): x = 2^e m, sqrt(1/2) <= m <= sqrt(2), log m = 2 atanh(s) with
//!   s = (m-1)/(m+1), |s| <= 0.1716: s (2 + 2/3 s^2 + ... + 2/31 s^30)
//!   (first term left out 2^-86) in double-double, the terms from s^10 on
//!   (below 2^-28) in binary64 (2^-81), plus e ln2 (ln2 in three pieces).
//! - pow(x, y): the special cases of IEEE 754 / C99 Annex F, then the sign
//!   (x < 0 needs an integer y), then exp(y log|x|) with log|x| to ~2^-80
//!   relative and y log|x| an exact double-double product: the absolute
//!   error of the exponent (at most 746 < 2^9.6) stays below 2^-70.4,
//!   which is the relative error it gives the result.
//! - sin(x), cos(x): x = q pi/2 + r, |r| <= pi/4, by Payne–Hanek for
//!   |x| >= pi/4: x 2/pi mod 4 from the 53-bit mantissa times the 192 bits
//!   of 2/pi that matter for x's exponent (an exact integer product; the
//!   bits left out weigh under 2^-136 in r), so r keeps ~2^-75 relative
//!   accuracy even for the double closest to a multiple of pi/2 (|r| ~
//!   2^-61, at 6381956970095103 2^797). Then sin r = r (1 - r^2/6 + ...)
//!   or cos r = 1 - r^2/2 + ... to r^23 / r^22 (terms below 2^-24 in
//!   binary64), chosen and signed by q; |x| < 2^-27 gives x / 1.

use super::libm_constants::{
    COS_DD, COS_TAIL, EXP_DD, EXP_TAIL, INV_LN2, LN2_HI, LN2_LO, LN2_MID, LOG_DD, LOG_TAIL, PIO2, SHIFTER, SIN_DD,
    SIN_TAIL, SPLITTER, TWO_OVER_PI,
};
use crate::ir::{BinOp, Cond, DataEntry, FloatOp, Inst, Reg, Src, UnOp};
use crate::os::Builder;

const SIGN: i64 = i64::MIN;
const INF: i64 = 0x7ff0_0000_0000_0000;
const FRACTION: i64 = (1 << 52) - 1;
const HIDDEN: i64 = 1 << 52;
const ONE: i64 = 0x3ff0_0000_0000_0000;
/// The NaN of invalid operations (log of a negative number, sin of inf).
const NAN: i64 = 0x7ff8_0000_0000_0000;
const LOW32: i64 = 0xffff_ffff;

/// 709.79: above it exp overflows; -746: below it exp is 0.
const EXP_OVERFLOW: i64 = 0x4086_2e51_eb85_1eb8;
const EXP_UNDERFLOW: i64 = 0x4087_5000_0000_0000;
/// 2^-1022, the smallest normal.
const MIN_NORMAL: u64 = 1 << 52;

/// The fraction bits of sqrt(2): mantissas above it are halved.
const SQRT2_FRACTION: i64 = 0x6_a09e_667f_3bcd;
/// pi/4.
const PIO4: i64 = 0x3fe9_21fb_5444_2d18;
/// |x| below 2^-27: sin x rounds to x, cos x to 1.
const SIN_TINY: i64 = 0x3e40_0000_0000_0000;
/// The data entry of those bits, a zero word in front (the bits of 2/pi
/// before its point, for the exponents of small arguments).
const TWO_OVER_PI_TABLE: &str = "__vbeam_two_over_pi";

/// The builtins (none allocates).
pub fn builtin(name: &str) -> Option<()> {
    ["exp", "log", "pow", "sin", "cos"].contains(&name).then_some(())
}

/// Builds the routine `name`; false if it is not one.
pub fn routine(b: &mut Builder, name: &str) -> bool {
    match name {
        "exp" => exp(b),
        "log" => log(b),
        "pow" => pow(b),
        "sin" => sin_cos(b, false),
        "cos" => sin_cos(b, true),
        _ => return false,
    }
    true
}

/// The read-only data entry `name` when it is one of this module's.
pub fn data(name: &str) -> Option<DataEntry> {
    (name == TWO_OVER_PI_TABLE).then(|| DataEntry {
        name: name.into(),
        align: 8,
        bytes: std::iter::once(0).chain(TWO_OVER_PI).flat_map(u64::to_le_bytes).collect(),
        refs: Vec::new(),
    })
}

// ---- binary64 and double-double arithmetic on the IR ----

/// A double-double: the unevaluated sum of two binary64 values.
type Dd = (Src, Src);

fn k(x: f64) -> Src {
    Src::Imm(x.to_bits() as i64)
}

fn kb(bits: u64) -> Src {
    Src::Imm(bits as i64)
}

fn kdd(c: (u64, u64)) -> Dd {
    (kb(c.0), kb(c.1))
}

/// `x op y` in binary64 (folded when both are constants: the same
/// rounding, done once here).
fn fop(b: &mut Builder, op: FloatOp, x: Src, y: Src) -> Src {
    if let (Src::Imm(p), Src::Imm(q)) = (x, y) {
        let (p, q) = (f64::from_bits(p as u64), f64::from_bits(q as u64));
        let v = match op {
            FloatOp::Add => p + q,
            FloatOp::Sub => p - q,
            FloatOp::Mul => p * q,
            FloatOp::Div => p / q,
        };
        return k(v);
    }
    let d = b.vreg();
    b.push(Inst::FloatBin { op, dst: d, a: x, b: y });
    Src::Reg(d)
}

fn add(b: &mut Builder, x: Src, y: Src) -> Src {
    fop(b, FloatOp::Add, x, y)
}
fn sub(b: &mut Builder, x: Src, y: Src) -> Src {
    fop(b, FloatOp::Sub, x, y)
}
fn mul(b: &mut Builder, x: Src, y: Src) -> Src {
    fop(b, FloatOp::Mul, x, y)
}
fn div(b: &mut Builder, x: Src, y: Src) -> Src {
    fop(b, FloatOp::Div, x, y)
}

/// A register holding `s`.
fn reg(b: &mut Builder, s: Src) -> Reg {
    match s {
        Src::Reg(r) => r,
        Src::Imm(i) => {
            let d = b.vreg();
            b.mov_imm(d, i);
            d
        }
    }
}

/// `dst := s`.
fn set(b: &mut Builder, dst: Reg, s: Src) {
    match s {
        Src::Reg(r) => b.mov(dst, r),
        Src::Imm(i) => b.mov_imm(dst, i),
    }
}

/// -x, exactly (the sign bit flipped).
fn neg(b: &mut Builder, x: Src) -> Src {
    match x {
        Src::Imm(i) => Src::Imm(i ^ SIGN),
        Src::Reg(r) => Src::Reg(b.op(BinOp::Xor, r, Src::Imm(SIGN))),
    }
}

/// s + e = a + b exactly (Knuth).
fn two_sum(b: &mut Builder, x: Src, y: Src) -> Dd {
    let s = add(b, x, y);
    let bb = sub(b, s, x);
    let t = sub(b, s, bb);
    let u = sub(b, x, t);
    let v = sub(b, y, bb);
    (s, add(b, u, v))
}

/// s + e = a + b exactly, for |a| >= |b| (Dekker).
fn fast_two_sum(b: &mut Builder, x: Src, y: Src) -> Dd {
    let s = add(b, x, y);
    let t = sub(b, s, x);
    (s, sub(b, y, t))
}

/// hi + lo = a with hi of 26 bits (Veltkamp).
fn split(b: &mut Builder, x: Src) -> Dd {
    let t = mul(b, x, k(SPLITTER));
    let u = sub(b, t, x);
    let hi = sub(b, t, u);
    (hi, sub(b, x, hi))
}

/// p + e = a b exactly (Dekker).
fn two_prod(b: &mut Builder, x: Src, y: Src) -> Dd {
    let p = mul(b, x, y);
    let (xh, xl) = split(b, x);
    let (yh, yl) = split(b, y);
    let hh = mul(b, xh, yh);
    let e = sub(b, hh, p);
    let hl = mul(b, xh, yl);
    let e = add(b, e, hl);
    let lh = mul(b, xl, yh);
    let e = add(b, e, lh);
    let ll = mul(b, xl, yl);
    (p, add(b, e, ll))
}

fn dd_mul(b: &mut Builder, x: Dd, y: Dd) -> Dd {
    let (p, e) = two_prod(b, x.0, y.0);
    let c1 = mul(b, x.0, y.1);
    let c2 = mul(b, x.1, y.0);
    let cross = add(b, c1, c2);
    let e = add(b, e, cross);
    fast_two_sum(b, p, e)
}

fn dd_add(b: &mut Builder, x: Dd, y: Dd) -> Dd {
    let (s, e) = two_sum(b, x.0, y.0);
    let low = add(b, x.1, y.1);
    let e = add(b, e, low);
    fast_two_sum(b, s, e)
}

/// Horner's rule in z: the tail's coefficients in binary64 (lowest degree
/// first, evaluated highest first with z's high part), then the
/// double-double ones, then the constant term.
fn horner(b: &mut Builder, z: Dd, tail: &[u64], dds: &[(u64, u64)], constant: Dd) -> Dd {
    let mut q = k(0.0);
    for (i, c) in tail.iter().rev().enumerate() {
        q = if i == 0 {
            kb(*c)
        } else {
            let t = mul(b, q, z.0);
            add(b, t, kb(*c))
        };
    }
    let mut acc = (q, k(0.0));
    for c in dds.iter().rev() {
        let t = dd_mul(b, acc, z);
        acc = dd_add(b, t, kdd(*c));
    }
    let t = dd_mul(b, acc, z);
    dd_add(b, t, constant)
}

/// Returns `value` from the routine when `a cond b`.
fn return_if(b: &mut Builder, a: Reg, cond: Cond, rhs: Src, value: Src) {
    let skip = b.label();
    let opposite = match cond {
        Cond::Eq => Cond::Ne,
        Cond::Ne => Cond::Eq,
        Cond::Lt => Cond::Ge,
        Cond::Ge => Cond::Lt,
        Cond::Le => Cond::Gt,
        Cond::Gt => Cond::Le,
        Cond::Ltu => Cond::Geu,
        Cond::Geu => Cond::Ltu,
        Cond::Leu => Cond::Gtu,
        Cond::Gtu => Cond::Leu,
    };
    b.cmp(a, rhs);
    b.jcc(opposite, skip);
    b.ret(value);
    b.bind(skip);
}

// ---- exp ----

/// e^(xh + xl) = 2^k (h + l), for -746 <= xh <= 709.79: k (an integer
/// register) and h + l.
fn exp_core(b: &mut Builder, xh: Src, xl: Src) -> (Reg, Dd) {
    let t = mul(b, xh, kb(INV_LN2));
    let t = add(b, t, k(SHIFTER));
    let kf = sub(b, t, k(SHIFTER));
    let hi = mul(b, kf, kb(LN2_HI));
    let r1 = sub(b, xh, hi);
    let mid = mul(b, kf, kb(LN2_MID));
    let mid = neg(b, mid);
    let (s, e) = two_sum(b, r1, mid);
    let lo = mul(b, kf, kb(LN2_LO));
    let lo = sub(b, xl, lo);
    let e2 = add(b, e, lo);
    let r = two_sum(b, s, e2);
    let p = horner(b, r, &EXP_TAIL, &EXP_DD, (k(1.0), k(0.0)));
    let t = dd_mul(b, p, r);
    let p = dd_add(b, t, (k(1.0), k(0.0)));
    let kk = b.vreg();
    b.push(Inst::FloatToInt { dst: kk, src: kf });
    (kk, p)
}

/// 2^k (h + l) rounded once to binary64.
fn exp_finish(b: &mut Builder, kk: Reg, p: Dd) -> Reg {
    let result = b.vreg();
    let (small, subnormal, done) = (b.label(), b.label(), b.label());
    let y = add(b, p.0, p.1);
    b.cmp(kk, Src::Imm(-1021));
    b.jcc(Cond::Lt, small);
    // Normal: two exact scalings by 2^(k/2) (only overflow rounds).
    let k1 = b.op(BinOp::Sar, kk, Src::Imm(1));
    let k2 = b.op(BinOp::Sub, kk, Src::Reg(k1));
    let s1 = b.op(BinOp::Add, k1, Src::Imm(1023));
    b.bin(BinOp::Shl, s1, s1, Src::Imm(52));
    let s2 = b.op(BinOp::Add, k2, Src::Imm(1023));
    b.bin(BinOp::Shl, s2, s2, Src::Imm(52));
    let a = mul(b, y, Src::Reg(s1));
    let v = mul(b, a, Src::Reg(s2));
    set(b, result, v);
    b.jmp(done);
    b.bind(small);
    b.cmp(kk, Src::Imm(-1022));
    b.jcc(Cond::Ne, subnormal);
    let yr = reg(b, y);
    b.cmp(yr, Src::Imm(ONE));
    b.jcc(Cond::Lt, subnormal);
    let v = mul(b, y, kb(MIN_NORMAL));
    set(b, result, v);
    b.jmp(done);
    // Subnormal: w = (h + l) 2^(k + 1022) < 1, rounded to a multiple of
    // 2^-52 as 1 + w (the doubles in [1, 2) are 2^-52 apart).
    b.bind(subnormal);
    let scale = b.op(BinOp::Add, kk, Src::Imm(2045));
    b.bin(BinOp::Shl, scale, scale, Src::Imm(52));
    let wh = mul(b, p.0, Src::Reg(scale));
    let wl = mul(b, p.1, Src::Reg(scale));
    let (s, e) = two_sum(b, k(1.0), wh);
    let t = add(b, e, wl);
    let u = add(b, s, t);
    let w = sub(b, u, k(1.0));
    let v = mul(b, w, kb(MIN_NORMAL));
    set(b, result, v);
    b.bind(done);
    result
}

fn exp(b: &mut Builder) {
    let [x] = b.params();
    let ax = b.op(BinOp::And, x, Src::Imm(!SIGN));
    let finite = b.label();
    b.cmp(ax, Src::Imm(INF));
    b.jcc(Cond::Lt, finite);
    let nan = add(b, Src::Reg(x), Src::Reg(x));
    return_if(b, ax, Cond::Gt, Src::Imm(INF), nan);
    return_if(b, x, Cond::Lt, Src::Imm(0), Src::Imm(0));
    b.ret(Src::Imm(INF));
    b.bind(finite);
    return_if(b, x, Cond::Gt, Src::Imm(EXP_OVERFLOW), Src::Imm(INF));
    let in_range = b.label();
    b.cmp(x, Src::Imm(0));
    b.jcc(Cond::Ge, in_range);
    return_if(b, ax, Cond::Gt, Src::Imm(EXP_UNDERFLOW), Src::Imm(0));
    b.bind(in_range);
    let (kk, p) = exp_core(b, Src::Reg(x), k(0.0));
    let r = exp_finish(b, kk, p);
    b.ret(Src::Reg(r));
}

// ---- log ----

/// log x as a double-double, for positive finite x (bits in `xb`).
fn log_core(b: &mut Builder, xb: Reg) -> Dd {
    let (e, bits) = (b.vreg(), b.vreg());
    let normal = b.label();
    b.bin(BinOp::Shr, e, xb, Src::Imm(52));
    b.bin(BinOp::Sub, e, e, Src::Imm(1023));
    b.mov(bits, xb);
    b.cmp(xb, Src::Imm(HIDDEN));
    b.jcc(Cond::Ge, normal);
    // Subnormal: scaled by 2^54.
    let scaled = mul(b, Src::Reg(xb), kb((1023 + 54) << 52));
    set(b, bits, scaled);
    b.bin(BinOp::Shr, e, bits, Src::Imm(52));
    b.bin(BinOp::Sub, e, e, Src::Imm(1023 + 54));
    b.bind(normal);
    let fraction = b.op(BinOp::And, bits, Src::Imm(FRACTION));
    let mb = b.op(BinOp::Or, fraction, Src::Imm(ONE));
    let kept = b.label();
    b.cmp(fraction, Src::Imm(SQRT2_FRACTION));
    b.jcc(Cond::Le, kept);
    b.bin(BinOp::Or, mb, fraction, Src::Imm(ONE - HIDDEN));
    b.bin(BinOp::Add, e, e, Src::Imm(1));
    b.bind(kept);
    let m = Src::Reg(mb);
    // s = (m - 1)/(m + 1) as a double-double.
    let num = sub(b, m, k(1.0));
    let (dh, dl) = two_sum(b, m, k(1.0));
    let qh = div(b, num, dh);
    let (p, pe) = two_prod(b, qh, dh);
    let rest = sub(b, num, p);
    let rest = sub(b, rest, pe);
    let qdl = mul(b, qh, dl);
    let rest = sub(b, rest, qdl);
    let ql = div(b, rest, dh);
    let s = fast_two_sum(b, qh, ql);
    let z = dd_mul(b, s, s);
    let series = horner(b, z, &LOG_TAIL, &LOG_DD, (k(2.0), k(0.0)));
    let log_m = dd_mul(b, s, series);
    let ef = b.vreg();
    b.push(Inst::IntToFloat { dst: ef, src: Src::Reg(e) });
    let ef = Src::Reg(ef);
    let e_hi = mul(b, ef, kb(LN2_HI));
    let e_mid = mul(b, ef, kb(LN2_MID));
    let e_lo = mul(b, ef, kb(LN2_LO));
    let e_low = add(b, e_mid, e_lo);
    dd_add(b, (e_hi, e_low), log_m)
}

fn log(b: &mut Builder) {
    let [x] = b.params();
    let ax = b.op(BinOp::And, x, Src::Imm(!SIGN));
    let nan = add(b, Src::Reg(x), Src::Reg(x));
    return_if(b, ax, Cond::Gt, Src::Imm(INF), nan);
    return_if(b, ax, Cond::Eq, Src::Imm(0), Src::Imm(SIGN | INF));
    return_if(b, x, Cond::Lt, Src::Imm(0), Src::Imm(NAN));
    return_if(b, x, Cond::Eq, Src::Imm(INF), Src::Imm(INF));
    let (h, l) = log_core(b, x);
    let r = add(b, h, l);
    b.ret(r);
}

// ---- pow ----

/// 0 when y (finite, not zero; `ay` its magnitude) is not an integer, 1
/// when it is odd, 2 when even.
fn integer_class(b: &mut Builder, ay: Reg) -> Reg {
    let class = b.vreg();
    let (not_integer, even, done) = (b.label(), b.label(), b.label());
    let e = b.op(BinOp::Shr, ay, Src::Imm(52));
    b.bin(BinOp::Sub, e, e, Src::Imm(1023));
    b.cmp(e, Src::Imm(0));
    b.jcc(Cond::Lt, not_integer);
    b.cmp(e, Src::Imm(52));
    b.jcc(Cond::Gt, even);
    let below = b.vreg();
    b.mov_imm(below, 52);
    b.bin(BinOp::Sub, below, below, Src::Reg(e));
    let mask = b.vreg();
    b.mov_imm(mask, 1);
    b.bin(BinOp::Shl, mask, mask, Src::Reg(below));
    b.bin(BinOp::Sub, mask, mask, Src::Imm(1));
    let rest = b.op(BinOp::And, ay, Src::Reg(mask));
    b.cmp(rest, Src::Imm(0));
    b.jcc(Cond::Ne, not_integer);
    let bit = b.op(BinOp::Or, ay, Src::Imm(HIDDEN));
    b.bin(BinOp::Shr, bit, bit, Src::Reg(below));
    b.bin(BinOp::And, bit, bit, Src::Imm(1));
    b.mov_imm(class, 2);
    b.bin(BinOp::Sub, class, class, Src::Reg(bit));
    b.jmp(done);
    b.bind(even);
    b.mov_imm(class, 2);
    b.jmp(done);
    b.bind(not_integer);
    b.mov_imm(class, 0);
    b.bind(done);
    class
}

/// Returns 0 when |x| < 1 and y > 0 or |x| > 1 and y < 0, else inf (y
/// infinite or so large that |y log|x|| is).
fn return_zero_or_inf(b: &mut Builder, ax: Reg, y: Reg) {
    let below_one = b.label();
    b.cmp(ax, Src::Imm(ONE));
    b.jcc(Cond::Lt, below_one);
    return_if(b, y, Cond::Lt, Src::Imm(0), Src::Imm(0));
    b.ret(Src::Imm(INF));
    b.bind(below_one);
    return_if(b, y, Cond::Lt, Src::Imm(0), Src::Imm(INF));
    b.ret(Src::Imm(0));
}

fn pow(b: &mut Builder) {
    let [x, y] = b.params();
    let ax = b.op(BinOp::And, x, Src::Imm(!SIGN));
    let ay = b.op(BinOp::And, y, Src::Imm(!SIGN));
    return_if(b, ay, Cond::Eq, Src::Imm(0), Src::Imm(ONE));
    return_if(b, x, Cond::Eq, Src::Imm(ONE), Src::Imm(ONE));
    let nan = add(b, Src::Reg(x), Src::Reg(y));
    return_if(b, ax, Cond::Gt, Src::Imm(INF), nan);
    return_if(b, ay, Cond::Gt, Src::Imm(INF), nan);
    let finite_y = b.label();
    b.cmp(ay, Src::Imm(INF));
    b.jcc(Cond::Ne, finite_y);
    return_if(b, ax, Cond::Eq, Src::Imm(ONE), Src::Imm(ONE));
    return_zero_or_inf(b, ax, y);
    b.bind(finite_y);
    let class = integer_class(b, ay);
    let sign = b.vreg();
    let positive = b.label();
    b.mov_imm(sign, 0);
    b.cmp(x, Src::Imm(0));
    b.jcc(Cond::Ge, positive);
    b.cmp(class, Src::Imm(1));
    b.jcc(Cond::Ne, positive);
    b.mov_imm(sign, SIGN);
    b.bind(positive);
    // x = ±0 or ±inf.
    let (not_zero, not_inf, y_positive, y_positive2) = (b.label(), b.label(), b.label(), b.label());
    b.cmp(ax, Src::Imm(0));
    b.jcc(Cond::Ne, not_zero);
    b.cmp(y, Src::Imm(0));
    b.jcc(Cond::Ge, y_positive);
    let inf = b.op(BinOp::Or, sign, Src::Imm(INF));
    b.ret(Src::Reg(inf));
    b.bind(y_positive);
    b.ret(Src::Reg(sign));
    b.bind(not_zero);
    b.cmp(ax, Src::Imm(INF));
    b.jcc(Cond::Ne, not_inf);
    b.cmp(y, Src::Imm(0));
    b.jcc(Cond::Ge, y_positive2);
    b.ret(Src::Reg(sign));
    b.bind(y_positive2);
    let inf = b.op(BinOp::Or, sign, Src::Imm(INF));
    b.ret(Src::Reg(inf));
    b.bind(not_inf);
    // A negative x needs an integer y.
    let (real, moderate) = (b.label(), b.label());
    b.cmp(x, Src::Imm(0));
    b.jcc(Cond::Ge, real);
    return_if(b, class, Cond::Eq, Src::Imm(0), Src::Imm(NAN));
    b.bind(real);
    // |y| >= 2^64 (an even integer): |y log|x|| > 2^11 unless |x| = 1.
    b.cmp(ay, Src::Imm((1023 + 64) << 52));
    b.jcc(Cond::Lt, moderate);
    return_if(b, ax, Cond::Eq, Src::Imm(ONE), Src::Imm(ONE));
    return_zero_or_inf(b, ax, y);
    b.bind(moderate);
    let l = log_core(b, ax);
    let (ph, pl) = two_prod(b, Src::Reg(y), l.0);
    let yl = mul(b, Src::Reg(y), l.1);
    let pl = add(b, pl, yl);
    let (ph, pl) = fast_two_sum(b, ph, pl);
    let pb = reg(b, ph);
    let (no_overflow, in_range) = (b.label(), b.label());
    b.cmp(pb, Src::Imm(EXP_OVERFLOW));
    b.jcc(Cond::Le, no_overflow);
    let inf = b.op(BinOp::Or, sign, Src::Imm(INF));
    b.ret(Src::Reg(inf));
    b.bind(no_overflow);
    b.cmp(pb, Src::Imm(0));
    b.jcc(Cond::Ge, in_range);
    let apb = b.op(BinOp::And, pb, Src::Imm(!SIGN));
    return_if(b, apb, Cond::Gt, Src::Imm(EXP_UNDERFLOW), Src::Reg(sign));
    b.bind(in_range);
    let (kk, p) = exp_core(b, Src::Reg(pb), pl);
    let r = exp_finish(b, kk, p);
    b.bin(BinOp::Or, r, r, Src::Reg(sign));
    b.ret(Src::Reg(r));
}

// ---- sin, cos ----

/// The high and low 64 bits of m g, for m < 2^53 given as its 32-bit
/// halves.
fn mul_wide(b: &mut Builder, m_lo: Reg, m_hi: Reg, g: Reg) -> (Reg, Reg) {
    let gl = b.op(BinOp::And, g, Src::Imm(LOW32));
    let gh = b.op(BinOp::Shr, g, Src::Imm(32));
    let ll = b.op(BinOp::Mul, m_lo, Src::Reg(gl));
    let lh = b.op(BinOp::Mul, m_lo, Src::Reg(gh));
    let hl = b.op(BinOp::Mul, m_hi, Src::Reg(gl));
    let hh = b.op(BinOp::Mul, m_hi, Src::Reg(gh));
    let mid = b.op(BinOp::Shr, ll, Src::Imm(32));
    let t = b.op(BinOp::And, lh, Src::Imm(LOW32));
    b.bin(BinOp::Add, mid, mid, Src::Reg(t));
    let t = b.op(BinOp::And, hl, Src::Imm(LOW32));
    b.bin(BinOp::Add, mid, mid, Src::Reg(t));
    let lo = b.op(BinOp::And, ll, Src::Imm(LOW32));
    let t = b.op(BinOp::Shl, mid, Src::Imm(32));
    b.bin(BinOp::Or, lo, lo, Src::Reg(t));
    let hi = b.op(BinOp::Shr, lh, Src::Imm(32));
    b.bin(BinOp::Add, hi, hi, Src::Reg(hh));
    let t = b.op(BinOp::Shr, hl, Src::Imm(32));
    b.bin(BinOp::Add, hi, hi, Src::Reg(t));
    let t = b.op(BinOp::Shr, mid, Src::Imm(32));
    b.bin(BinOp::Add, hi, hi, Src::Reg(t));
    (hi, lo)
}

/// 1 when `v` is 0, else 0.
fn is_zero(b: &mut Builder, v: Reg) -> Reg {
    let n = b.vreg();
    b.push(Inst::Unary { op: UnOp::Neg, dst: n, src: Src::Reg(v) });
    b.bin(BinOp::Or, n, n, Src::Reg(v));
    b.bin(BinOp::Shr, n, n, Src::Imm(63));
    b.bin(BinOp::Xor, n, n, Src::Imm(1));
    n
}

/// `(hi << n) | (lo >> (64 - n))` for n in 0..64.
fn funnel(b: &mut Builder, hi: Reg, lo: Reg, n: Reg, inverse: Reg) -> Reg {
    let t = b.op(BinOp::Shr, lo, Src::Imm(1));
    b.bin(BinOp::Shr, t, t, Src::Reg(inverse));
    let r = b.op(BinOp::Shl, hi, Src::Reg(n));
    b.bin(BinOp::Or, r, r, Src::Reg(t));
    r
}

/// For positive finite |x| >= pi/4 (bits `ax`): q (the quadrant, in
/// `q`) and r with |x| = r + q pi/2 (Payne–Hanek), into `rh`, `rl`.
fn reduce(b: &mut Builder, ax: Reg, q: Reg, rh: Reg, rl: Reg) {
    // |x| = m 2^e; |x| 2/pi / 4 = m G mod 1, G the bits of 2/pi from bit
    // e - 1 on (bit 1 the first after the point, none before it).
    let e = b.op(BinOp::Shr, ax, Src::Imm(52));
    b.bin(BinOp::Sub, e, e, Src::Imm(1075));
    let m = b.op(BinOp::And, ax, Src::Imm(FRACTION));
    b.bin(BinOp::Or, m, m, Src::Imm(HIDDEN));
    let index = b.op(BinOp::Add, e, Src::Imm(62));
    let word = b.op(BinOp::Shr, index, Src::Imm(6));
    let shift = b.op(BinOp::And, index, Src::Imm(63));
    let inverse = b.vreg();
    b.mov_imm(inverse, 63);
    b.bin(BinOp::Sub, inverse, inverse, Src::Reg(shift));
    let table = b.lea(TWO_OVER_PI_TABLE);
    let offset = b.op(BinOp::Shl, word, Src::Imm(3));
    let at = b.op(BinOp::Add, table, Src::Reg(offset));
    let t: Vec<Reg> = (0..4).map(|i| b.load(at, 8 * i)).collect();
    let g0 = funnel(b, t[0], t[1], shift, inverse);
    let g1 = funnel(b, t[1], t[2], shift, inverse);
    let g2 = funnel(b, t[2], t[3], shift, inverse);
    // frac(m G): the low 192 bits of m [g0 g1 g2].
    let m_lo = b.op(BinOp::And, m, Src::Imm(LOW32));
    let m_hi = b.op(BinOp::Shr, m, Src::Imm(32));
    let (p2h, lo) = mul_wide(b, m_lo, m_hi, g2);
    let (p1h, p1l) = mul_wide(b, m_lo, m_hi, g1);
    let p0l = b.op(BinOp::Mul, m, Src::Reg(g0));
    let mid = b.op(BinOp::Add, p2h, Src::Reg(p1l));
    // The carry out of p2h + p1l.
    let both = b.op(BinOp::And, p2h, Src::Reg(p1l));
    let either = b.op(BinOp::Or, p2h, Src::Reg(p1l));
    let not_mid = b.vreg();
    b.push(Inst::Unary { op: UnOp::Not, dst: not_mid, src: Src::Reg(mid) });
    b.bin(BinOp::And, either, either, Src::Reg(not_mid));
    b.bin(BinOp::Or, both, both, Src::Reg(either));
    let carry = b.op(BinOp::Shr, both, Src::Imm(63));
    let hi = b.op(BinOp::Add, p1h, Src::Reg(p0l));
    b.bin(BinOp::Add, hi, hi, Src::Reg(carry));
    // q = 4 frac rounded; the rest in [-1/2, 1/2) as a signed 192-bit
    // fraction a.b.c.
    b.bin(BinOp::Shr, q, hi, Src::Imm(61));
    b.bin(BinOp::Add, q, q, Src::Imm(1));
    b.bin(BinOp::Shr, q, q, Src::Imm(1));
    b.bin(BinOp::And, q, q, Src::Imm(3));
    let (a, bw, c) = (b.vreg(), b.vreg(), b.vreg());
    b.bin(BinOp::Shl, a, hi, Src::Imm(2));
    let t1 = b.op(BinOp::Shr, mid, Src::Imm(62));
    b.bin(BinOp::Or, a, a, Src::Reg(t1));
    b.bin(BinOp::Shl, bw, mid, Src::Imm(2));
    let t1 = b.op(BinOp::Shr, lo, Src::Imm(62));
    b.bin(BinOp::Or, bw, bw, Src::Reg(t1));
    b.bin(BinOp::Shl, c, lo, Src::Imm(2));
    let negative = b.vreg();
    let (positive, nonzero) = (b.label(), b.label());
    b.mov_imm(negative, 0);
    b.cmp(a, Src::Imm(0));
    b.jcc(Cond::Ge, positive);
    b.mov_imm(negative, 1);
    // Negate a.b.c (two's complement across the words).
    let carry0 = is_zero(b, c);
    let carry1 = is_zero(b, bw);
    b.bin(BinOp::And, carry1, carry1, Src::Reg(carry0));
    b.push(Inst::Unary { op: UnOp::Neg, dst: c, src: Src::Reg(c) });
    b.push(Inst::Unary { op: UnOp::Not, dst: bw, src: Src::Reg(bw) });
    b.bin(BinOp::Add, bw, bw, Src::Reg(carry0));
    b.push(Inst::Unary { op: UnOp::Not, dst: a, src: Src::Reg(a) });
    b.bin(BinOp::Add, a, a, Src::Reg(carry1));
    b.bind(positive);
    let scale = b.vreg();
    b.mov_imm(scale, 0);
    b.cmp(a, Src::Imm(0));
    b.jcc(Cond::Ne, nonzero);
    b.mov(a, bw);
    b.mov(bw, c);
    b.mov_imm(c, 0);
    b.mov_imm(scale, 64);
    b.bind(nonzero);
    // Normalize: lz = the leading zeros of a (binary search).
    let (lz, top) = (b.vreg(), b.vreg());
    b.mov_imm(lz, 0);
    b.mov(top, a);
    for bits in [32, 16, 8, 4, 2, 1] {
        let skip = b.label();
        let t = b.op(BinOp::Shr, top, Src::Imm(64 - bits));
        b.cmp(t, Src::Imm(0));
        b.jcc(Cond::Ne, skip);
        b.bin(BinOp::Shl, top, top, Src::Imm(bits));
        b.bin(BinOp::Add, lz, lz, Src::Imm(bits));
        b.bind(skip);
    }
    let inverse = b.vreg();
    b.mov_imm(inverse, 63);
    b.bin(BinOp::Sub, inverse, inverse, Src::Reg(lz));
    let n1 = funnel(b, a, bw, lz, inverse);
    let n2 = funnel(b, bw, c, lz, inverse);
    // The fraction as a double-double: n1's top 53 bits and the next 53.
    let high = b.op(BinOp::Shr, n1, Src::Imm(11));
    let next = b.op(BinOp::And, n1, Src::Imm(0x7ff));
    b.bin(BinOp::Shl, next, next, Src::Imm(42));
    let t1 = b.op(BinOp::Shr, n2, Src::Imm(22));
    b.bin(BinOp::Or, next, next, Src::Reg(t1));
    let (fh, fl) = (b.vreg(), b.vreg());
    b.push(Inst::IntToFloat { dst: fh, src: Src::Reg(high) });
    b.push(Inst::IntToFloat { dst: fl, src: Src::Reg(next) });
    let exponent = b.vreg();
    b.mov_imm(exponent, 1023 - 53);
    b.bin(BinOp::Sub, exponent, exponent, Src::Reg(lz));
    b.bin(BinOp::Sub, exponent, exponent, Src::Reg(scale));
    let s_hi = b.op(BinOp::Shl, exponent, Src::Imm(52));
    let s_lo = b.op(BinOp::Sub, exponent, Src::Imm(53));
    b.bin(BinOp::Shl, s_lo, s_lo, Src::Imm(52));
    let fh = mul(b, Src::Reg(fh), Src::Reg(s_hi));
    let fl = mul(b, Src::Reg(fl), Src::Reg(s_lo));
    let (fh, fl) = fast_two_sum(b, fh, fl);
    let (fh, fl) = (reg(b, fh), reg(b, fl));
    let signed = b.label();
    b.cmp(negative, Src::Imm(0));
    b.jcc(Cond::Eq, signed);
    b.bin(BinOp::Xor, fh, fh, Src::Imm(SIGN));
    b.bin(BinOp::Xor, fl, fl, Src::Imm(SIGN));
    b.bind(signed);
    let r = dd_mul(b, (Src::Reg(fh), Src::Reg(fl)), kdd(PIO2));
    set(b, rh, r.0);
    set(b, rl, r.1);
}

/// `sin(x)`, or `cos(x)` when `cosine`.
fn sin_cos(b: &mut Builder, cosine: bool) {
    let [x] = b.params();
    let ax = b.op(BinOp::And, x, Src::Imm(!SIGN));
    let finite = b.label();
    b.cmp(ax, Src::Imm(INF));
    b.jcc(Cond::Lt, finite);
    let nan = add(b, Src::Reg(x), Src::Reg(x));
    return_if(b, ax, Cond::Gt, Src::Imm(INF), nan);
    b.ret(Src::Imm(NAN));
    b.bind(finite);
    return_if(b, ax, Cond::Lt, Src::Imm(SIN_TINY), if cosine { Src::Imm(ONE) } else { Src::Reg(x) });
    let (q, rh, rl) = (b.vreg(), b.vreg(), b.vreg());
    let (large, reduced) = (b.label(), b.label());
    b.cmp(ax, Src::Imm(PIO4));
    b.jcc(Cond::Gt, large);
    b.mov_imm(q, 0);
    b.mov(rh, ax);
    b.mov_imm(rl, 0);
    b.jmp(reduced);
    b.bind(large);
    reduce(b, ax, q, rh, rl);
    b.bind(reduced);
    if cosine {
        b.bin(BinOp::Add, q, q, Src::Imm(1));
    }
    let r = (Src::Reg(rh), Src::Reg(rl));
    let z = dd_mul(b, r, r);
    let (vh, vl) = (b.vreg(), b.vreg());
    let (odd, evaluated) = (b.label(), b.label());
    let parity = b.op(BinOp::And, q, Src::Imm(1));
    b.cmp(parity, Src::Imm(0));
    b.jcc(Cond::Ne, odd);
    let s = horner(b, z, &SIN_TAIL, &SIN_DD, (k(1.0), k(0.0)));
    let v = dd_mul(b, r, s);
    set(b, vh, v.0);
    set(b, vl, v.1);
    b.jmp(evaluated);
    b.bind(odd);
    let v = horner(b, z, &COS_TAIL, &COS_DD, (k(1.0), k(0.0)));
    set(b, vh, v.0);
    set(b, vl, v.1);
    b.bind(evaluated);
    let result = add(b, Src::Reg(vh), Src::Reg(vl));
    let result = reg(b, result);
    let (unflipped, done) = (b.label(), b.label());
    let half = b.op(BinOp::And, q, Src::Imm(2));
    b.cmp(half, Src::Imm(0));
    b.jcc(Cond::Eq, unflipped);
    b.bin(BinOp::Xor, result, result, Src::Imm(SIGN));
    b.bind(unflipped);
    if !cosine {
        b.cmp(x, Src::Imm(0));
        b.jcc(Cond::Ge, done);
        b.bin(BinOp::Xor, result, result, Src::Imm(SIGN));
    }
    b.bind(done);
    b.ret(Src::Reg(result));
}
