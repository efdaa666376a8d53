//! The math builtins `exp`, `log`, `pow`, `sin` and `cos`, as the
//! interpreter computes them.
//!
//! Results within an ulp are not unique, so the interpreter can only agree
//! with the backend bit for bit if it evaluates the same algorithm: this is
//! a second writing of the one documented in the backend's
//! `runtime/libm.rs` (same constants, same binary64 operations in the same
//! order, no fused multiply-add), in plain Rust. Integer steps (the
//! Payne–Hanek product) may be computed differently, as they are exact.

const SIGN: u64 = 1 << 63;
const INF: u64 = 0x7ff0_0000_0000_0000;
const FRACTION: u64 = (1 << 52) - 1;
const HIDDEN: u64 = 1 << 52;
const ONE: u64 = 0x3ff0_0000_0000_0000;
const NAN: u64 = 0x7ff8_0000_0000_0000;

const SPLITTER: f64 = 134_217_729.0;
/// 1.5 * 2^52: adding it rounds to an integer.
const SHIFTER: f64 = 6_755_399_441_055_744.0;

const LN2_HI: u64 = 0x3fe6_2e42_fefa_3800;
const LN2_MID: u64 = 0x3d2e_f357_93c7_6000;
const LN2_LO: u64 = 0x3a8c_c01f_97b5_7a08;
const INV_LN2: u64 = 0x3ff7_1547_652b_82fe;
/// Above this exp overflows, below -746 it is 0.
const EXP_OVERFLOW: u64 = 0x4086_2e51_eb85_1eb8;
const EXP_UNDERFLOW: u64 = 0x4087_5000_0000_0000;

/// 1/n! for n = 3..=6, as double-doubles.
const EXP_DD: [(u64, u64); 4] = [
    (0x3fc5_5555_5555_5555, 0x3c65_5555_5555_5555),
    (0x3fa5_5555_5555_5555, 0x3c45_5555_5555_5555),
    (0x3f81_1111_1111_1111, 0x3c01_1111_1111_1111),
    (0x3f56_c16c_16c1_6c17, 0xbbef_49f4_9f49_f49f),
];
/// 1/n! for n = 7..=16.
const EXP_TAIL: [u64; 10] = [
    0x3f2a_01a0_1a01_a01a,
    0x3efa_01a0_1a01_a01a,
    0x3ec7_1de3_a556_c734,
    0x3e92_7e4f_b778_9f5c,
    0x3e5a_e645_67f5_44e4,
    0x3e21_eed8_eff8_d898,
    0x3de6_1246_13a8_6d09,
    0x3da9_3974_a8c0_7c9d,
    0x3d6a_e7f3_e733_b81f,
    0x3d2a_e7f3_e733_b81f,
];
/// 2/(2j+1) for j = 1..=4, as double-doubles.
const LOG_DD: [(u64, u64); 4] = [
    (0x3fe5_5555_5555_5555, 0x3c85_5555_5555_5555),
    (0x3fd9_9999_9999_999a, 0xbc79_9999_9999_999a),
    (0x3fd2_4924_9249_2492, 0x3c72_4924_9249_2492),
    (0x3fcc_71c7_1c71_c71c, 0x3c6c_71c7_1c71_c71c),
];
/// 2/(2j+1) for j = 5..=15.
const LOG_TAIL: [u64; 11] = [
    0x3fc7_45d1_745d_1746,
    0x3fc3_b13b_13b1_3b14,
    0x3fc1_1111_1111_1111,
    0x3fbe_1e1e_1e1e_1e1e,
    0x3fba_f286_bca1_af28,
    0x3fb8_6186_1861_8618,
    0x3fb6_42c8_590b_2164,
    0x3fb4_7ae1_47ae_147b,
    0x3fb2_f684_bda1_2f68,
    0x3fb1_a7b9_611a_7b96,
    0x3fb0_8421_0842_1084,
];
/// The fraction bits of sqrt(2): mantissas above it are halved.
const SQRT2_FRACTION: u64 = 0x6_a09e_667f_3bcd;
/// (-1)^j/(2j+1)! for j = 1..=4, as double-doubles; j = 5..=11.
const SIN_DD: [(u64, u64); 4] = [
    (0xbfc5_5555_5555_5555, 0xbc65_5555_5555_5555),
    (0x3f81_1111_1111_1111, 0x3c01_1111_1111_1111),
    (0xbf2a_01a0_1a01_a01a, 0xbb6a_01a0_1a01_a01a),
    (0x3ec7_1de3_a556_c734, 0xbb6c_154f_8ddc_6c00),
];
const SIN_TAIL: [u64; 7] = [
    0xbe5a_e645_67f5_44e4,
    0x3de6_1246_13a8_6d09,
    0xbd6a_e7f3_e733_b81f,
    0x3ce9_52c7_7030_ad4a,
    0xbc62_f49b_4681_4157,
    0x3bd7_1b8e_f6dc_f572,
    0xbb47_61b4_1316_381a,
];
/// (-1)^j/(2j)! for j = 1..=4, as double-doubles; j = 5..=11.
const COS_DD: [(u64, u64); 4] = [
    (0xbfe0_0000_0000_0000, 0),
    (0x3fa5_5555_5555_5555, 0x3c45_5555_5555_5555),
    (0xbf56_c16c_16c1_6c17, 0x3bef_49f4_9f49_f49f),
    (0x3efa_01a0_1a01_a01a, 0x3b3a_01a0_1a01_a01a),
];
const COS_TAIL: [u64; 7] = [
    0xbe92_7e4f_b778_9f5c,
    0x3e21_eed8_eff8_d898,
    0xbda9_3974_a8c0_7c9d,
    0x3d2a_e7f3_e733_b81f,
    0xbca6_8278_63b9_7d97,
    0x3c1e_542b_a402_0225,
    0xbb90_ce39_6db7_f853,
];
const PIO2: (u64, u64) = (0x3ff9_21fb_5444_2d18, 0x3c91_a626_3314_5c07);
const PIO4: u64 = 0x3fe9_21fb_5444_2d18;
/// |x| below 2^-27: sin x rounds to x, cos x to 1.
const SIN_TINY: u64 = 0x3e40_0000_0000_0000;
/// The bits of 2/pi after the point, 64 a word.
const TWO_OVER_PI: [u64; 19] = [
    0xa2f9_836e_4e44_1529,
    0xfc27_57d1_f534_ddc0,
    0xdb62_9599_3c43_9041,
    0xfe51_63ab_debb_c561,
    0xb724_6e3a_424d_d2e0,
    0x0649_2eea_09d1_921c,
    0xfe1d_eb1c_b129_a73e,
    0xe882_35f5_2ebb_4484,
    0xe99c_7026_b45f_7e41,
    0x3991_d639_8353_39f4,
    0x9c84_5f8b_bdf9_283b,
    0x1ff8_97ff_de05_980f,
    0xef2f_118b_5a0a_6d1f,
    0x6d36_7ecf_27cb_09b7,
    0x4f46_3f66_9e5f_ea2d,
    0x7527_bac7_ebe5_f17b,
    0x3d07_39f7_8a52_92ea,
    0x6bfb_5fb1_1f8d_5d08,
    0x5603_3046_fc7b_6bab,
];

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
    let mut tail: Vec<(u64, u64)> = vec![(0x3fe0_0000_0000_0000, 0)];
    tail.extend_from_slice(&EXP_DD);
    let p = horner(r, &EXP_TAIL, &tail, (1.0, 0.0));
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
