//! Printing floats as V does: the shortest decimal that reads back to the
//! same binary64 value, written plainly when 1e-5 <= |x| < 1e16 (`3.14`,
//! `1.0`, `0.30000000000000004`) and in scientific form otherwise (`1e+20`,
//! `1.5e-07`), with `0.0`, `-0.0`, `inf`, `-inf` and `nan`.
//!
//! The digits come from the free-format algorithm of Steele & White as
//! refined by Burger & Dybvig: exact arithmetic on the value's rounding
//! interval, with bignums of 32-bit limbs (one per 64-bit word, so products
//! and carries fit the IR's 64-bit arithmetic). A bignum is a bss buffer:
//! word 0 holds the number of limbs, limb i is word i+1, least significant
//! first, with no leading zero limb.

use super::{Builder, ALLOC, STRING_NEW};
use crate::ir::*;

pub const PRINT_FLOAT: &str = "__vbeam_print_float";
pub const FLOAT_TO_STR: &str = "__vbeam_float_to_str";
const SHORTEST: &str = "__vbeam_float_shortest";
const BIG_SET: &str = "__vbeam_big_set";
const BIG_MUL_SMALL: &str = "__vbeam_big_mul_small";
const BIG_SHL: &str = "__vbeam_big_shl";
const BIG_CMP: &str = "__vbeam_big_cmp";
const BIG_SUB: &str = "__vbeam_big_sub";
const BIG_ADD: &str = "__vbeam_big_add";

/// The bignums (r, s, m+, m-, a temporary), the digits and their exponent.
const BIG_R: &str = "__vbeam_big_r";
const BIG_S: &str = "__vbeam_big_s";
const BIG_MP: &str = "__vbeam_big_mp";
const BIG_MM: &str = "__vbeam_big_mm";
const BIG_T: &str = "__vbeam_big_t";
const FDIGITS: &str = "__vbeam_fdigits";
const FEXP: &str = "__vbeam_fexp";
/// Limbs a bignum can hold: 2^1076 * 10^19 and 2 f 10^324 both fit in 48.
const BIG_WORDS: u64 = 50;
/// Bytes of the float text buffer: sign, 17 digits, point, up to 20 zeros,
/// exponent.
const TEXT_MAX: i64 = 48;

const LIMB_MASK: i64 = 0xffff_ffff;
const FRACTION_MASK: i64 = (1 << 52) - 1;
const HIDDEN_BIT: i64 = 1 << 52;
const EXPONENT_BIAS: i64 = 1075;
const SIGN_CLEAR: i64 = i64::MAX;
/// floor(x * log10(2)) is (x * 78913) >> 18 for |x| < 1650.
const LOG10_2_NUM: i64 = 78913;
const LOG10_2_SHIFT: i64 = 18;

/// The bss entries the routines use (name, size).
pub const BSS: &[(&str, u64)] = &[
    (BIG_R, BIG_WORDS * 8),
    (BIG_S, BIG_WORDS * 8),
    (BIG_MP, BIG_WORDS * 8),
    (BIG_MM, BIG_WORDS * 8),
    (BIG_T, BIG_WORDS * 8),
    (FDIGITS, 32),
    (FEXP, 8),
];

/// Builds the routine `name` if it is one of this module's.
pub fn routine(b: &mut Builder, name: &str) -> bool {
    match name {
        PRINT_FLOAT => print_float(b),
        FLOAT_TO_STR => float_to_str(b),
        SHORTEST => shortest(b),
        BIG_SET => big_set(b),
        BIG_MUL_SMALL => big_mul_small(b),
        BIG_SHL => big_shl(b),
        BIG_CMP => big_cmp(b),
        BIG_SUB => big_sub(b),
        BIG_ADD => big_add(b),
        _ => return false,
    }
    true
}

/// Address of limb `i` of bignum `a`, minus 8 (use offset 8).
fn limb_addr(b: &mut Builder, a: Reg, i: Reg) -> Reg {
    let off = b.op(BinOp::Shl, i, Src::Imm(3));
    b.op(BinOp::Add, a, Src::Reg(off))
}

/// Limb `i` of `a`, or 0 when `i` is at or past `len`.
fn limb_or_zero(b: &mut Builder, a: Reg, len: Reg, i: Reg) -> Reg {
    let v = b.vreg();
    let done = b.label();
    b.mov_imm(v, 0);
    b.cmp(i, Src::Reg(len));
    b.jcc(Cond::Ge, done);
    let at = limb_addr(b, a, i);
    let x = b.load(at, 8);
    b.mov(v, x);
    b.bind(done);
    v
}

/// `big_set(a, v)`: a := v (v read as unsigned).
fn big_set(b: &mut Builder) {
    let [a, v] = b.params();
    let lo = b.op(BinOp::And, v, Src::Imm(LIMB_MASK));
    let hi = b.op(BinOp::Shr, v, Src::Imm(32));
    b.store(a, 8, Src::Reg(lo));
    b.store(a, 16, Src::Reg(hi));
    let len = b.vreg();
    let done = b.label();
    b.mov_imm(len, 2);
    b.cmp(hi, Src::Imm(0));
    b.jcc(Cond::Ne, done);
    b.mov_imm(len, 1);
    b.cmp(lo, Src::Imm(0));
    b.jcc(Cond::Ne, done);
    b.mov_imm(len, 0);
    b.bind(done);
    b.store(a, 0, Src::Reg(len));
    b.ret_void();
}

/// `big_mul_small(a, k)`: a := a * k, for k < 2^32.
fn big_mul_small(b: &mut Builder) {
    let [a, k] = b.params();
    let len = b.load(a, 0);
    let (i, carry) = (b.vreg(), b.vreg());
    b.mov_imm(i, 0);
    b.mov_imm(carry, 0);
    let (top, done, end) = (b.label(), b.label(), b.label());
    b.bind(top);
    b.cmp(i, Src::Reg(len));
    b.jcc(Cond::Ge, done);
    let at = limb_addr(b, a, i);
    let x = b.load(at, 8);
    let t = b.op(BinOp::Mul, x, Src::Reg(k));
    b.bin(BinOp::Add, t, t, Src::Reg(carry));
    let low = b.op(BinOp::And, t, Src::Imm(LIMB_MASK));
    b.store(at, 8, Src::Reg(low));
    b.bin(BinOp::Shr, carry, t, Src::Imm(32));
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.jmp(top);
    b.bind(done);
    b.cmp(carry, Src::Imm(0));
    b.jcc(Cond::Eq, end);
    let at = limb_addr(b, a, len);
    b.store(at, 8, Src::Reg(carry));
    let grown = b.op(BinOp::Add, len, Src::Imm(1));
    b.store(a, 0, Src::Reg(grown));
    b.bind(end);
    b.ret_void();
}

/// `big_shl(a, n)`: a := a * 2^n.
fn big_shl(b: &mut Builder) {
    let [a, n] = b.params();
    let bits = b.op(BinOp::And, n, Src::Imm(31));
    let one = b.vreg();
    b.mov_imm(one, 1);
    let factor = b.op(BinOp::Shl, one, Src::Reg(bits));
    b.call_void(BIG_MUL_SMALL, &[Src::Reg(a), Src::Reg(factor)]);
    let words = b.op(BinOp::Shr, n, Src::Imm(5));
    let len = b.load(a, 0);
    let (up, zero, zero_top, end) = (b.label(), b.label(), b.label(), b.label());
    b.cmp(words, Src::Imm(0));
    b.jcc(Cond::Eq, end);
    b.cmp(len, Src::Imm(0));
    b.jcc(Cond::Eq, end);
    // Move the limbs up by `words`, from the top, then clear the bottom.
    let i = b.vreg();
    b.mov(i, len);
    b.bind(up);
    b.cmp(i, Src::Imm(0));
    b.jcc(Cond::Le, zero);
    b.bin(BinOp::Sub, i, i, Src::Imm(1));
    let from = limb_addr(b, a, i);
    let x = b.load(from, 8);
    let j = b.op(BinOp::Add, i, Src::Reg(words));
    let to = limb_addr(b, a, j);
    b.store(to, 8, Src::Reg(x));
    b.jmp(up);
    b.bind(zero);
    let k = b.vreg();
    b.mov_imm(k, 0);
    b.bind(zero_top);
    let at = limb_addr(b, a, k);
    b.store(at, 8, Src::Imm(0));
    b.bin(BinOp::Add, k, k, Src::Imm(1));
    b.cmp(k, Src::Reg(words));
    b.jcc(Cond::Lt, zero_top);
    let grown = b.op(BinOp::Add, len, Src::Reg(words));
    b.store(a, 0, Src::Reg(grown));
    b.bind(end);
    b.ret_void();
}

/// `big_cmp(a, b)`: -1, 0 or 1.
fn big_cmp(b: &mut Builder) {
    let [x, y] = b.params();
    let (lx, ly) = (b.load(x, 0), b.load(y, 0));
    let (less, greater, equal, top) = (b.label(), b.label(), b.label(), b.label());
    b.cmp(lx, Src::Reg(ly));
    b.jcc(Cond::Lt, less);
    b.jcc(Cond::Gt, greater);
    let i = b.vreg();
    b.mov(i, lx);
    b.bind(top);
    b.cmp(i, Src::Imm(0));
    b.jcc(Cond::Le, equal);
    b.bin(BinOp::Sub, i, i, Src::Imm(1));
    let ax = limb_addr(b, x, i);
    let ay = limb_addr(b, y, i);
    let (p, q) = (b.load(ax, 8), b.load(ay, 8));
    b.cmp(p, Src::Reg(q));
    b.jcc(Cond::Ltu, less);
    b.jcc(Cond::Gtu, greater);
    b.jmp(top);
    b.bind(equal);
    b.ret(Src::Imm(0));
    b.bind(less);
    b.ret(Src::Imm(-1));
    b.bind(greater);
    b.ret(Src::Imm(1));
}

/// `big_sub(a, b)`: a := a - b, for a >= b.
fn big_sub(b: &mut Builder) {
    let [x, y] = b.params();
    let (lx, ly) = (b.load(x, 0), b.load(y, 0));
    let (i, borrow) = (b.vreg(), b.vreg());
    b.mov_imm(i, 0);
    b.mov_imm(borrow, 0);
    let (top, no_borrow, trim, trim_done) = (b.label(), b.label(), b.label(), b.label());
    b.bind(top);
    b.cmp(i, Src::Reg(lx));
    b.jcc(Cond::Ge, trim);
    let q = limb_or_zero(b, y, ly, i);
    let at = limb_addr(b, x, i);
    let p = b.load(at, 8);
    let t = b.op(BinOp::Sub, p, Src::Reg(q));
    b.bin(BinOp::Sub, t, t, Src::Reg(borrow));
    b.mov_imm(borrow, 0);
    b.cmp(t, Src::Imm(0));
    b.jcc(Cond::Ge, no_borrow);
    b.bin(BinOp::Add, t, t, Src::Imm(1 << 32));
    b.mov_imm(borrow, 1);
    b.bind(no_borrow);
    b.store(at, 8, Src::Reg(t));
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.jmp(top);
    // Drop leading zero limbs.
    b.bind(trim);
    let len = b.vreg();
    b.mov(len, lx);
    let check = b.label();
    b.bind(check);
    b.cmp(len, Src::Imm(0));
    b.jcc(Cond::Le, trim_done);
    let last = b.op(BinOp::Sub, len, Src::Imm(1));
    let at = limb_addr(b, x, last);
    let top_limb = b.load(at, 8);
    b.cmp(top_limb, Src::Imm(0));
    b.jcc(Cond::Ne, trim_done);
    b.mov(len, last);
    b.jmp(check);
    b.bind(trim_done);
    b.store(x, 0, Src::Reg(len));
    b.ret_void();
}

/// `big_add(d, a, b)`: d := a + b (d distinct from a and b).
fn big_add(b: &mut Builder) {
    let [d, x, y] = b.params();
    let (lx, ly) = (b.load(x, 0), b.load(y, 0));
    let n = b.vreg();
    let (longer, top, done, end) = (b.label(), b.label(), b.label(), b.label());
    b.mov(n, lx);
    b.cmp(lx, Src::Reg(ly));
    b.jcc(Cond::Ge, longer);
    b.mov(n, ly);
    b.bind(longer);
    let (i, carry) = (b.vreg(), b.vreg());
    b.mov_imm(i, 0);
    b.mov_imm(carry, 0);
    b.bind(top);
    b.cmp(i, Src::Reg(n));
    b.jcc(Cond::Ge, done);
    let p = limb_or_zero(b, x, lx, i);
    let q = limb_or_zero(b, y, ly, i);
    let t = b.op(BinOp::Add, p, Src::Reg(q));
    b.bin(BinOp::Add, t, t, Src::Reg(carry));
    let low = b.op(BinOp::And, t, Src::Imm(LIMB_MASK));
    let at = limb_addr(b, d, i);
    b.store(at, 8, Src::Reg(low));
    b.bin(BinOp::Shr, carry, t, Src::Imm(32));
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.jmp(top);
    b.bind(done);
    b.cmp(carry, Src::Imm(0));
    b.jcc(Cond::Eq, end);
    let at = limb_addr(b, d, n);
    b.store(at, 8, Src::Reg(carry));
    b.bin(BinOp::Add, n, n, Src::Imm(1));
    b.bind(end);
    b.store(d, 0, Src::Reg(n));
    b.ret_void();
}

/// Jumps to `yes` when `cmp_result` (-1/0/1) means "greater", or "greater
/// or equal" when `inclusive` (a 0/1 vreg) is set.
fn jump_if_above(b: &mut Builder, cmp_result: Reg, inclusive: Reg, yes: Label) {
    let strict = b.label();
    b.cmp(cmp_result, Src::Imm(0));
    b.jcc(Cond::Gt, yes);
    b.jcc(Cond::Lt, strict);
    b.cmp(inclusive, Src::Imm(0));
    b.jcc(Cond::Ne, yes);
    b.bind(strict);
}

/// `float_shortest(bits)`: the shortest digits (ASCII, into FDIGITS) of a
/// positive, finite, non-zero double, returning their count; FEXP gets k
/// with value = 0.d1d2... * 10^k.
fn shortest(b: &mut Builder) {
    let [bits] = b.params();
    let (r, s, mp, mm, t) = (b.lea(BIG_R), b.lea(BIG_S), b.lea(BIG_MP), b.lea(BIG_MM), b.lea(BIG_T));
    let frac = b.op(BinOp::And, bits, Src::Imm(FRACTION_MASK));
    let bexp = b.op(BinOp::Shr, bits, Src::Imm(52));
    let (f, e) = (b.vreg(), b.vreg());
    let (normal, decoded) = (b.label(), b.label());
    b.cmp(bexp, Src::Imm(0));
    b.jcc(Cond::Ne, normal);
    b.mov(f, frac);
    b.mov_imm(e, 1 - EXPONENT_BIAS);
    b.jmp(decoded);
    b.bind(normal);
    b.bin(BinOp::Or, f, frac, Src::Imm(HIDDEN_BIT));
    b.bin(BinOp::Sub, e, bexp, Src::Imm(EXPONENT_BIAS));
    b.bind(decoded);
    // Round-half-even: the interval's ends belong to it when f is even.
    let odd = b.op(BinOp::And, f, Src::Imm(1));
    let inclusive = b.op(BinOp::Xor, odd, Src::Imm(1));
    // The gap below is half the gap above at a power of two (not the
    // smallest normal exponent).
    let unequal = b.vreg();
    let not_unequal = b.label();
    b.mov_imm(unequal, 0);
    b.cmp(frac, Src::Imm(0));
    b.jcc(Cond::Ne, not_unequal);
    b.cmp(bexp, Src::Imm(1));
    b.jcc(Cond::Le, not_unequal);
    b.mov_imm(unequal, 1);
    b.bind(not_unequal);
    // r / s = value, m+ / s and m- / s = half gaps above and below, all
    // scaled by 2 (by 4 with unequal gaps).
    let shift_r = b.op(BinOp::Add, unequal, Src::Imm(1));
    b.call_void(BIG_SET, &[Src::Reg(r), Src::Reg(f)]);
    b.call_void(BIG_SHL, &[Src::Reg(r), Src::Reg(shift_r)]);
    let s_log = b.op(BinOp::Add, unequal, Src::Imm(1));
    b.call_void(BIG_SET, &[Src::Reg(s), Src::Imm(1)]);
    b.call_void(BIG_SET, &[Src::Reg(mp), Src::Imm(1)]);
    b.call_void(BIG_SET, &[Src::Reg(mm), Src::Imm(1)]);
    b.call_void(BIG_SHL, &[Src::Reg(mp), Src::Reg(unequal)]);
    let (negative_e, scaled2) = (b.label(), b.label());
    b.cmp(e, Src::Imm(0));
    b.jcc(Cond::Lt, negative_e);
    b.call_void(BIG_SHL, &[Src::Reg(r), Src::Reg(e)]);
    b.call_void(BIG_SHL, &[Src::Reg(mp), Src::Reg(e)]);
    b.call_void(BIG_SHL, &[Src::Reg(mm), Src::Reg(e)]);
    b.call_void(BIG_SHL, &[Src::Reg(s), Src::Reg(s_log)]);
    b.jmp(scaled2);
    b.bind(negative_e);
    let minus_e = b.op(BinOp::Sub, s_log, Src::Reg(e));
    b.call_void(BIG_SHL, &[Src::Reg(s), Src::Reg(minus_e)]);
    b.bind(scaled2);
    // k from floor(log2 v) = e + bitlength(f) - 1, never above the true k.
    let (len, rest) = (b.vreg(), b.vreg());
    let (count, counted) = (b.label(), b.label());
    b.mov_imm(len, 0);
    b.mov(rest, f);
    b.bind(count);
    b.cmp(rest, Src::Imm(0));
    b.jcc(Cond::Eq, counted);
    b.bin(BinOp::Shr, rest, rest, Src::Imm(1));
    b.bin(BinOp::Add, len, len, Src::Imm(1));
    b.jmp(count);
    b.bind(counted);
    let log2 = b.op(BinOp::Add, e, Src::Reg(len));
    b.bin(BinOp::Sub, log2, log2, Src::Imm(1));
    let k = b.op(BinOp::Mul, log2, Src::Imm(LOG10_2_NUM));
    b.bin(BinOp::Sar, k, k, Src::Imm(LOG10_2_SHIFT));
    // Scale by 10^k: s for k >= 0, r and the gaps for k < 0.
    let i = b.vreg();
    let (scale_down, scale_up_top, scale_down_top, scaled10) = (b.label(), b.label(), b.label(), b.label());
    b.mov_imm(i, 0);
    b.cmp(k, Src::Imm(0));
    b.jcc(Cond::Lt, scale_down);
    b.bind(scale_up_top);
    b.cmp(i, Src::Reg(k));
    b.jcc(Cond::Ge, scaled10);
    b.call_void(BIG_MUL_SMALL, &[Src::Reg(s), Src::Imm(10)]);
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.jmp(scale_up_top);
    b.bind(scale_down);
    let minus_k = b.op(BinOp::Sub, i, Src::Reg(k));
    b.bind(scale_down_top);
    b.cmp(i, Src::Reg(minus_k));
    b.jcc(Cond::Ge, scaled10);
    for x in [r, mp, mm] {
        b.call_void(BIG_MUL_SMALL, &[Src::Reg(x), Src::Imm(10)]);
    }
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.jmp(scale_down_top);
    b.bind(scaled10);
    // Fix k up until (r + m+) / s < 1.
    let (fixup, fixed, bump) = (b.label(), b.label(), b.label());
    b.bind(fixup);
    b.call_void(BIG_ADD, &[Src::Reg(t), Src::Reg(r), Src::Reg(mp)]);
    let c = b.call(BIG_CMP, &[Src::Reg(t), Src::Reg(s)]);
    jump_if_above(b, c, inclusive, bump);
    b.jmp(fixed);
    b.bind(bump);
    b.call_void(BIG_MUL_SMALL, &[Src::Reg(s), Src::Imm(10)]);
    b.bin(BinOp::Add, k, k, Src::Imm(1));
    b.jmp(fixup);
    b.bind(fixed);
    // Generate digits until one of the interval's ends is reached.
    let digits = b.lea(FDIGITS);
    let n = b.vreg();
    b.mov_imm(n, 0);
    let (next, subtract, subtracted, low_reached, high_reached) =
        (b.label(), b.label(), b.label(), b.label(), b.label());
    let (emit_d, emit_d1, more, low_only, both) = (b.label(), b.label(), b.label(), b.label(), b.label());
    let d = b.vreg();
    b.bind(next);
    for x in [r, mp, mm] {
        b.call_void(BIG_MUL_SMALL, &[Src::Reg(x), Src::Imm(10)]);
    }
    b.mov_imm(d, 0);
    b.bind(subtract);
    let c = b.call(BIG_CMP, &[Src::Reg(r), Src::Reg(s)]);
    b.cmp(c, Src::Imm(0));
    b.jcc(Cond::Lt, subtracted);
    b.call_void(BIG_SUB, &[Src::Reg(r), Src::Reg(s)]);
    b.bin(BinOp::Add, d, d, Src::Imm(1));
    b.jmp(subtract);
    b.bind(subtracted);
    // low: r < m- (<= when inclusive); high: r + m+ > s (>=).
    let low = b.call(BIG_CMP, &[Src::Reg(mm), Src::Reg(r)]);
    let low_hit = b.vreg();
    b.mov_imm(low_hit, 0);
    jump_if_above(b, low, inclusive, low_reached);
    b.jmp(high_reached);
    b.bind(low_reached);
    b.mov_imm(low_hit, 1);
    b.bind(high_reached);
    b.call_void(BIG_ADD, &[Src::Reg(t), Src::Reg(r), Src::Reg(mp)]);
    let high = b.call(BIG_CMP, &[Src::Reg(t), Src::Reg(s)]);
    let high_hit = b.vreg();
    let (high_yes, high_known) = (b.label(), b.label());
    b.mov_imm(high_hit, 0);
    jump_if_above(b, high, inclusive, high_yes);
    b.jmp(high_known);
    b.bind(high_yes);
    b.mov_imm(high_hit, 1);
    b.bind(high_known);
    b.cmp(low_hit, Src::Imm(0));
    b.jcc(Cond::Ne, low_only);
    b.cmp(high_hit, Src::Imm(0));
    b.jcc(Cond::Ne, emit_d1);
    b.jmp(more);
    b.bind(low_only);
    b.cmp(high_hit, Src::Imm(0));
    b.jcc(Cond::Ne, both);
    b.jmp(emit_d);
    // Both ends reached: the digit nearer the value (2r against s); when
    // the value lies exactly halfway (2r = s), the even one, as Ryu does.
    b.bind(both);
    b.call_void(BIG_ADD, &[Src::Reg(t), Src::Reg(r), Src::Reg(r)]);
    let half = b.call(BIG_CMP, &[Src::Reg(t), Src::Reg(s)]);
    b.cmp(half, Src::Imm(0));
    b.jcc(Cond::Lt, emit_d);
    b.jcc(Cond::Gt, emit_d1);
    let d_odd = b.op(BinOp::And, d, Src::Imm(1));
    b.cmp(d_odd, Src::Imm(0));
    b.jcc(Cond::Eq, emit_d);
    b.bind(emit_d1);
    b.bin(BinOp::Add, d, d, Src::Imm(1));
    b.bind(emit_d);
    let at = b.op(BinOp::Add, digits, Src::Reg(n));
    let ch = b.op(BinOp::Add, d, Src::Imm(b'0' as i64));
    b.store_byte(at, 0, Src::Reg(ch));
    b.bin(BinOp::Add, n, n, Src::Imm(1));
    let fexp = b.lea(FEXP);
    b.store(fexp, 0, Src::Reg(k));
    b.ret(Src::Reg(n));
    b.bind(more);
    let at = b.op(BinOp::Add, digits, Src::Reg(n));
    let ch = b.op(BinOp::Add, d, Src::Imm(b'0' as i64));
    b.store_byte(at, 0, Src::Reg(ch));
    b.bin(BinOp::Add, n, n, Src::Imm(1));
    b.jmp(next);
}

/// Appends byte `c` at `cursor` and advances it.
fn put(b: &mut Builder, cursor: Reg, c: Src) {
    b.store_byte(cursor, 0, c);
    b.bin(BinOp::Add, cursor, cursor, Src::Imm(1));
}

/// Appends the bytes of a short ASCII text.
fn put_text(b: &mut Builder, cursor: Reg, text: &[u8]) {
    for c in text {
        put(b, cursor, Src::Imm(*c as i64));
    }
}

/// `float_to_str(bits)`: a new string of the float's V text.
fn float_to_str(b: &mut Builder) {
    let [bits] = b.params();
    let buf = b.call(ALLOC, &[Src::Imm(TEXT_MAX)]);
    let cursor = b.vreg();
    b.mov(cursor, buf);
    let finish = b.label();
    let magnitude = b.op(BinOp::And, bits, Src::Imm(SIGN_CLEAR));
    // NaN (any payload) prints without a sign.
    let (not_nan, positive, finite, not_zero) = (b.label(), b.label(), b.label(), b.label());
    b.cmp(magnitude, Src::Imm(0x7ff << 52));
    b.jcc(Cond::Le, not_nan);
    put_text(b, cursor, b"nan");
    b.jmp(finish);
    b.bind(not_nan);
    b.cmp(bits, Src::Imm(0));
    b.jcc(Cond::Ge, positive);
    put(b, cursor, Src::Imm(b'-' as i64));
    b.bind(positive);
    b.cmp(magnitude, Src::Imm(0x7ff << 52));
    b.jcc(Cond::Ne, finite);
    put_text(b, cursor, b"inf");
    b.jmp(finish);
    b.bind(finite);
    b.cmp(magnitude, Src::Imm(0));
    b.jcc(Cond::Ne, not_zero);
    put_text(b, cursor, b"0.0");
    b.jmp(finish);
    b.bind(not_zero);
    let n = b.call(SHORTEST, &[Src::Reg(magnitude)]);
    let fexp = b.lea(FEXP);
    let k = b.load(fexp, 0);
    let digits = b.lea(FDIGITS);
    let i = b.vreg();
    b.mov_imm(i, 0);
    let (not_plain_int, small, scientific) = (b.label(), b.label(), b.label());
    // 1 <= x < 1e16: integer digits (zero-padded), a point, the rest or 0.
    b.cmp(k, Src::Imm(0));
    b.jcc(Cond::Le, not_plain_int);
    b.cmp(k, Src::Imm(16));
    b.jcc(Cond::Gt, scientific);
    {
        let (int_top, int_zero, int_next, point, frac_top, frac_none) =
            (b.label(), b.label(), b.label(), b.label(), b.label(), b.label());
        b.bind(int_top);
        b.cmp(i, Src::Reg(k));
        b.jcc(Cond::Ge, point);
        b.cmp(i, Src::Reg(n));
        b.jcc(Cond::Ge, int_zero);
        let at = b.op(BinOp::Add, digits, Src::Reg(i));
        let c = b.load_byte(at, 0);
        put(b, cursor, Src::Reg(c));
        b.jmp(int_next);
        b.bind(int_zero);
        put(b, cursor, Src::Imm(b'0' as i64));
        b.bind(int_next);
        b.bin(BinOp::Add, i, i, Src::Imm(1));
        b.jmp(int_top);
        b.bind(point);
        put(b, cursor, Src::Imm(b'.' as i64));
        b.cmp(i, Src::Reg(n));
        b.jcc(Cond::Ge, frac_none);
        b.bind(frac_top);
        let at = b.op(BinOp::Add, digits, Src::Reg(i));
        let c = b.load_byte(at, 0);
        put(b, cursor, Src::Reg(c));
        b.bin(BinOp::Add, i, i, Src::Imm(1));
        b.cmp(i, Src::Reg(n));
        b.jcc(Cond::Lt, frac_top);
        b.jmp(finish);
        b.bind(frac_none);
        put(b, cursor, Src::Imm(b'0' as i64));
        b.jmp(finish);
    }
    // 1e-5 <= x < 1: "0.", -k zeros, the digits.
    b.bind(not_plain_int);
    b.cmp(k, Src::Imm(-4));
    b.jcc(Cond::Lt, scientific);
    b.bind(small);
    put_text(b, cursor, b"0.");
    {
        let (zeros, digits_top) = (b.label(), b.label());
        let z = b.vreg();
        b.mov_imm(z, 0);
        let minus_k = b.op(BinOp::Sub, z, Src::Reg(k));
        b.bind(zeros);
        b.cmp(z, Src::Reg(minus_k));
        let zeros_done = b.label();
        b.jcc(Cond::Ge, zeros_done);
        put(b, cursor, Src::Imm(b'0' as i64));
        b.bin(BinOp::Add, z, z, Src::Imm(1));
        b.jmp(zeros);
        b.bind(zeros_done);
        b.bind(digits_top);
        let at = b.op(BinOp::Add, digits, Src::Reg(i));
        let c = b.load_byte(at, 0);
        put(b, cursor, Src::Reg(c));
        b.bin(BinOp::Add, i, i, Src::Imm(1));
        b.cmp(i, Src::Reg(n));
        b.jcc(Cond::Lt, digits_top);
        b.jmp(finish);
    }
    // d[.ddd]e±XX with at least two exponent digits.
    b.bind(scientific);
    {
        let (frac_top, exponent, exp_positive, exp_sign_done, two_digits) =
            (b.label(), b.label(), b.label(), b.label(), b.label());
        let c = b.load_byte(digits, 0);
        put(b, cursor, Src::Reg(c));
        b.mov_imm(i, 1);
        b.cmp(n, Src::Imm(1));
        b.jcc(Cond::Le, exponent);
        put(b, cursor, Src::Imm(b'.' as i64));
        b.bind(frac_top);
        let at = b.op(BinOp::Add, digits, Src::Reg(i));
        let c = b.load_byte(at, 0);
        put(b, cursor, Src::Reg(c));
        b.bin(BinOp::Add, i, i, Src::Imm(1));
        b.cmp(i, Src::Reg(n));
        b.jcc(Cond::Lt, frac_top);
        b.bind(exponent);
        put(b, cursor, Src::Imm(b'e' as i64));
        let x = b.op(BinOp::Sub, k, Src::Imm(1));
        b.cmp(x, Src::Imm(0));
        b.jcc(Cond::Ge, exp_positive);
        put(b, cursor, Src::Imm(b'-' as i64));
        b.push(Inst::Unary { op: UnOp::Neg, dst: x, src: Src::Reg(x) });
        b.jmp(exp_sign_done);
        b.bind(exp_positive);
        put(b, cursor, Src::Imm(b'+' as i64));
        b.bind(exp_sign_done);
        b.cmp(x, Src::Imm(100));
        b.jcc(Cond::Lt, two_digits);
        let hundreds = b.op(BinOp::Sdiv, x, Src::Imm(100));
        let ch = b.op(BinOp::Add, hundreds, Src::Imm(b'0' as i64));
        put(b, cursor, Src::Reg(ch));
        b.bind(two_digits);
        let tens = b.op(BinOp::Sdiv, x, Src::Imm(10));
        b.bin(BinOp::Srem, tens, tens, Src::Imm(10));
        let ch = b.op(BinOp::Add, tens, Src::Imm(b'0' as i64));
        put(b, cursor, Src::Reg(ch));
        let ones = b.op(BinOp::Srem, x, Src::Imm(10));
        let ch = b.op(BinOp::Add, ones, Src::Imm(b'0' as i64));
        put(b, cursor, Src::Reg(ch));
    }
    b.bind(finish);
    let len = b.op(BinOp::Sub, cursor, Src::Reg(buf));
    let s = b.call(STRING_NEW, &[Src::Reg(buf), Src::Reg(len)]);
    b.ret(Src::Reg(s));
}

/// `print_float(bits)`: the V text and a newline on stdout.
fn print_float(b: &mut Builder) {
    let [bits] = b.params();
    let s = b.call(FLOAT_TO_STR, &[Src::Reg(bits)]);
    b.call_void("println", &[Src::Reg(s)]);
    b.ret_void();
}
