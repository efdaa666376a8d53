//! The math builtins `exp`, `log`, `pow`, `sin` and `cos`, as the
//! interpreter computes them.
//!
//! Results within an ulp are not unique, so the interpreter can only agree
//! with the backend bit for bit if it evaluates the same algorithm: this is
//! a second writing of the one documented in the backend's
//! `runtime/libm.rs` (the same constants, read from the backend's
//! `runtime::libm_constants`; the same binary64 operations in the same
//! order, no fused multiply-add), in plain Rust. Integer steps (the
//! Payne–Hanek product) may be computed differently, as they are exact.

use vbeam_native_core::runtime::libm_constants::{
    COS_DD, COS_TAIL, EXP_DD, EXP_TAIL, INV_LN2, LN2_HI, LN2_LO, LN2_MID, LOG_DD, LOG_TAIL, PIO2, SHIFTER, SIN_DD,
    SIN_TAIL, SPLITTER, TWO_OVER_PI,
};

const SIGN: u64 = 1 << 63;
const INF: u64 = 0x7ff0_0000_0000_0000;
const FRACTION: u64 = (1 << 52) - 1;
const HIDDEN: u64 = 1 << 52;
const ONE: u64 = 0x3ff0_0000_0000_0000;
const NAN: u64 = 0x7ff8_0000_0000_0000;

/// Above this exp overflows, below -746 it is 0.
const EXP_OVERFLOW: u64 = 0x4086_2e51_eb85_1eb8;
const EXP_UNDERFLOW: u64 = 0x4087_5000_0000_0000;

/// The fraction bits of sqrt(2): mantissas above it are halved.
const SQRT2_FRACTION: u64 = 0x6_a09e_667f_3bcd;
const PIO4: u64 = 0x3fe9_21fb_5444_2d18;
/// |x| below 2^-27: sin x rounds to x, cos x to 1.
const SIN_TINY: u64 = 0x3e40_0000_0000_0000;

fn f(bits: u64) -> f64 {
    f64::from_bits(bits)
}

type Dd = (f64, f64);

fn dd(c: (u64, u64)) -> Dd {
    (f(c.0), f(c.1))
}

fn two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

fn fast_two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    (s, b - (s - a))
}

fn split(a: f64) -> Dd {
    let t = a * SPLITTER;
    let hi = t - (t - a);
    (hi, a - hi)
}

fn two_prod(a: f64, b: f64) -> Dd {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    let e = ah * bh - p;
    let e = e + ah * bl;
    let e = e + al * bh;
    (p, e + al * bl)
}

fn dd_mul(a: Dd, b: Dd) -> Dd {
    let (p, e) = two_prod(a.0, b.0);
    let cross = a.0 * b.1 + a.1 * b.0;
    fast_two_sum(p, e + cross)
}

fn dd_add(a: Dd, b: Dd) -> Dd {
    let (s, e) = two_sum(a.0, b.0);
    let low = a.1 + b.1;
    fast_two_sum(s, e + low)
}

/// Horner's rule: the tail in binary64 (highest degree first), then the
/// double-double coefficients (highest first), then the constant term.
fn horner(z: Dd, tail: &[u64], dds: &[(u64, u64)], constant: Dd) -> Dd {
    let mut q = 0.0;
    for (i, c) in tail.iter().rev().enumerate() {
        q = if i == 0 { f(*c) } else { q * z.0 + f(*c) };
    }
    let mut acc = (q, 0.0);
    for c in dds.iter().rev() {
        acc = dd_add(dd_mul(acc, z), dd(*c));
    }
    dd_add(dd_mul(acc, z), constant)
}

/// e^(xh + xl) as 2^k (h + l).
fn exp_core(xh: f64, xl: f64) -> (i64, Dd) {
    let t = xh * f(INV_LN2) + SHIFTER;
    let kf = t - SHIFTER;
    let r1 = xh - kf * f(LN2_HI);
    let (s, e) = two_sum(r1, -(kf * f(LN2_MID)));
    let e2 = e + (xl - kf * f(LN2_LO));
    let r = two_sum(s, e2);
    // 1 + r + r^2/2 + sum 1/n! r^n.
    let p = horner(r, &EXP_TAIL, &EXP_DD, (1.0, 0.0));
    let p = dd_add(dd_mul(p, r), (1.0, 0.0));
    (kf as i64, p)
}

/// 2^k (h + l), rounded once.
fn exp_finish(k: i64, p: Dd) -> u64 {
    let y = p.0 + p.1;
    if k >= -1021 {
        let k1 = k >> 1;
        let k2 = k - k1;
        let a = y * f(((k1 + 1023) as u64) << 52);
        return (a * f(((k2 + 1023) as u64) << 52)).to_bits();
    }
    if k == -1022 && y >= 1.0 {
        return (y * f(1 << 52)).to_bits();
    }
    // A subnormal result: round w = (h + l) 2^(k + 1022) < 1 to a multiple
    // of 2^-52 by adding 1 (the doubles in [1, 2) are 2^-52 apart).
    let scale = f(((k + 2045) as u64) << 52);
    let (wh, wl) = (p.0 * scale, p.1 * scale);
    let (s, e) = two_sum(1.0, wh);
    let u = s + (e + wl);
    ((u - 1.0) * f(1 << 52)).to_bits()
}

pub fn exp(xb: u64) -> u64 {
    let ax = xb & !SIGN;
    if ax >= INF {
        return if ax > INF {
            (f(xb) + f(xb)).to_bits()
        } else if xb & SIGN != 0 {
            0
        } else {
            INF
        };
    }
    if xb & SIGN == 0 && xb > EXP_OVERFLOW {
        return INF;
    }
    if xb & SIGN != 0 && ax > EXP_UNDERFLOW {
        return 0;
    }
    let (k, p) = exp_core(f(xb), 0.0);
    exp_finish(k, p)
}

/// log x as a double-double, for positive finite x.
fn log_core(xb: u64) -> Dd {
    let mut e = (xb >> 52) as i64 - 1023;
    let mut b = xb;
    if xb < HIDDEN {
        b = (f(xb) * f((1023 + 54) << 52)).to_bits();
        e = (b >> 52) as i64 - 1023 - 54;
    }
    let mut mb = (b & FRACTION) | ONE;
    if b & FRACTION > SQRT2_FRACTION {
        mb = (b & FRACTION) | (ONE - HIDDEN);
        e += 1;
    }
    let m = f(mb);
    // s = (m - 1)/(m + 1), log m = s (2 + 2/3 s^2 + 2/5 s^4 + ...).
    let num = m - 1.0;
    let (dh, dl) = two_sum(m, 1.0);
    let qh = num / dh;
    let (p, pe) = two_prod(qh, dh);
    let rest = ((num - p) - pe) - qh * dl;
    let s = fast_two_sum(qh, rest / dh);
    let z = dd_mul(s, s);
    let series = horner(z, &LOG_TAIL, &LOG_DD, (2.0, 0.0));
    let log_m = dd_mul(s, series);
    let ef = e as f64;
    let e_ln2 = (ef * f(LN2_HI), ef * f(LN2_MID) + ef * f(LN2_LO));
    dd_add(e_ln2, log_m)
}

pub fn log(xb: u64) -> u64 {
    let ax = xb & !SIGN;
    if ax > INF {
        return (f(xb) + f(xb)).to_bits();
    }
    if ax == 0 {
        return SIGN | INF;
    }
    if xb & SIGN != 0 {
        return NAN;
    }
    if xb == INF {
        return INF;
    }
    let (h, l) = log_core(xb);
    (h + l).to_bits()
}

/// 0 when y (finite, not zero) is not an integer, 1 when it is odd, 2 when
/// even.
fn integer_class(ay: u64) -> u64 {
    let e = (ay >> 52) as i64 - 1023;
    if e < 0 {
        return 0;
    }
    if e > 52 {
        return 2;
    }
    let below = 52 - e as u64;
    if ay & ((1 << below) - 1) != 0 {
        return 0;
    }
    if ((ay | HIDDEN) >> below) & 1 == 1 {
        1
    } else {
        2
    }
}

pub fn pow(xb: u64, yb: u64) -> u64 {
    let (ax, ay) = (xb & !SIGN, yb & !SIGN);
    if ay == 0 || xb == ONE {
        return ONE;
    }
    if ax > INF || ay > INF {
        return (f(xb) + f(yb)).to_bits();
    }
    let y_negative = yb & SIGN != 0;
    if ay == INF {
        if ax == ONE {
            return ONE;
        }
        return if (ax < ONE) != y_negative { 0 } else { INF };
    }
    let class = integer_class(ay);
    let sign = if xb & SIGN != 0 && class == 1 { SIGN } else { 0 };
    if ax == 0 {
        return sign | if y_negative { INF } else { 0 };
    }
    if ax == INF {
        return sign | if y_negative { 0 } else { INF };
    }
    if xb & SIGN != 0 && class == 0 {
        return NAN;
    }
    // |y| >= 2^64 (an even integer): |y log|x|| > 2^11 unless |x| = 1.
    if ay >= (1023 + 64) << 52 {
        if ax == ONE {
            return ONE;
        }
        return if (ax < ONE) != y_negative { 0 } else { INF };
    }
    let l = log_core(ax);
    let y = f(yb);
    let (ph, pl) = two_prod(y, l.0);
    let (ph, pl) = fast_two_sum(ph, pl + y * l.1);
    let pb = ph.to_bits();
    if pb & SIGN == 0 && pb > EXP_OVERFLOW {
        return sign | INF;
    }
    if pb & SIGN != 0 && pb & !SIGN > EXP_UNDERFLOW {
        return sign;
    }
    let (k, p) = exp_core(ph, pl);
    sign | exp_finish(k, p)
}

/// |x| = (h + l) + q pi/2 for positive finite x of pi/4 or more, |h| <= pi/4:
/// Payne–Hanek with the 192 bits of 2/pi that matter.
fn reduce(ax: u64) -> (u64, Dd) {
    let e = (ax >> 52) as i64 - 1075;
    let m = (ax & FRACTION) | HIDDEN;
    // x 2/pi / 4 = m G mod 1, G the bits of 2/pi (64 zero bits in front)
    // from bit e + 62 on.
    let index = (e + 62) as u64;
    let (w, shift) = ((index >> 6) as usize, index & 63);
    let word = |i: usize| if i == 0 { 0 } else { TWO_OVER_PI[i - 1] };
    let g = |i: usize| (word(w + i) << shift) | ((word(w + i + 1) >> 1) >> (63 - shift));
    let (g0, g1, g2) = (g(0) as u128, g(1) as u128, g(2) as u128);
    let m = m as u128;
    let (p0, p1, p2) = (m * g0, m * g1, m * g2);
    let lo = p2 as u64;
    let (mid, carry) = ((p2 >> 64) as u64).overflowing_add(p1 as u64);
    let hi = ((p1 >> 64) as u64).wrapping_add(p0 as u64).wrapping_add(carry as u64);
    // Quadrant: 4 frac rounded; fraction: the rest, signed, in [-1/2, 1/2).
    let q = ((hi >> 61) + 1) >> 1 & 3;
    let mut a = (hi << 2) | (mid >> 62);
    let mut b = (mid << 2) | (lo >> 62);
    let mut c = lo << 2;
    let negative = (a as i64) < 0;
    if negative {
        let wide = (((a as u128) << 64) | b as u128).wrapping_neg();
        let wide = if c == 0 { wide } else { wide.wrapping_sub(1) };
        c = c.wrapping_neg();
        a = (wide >> 64) as u64;
        b = wide as u64;
    }
    let mut scale = 0;
    if a == 0 {
        (a, b, c) = (b, c, 0);
        scale = 64;
    }
    let lz = a.leading_zeros() as u64;
    let n1 = (a << lz) | ((b >> 1) >> (63 - lz));
    let n2 = (b << lz) | ((c >> 1) >> (63 - lz));
    let top = (n1 >> 11) as i64 as f64;
    let next = (((n1 & 0x7ff) << 42) | (n2 >> 22)) as i64 as f64;
    let exponent = 1023 - 53 - lz as i64 - scale;
    let fh = top * f((exponent as u64) << 52);
    let fl = next * f(((exponent - 53) as u64) << 52);
    let (fh, fl) = fast_two_sum(fh, fl);
    let frac = if negative { (-fh, -fl) } else { (fh, fl) };
    (q, dd_mul(frac, dd(PIO2)))
}

/// sin x (`cosine` false) or cos x.
fn sin_cos(xb: u64, cosine: bool) -> u64 {
    let ax = xb & !SIGN;
    if ax >= INF {
        return if ax > INF { (f(xb) + f(xb)).to_bits() } else { NAN };
    }
    if ax < SIN_TINY {
        return if cosine { ONE } else { xb };
    }
    let (q, r) = if ax <= PIO4 { (0, (f(ax), 0.0)) } else { reduce(ax) };
    let q = if cosine { q + 1 } else { q };
    let z = dd_mul(r, r);
    let v = if q & 1 == 1 {
        horner(z, &COS_TAIL, &COS_DD, (1.0, 0.0))
    } else {
        dd_mul(r, horner(z, &SIN_TAIL, &SIN_DD, (1.0, 0.0)))
    };
    let mut result = (v.0 + v.1).to_bits();
    if q & 2 != 0 {
        result ^= SIGN;
    }
    if !cosine && xb & SIGN != 0 {
        result ^= SIGN;
    }
    result
}

pub fn sin(xb: u64) -> u64 {
    sin_cos(xb, false)
}

pub fn cos(xb: u64) -> u64 {
    sin_cos(xb, true)
}
