//! V's `os`, `time` and `rand` functions the generator leaves to the
//! backend, over the OS layer's primitives:
//! - `arguments()`: argv as `[]string` (what `os.args` reads);
//! - `input(prompt)`, `input_opt(prompt)`, `get_raw_line()`: a line of
//!   stdin (`input*` without its line end; `get_raw_line` with it);
//! - `read_file(path)`, `write_file(path, s)`, `read_lines(path)`;
//! - `sleep(nanoseconds)`, `ticks()` (milliseconds);
//! - `seed(a)`, `intn(n)`, `int()`, `u32()`, `int_in_range(lo, hi)`: a
//!   SplitMix64 generator, seeded from the system's randomness (UEFI: its
//!   clock) on first use unless `seed` was called.
//!
//! Errors (`!T`, `?T`) read as the empty value: "" or [] or 0.

use super::{ALLOC, GROW, MEMCPY, STDOUT, STRING_NEW};
use crate::ir::{BinOp, Cond, Reg, Src};
use crate::os::{self, Builder, ARGC, ARGV};

/// argc and argv, kept by the start-up for `arguments`.
const RAND_STATE: &str = "__vbeam_rand_state";
const RAND_SEEDED: &str = "__vbeam_rand_seeded";
/// The zero-filled entries of these routines: (name, size).
pub const BSS: &[(&str, u64)] = &[(ARGC, 8), (ARGV, 8), (RAND_STATE, 8), (RAND_SEEDED, 8)];

const NEXT: &str = "__vbeam_rand_next";
const READ_LINE: &str = "__vbeam_read_line";
const C_STRING: &str = "__vbeam_c_string";
const STRLEN: &str = "__vbeam_strlen";

/// The builtins, whether each allocates, and whether it needs files and
/// streams (which UEFI applications lack).
const BUILTINS: &[(&str, bool, bool)] = &[
    ("arguments", true, false),
    ("input", true, true),
    ("input_opt", true, true),
    ("get_raw_line", true, true),
    ("read_file", true, true),
    ("write_file", true, true),
    ("read_lines", true, true),
    ("sleep", false, false),
    ("ticks", false, false),
    ("seed", false, false),
    ("intn", false, false),
    ("int", false, false),
    ("u32", false, false),
    ("int_in_range", false, false),
];

/// Whether `name` is one of these builtins, and if so whether it allocates.
pub fn builtin(name: &str) -> Option<bool> {
    BUILTINS.iter().find(|b| b.0 == name).map(|b| b.1)
}

/// Whether the builtin `name` reads or writes files or stdin.
pub fn needs_files(name: &str) -> bool {
    BUILTINS.iter().any(|b| b.0 == name && b.2)
}

/// Builds the routine `name`; false if it is not one.
pub fn routine(b: &mut Builder, name: &str) -> bool {
    match name {
        "arguments" => arguments(b),
        STRLEN => strlen(b),
        "input" | "input_opt" => input(b),
        "get_raw_line" => {
            let line = b.call(READ_LINE, &[Src::Imm(1)]);
            b.ret(Src::Reg(line));
        }
        READ_LINE => read_line(b),
        "read_file" => read_file(b),
        "write_file" => write_file(b),
        "read_lines" => read_lines(b),
        C_STRING => c_string(b),
        "sleep" => {
            let [nanos] = b.params();
            b.call_void(os::SLEEP, &[Src::Reg(nanos)]);
            b.ret_void();
        }
        "ticks" => {
            let ms = b.call(os::CLOCK_MS, &[]);
            b.ret(Src::Reg(ms));
        }
        "seed" => seed(b),
        NEXT => next(b),
        "intn" => {
            let [n] = b.params();
            let r = below(b, n);
            b.ret(Src::Reg(r));
        }
        "int" => {
            // V's int is 32 bits: a random one, sign-extended.
            let r = b.call(NEXT, &[]);
            let v = b.op(BinOp::Sar, r, Src::Imm(32));
            b.ret(Src::Reg(v));
        }
        "u32" => {
            let r = b.call(NEXT, &[]);
            let v = b.op(BinOp::Shr, r, Src::Imm(32));
            b.ret(Src::Reg(v));
        }
        "int_in_range" => {
            let [lo, hi] = b.params();
            let width = b.op(BinOp::Sub, hi, Src::Reg(lo));
            let error = b.label();
            b.cmp(hi, Src::Reg(lo));
            b.jcc(Cond::Le, error);
            let r = below(b, width);
            b.bin(BinOp::Add, r, r, Src::Reg(lo));
            b.ret(Src::Reg(r));
            b.bind(error);
            b.ret(Src::Imm(0));
        }
        _ => return false,
    }
    true
}

/// A new, empty array of 8-byte elements with room for `cap`.
fn new_array(b: &mut Builder, cap: Src) -> Reg {
    let array = b.call(ALLOC, &[Src::Imm(24)]);
    let bytes = b.vreg();
    match cap {
        Src::Reg(r) => b.bin(BinOp::Shl, bytes, r, Src::Imm(3)),
        Src::Imm(n) => b.mov_imm(bytes, n * 8),
    }
    let elements = b.call(ALLOC, &[Src::Reg(bytes)]);
    b.store(array, 0, Src::Reg(elements));
    b.store(array, 16, cap);
    array
}

/// `arguments()`: argv as strings (none where the system passes none).
fn arguments(b: &mut Builder) {
    let count_at = b.lea(ARGC);
    let argc = b.load(count_at, 0);
    let vector_at = b.lea(ARGV);
    let argv = b.load(vector_at, 0);
    let array = new_array(b, Src::Reg(argc));
    let elements = b.load(array, 0);
    let i = b.vreg();
    b.mov_imm(i, 0);
    let (top, done) = (b.label(), b.label());
    b.bind(top);
    b.cmp(i, Src::Reg(argc));
    b.jcc(Cond::Ge, done);
    let offset = b.op(BinOp::Shl, i, Src::Imm(3));
    let from = b.op(BinOp::Add, argv, Src::Reg(offset));
    let text = b.load(from, 0);
    let len = b.call(STRLEN, &[Src::Reg(text)]);
    let s = b.call(STRING_NEW, &[Src::Reg(text), Src::Reg(len)]);
    let to = b.op(BinOp::Add, elements, Src::Reg(offset));
    b.store(to, 0, Src::Reg(s));
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.jmp(top);
    b.bind(done);
    b.store(array, 8, Src::Reg(argc));
    b.ret(Src::Reg(array));
}

/// `strlen(p)`: the bytes before the NUL.
fn strlen(b: &mut Builder) {
    let [p] = b.params();
    let n = b.vreg();
    b.mov_imm(n, 0);
    let (top, done) = (b.label(), b.label());
    b.bind(top);
    let at = b.op(BinOp::Add, p, Src::Reg(n));
    let c = b.load_byte(at, 0);
    b.cmp(c, Src::Imm(0));
    b.jcc(Cond::Eq, done);
    b.bin(BinOp::Add, n, n, Src::Imm(1));
    b.jmp(top);
    b.bind(done);
    b.ret(Src::Reg(n));
}

/// A growing byte buffer on the heap: (pointer, length, capacity) vregs.
struct Buffer {
    ptr: Reg,
    len: Reg,
    cap: Reg,
}

const FIRST_CAPACITY: i64 = 64;

fn new_buffer(b: &mut Builder) -> Buffer {
    let (ptr, len, cap) = (b.vreg(), b.vreg(), b.vreg());
    b.mov_imm(cap, FIRST_CAPACITY);
    let p = b.call(ALLOC, &[Src::Reg(cap)]);
    b.mov(ptr, p);
    b.mov_imm(len, 0);
    Buffer { ptr, len, cap }
}

/// Makes room for `more` bytes after the buffer's length, doubling.
fn reserve(b: &mut Builder, buf: &Buffer, more: Src) {
    let (grow, enough) = (b.label(), b.label());
    let need = b.vreg();
    match more {
        Src::Reg(r) => b.bin(BinOp::Add, need, buf.len, Src::Reg(r)),
        Src::Imm(n) => b.bin(BinOp::Add, need, buf.len, Src::Imm(n)),
    }
    b.bind(grow);
    b.cmp(need, Src::Reg(buf.cap));
    b.jcc(Cond::Le, enough);
    let old_cap = b.vreg();
    b.mov(old_cap, buf.cap);
    b.bin(BinOp::Add, buf.cap, buf.cap, Src::Reg(buf.cap));
    let bigger = b.call(GROW, &[Src::Reg(buf.ptr), Src::Reg(old_cap), Src::Reg(buf.cap)]);
    b.mov(buf.ptr, bigger);
    b.jmp(grow);
    b.bind(enough);
}

/// `read_line(keep_end)`: stdin up to and including the next `\n` (or its
/// end); without the `\n` (and a `\r` before it) unless `keep_end`.
fn read_line(b: &mut Builder) {
    let [keep_end] = b.params();
    let buf = new_buffer(b);
    let (top, done) = (b.label(), b.label());
    b.bind(top);
    reserve(b, &buf, Src::Imm(1));
    let at = b.op(BinOp::Add, buf.ptr, Src::Reg(buf.len));
    let got = b.call(os::READ, &[Src::Imm(0), Src::Reg(at), Src::Imm(1)]);
    b.cmp(got, Src::Imm(1));
    b.jcc(Cond::Ne, done);
    b.bin(BinOp::Add, buf.len, buf.len, Src::Imm(1));
    let c = b.load_byte(at, 0);
    b.cmp(c, Src::Imm(b'\n' as i64));
    b.jcc(Cond::Ne, top);
    b.bind(done);
    b.cmp(keep_end, Src::Imm(0));
    let finished = b.label();
    b.jcc(Cond::Ne, finished);
    for end in [b'\n', b'\r'] {
        b.cmp(buf.len, Src::Imm(0));
        b.jcc(Cond::Eq, finished);
        let last = b.op(BinOp::Add, buf.ptr, Src::Reg(buf.len));
        let c = b.load_byte(last, -1);
        b.cmp(c, Src::Imm(end as i64));
        b.jcc(Cond::Ne, finished);
        b.bin(BinOp::Sub, buf.len, buf.len, Src::Imm(1));
    }
    b.bind(finished);
    let s = b.call(STRING_NEW, &[Src::Reg(buf.ptr), Src::Reg(buf.len)]);
    b.ret(Src::Reg(s));
}

/// `input(prompt)`: the prompt on stdout, then a line without its end.
fn input(b: &mut Builder) {
    let [prompt] = b.params();
    let (p, n) = (b.load(prompt, 0), b.load(prompt, 8));
    b.call_void(os::WRITE, &[Src::Imm(STDOUT), Src::Reg(p), Src::Reg(n)]);
    let line = b.call(READ_LINE, &[Src::Imm(0)]);
    b.ret(Src::Reg(line));
}

/// `c_string(s)`: s's bytes and a NUL, for the system's paths.
fn c_string(b: &mut Builder) {
    let [s] = b.params();
    let (p, n) = (b.load(s, 0), b.load(s, 8));
    let size = b.op(BinOp::Add, n, Src::Imm(1));
    let c = b.call(ALLOC, &[Src::Reg(size)]);
    b.call_void(MEMCPY, &[Src::Reg(c), Src::Reg(p), Src::Reg(n)]);
    b.ret(Src::Reg(c));
}

/// Opens `path` (a V string); the fd in a fresh vreg, negative on error.
fn open(b: &mut Builder, path: Reg, for_writing: bool) -> Reg {
    let c = b.call(C_STRING, &[Src::Reg(path)]);
    b.call(os::OPEN, &[Src::Reg(c), Src::Imm(for_writing as i64)])
}

/// Bytes read from `fd` to its end, in a growing buffer.
const READ_CHUNK: i64 = 4096;

/// `read_file(path)`: the file's bytes, "" when it cannot be read.
fn read_file(b: &mut Builder) {
    let [path] = b.params();
    let text = read_all(b, path);
    b.ret(Src::Reg(text));
}

/// The whole file at `path` as a string ("" on error).
fn read_all(b: &mut Builder, path: Reg) -> Reg {
    let fd = open(b, path, false);
    let (failed, top, done, finished) = (b.label(), b.label(), b.label(), b.label());
    let result = b.vreg();
    b.cmp(fd, Src::Imm(0));
    b.jcc(Cond::Lt, failed);
    let buf = new_buffer(b);
    b.bind(top);
    reserve(b, &buf, Src::Imm(READ_CHUNK));
    let at = b.op(BinOp::Add, buf.ptr, Src::Reg(buf.len));
    let got = b.call(os::READ, &[Src::Reg(fd), Src::Reg(at), Src::Imm(READ_CHUNK)]);
    b.cmp(got, Src::Imm(0));
    b.jcc(Cond::Le, done);
    b.bin(BinOp::Add, buf.len, buf.len, Src::Reg(got));
    b.jmp(top);
    b.bind(done);
    b.call_void(os::CLOSE, &[Src::Reg(fd)]);
    let s = b.call(STRING_NEW, &[Src::Reg(buf.ptr), Src::Reg(buf.len)]);
    b.mov(result, s);
    b.jmp(finished);
    b.bind(failed);
    let empty = b.call(STRING_NEW, &[Src::Imm(0), Src::Imm(0)]);
    b.mov(result, empty);
    b.bind(finished);
    result
}

/// `write_file(path, s)`: the file made to hold s (nothing on error).
fn write_file(b: &mut Builder) {
    let [path, s] = b.params();
    let fd = open(b, path, true);
    let (failed, top, done) = (b.label(), b.label(), b.label());
    b.cmp(fd, Src::Imm(0));
    b.jcc(Cond::Lt, failed);
    let (p, n) = (b.load(s, 0), b.load(s, 8));
    let (at, left) = (b.vreg(), b.vreg());
    b.mov(at, p);
    b.mov(left, n);
    b.bind(top);
    b.cmp(left, Src::Imm(0));
    b.jcc(Cond::Le, done);
    let wrote = b.call(os::WRITE, &[Src::Reg(fd), Src::Reg(at), Src::Reg(left)]);
    b.cmp(wrote, Src::Imm(0));
    b.jcc(Cond::Le, done);
    b.bin(BinOp::Add, at, at, Src::Reg(wrote));
    b.bin(BinOp::Sub, left, left, Src::Reg(wrote));
    b.jmp(top);
    b.bind(done);
    b.call_void(os::CLOSE, &[Src::Reg(fd)]);
    b.bind(failed);
    b.ret_void();
}

/// `read_lines(path)`: the file's lines without their ends (`\n`, or
/// `\r\n`), no empty last line for a final `\n`, as V's
/// `split_into_lines`.
fn read_lines(b: &mut Builder) {
    let [path] = b.params();
    let text = read_all(b, path);
    let (p, n) = (b.load(text, 0), b.load(text, 8));
    // At most one line per byte, and one more.
    let cap = b.op(BinOp::Add, n, Src::Imm(1));
    let lines = new_array(b, Src::Reg(cap));
    let elements = b.load(lines, 0);
    let (count, start, i) = (b.vreg(), b.vreg(), b.vreg());
    b.mov_imm(count, 0);
    b.mov_imm(start, 0);
    b.mov_imm(i, 0);
    let (top, end_of_line, last, done) = (b.label(), b.label(), b.label(), b.label());
    let cut = b.vreg();
    b.bind(top);
    b.cmp(i, Src::Reg(n));
    b.jcc(Cond::Ge, last);
    let at = b.op(BinOp::Add, p, Src::Reg(i));
    let c = b.load_byte(at, 0);
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.cmp(c, Src::Imm(b'\n' as i64));
    b.jcc(Cond::Ne, top);
    b.bin(BinOp::Sub, cut, i, Src::Imm(1));
    b.jmp(end_of_line);
    // A line without a final `\n`, if any text is left.
    b.bind(last);
    b.cmp(start, Src::Reg(n));
    b.jcc(Cond::Ge, done);
    b.mov(cut, n);
    b.bind(end_of_line);
    let no_cr = b.label();
    b.cmp(cut, Src::Reg(start));
    b.jcc(Cond::Le, no_cr);
    let before = b.op(BinOp::Add, p, Src::Reg(cut));
    let c = b.load_byte(before, -1);
    b.cmp(c, Src::Imm(b'\r' as i64));
    b.jcc(Cond::Ne, no_cr);
    b.bin(BinOp::Sub, cut, cut, Src::Imm(1));
    b.bind(no_cr);
    let from = b.op(BinOp::Add, p, Src::Reg(start));
    let len = b.op(BinOp::Sub, cut, Src::Reg(start));
    let line = b.call(STRING_NEW, &[Src::Reg(from), Src::Reg(len)]);
    let offset = b.op(BinOp::Shl, count, Src::Imm(3));
    let to = b.op(BinOp::Add, elements, Src::Reg(offset));
    b.store(to, 0, Src::Reg(line));
    b.bin(BinOp::Add, count, count, Src::Imm(1));
    b.mov(start, i);
    b.cmp(i, Src::Reg(n));
    b.jcc(Cond::Lt, top);
    b.bind(done);
    b.store(lines, 8, Src::Reg(count));
    b.ret(Src::Reg(lines));
}

/// `seed(a)`: the generator's state from a's 32-bit elements: for each in
/// turn, the state rotated by 32 bits and the element xor-ed in.
fn seed(b: &mut Builder) {
    let [a] = b.params();
    let (p, n) = (b.load(a, 0), b.load(a, 8));
    let state = b.vreg();
    b.mov_imm(state, 0);
    let i = b.vreg();
    b.mov_imm(i, 0);
    let (top, done) = (b.label(), b.label());
    b.bind(top);
    b.cmp(i, Src::Reg(n));
    b.jcc(Cond::Ge, done);
    let offset = b.op(BinOp::Shl, i, Src::Imm(3));
    let at = b.op(BinOp::Add, p, Src::Reg(offset));
    let word = b.load_u32(at, 0);
    let high = b.op(BinOp::Shr, state, Src::Imm(32));
    b.bin(BinOp::Shl, state, state, Src::Imm(32));
    b.bin(BinOp::Or, state, state, Src::Reg(high));
    b.bin(BinOp::Xor, state, state, Src::Reg(word));
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.jmp(top);
    b.bind(done);
    let at = b.lea(RAND_STATE);
    b.store(at, 0, Src::Reg(state));
    let seeded = b.lea(RAND_SEEDED);
    b.store(seeded, 0, Src::Imm(1));
    b.ret_void();
}

/// SplitMix64's constants (Steele, Lea, Flood, 2014).
const GOLDEN_GAMMA: i64 = 0x9e37_79b9_7f4a_7c15_u64 as i64;
const MIX1: i64 = 0xbf58_476d_1ce4_e5b9_u64 as i64;
const MIX2: i64 = 0x94d0_49bb_1331_11eb_u64 as i64;

/// `next()`: 64 random bits, seeding from the system on first use.
fn next(b: &mut Builder) {
    let seeded_at = b.lea(RAND_SEEDED);
    let seeded = b.load(seeded_at, 0);
    let state_at = b.lea(RAND_STATE);
    let ready = b.label();
    b.cmp(seeded, Src::Imm(0));
    b.jcc(Cond::Ne, ready);
    let bits = b.call(os::RANDOM, &[]);
    b.store(state_at, 0, Src::Reg(bits));
    b.store(seeded_at, 0, Src::Imm(1));
    b.bind(ready);
    let state = b.load(state_at, 0);
    b.bin(BinOp::Add, state, state, Src::Imm(GOLDEN_GAMMA));
    b.store(state_at, 0, Src::Reg(state));
    let z = b.vreg();
    b.mov(z, state);
    for (shift, multiplier) in [(30, MIX1), (27, MIX2)] {
        let high = b.op(BinOp::Shr, z, Src::Imm(shift));
        b.bin(BinOp::Xor, z, z, Src::Reg(high));
        b.bin(BinOp::Mul, z, z, Src::Imm(multiplier));
    }
    let high = b.op(BinOp::Shr, z, Src::Imm(31));
    b.bin(BinOp::Xor, z, z, Src::Reg(high));
    b.ret(Src::Reg(z));
}

/// A uniform value in `0..n` (0 when n <= 0, V's error): 63-bit draws,
/// those past the last whole multiple of n drawn again.
fn below(b: &mut Builder, n: Reg) -> Reg {
    let (error, draw, done) = (b.label(), b.label(), b.label());
    let result = b.vreg();
    b.cmp(n, Src::Imm(0));
    b.jcc(Cond::Le, error);
    let max = b.vreg();
    b.mov_imm(max, i64::MAX);
    let spare = b.op(BinOp::Srem, max, Src::Reg(n));
    let limit = b.op(BinOp::Sub, max, Src::Reg(spare));
    b.bind(draw);
    let r = b.call(NEXT, &[]);
    b.bin(BinOp::Shr, r, r, Src::Imm(1));
    b.cmp(r, Src::Reg(limit));
    b.jcc(Cond::Ge, draw);
    b.bin(BinOp::Srem, result, r, Src::Reg(n));
    b.jmp(done);
    b.bind(error);
    b.mov_imm(result, 0);
    b.bind(done);
    result
}
