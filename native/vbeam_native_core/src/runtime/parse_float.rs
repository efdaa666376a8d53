//! V's `strconv.atof64(s)` and `s.f64()`: decimal text to the nearest
//! binary64 value (ties to even), as bits in an integer register.
//!
//! The text is read with V's rules (`vlib/strconv/atof.c.v`): an optional
//! sign, decimal digits with an optional `.` (at least one digit on either
//! side), single `_` between two digits, an optional exponent (`e`/`E`, a
//! sign, at least one digit); or, the whole text, case-insensitively,
//! `inf`, `infinity` (signed) or `nan` (unsigned). No white space.
//! `atof64` of anything else (also of a number followed by other bytes) is
//! 0.0, V's error read as 0; `string__f64` takes the number a text starts
//! with and ignores the bytes after it (V's `allow_extra_chars`), 0.0 when
//! it does not start with one (also for `1e`, whose exponent has no
//! digits).
//!
//! The value is rounded correctly, unlike V's own converter (18 digits):
//! - the digits D and the exponent E of the value D 10^E are read (the
//!   first 19 significant digits into an integer);
//! - when D <= 2^53 and |E| <= 22 both D and 10^|E| are doubles, and one
//!   multiplication or division rounds correctly (Clinger's fast path);
//! - a value that is certainly beyond the largest double or below half the
//!   smallest is inf or 0;
//! - otherwise exactly, with big integers (32-bit limbs, the routines of
//!   `float.rs`): A / B = D 10^E, aligned so that B <= A < 2B, then 54
//!   quotient bits by long division and the remainder as a sticky bit,
//!   rounded half to even at the precision of the result (53 bits, fewer
//!   for a subnormal). Digits beyond the 770th only count as a nonzero
//!   digit after it: no midpoint between doubles has more than 767
//!   significant digits, so this rounds the same.

use crate::ir::{BinOp, Cond, FloatOp, Inst, Reg, Src, UnOp};
use crate::os::Builder;

/// `parse_float(s, allow_extra) -> bits`.
const PARSE: &str = "__vbeam_parse_float";
/// `parse_float_exact(ptr, start, end, e, digits) -> bits` of the
/// magnitude of the digits in ptr[start..end] times 10^e.
const EXACT: &str = "__vbeam_parse_float_exact";
const BIG_BITS: &str = "__vbeam_big_bits";
const BIG_ADD_SMALL: &str = "__vbeam_big_add_small";
const BIG_MUL_POW10: &str = "__vbeam_big_mul_pow10";
/// `float.rs`'s bignum routines.
const BIG_SET: &str = "__vbeam_big_set";
const BIG_MUL_SMALL: &str = "__vbeam_big_mul_small";
const BIG_SHL: &str = "__vbeam_big_shl";
const BIG_CMP: &str = "__vbeam_big_cmp";
const BIG_SUB: &str = "__vbeam_big_sub";
/// The two bignums: length word and limbs. D 10^E < 10^771 and 10^-E <=
/// 10^1095 < 2^3638, shifted by one bit: 115 limbs.
const BIG_A: &str = "__vbeam_atof_a";
const BIG_B: &str = "__vbeam_atof_b";
const BIG_WORDS: u64 = 128;

/// Significant digits kept exactly (then one sticky digit).
const MAX_DIGITS: i64 = 770;
/// The exponent stops growing here (any nonzero value is then inf or 0).
const EXPONENT_CAP: i64 = 1 << 40;
const SIGN: i64 = i64::MIN;
const INF: i64 = 0x7ff0_0000_0000_0000;
const NAN: i64 = 0x7ff8_0000_0000_0000;
const TEN: i64 = 0x4024_0000_0000_0000;
const ONE: i64 = 0x3ff0_0000_0000_0000;

/// The builtins (none allocates).
pub fn builtin(name: &str) -> Option<bool> {
    ["atof64", "string__f64"].contains(&name).then_some(false)
}

/// Size of this module's zero-filled entry `name`, if it is one.
pub fn bss_size(name: &str) -> Option<u64> {
    [BIG_A, BIG_B].contains(&name).then_some(BIG_WORDS * 8)
}

/// Builds the routine `name`; false if it is not one.
pub fn routine(b: &mut Builder, name: &str) -> bool {
    match name {
        "atof64" | "string__f64" => {
            let [s] = b.params();
            let allow_extra = (name == "string__f64") as i64;
            let r = b.call(PARSE, &[Src::Reg(s), Src::Imm(allow_extra)]);
            b.ret(Src::Reg(r));
        }
        PARSE => parse(b),
        EXACT => exact(b),
        BIG_BITS => big_bits(b),
        BIG_ADD_SMALL => big_add_small(b),
        BIG_MUL_POW10 => big_mul_pow10(b),
        _ => return false,
    }
    true
}

/// Byte `i` of the text at `p`.
fn byte(b: &mut Builder, p: Reg, i: Reg) -> Reg {
    let at = b.op(BinOp::Add, p, Src::Reg(i));
    b.load_byte(at, 0)
}

/// Returns `value` when the `len` bytes at `p` are `text`, letters
/// compared case-insensitively.
fn return_if_text(b: &mut Builder, p: Reg, len: Reg, text: &[u8], value: i64) {
    let differ = b.label();
    b.cmp(len, Src::Imm(text.len() as i64));
    b.jcc(Cond::Ne, differ);
    for (i, &t) in text.iter().enumerate() {
        let c = b.load_byte(p, i as i32);
        if t.is_ascii_lowercase() {
            b.bin(BinOp::Or, c, c, Src::Imm(0x20));
        }
        b.cmp(c, Src::Imm(t as i64));
        b.jcc(Cond::Ne, differ);
    }
    b.ret(Src::Imm(value));
    b.bind(differ);
}

/// A loop over the digits at p[i..n] that V accepts (single `_` between
/// digits skipped), calling `digit` with each digit's value; `i` ends at
/// the first other byte.
fn digits(b: &mut Builder, p: Reg, n: Reg, i: Reg, digit: &mut dyn FnMut(&mut Builder, Reg)) {
    let (top, is_digit, end) = (b.label(), b.label(), b.label());
    b.bind(top);
    b.cmp(i, Src::Reg(n));
    b.jcc(Cond::Ge, end);
    let c = byte(b, p, i);
    let d = b.op(BinOp::Sub, c, Src::Imm(b'0' as i64));
    b.cmp(d, Src::Imm(9));
    b.jcc(Cond::Leu, is_digit);
    // `_` between two digits.
    b.cmp(c, Src::Imm(b'_' as i64));
    b.jcc(Cond::Ne, end);
    b.cmp(i, Src::Imm(0));
    b.jcc(Cond::Le, end);
    let after = b.op(BinOp::Add, i, Src::Imm(1));
    b.cmp(after, Src::Reg(n));
    b.jcc(Cond::Ge, end);
    let at = b.op(BinOp::Add, p, Src::Reg(i));
    for offset in [-1, 1] {
        let c = b.load_byte(at, offset);
        b.bin(BinOp::Sub, c, c, Src::Imm(b'0' as i64));
        b.cmp(c, Src::Imm(9));
        b.jcc(Cond::Gtu, end);
    }
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.jmp(top);
    b.bind(is_digit);
    digit(b, d);
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.jmp(top);
    b.bind(end);
}

/// `parse_float(s, allow_extra)`: the bits of the value of s (see the
/// module's documentation).
fn parse(b: &mut Builder) {
    let [s, allow_extra] = b.params();
    let (p, n) = (b.load(s, 0), b.load(s, 8));
    let (invalid, not_special) = (b.label(), b.label());
    b.cmp(n, Src::Imm(0));
    b.jcc(Cond::Le, invalid);
    // inf, infinity, nan: the whole text.
    let first = b.vreg();
    let (unsigned, letter) = (b.label(), b.label());
    b.mov_imm(first, 0);
    let c = b.load_byte(p, 0);
    for sign in [b'+', b'-'] {
        b.cmp(c, Src::Imm(sign as i64));
        b.jcc(Cond::Eq, letter);
    }
    b.jmp(unsigned);
    b.bind(letter);
    b.mov_imm(first, 1);
    b.bind(unsigned);
    b.cmp(first, Src::Reg(n));
    b.jcc(Cond::Ge, not_special);
    let c = byte(b, p, first);
    b.bin(BinOp::Or, c, c, Src::Imm(0x20));
    let special = b.label();
    b.cmp(c, Src::Imm(b'i' as i64));
    b.jcc(Cond::Eq, special);
    b.cmp(c, Src::Imm(b'n' as i64));
    b.jcc(Cond::Ne, not_special);
    b.bind(special);
    for text in [&b"inf"[..], b"+inf", b"infinity", b"+infinity"] {
        return_if_text(b, p, n, text, INF);
    }
    for text in [&b"-inf"[..], b"-infinity"] {
        return_if_text(b, p, n, text, SIGN | INF);
    }
    return_if_text(b, p, n, b"nan", NAN);
    b.bind(not_special);
    // The sign.
    let (i, sign) = (b.vreg(), b.vreg());
    let (no_sign, plus) = (b.label(), b.label());
    b.mov_imm(i, 0);
    b.mov_imm(sign, 0);
    let c = b.load_byte(p, 0);
    b.cmp(c, Src::Imm(b'+' as i64));
    b.jcc(Cond::Eq, plus);
    b.cmp(c, Src::Imm(b'-' as i64));
    b.jcc(Cond::Ne, no_sign);
    b.mov_imm(sign, SIGN);
    b.bind(plus);
    b.mov_imm(i, 1);
    b.cmp(i, Src::Reg(n));
    b.jcc(Cond::Ge, invalid);
    b.bind(no_sign);
    // The mantissa: `count` significant digits (the first 19 in `w`),
    // `fraction` of them after the point.
    let start = b.vreg();
    b.mov(start, i);
    let (any, count, w, fraction, in_fraction) = (b.vreg(), b.vreg(), b.vreg(), b.vreg(), b.vreg());
    for r in [any, count, w, fraction, in_fraction] {
        b.mov_imm(r, 0);
    }
    let mut mantissa_digit = |b: &mut Builder, d: Reg| {
        let (leading_zero, kept) = (b.label(), b.label());
        b.mov_imm(any, 1);
        b.bin(BinOp::Add, fraction, fraction, Src::Reg(in_fraction));
        b.cmp(count, Src::Imm(0));
        b.jcc(Cond::Ne, kept);
        b.cmp(d, Src::Imm(0));
        b.jcc(Cond::Eq, leading_zero);
        b.bind(kept);
        b.bin(BinOp::Add, count, count, Src::Imm(1));
        b.cmp(count, Src::Imm(19));
        b.jcc(Cond::Gt, leading_zero);
        b.bin(BinOp::Mul, w, w, Src::Imm(10));
        b.bin(BinOp::Add, w, w, Src::Reg(d));
        b.bind(leading_zero);
    };
    digits(b, p, n, i, &mut mantissa_digit);
    let no_point = b.label();
    b.cmp(i, Src::Reg(n));
    b.jcc(Cond::Ge, no_point);
    let c = byte(b, p, i);
    b.cmp(c, Src::Imm(b'.' as i64));
    b.jcc(Cond::Ne, no_point);
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.mov_imm(in_fraction, 1);
    digits(b, p, n, i, &mut mantissa_digit);
    b.bind(no_point);
    b.cmp(any, Src::Imm(0));
    b.jcc(Cond::Eq, invalid);
    let end = b.vreg();
    b.mov(end, i);
    // The exponent.
    let (exponent, exponent_sign, exponent_any) = (b.vreg(), b.vreg(), b.vreg());
    b.mov_imm(exponent, 0);
    b.mov_imm(exponent_sign, 1);
    b.mov_imm(exponent_any, 0);
    let (no_exponent, signed, unsigned_exponent) = (b.label(), b.label(), b.label());
    b.cmp(i, Src::Reg(n));
    b.jcc(Cond::Ge, no_exponent);
    let c = byte(b, p, i);
    b.bin(BinOp::Or, c, c, Src::Imm(0x20));
    b.cmp(c, Src::Imm(b'e' as i64));
    b.jcc(Cond::Ne, no_exponent);
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.cmp(i, Src::Reg(n));
    b.jcc(Cond::Ge, unsigned_exponent);
    let c = byte(b, p, i);
    b.cmp(c, Src::Imm(b'+' as i64));
    b.jcc(Cond::Eq, signed);
    b.cmp(c, Src::Imm(b'-' as i64));
    b.jcc(Cond::Ne, unsigned_exponent);
    b.mov_imm(exponent_sign, -1);
    b.bind(signed);
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.bind(unsigned_exponent);
    let mut exponent_digit = |b: &mut Builder, d: Reg| {
        let capped = b.label();
        b.mov_imm(exponent_any, 1);
        b.cmp(exponent, Src::Imm(EXPONENT_CAP));
        b.jcc(Cond::Ge, capped);
        b.bin(BinOp::Mul, exponent, exponent, Src::Imm(10));
        b.bin(BinOp::Add, exponent, exponent, Src::Reg(d));
        b.bind(capped);
    };
    digits(b, p, n, i, &mut exponent_digit);
    b.cmp(exponent_any, Src::Imm(0));
    b.jcc(Cond::Eq, invalid);
    b.bind(no_exponent);
    // Bytes after the number.
    let whole = b.label();
    b.cmp(i, Src::Reg(n));
    b.jcc(Cond::Ge, whole);
    b.cmp(allow_extra, Src::Imm(0));
    b.jcc(Cond::Eq, invalid);
    b.bind(whole);
    // value = D 10^e, D the significant digits.
    let e = b.op(BinOp::Mul, exponent, Src::Reg(exponent_sign));
    b.bin(BinOp::Sub, e, e, Src::Reg(fraction));
    let result = b.vreg();
    let (zero, infinite, slow, done) = (b.label(), b.label(), b.label(), b.label());
    b.cmp(count, Src::Imm(0));
    b.jcc(Cond::Eq, zero);
    let magnitude = b.op(BinOp::Add, count, Src::Reg(e));
    b.cmp(magnitude, Src::Imm(310));
    b.jcc(Cond::Gt, infinite);
    b.cmp(magnitude, Src::Imm(-324));
    b.jcc(Cond::Lt, zero);
    // Clinger's fast path: D and 10^|e| exact doubles.
    b.cmp(count, Src::Imm(19));
    b.jcc(Cond::Gt, slow);
    b.cmp(w, Src::Imm(1 << 53));
    b.jcc(Cond::Gtu, slow);
    b.cmp(e, Src::Imm(22));
    b.jcc(Cond::Gt, slow);
    b.cmp(e, Src::Imm(-22));
    b.jcc(Cond::Lt, slow);
    let (power, k, x) = (b.vreg(), b.vreg(), b.vreg());
    let (top, powered, divide) = (b.label(), b.label(), b.label());
    b.mov_imm(power, ONE);
    b.mov(k, e);
    b.cmp(k, Src::Imm(0));
    b.jcc(Cond::Ge, top);
    b.push(Inst::Unary { op: UnOp::Neg, dst: k, src: Src::Reg(k) });
    b.bind(top);
    b.cmp(k, Src::Imm(0));
    b.jcc(Cond::Le, powered);
    fmul(b, power, Src::Reg(power), Src::Imm(TEN));
    b.bin(BinOp::Sub, k, k, Src::Imm(1));
    b.jmp(top);
    b.bind(powered);
    b.push(Inst::IntToFloat { dst: x, src: Src::Reg(w) });
    b.cmp(e, Src::Imm(0));
    b.jcc(Cond::Lt, divide);
    fmul(b, result, Src::Reg(x), Src::Reg(power));
    b.jmp(done);
    b.bind(divide);
    b.push(Inst::FloatBin { op: FloatOp::Div, dst: result, a: Src::Reg(x), b: Src::Reg(power) });
    b.jmp(done);
    b.bind(slow);
    let r = b.call(EXACT, &[Src::Reg(p), Src::Reg(start), Src::Reg(end), Src::Reg(e), Src::Reg(count)]);
    b.mov(result, r);
    b.jmp(done);
    b.bind(infinite);
    b.mov_imm(result, INF);
    b.jmp(done);
    b.bind(zero);
    b.mov_imm(result, 0);
    b.bind(done);
    b.bin(BinOp::Or, result, result, Src::Reg(sign));
    b.ret(Src::Reg(result));
    b.bind(invalid);
    b.ret(Src::Imm(0));
}

fn fmul(b: &mut Builder, dst: Reg, x: Src, y: Src) {
    b.push(Inst::FloatBin { op: FloatOp::Mul, dst, a: x, b: y });
}

/// `parse_float_exact(p, start, end, e, count)`: the bits of D 10^e,
/// rounded to nearest (ties to even), D the `count` significant digits in
/// p[start..end] (other bytes skipped), for 10^-325 < D 10^e < 10^310.
fn exact(b: &mut Builder) {
    let [p, start, end, e, count] = b.params();
    let (a, d) = (b.lea(BIG_A), b.lea(BIG_B));
    b.call_void(BIG_SET, &[Src::Reg(a), Src::Imm(0)]);
    // A := the first MAX_DIGITS significant digits, nine at a time; then
    // a 1 if any later digit is not 0.
    let (j, chunk, in_chunk, taken, sticky) = (b.vreg(), b.vreg(), b.vreg(), b.vreg(), b.vreg());
    b.mov(j, start);
    for r in [chunk, in_chunk, taken, sticky] {
        b.mov_imm(r, 0);
    }
    let (top, significant, full, done) = (b.label(), b.label(), b.label(), b.label());
    b.bind(top);
    b.cmp(j, Src::Reg(end));
    b.jcc(Cond::Ge, done);
    let c = byte(b, p, j);
    b.bin(BinOp::Add, j, j, Src::Imm(1));
    let digit = b.op(BinOp::Sub, c, Src::Imm(b'0' as i64));
    b.cmp(digit, Src::Imm(9));
    b.jcc(Cond::Gtu, top);
    b.cmp(taken, Src::Imm(0));
    b.jcc(Cond::Ne, significant);
    b.cmp(digit, Src::Imm(0));
    b.jcc(Cond::Eq, top);
    b.bind(significant);
    b.cmp(taken, Src::Imm(MAX_DIGITS));
    b.jcc(Cond::Ge, full);
    b.bin(BinOp::Add, taken, taken, Src::Imm(1));
    b.bin(BinOp::Mul, chunk, chunk, Src::Imm(10));
    b.bin(BinOp::Add, chunk, chunk, Src::Reg(digit));
    b.bin(BinOp::Add, in_chunk, in_chunk, Src::Imm(1));
    b.cmp(in_chunk, Src::Imm(9));
    b.jcc(Cond::Lt, top);
    b.call_void(BIG_MUL_SMALL, &[Src::Reg(a), Src::Imm(1_000_000_000)]);
    b.call_void(BIG_ADD_SMALL, &[Src::Reg(a), Src::Reg(chunk)]);
    b.mov_imm(chunk, 0);
    b.mov_imm(in_chunk, 0);
    b.jmp(top);
    b.bind(full);
    b.bin(BinOp::Or, sticky, sticky, Src::Reg(digit));
    b.jmp(top);
    b.bind(done);
    b.call_void(BIG_MUL_POW10, &[Src::Reg(a), Src::Reg(in_chunk)]);
    b.call_void(BIG_ADD_SMALL, &[Src::Reg(a), Src::Reg(chunk)]);
    // The digits left out move the exponent.
    let e = b.op(BinOp::Add, e, Src::Reg(count));
    b.bin(BinOp::Sub, e, e, Src::Reg(taken));
    let exact_digits = b.label();
    b.cmp(sticky, Src::Imm(0));
    b.jcc(Cond::Eq, exact_digits);
    b.call_void(BIG_MUL_SMALL, &[Src::Reg(a), Src::Imm(10)]);
    b.call_void(BIG_ADD_SMALL, &[Src::Reg(a), Src::Imm(1)]);
    b.bin(BinOp::Sub, e, e, Src::Imm(1));
    b.bind(exact_digits);
    // A / B = D 10^e.
    b.call_void(BIG_SET, &[Src::Reg(d), Src::Imm(1)]);
    let (negative, scaled) = (b.label(), b.label());
    b.cmp(e, Src::Imm(0));
    b.jcc(Cond::Lt, negative);
    b.call_void(BIG_MUL_POW10, &[Src::Reg(a), Src::Reg(e)]);
    b.jmp(scaled);
    b.bind(negative);
    let minus_e = b.vreg();
    b.push(Inst::Unary { op: UnOp::Neg, dst: minus_e, src: Src::Reg(e) });
    b.call_void(BIG_MUL_POW10, &[Src::Reg(d), Src::Reg(minus_e)]);
    b.bind(scaled);
    // Align: B <= A < 2B, the value (A/B) 2^x2.
    let na = b.call(BIG_BITS, &[Src::Reg(a)]);
    let nb = b.call(BIG_BITS, &[Src::Reg(d)]);
    let shift = b.op(BinOp::Sub, nb, Src::Reg(na));
    let x2 = b.vreg();
    b.push(Inst::Unary { op: UnOp::Neg, dst: x2, src: Src::Reg(shift) });
    let (shift_b, aligned, ordered) = (b.label(), b.label(), b.label());
    b.cmp(shift, Src::Imm(0));
    b.jcc(Cond::Lt, shift_b);
    b.call_void(BIG_SHL, &[Src::Reg(a), Src::Reg(shift)]);
    b.jmp(aligned);
    b.bind(shift_b);
    b.call_void(BIG_SHL, &[Src::Reg(d), Src::Reg(x2)]);
    b.bind(aligned);
    let c = b.call(BIG_CMP, &[Src::Reg(a), Src::Reg(d)]);
    b.cmp(c, Src::Imm(0));
    b.jcc(Cond::Ge, ordered);
    b.call_void(BIG_SHL, &[Src::Reg(a), Src::Imm(1)]);
    b.bin(BinOp::Sub, x2, x2, Src::Imm(1));
    b.bind(ordered);
    // 54 quotient bits: q in [2^53, 2^54), value = (q + rest) 2^(x2 - 53).
    let (q, bit) = (b.vreg(), b.vreg());
    b.mov_imm(q, 0);
    b.mov_imm(bit, 0);
    let (divide, below, divided) = (b.label(), b.label(), b.label());
    b.bind(divide);
    b.cmp(bit, Src::Imm(54));
    b.jcc(Cond::Ge, divided);
    b.bin(BinOp::Shl, q, q, Src::Imm(1));
    let c = b.call(BIG_CMP, &[Src::Reg(a), Src::Reg(d)]);
    b.cmp(c, Src::Imm(0));
    b.jcc(Cond::Lt, below);
    b.call_void(BIG_SUB, &[Src::Reg(a), Src::Reg(d)]);
    b.bin(BinOp::Or, q, q, Src::Imm(1));
    b.bind(below);
    b.call_void(BIG_SHL, &[Src::Reg(a), Src::Imm(1)]);
    b.bin(BinOp::Add, bit, bit, Src::Imm(1));
    b.jmp(divide);
    b.bind(divided);
    let rest = b.load(a, 0);
    // Round to 53 bits (normal: the hidden bit carries into the exponent
    // field) or to the subnormal spacing 2^-1074.
    let (base, drop) = (b.vreg(), b.vreg());
    let (subnormal, rounding, finite_exponent) = (b.label(), b.label(), b.label());
    b.cmp(x2, Src::Imm(1023));
    b.jcc(Cond::Le, finite_exponent);
    b.ret(Src::Imm(INF));
    b.bind(finite_exponent);
    b.cmp(x2, Src::Imm(-1022));
    b.jcc(Cond::Lt, subnormal);
    b.bin(BinOp::Add, base, x2, Src::Imm(1022));
    b.bin(BinOp::Shl, base, base, Src::Imm(52));
    b.mov_imm(drop, 1);
    b.jmp(rounding);
    b.bind(subnormal);
    b.mov_imm(base, 0);
    b.mov_imm(drop, -1021);
    b.bin(BinOp::Sub, drop, drop, Src::Reg(x2));
    let capped = b.label();
    b.cmp(drop, Src::Imm(60));
    b.jcc(Cond::Le, capped);
    b.mov_imm(drop, 60);
    b.bind(capped);
    b.bind(rounding);
    let mantissa = b.op(BinOp::Shr, q, Src::Reg(drop));
    let half_at = b.op(BinOp::Sub, drop, Src::Imm(1));
    let half = b.op(BinOp::Shr, q, Src::Reg(half_at));
    b.bin(BinOp::And, half, half, Src::Imm(1));
    let mask = b.vreg();
    b.mov_imm(mask, 1);
    b.bin(BinOp::Shl, mask, mask, Src::Reg(half_at));
    b.bin(BinOp::Sub, mask, mask, Src::Imm(1));
    let low = b.op(BinOp::And, q, Src::Reg(mask));
    b.bin(BinOp::Or, low, low, Src::Reg(rest));
    let odd = b.op(BinOp::And, mantissa, Src::Imm(1));
    b.bin(BinOp::Or, low, low, Src::Reg(odd));
    let (no_round, finite) = (b.label(), b.label());
    b.cmp(half, Src::Imm(0));
    b.jcc(Cond::Eq, no_round);
    b.cmp(low, Src::Imm(0));
    b.jcc(Cond::Eq, no_round);
    b.bin(BinOp::Add, mantissa, mantissa, Src::Imm(1));
    b.bind(no_round);
    let bits = b.op(BinOp::Add, base, Src::Reg(mantissa));
    b.cmp(bits, Src::Imm(INF));
    b.jcc(Cond::Lt, finite);
    b.mov_imm(bits, INF);
    b.bind(finite);
    b.ret(Src::Reg(bits));
}

/// `big_bits(a)`: the number of bits of a (0 for 0).
fn big_bits(b: &mut Builder) {
    let [a] = b.params();
    let len = b.load(a, 0);
    let (zero, top, done) = (b.label(), b.label(), b.label());
    b.cmp(len, Src::Imm(0));
    b.jcc(Cond::Eq, zero);
    let at = b.op(BinOp::Shl, len, Src::Imm(3));
    b.bin(BinOp::Add, at, at, Src::Reg(a));
    let limb = b.load(at, 0);
    let bits = b.op(BinOp::Sub, len, Src::Imm(1));
    b.bin(BinOp::Shl, bits, bits, Src::Imm(5));
    b.bind(top);
    b.cmp(limb, Src::Imm(0));
    b.jcc(Cond::Eq, done);
    b.bin(BinOp::Shr, limb, limb, Src::Imm(1));
    b.bin(BinOp::Add, bits, bits, Src::Imm(1));
    b.jmp(top);
    b.bind(done);
    b.ret(Src::Reg(bits));
    b.bind(zero);
    b.ret(Src::Imm(0));
}

/// `big_add_small(a, v)`: a := a + v, for v < 2^32.
fn big_add_small(b: &mut Builder) {
    let [a, v] = b.params();
    let len = b.load(a, 0);
    let (i, carry) = (b.vreg(), b.vreg());
    b.mov_imm(i, 0);
    b.mov(carry, v);
    let (top, grow, done) = (b.label(), b.label(), b.label());
    b.bind(top);
    b.cmp(carry, Src::Imm(0));
    b.jcc(Cond::Eq, done);
    b.cmp(i, Src::Reg(len));
    b.jcc(Cond::Ge, grow);
    let at = b.op(BinOp::Shl, i, Src::Imm(3));
    b.bin(BinOp::Add, at, at, Src::Reg(a));
    let limb = b.load(at, 8);
    b.bin(BinOp::Add, limb, limb, Src::Reg(carry));
    b.bin(BinOp::Shr, carry, limb, Src::Imm(32));
    b.bin(BinOp::And, limb, limb, Src::Imm(0xffff_ffff));
    b.store(at, 8, Src::Reg(limb));
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.jmp(top);
    b.bind(grow);
    let at = b.op(BinOp::Shl, len, Src::Imm(3));
    b.bin(BinOp::Add, at, at, Src::Reg(a));
    b.store(at, 8, Src::Reg(carry));
    let grown = b.op(BinOp::Add, len, Src::Imm(1));
    b.store(a, 0, Src::Reg(grown));
    b.bind(done);
    b.ret_void();
}

/// `big_mul_pow10(a, n)`: a := a 10^n, for n >= 0.
fn big_mul_pow10(b: &mut Builder) {
    let [a, n] = b.params();
    let (big_steps, small, small_top, done) = (b.label(), b.label(), b.label(), b.label());
    b.bind(big_steps);
    b.cmp(n, Src::Imm(9));
    b.jcc(Cond::Lt, small);
    b.call_void(BIG_MUL_SMALL, &[Src::Reg(a), Src::Imm(1_000_000_000)]);
    b.bin(BinOp::Sub, n, n, Src::Imm(9));
    b.jmp(big_steps);
    b.bind(small);
    let factor = b.vreg();
    b.mov_imm(factor, 1);
    b.bind(small_top);
    b.cmp(n, Src::Imm(0));
    b.jcc(Cond::Le, done);
    b.bin(BinOp::Mul, factor, factor, Src::Imm(10));
    b.bin(BinOp::Sub, n, n, Src::Imm(1));
    b.jmp(small_top);
    b.bind(done);
    b.call_void(BIG_MUL_SMALL, &[Src::Reg(a), Src::Reg(factor)]);
    b.ret_void();
}
