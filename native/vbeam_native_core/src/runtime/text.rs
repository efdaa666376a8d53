//! V's string and I/O functions the generator leaves to the backend:
//! `eprint`, `flush_stdout`, `unbuffer_stdout` (the output is never
//! buffered), `u8__ascii_str`, `string__index_after`, `atoi`.

use super::{write_string, ALLOC, STDERR, STRING_NEW};
use crate::ir::{BinOp, Cond, Reg, Src};
use crate::os::Builder;

/// The builtins, and whether each allocates.
const BUILTINS: &[(&str, bool)] = &[
    ("eprint", false),
    ("flush_stdout", false),
    ("unbuffer_stdout", false),
    ("u8__ascii_str", true),
    ("string__index_after", false),
    ("atoi", false),
];

/// Whether `name` is one of these builtins, and if so whether it allocates.
pub fn builtin(name: &str) -> Option<bool> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, allocates)| *allocates)
}

/// Builds the routine `name`; false if it is not one.
pub fn routine(b: &mut Builder, name: &str) -> bool {
    match name {
        "eprint" => {
            let [s] = b.params();
            write_string(b, STDERR, s);
            b.ret_void();
        }
        "flush_stdout" | "unbuffer_stdout" => b.ret_void(),
        "u8__ascii_str" => ascii_str(b),
        "string__index_after" => index_after(b),
        "atoi" => atoi(b),
        _ => return false,
    }
    true
}

/// `u8__ascii_str(c)`: the one-byte string of c.
fn ascii_str(b: &mut Builder) {
    let [c] = b.params();
    let buf = b.call(ALLOC, &[Src::Imm(1)]);
    b.store_byte(buf, 0, Src::Reg(c));
    let s = b.call(STRING_NEW, &[Src::Reg(buf), Src::Imm(1)]);
    b.ret(Src::Reg(s));
}

/// `index_after(s, p, start)`: the first index at or after `start`
/// (from 0 when negative) where `p` occurs in `s`, -1 if none, as V's.
fn index_after(b: &mut Builder) {
    let [s, p, start] = b.params();
    let (sp, slen) = (b.load(s, 0), b.load(s, 8));
    let (pp, plen) = (b.load(p, 0), b.load(p, 8));
    let (none, from_start, outer, inner, mismatch, found) =
        (b.label(), b.label(), b.label(), b.label(), b.label(), b.label());
    let i = b.vreg();
    b.mov(i, start);
    b.cmp(start, Src::Imm(0));
    b.jcc(Cond::Ge, from_start);
    b.mov_imm(i, 0);
    b.bind(from_start);
    b.cmp(plen, Src::Reg(slen));
    b.jcc(Cond::Gt, none);
    b.cmp(start, Src::Reg(slen));
    b.jcc(Cond::Ge, none);
    // A match at i needs i + plen <= slen.
    let last = b.op(BinOp::Sub, slen, Src::Reg(plen));
    b.bind(outer);
    b.cmp(i, Src::Reg(last));
    b.jcc(Cond::Gt, none);
    let j = b.vreg();
    b.mov_imm(j, 0);
    b.bind(inner);
    b.cmp(j, Src::Reg(plen));
    b.jcc(Cond::Ge, found);
    let k = b.op(BinOp::Add, i, Src::Reg(j));
    let x = byte_at(b, sp, k);
    let y = byte_at(b, pp, j);
    b.cmp(x, Src::Reg(y));
    b.jcc(Cond::Ne, mismatch);
    b.bin(BinOp::Add, j, j, Src::Imm(1));
    b.jmp(inner);
    b.bind(mismatch);
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.jmp(outer);
    b.bind(found);
    b.ret(Src::Reg(i));
    b.bind(none);
    b.ret(Src::Imm(-1));
}

fn byte_at(b: &mut Builder, base: Reg, i: Reg) -> Reg {
    let at = b.op(BinOp::Add, base, Src::Reg(i));
    b.load_byte(at, 0)
}

/// `atoi(s)`: an optional sign, then decimal digits with single `_`s
/// between them, as V's `strconv.atoi`; anything else, or a value beyond
/// 64 bits, is V's error, read as 0.
fn atoi(b: &mut Builder) {
    let [s] = b.params();
    let (p, len) = (b.load(s, 0), b.load(s, 8));
    let (i, n, negative, after_digit) = (b.vreg(), b.vreg(), b.vreg(), b.vreg());
    b.mov_imm(i, 0);
    b.mov_imm(n, 0);
    b.mov_imm(negative, 0);
    b.mov_imm(after_digit, 0);
    let (error, unsigned, top, underscore, digit, end, positive) =
        (b.label(), b.label(), b.label(), b.label(), b.label(), b.label(), b.label());
    b.cmp(len, Src::Imm(0));
    b.jcc(Cond::Le, error);
    let first = b.load_byte(p, 0);
    b.cmp(first, Src::Imm(b'+' as i64));
    let not_plus = b.label();
    b.jcc(Cond::Ne, not_plus);
    b.mov_imm(i, 1);
    b.jmp(unsigned);
    b.bind(not_plus);
    b.cmp(first, Src::Imm(b'-' as i64));
    b.jcc(Cond::Ne, unsigned);
    b.mov_imm(i, 1);
    b.mov_imm(negative, 1);
    b.bind(unsigned);
    // At least one digit after the sign.
    b.cmp(i, Src::Reg(len));
    b.jcc(Cond::Ge, error);
    b.bind(top);
    b.cmp(i, Src::Reg(len));
    b.jcc(Cond::Ge, end);
    let c = byte_at(b, p, i);
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.cmp(c, Src::Imm(b'_' as i64));
    b.jcc(Cond::Eq, underscore);
    let d = b.op(BinOp::Sub, c, Src::Imm(b'0' as i64));
    b.cmp(d, Src::Imm(9));
    b.jcc(Cond::Leu, digit);
    b.jmp(error);
    // '_' only between two digits.
    b.bind(underscore);
    b.cmp(after_digit, Src::Imm(0));
    b.jcc(Cond::Eq, error);
    b.mov_imm(after_digit, 0);
    b.cmp(i, Src::Reg(len));
    b.jcc(Cond::Ge, error);
    b.jmp(top);
    // Accumulated as a negative number, so i64::MIN fits: n = n*10 - d,
    // refused once it would pass i64::MIN.
    b.bind(digit);
    b.mov_imm(after_digit, 1);
    let floor = b.vreg();
    b.mov_imm(floor, i64::MIN / 10);
    b.cmp(n, Src::Reg(floor));
    b.jcc(Cond::Lt, error);
    b.bin(BinOp::Mul, n, n, Src::Imm(10));
    let room = b.op(BinOp::Sub, n, Src::Imm(i64::MIN));
    b.cmp(room, Src::Reg(d));
    b.jcc(Cond::Ltu, error);
    b.bin(BinOp::Sub, n, n, Src::Reg(d));
    b.jmp(top);
    b.bind(end);
    b.cmp(after_digit, Src::Imm(0));
    b.jcc(Cond::Eq, error);
    b.cmp(negative, Src::Imm(0));
    b.jcc(Cond::Eq, positive);
    b.ret(Src::Reg(n));
    // A positive value: -n, which i64::MIN cannot be.
    b.bind(positive);
    b.cmp(n, Src::Imm(i64::MIN));
    b.jcc(Cond::Eq, error);
    let v = b.vreg();
    b.push(crate::ir::Inst::Unary { op: crate::ir::UnOp::Neg, dst: v, src: Src::Reg(n) });
    b.ret(Src::Reg(v));
    b.bind(error);
    b.ret(Src::Imm(0));
}
