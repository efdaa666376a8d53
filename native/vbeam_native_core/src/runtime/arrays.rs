//! V's array methods the generator leaves to the backend, for every
//! element type (`[]T__last`, `[]int__pop`, …: 8-byte elements, the
//! generator's layout), and `[]u8__bytestr`. Misuse stops the program as
//! V's arrays do: `V panic: array.pop: array is empty`.

use super::{end_panic, fatal, text, write_int, ALLOC, MEMCPY, STDERR, STRING_NEW};
use crate::ir::{BinOp, Cond, Reg, Src};
use crate::os::Builder;

/// The methods, and whether each allocates.
const METHODS: &[(&str, bool)] = &[("last", false), ("pop", false), ("delete", false), ("clone", true)];
pub const BYTESTR: &str = "[]u8__bytestr";
/// The generator's array elements.
const ELEMENT: i64 = 8;
const ELEMENT_SHIFT: i64 = 3;

/// The method `[]T__m` names, whatever `T`.
fn method(name: &str) -> Option<(&'static str, bool)> {
    let (_, m) = name.strip_prefix("[]")?.rsplit_once("__")?;
    METHODS.iter().find(|(known, _)| *known == m).copied()
}

/// Whether `name` is one of these builtins, and if so whether it allocates.
pub fn builtin(name: &str) -> Option<bool> {
    if name == BYTESTR {
        return Some(true);
    }
    method(name).map(|(_, allocates)| allocates)
}

/// Builds the routine `name`; false if it is not one.
pub fn routine(b: &mut Builder, name: &str) -> bool {
    if name == BYTESTR {
        bytestr(b);
        return true;
    }
    match method(name) {
        Some(("last", _)) => last(b),
        Some(("pop", _)) => pop(b),
        Some(("delete", _)) => delete(b),
        Some(("clone", _)) => clone(b),
        _ => return false,
    }
    true
}

/// The address of element `i` of the elements at `ptr`.
fn element(b: &mut Builder, ptr: Reg, i: Reg) -> Reg {
    let offset = b.op(BinOp::Shl, i, Src::Imm(ELEMENT_SHIFT));
    b.op(BinOp::Add, ptr, Src::Reg(offset))
}

/// `last(a)`: the last element.
fn last(b: &mut Builder) {
    let [a] = b.params();
    let empty = b.label();
    let len = b.load(a, 8);
    b.cmp(len, Src::Imm(0));
    b.jcc(Cond::Le, empty);
    let ptr = b.load(a, 0);
    let i = b.op(BinOp::Sub, len, Src::Imm(1));
    let at = element(b, ptr, i);
    let v = b.load(at, 0);
    b.ret(Src::Reg(v));
    b.bind(empty);
    fatal(b, "__vbeam_msg_last_empty");
}

/// `pop(a)`: removes the last element and returns it.
fn pop(b: &mut Builder) {
    let [a] = b.params();
    let empty = b.label();
    let len = b.load(a, 8);
    b.cmp(len, Src::Imm(0));
    b.jcc(Cond::Le, empty);
    let ptr = b.load(a, 0);
    let i = b.op(BinOp::Sub, len, Src::Imm(1));
    b.store(a, 8, Src::Reg(i));
    let at = element(b, ptr, i);
    let v = b.load(at, 0);
    b.ret(Src::Reg(v));
    b.bind(empty);
    fatal(b, "__vbeam_msg_pop_empty");
}

/// `delete(a, i)`: removes element i, moving the later ones down.
fn delete(b: &mut Builder) {
    let [a, i] = b.params();
    let (outside, shift, done) = (b.label(), b.label(), b.label());
    let len = b.load(a, 8);
    b.cmp(i, Src::Reg(len));
    b.jcc(Cond::Geu, outside); // negative i too
    let ptr = b.load(a, 0);
    let last = b.op(BinOp::Sub, len, Src::Imm(1));
    let j = b.vreg();
    b.mov(j, i);
    b.bind(shift);
    b.cmp(j, Src::Reg(last));
    b.jcc(Cond::Ge, done);
    let at = element(b, ptr, j);
    let next = b.load(at, ELEMENT as i32);
    b.store(at, 0, Src::Reg(next));
    b.bin(BinOp::Add, j, j, Src::Imm(1));
    b.jmp(shift);
    b.bind(done);
    b.store(a, 8, Src::Reg(last));
    b.ret_void();
    b.bind(outside);
    let (msg, n) = text("__vbeam_msg_delete");
    b.write_data(STDERR, msg, n);
    write_int(b, i);
    let (msg, n) = text("__vbeam_msg_delete_len");
    b.write_data(STDERR, msg, n);
    write_int(b, len);
    let (msg, n) = text("__vbeam_msg_close");
    b.write_data(STDERR, msg, n);
    end_panic(b);
}

/// `clone(a)`: a new array of the same elements (capacity its length).
fn clone(b: &mut Builder) {
    let [a] = b.params();
    let len = b.load(a, 8);
    let copy = b.call(ALLOC, &[Src::Imm(24)]);
    let bytes = b.op(BinOp::Shl, len, Src::Imm(ELEMENT_SHIFT));
    let elements = b.call(ALLOC, &[Src::Reg(bytes)]);
    let ptr = b.load(a, 0);
    b.call_void(MEMCPY, &[Src::Reg(elements), Src::Reg(ptr), Src::Reg(bytes)]);
    b.store(copy, 0, Src::Reg(elements));
    b.store(copy, 8, Src::Reg(len));
    b.store(copy, 16, Src::Reg(len));
    b.ret(Src::Reg(copy));
}

/// `[]u8__bytestr(a)`: a string of the elements' low bytes.
fn bytestr(b: &mut Builder) {
    let [a] = b.params();
    let len = b.load(a, 8);
    let buf = b.call(ALLOC, &[Src::Reg(len)]);
    let ptr = b.load(a, 0);
    let i = b.vreg();
    b.mov_imm(i, 0);
    let (top, done) = (b.label(), b.label());
    b.bind(top);
    b.cmp(i, Src::Reg(len));
    b.jcc(Cond::Ge, done);
    let at = element(b, ptr, i);
    let v = b.load(at, 0);
    let to = b.op(BinOp::Add, buf, Src::Reg(i));
    b.store_byte(to, 0, Src::Reg(v));
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.jmp(top);
    b.bind(done);
    let s = b.call(STRING_NEW, &[Src::Reg(buf), Src::Reg(len)]);
    b.ret(Src::Reg(s));
}
