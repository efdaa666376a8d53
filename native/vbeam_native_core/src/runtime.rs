//! The runtime routines the binaries carry, written once as IR and compiled
//! by the backend itself for each target, so both targets share one
//! definition of every algorithm. Only the routines a program needs (and
//! those they call) are linked in. Internal routines are named `__vbeam_*`,
//! a prefix reserved for them; builtins carry the names the V compiler
//! calls.

mod arrays;
pub mod faults;
mod float;
mod libm;
pub mod libm_constants;
mod math;
mod parse_float;
mod system;
mod text;

use crate::ir::*;
use crate::os::{self, OUT_OF_MEMORY};
use crate::target::{Os, Target};
use os::Builder;

pub use float::{FLOAT_TO_STR, PRINT_FLOAT};

/// The runtime's own routines (`__vbeam_*`: never a program's names).
pub const ALLOC: &str = "__vbeam_alloc";
const ALLOC_REGION: &str = "__vbeam_alloc_region";
pub const MEMCPY: &str = "__vbeam_memcpy";
pub const GROW: &str = "__vbeam_grow";
pub const STRING_NEW: &str = "__vbeam_string_new";
pub const STRING_CMP: &str = "__vbeam_string_cmp";
pub const STRING_CONCAT: &str = "__vbeam_string_concat";
pub const PRINT_STR: &str = "__vbeam_print_str";
pub const FORMAT_INT: &str = "__vbeam_format_int";
pub const PRINT_INT: &str = "__vbeam_print_int";
pub const INT_TO_STR: &str = "__vbeam_int_to_str";
pub const ARRAY_NEW: &str = "__vbeam_array_new";
pub const ARRAY_PUSH_SLOT: &str = "__vbeam_array_push_slot";
pub const INDEX_PANIC: &str = "__vbeam_index_panic";
pub const MAP_FIND: &str = "__vbeam_map_find";
pub const MAP_GET: &str = "__vbeam_map_get";
pub const MAP_PUT: &str = "__vbeam_map_put";
pub const MAP_DELETE: &str = "__vbeam_map_delete";
pub const DIV_ZERO: &str = "__vbeam_div_zero";

/// The heap's current region ends here (0 until the first region exists).
const HEAP_END: &str = "__vbeam_heap_end";
const DIGITS: &str = "__vbeam_digits";
/// Room for "-9223372036854775808\n".
const DIGITS_SIZE: i64 = 32;
/// Heap regions are at least this large (the OS backs pages lazily).
const HEAP_REGION: i64 = 64 << 20;
const PAGE: i64 = 4096;
const STDOUT: i64 = 1;
pub(crate) const STDERR: i64 = 2;

/// Fixed texts of the runtime, as data entries.
const TEXTS: &[(&str, &[u8])] = &[
    ("__vbeam_msg_div_zero", b"V panic: division by zero"),
    ("__vbeam_msg_oom", b"V panic: out of memory"),
    ("__vbeam_msg_index", b"V panic: array index out of range: index "),
    ("__vbeam_msg_len", b", len "),
    ("__vbeam_msg_panic", b"V panic: "),
    ("__vbeam_newline", b"\n"),
    ("__vbeam_msg_last_empty", b"V panic: array.last: array is empty"),
    ("__vbeam_msg_pop_empty", b"V panic: array.pop: array is empty"),
    ("__vbeam_msg_delete", b"V panic: array.delete: index out of range (i == "),
    ("__vbeam_msg_delete_len", b", a.len == "),
    ("__vbeam_msg_close", b")"),
    ("__vbeam_msg_stack_overflow", b"stack overflow"),
    ("__vbeam_msg_segfault", b"segmentation fault"),
    ("__vbeam_msg_bus_error", b"bus error"),
    ("__vbeam_msg_illegal", b"illegal instruction"),
    ("__vbeam_msg_arithmetic", b"arithmetic exception"),
    ("__vbeam_msg_fault_signal", b"signal "),
    ("__vbeam_msg_fault_address", b" at address "),
    ("__vbeam_msg_fault_in", b" in "),
    ("__vbeam_msg_fault_pc", b" (pc "),
    ("__vbeam_msg_fault_pc_end", b")"),
    ("__vbeam_msg_called_from", b"  called from "),
    ("__vbeam_msg_more_callers", b"  ... and "),
    ("__vbeam_msg_more_callers_end", b" more callers\n"),
];

pub(crate) fn text(name: &str) -> (&'static str, usize) {
    let (n, t) = TEXTS.iter().find(|(n, _)| *n == name).expect("a runtime text");
    (n, t.len())
}

/// Builtins the backend provides: (name, whether it allocates).
const BUILTINS: &[(&str, bool)] = &[
    ("println", false),
    ("print", false),
    ("eprintln", false),
    ("exit", false),
    ("panic", false),
    ("string__int", false),
    ("int__str", true),
    ("string__repeat", true),
    ("string__to_upper", true),
    ("string__trim_space", true),
];

/// Whether the backend provides a builtin called `name`, and if so
/// whether it allocates heap memory.
fn builtin_allocation(name: &str) -> Option<bool> {
    BUILTINS
        .iter()
        .find(|b| b.0 == name)
        .map(|b| b.1)
        .or_else(|| math::builtin(name).map(|()| false))
        .or_else(|| text::builtin(name))
        .or_else(|| parse_float::builtin(name))
        .or_else(|| arrays::builtin(name))
        .or_else(|| system::builtin(name))
}

/// Whether the backend provides a builtin called `name`.
pub fn is_builtin(name: &str) -> bool {
    builtin_allocation(name).is_some()
}

/// Each builtin with its number of arguments.
pub fn builtin_arities(target: Target) -> impl Iterator<Item = (&'static str, u32)> {
    BUILTINS.iter().map(move |(name, _)| (*name, routine(target, name).arity))
}

/// Whether the builtin `name` allocates heap memory.
pub fn builtin_allocates(name: &str) -> bool {
    builtin_allocation(name) == Some(true)
}

/// Whether an instruction allocates heap memory (calls aside: see
/// `builtin_allocates`).
pub fn allocates(inst: &Inst) -> bool {
    matches!(
        inst,
        Inst::StringLit { .. }
            | Inst::StringConcat { .. }
            | Inst::IntToStr { .. }
            | Inst::ArrayNew { .. }
            | Inst::ArrayAppend { .. }
            | Inst::StructNew { .. }
            | Inst::MapNew { .. }
            | Inst::MapPut { .. }
            | Inst::PrintFloat(_)
            | Inst::FloatToStr { .. }
    )
}

/// Routines and data a program needs beyond its own.
#[derive(Default)]
pub struct Runtime {
    pub functions: Vec<Function>,
    /// Routines of the OS layer's without a frame (`os::bare_routine`).
    pub bare: Vec<(String, Vec<os::StartStep>)>,
    pub data: Vec<DataEntry>,
    pub bss: Vec<BssEntry>,
}

/// Names of the backend's own routines and data.
const RESERVED_PREFIX: &str = "__vbeam_";

/// Whether `name` is the backend's to give.
pub fn is_reserved(name: &str) -> bool {
    name.starts_with(RESERVED_PREFIX)
}

/// Whether the builtin `name` can exist on `target`: a UEFI application
/// has no files and no stdin.
pub fn provides_builtin(target: Target, name: &str) -> bool {
    target.os != Os::Uefi || !system::needs_files(name)
}

fn is_routine(name: &str) -> bool {
    is_reserved(name) || is_builtin(name)
}

/// The runtime routines an (expanded) instruction calls.
pub fn callees(inst: &Inst) -> Option<&str> {
    match inst {
        Inst::CallWith { callee, .. } | Inst::Call(callee) if is_routine(callee) => Some(callee),
        Inst::Bin { op: BinOp::Sdiv | BinOp::Srem, b, .. } if !matches!(b, Src::Imm(n) if *n != 0) => Some(DIV_ZERO),
        _ => None,
    }
}

/// Builds the routines `roots` need, with every routine they call in turn,
/// and stubs returning 0 for `stubs`.
pub fn build<'a>(
    target: Target,
    roots: impl IntoIterator<Item = &'a str>,
    stubs: impl IntoIterator<Item = &'a str>,
) -> Runtime {
    let mut rt = Runtime::default();
    let mut done: std::collections::BTreeSet<String> = Default::default();
    let mut pending: Vec<String> = roots.into_iter().map(String::from).collect();
    let mut texts: std::collections::BTreeSet<&str> = Default::default();
    while let Some(name) = pending.pop() {
        if !done.insert(name.clone()) {
            continue;
        }
        if let Some(steps) = os::bare_routine(target, &name) {
            rt.bare.push((name, steps));
            continue;
        }
        let f = routine(target, &name);
        for inst in &f.body {
            if let Some(c) = callees(inst) {
                pending.push(c.to_string());
            }
            if let Inst::Lea { symbol: Symbol::Function(f), .. } = inst {
                pending.push(f.clone());
            }
            if let Inst::Lea { symbol: Symbol::Data(symbol), .. } = inst {
                if let Some((n, _)) = TEXTS.iter().find(|(n, _)| n == symbol) {
                    texts.insert(n);
                }
                if let Some(size) = bss_size(symbol) {
                    if !rt.bss.iter().any(|b| &b.name == symbol) {
                        rt.bss.push(BssEntry { name: symbol.clone(), align: 8, size });
                    }
                }
                if let Some(table) = libm::data(symbol) {
                    if !rt.data.iter().any(|d| &d.name == symbol) {
                        rt.data.push(table);
                    }
                }
            }
        }
        rt.functions.push(f);
    }
    for (name, bytes) in TEXTS {
        if texts.contains(name) {
            rt.data.push(DataEntry { name: (*name).into(), align: 1, bytes: bytes.to_vec(), refs: Vec::new() });
        }
    }
    for name in stubs {
        let mut b = Builder::new(target, target.cc.result, name);
        b.ret(Src::Imm(0));
        rt.functions.push(b.finish());
    }
    rt
}

/// Size of the runtime's zero-filled entry `name`, if it is one.
fn bss_size(name: &str) -> Option<u64> {
    match name {
        DIGITS => Some(DIGITS_SIZE as u64),
        HEAP_END => Some(8),
        _ => float::BSS
            .iter()
            .chain(system::BSS)
            .chain(faults::BSS)
            .find(|(n, _)| *n == name)
            .map(|(_, size)| *size)
            .or_else(|| parse_float::bss_size(name))
            .or_else(|| os::bss_size(name)),
    }
}

fn routine(target: Target, name: &str) -> Function {
    let mut b = Builder::new(target, target.cc.result, name);
    if os::primitive(target, name, &mut b) {
        return b.finish();
    }
    match name {
        ALLOC => alloc(&mut b),
        ALLOC_REGION => alloc_region(&mut b),
        MEMCPY => memcpy(&mut b),
        GROW => grow(&mut b),
        STRING_NEW => string_new(&mut b),
        STRING_CMP => string_cmp(&mut b),
        STRING_CONCAT => string_concat(&mut b),
        PRINT_STR => print_str(&mut b, STDOUT),
        FORMAT_INT => format_int(&mut b),
        PRINT_INT => print_int(&mut b),
        INT_TO_STR | "int__str" => int_to_str(&mut b),
        ARRAY_NEW => array_new(&mut b),
        ARRAY_PUSH_SLOT => array_push_slot(&mut b),
        INDEX_PANIC => index_panic(&mut b),
        MAP_FIND => map_find(&mut b),
        MAP_GET => map_get(&mut b),
        MAP_PUT => map_put(&mut b),
        MAP_DELETE => map_delete(&mut b),
        DIV_ZERO => fatal(&mut b, "__vbeam_msg_div_zero"),
        OUT_OF_MEMORY => fatal(&mut b, "__vbeam_msg_oom"),
        "println" => println(&mut b, STDOUT),
        "eprintln" => println(&mut b, STDERR),
        "print" => print_str(&mut b, STDOUT),
        "exit" => {
            let [status] = b.params();
            b.exit(Src::Reg(status));
        }
        "panic" => panic(&mut b),
        "string__int" => string_int(&mut b),
        "string__repeat" => string_repeat(&mut b),
        "string__to_upper" => string_to_upper(&mut b),
        "string__trim_space" => string_trim_space(&mut b),
        other => {
            let built = float::routine(&mut b, other)
                || math::routine(&mut b, other)
                || parse_float::routine(&mut b, other)
                || text::routine(&mut b, other)
                || arrays::routine(&mut b, other)
                || system::routine(&mut b, other)
                || faults::routine(&mut b, other);
            assert!(built, "no runtime routine named {other}");
        }
    }
    b.finish()
}

/// `alloc(size) -> ptr`: bump allocation of `size` bytes rounded up to 16
/// from the heap register; when the current region is full, `alloc_region`
/// maps a new one. Memory comes zeroed from the OS and is never reused.
/// The usual case keeps nothing across a call, so it saves no register.
fn alloc(b: &mut Builder) {
    let heap = Reg::P(b.target.cc.heap);
    let [size] = b.params();
    let rounded = b.op(BinOp::Add, size, Src::Imm(15));
    b.bin(BinOp::And, rounded, rounded, Src::Imm(-16));
    let end_ptr = b.lea(HEAP_END);
    let end = b.load(end_ptr, 0);
    let next = b.op(BinOp::Add, heap, Src::Reg(rounded));
    let full = b.label();
    b.cmp(next, Src::Reg(end));
    b.jcc(Cond::Gtu, full);
    let ptr = b.vreg();
    b.mov(ptr, heap);
    b.mov(heap, next);
    b.ret(Src::Reg(ptr));
    b.bind(full);
    let ptr = b.call(ALLOC_REGION, &[Src::Reg(rounded)]);
    b.ret(Src::Reg(ptr));
}

/// `alloc_region(rounded) -> ptr`: `rounded` bytes (a multiple of 16) at
/// the start of a new region of HEAP_REGION bytes, or of the request
/// rounded to pages, which becomes the heap's current region.
fn alloc_region(b: &mut Builder) {
    let heap = Reg::P(b.target.cc.heap);
    let [rounded] = b.params();
    let (big_enough, oom) = (b.label(), b.label());
    let region = b.vreg();
    b.mov_imm(region, HEAP_REGION);
    b.cmp(rounded, Src::Reg(region));
    b.jcc(Cond::Leu, big_enough);
    b.bin(BinOp::Add, region, rounded, Src::Imm(PAGE - 1));
    b.bin(BinOp::And, region, region, Src::Imm(-PAGE));
    b.bind(big_enough);
    let base = b.call(os::PAGES, &[Src::Reg(region)]);
    b.cmp(base, Src::Imm(0));
    b.jcc(Cond::Eq, oom);
    let end_ptr = b.lea(HEAP_END);
    let new_end = b.op(BinOp::Add, base, Src::Reg(region));
    b.store(end_ptr, 0, Src::Reg(new_end));
    let next = b.op(BinOp::Add, base, Src::Reg(rounded));
    b.mov(heap, next);
    b.ret(Src::Reg(base));
    b.bind(oom);
    b.call_void(OUT_OF_MEMORY, &[]);
    b.trap();
}

/// `grow(ptr, old_size, new_size) -> ptr`: the block `ptr` of `old_size`
/// bytes made `new_size` bytes long, its contents kept. The heap's last
/// block grows where it is, as nothing lies above it: a buffer filled by
/// appends then occupies one block instead of a trail of abandoned halves
/// (whose spacing, a power of two, also makes rows of `[][]int` collide
/// in the caches). Only a buffer's one owner may grow it: no two headers
/// share a buffer.
fn grow(b: &mut Builder) {
    let heap = Reg::P(b.target.cc.heap);
    let [ptr, old_size, new_size] = b.params();
    let copy = b.label();
    let old_end = b.op(BinOp::Add, old_size, Src::Imm(15));
    b.bin(BinOp::And, old_end, old_end, Src::Imm(-16));
    b.bin(BinOp::Add, old_end, old_end, Src::Reg(ptr));
    b.cmp(old_end, Src::Reg(heap));
    b.jcc(Cond::Ne, copy);
    let new_end = b.op(BinOp::Add, new_size, Src::Imm(15));
    b.bin(BinOp::And, new_end, new_end, Src::Imm(-16));
    b.bin(BinOp::Add, new_end, new_end, Src::Reg(ptr));
    let end_ptr = b.lea(HEAP_END);
    let end = b.load(end_ptr, 0);
    b.cmp(new_end, Src::Reg(end));
    b.jcc(Cond::Gtu, copy);
    b.mov(heap, new_end);
    b.ret(Src::Reg(ptr));
    b.bind(copy);
    let fresh = b.call(ALLOC, &[Src::Reg(new_size)]);
    b.call_void(MEMCPY, &[Src::Reg(fresh), Src::Reg(ptr), Src::Reg(old_size)]);
    b.ret(Src::Reg(fresh));
}

/// `memcpy(dst, src, n)`: forward copy, a word at a time, then bytes.
fn memcpy(b: &mut Builder) {
    let [dst, src, n] = b.params();
    copy_while_left(b, [dst, src, n], 64, |b| {
        for k in 0..4 {
            b.copy16(dst, 16 * k, src, 16 * k);
        }
    });
    copy_while_left(b, [dst, src, n], 16, |b| b.copy16(dst, 0, src, 0));
    copy_while_left(b, [dst, src, n], 8, |b| {
        let w = b.load(src, 0);
        b.store(dst, 0, Src::Reg(w));
    });
    copy_while_left(b, [dst, src, n], 1, |b| {
        let c = b.load_byte(src, 0);
        b.store_byte(dst, 0, Src::Reg(c));
    });
    b.ret_void();
}

/// While at least `step` of the `n` bytes are left: `copy` writes the
/// `step` bytes at `src` to `dst`, and all three move on by `step`.
fn copy_while_left(b: &mut Builder, [dst, src, n]: [Reg; 3], step: i64, copy: impl Fn(&mut Builder)) {
    let (top, done) = (b.label(), b.label());
    b.bind(top);
    b.cmp(n, Src::Imm(step));
    b.jcc(Cond::Lt, done);
    copy(b);
    b.bin(BinOp::Add, dst, dst, Src::Imm(step));
    b.bin(BinOp::Add, src, src, Src::Imm(step));
    b.bin(BinOp::Sub, n, n, Src::Imm(step));
    b.jmp(top);
    b.bind(done);
}

/// `string_new(ptr, len) -> string header`.
fn string_new(b: &mut Builder) {
    let [ptr, len] = b.params();
    let h = b.call(ALLOC, &[Src::Imm(16)]);
    b.store(h, 0, Src::Reg(ptr));
    b.store(h, 8, Src::Reg(len));
    b.ret(Src::Reg(h));
}

/// `string_cmp(a, b)`: -1, 0 or 1, bytewise (unsigned), then shorter first.
fn string_cmp(b: &mut Builder) {
    let [x, y] = b.params();
    let (px, lx, py, ly) = (b.load(x, 0), b.load(x, 8), b.load(y, 0), b.load(y, 8));
    let n = b.vreg();
    let (short, top, tail, less, greater) = (b.label(), b.label(), b.label(), b.label(), b.label());
    b.mov(n, lx);
    b.cmp(lx, Src::Reg(ly));
    b.jcc(Cond::Le, short);
    b.mov(n, ly);
    b.bind(short);
    let i = b.vreg();
    b.mov_imm(i, 0);
    b.bind(top);
    b.cmp(i, Src::Reg(n));
    b.jcc(Cond::Ge, tail);
    let ax = b.op(BinOp::Add, px, Src::Reg(i));
    let ay = b.op(BinOp::Add, py, Src::Reg(i));
    let (cx, cy) = (b.load_byte(ax, 0), b.load_byte(ay, 0));
    b.cmp(cx, Src::Reg(cy));
    b.jcc(Cond::Ltu, less);
    b.jcc(Cond::Gtu, greater);
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.jmp(top);
    b.bind(tail);
    b.cmp(lx, Src::Reg(ly));
    b.jcc(Cond::Lt, less);
    b.jcc(Cond::Gt, greater);
    b.ret(Src::Imm(0));
    b.bind(less);
    b.ret(Src::Imm(-1));
    b.bind(greater);
    b.ret(Src::Imm(1));
}

/// `string_concat(a, b)`: a new string of a's bytes then b's.
fn string_concat(b: &mut Builder) {
    let [x, y] = b.params();
    let (lx, ly) = (b.load(x, 8), b.load(y, 8));
    let n = b.op(BinOp::Add, lx, Src::Reg(ly));
    let (s, buf) = string_block(b, n);
    let px = b.load(x, 0);
    b.call_void(MEMCPY, &[Src::Reg(buf), Src::Reg(px), Src::Reg(lx)]);
    let second = b.op(BinOp::Add, buf, Src::Reg(lx));
    let py = b.load(y, 0);
    b.call_void(MEMCPY, &[Src::Reg(second), Src::Reg(py), Src::Reg(ly)]);
    b.ret(Src::Reg(s));
}

/// A new string of `len` bytes, yet to be written: its header and its
/// bytes in one block (one allocation, no gap between them). Returns the
/// header and where the bytes go.
fn string_block(b: &mut Builder, len: Reg) -> (Reg, Reg) {
    let size = b.op(BinOp::Add, len, Src::Imm(16));
    let s = b.call(ALLOC, &[Src::Reg(size)]);
    let bytes = b.op(BinOp::Add, s, Src::Imm(16));
    b.store(s, 0, Src::Reg(bytes));
    b.store(s, 8, Src::Reg(len));
    (s, bytes)
}

/// Writes a string's bytes to `fd`.
pub(crate) fn write_string(b: &mut Builder, fd: i64, s: Reg) {
    let (p, n) = (b.load(s, 0), b.load(s, 8));
    b.write(fd, Src::Reg(p), Src::Reg(n));
}

fn print_str(b: &mut Builder, fd: i64) {
    let [s] = b.params();
    write_string(b, fd, s);
    b.ret_void();
}

fn println(b: &mut Builder, fd: i64) {
    let [s] = b.params();
    write_string(b, fd, s);
    let (nl, len) = text("__vbeam_newline");
    b.write_data(fd, nl, len);
    b.ret_void();
}

/// `panic(s)`: "V panic: " s "\n" on stderr, exit status 1.
fn panic(b: &mut Builder) {
    let [s] = b.params();
    let (prefix, len) = text("__vbeam_msg_panic");
    b.write_data(STDERR, prefix, len);
    write_string(b, STDERR, s);
    end_panic(b);
}

/// A routine that writes a fixed panic message to stderr and exits with
/// status 1.
pub(crate) fn fatal(b: &mut Builder, message: &str) {
    let (name, len) = text(message);
    b.write_data(STDERR, name, len);
    end_panic(b);
}

/// Ends a panic's message, written so far without its newline: where the
/// program was (" in F" and F's callers) where the system's faults are
/// reported too, so the function table is there; then exit status 1.
pub(crate) fn end_panic(b: &mut Builder) {
    if os::catches_faults(b.target) {
        b.call_void(faults::PANIC_PLACE, &[]);
    } else {
        let (nl, n) = text("__vbeam_newline");
        b.write_data(STDERR, nl, n);
    }
    b.exit(Src::Imm(1));
}

/// `format_int(value, end) -> start`: the decimal digits of `value` in the
/// bytes just before `end`. Digits come from the value made non-positive,
/// so i64::MIN needs no special case.
fn format_int(b: &mut Builder) {
    let [value, end] = b.params();
    let (cursor, n) = (b.vreg(), b.vreg());
    let (non_positive, top, sign_done) = (b.label(), b.label(), b.label());
    b.mov(cursor, end);
    b.mov(n, value);
    b.cmp(n, Src::Imm(0));
    b.jcc(Cond::Le, non_positive);
    b.push(Inst::Unary { op: UnOp::Neg, dst: n, src: Src::Reg(n) });
    b.bind(non_positive);
    b.bind(top);
    // digit = '0' - (n - 10 q) with q = n / 10, as n - 10 q is in -9..=0:
    // one division a digit.
    let q = b.op(BinOp::Sdiv, n, Src::Imm(10));
    let digit = b.op(BinOp::Mul, q, Src::Imm(10));
    b.bin(BinOp::Sub, digit, digit, Src::Reg(n));
    b.bin(BinOp::Add, digit, digit, Src::Imm(b'0' as i64));
    b.bin(BinOp::Sub, cursor, cursor, Src::Imm(1));
    b.store_byte(cursor, 0, Src::Reg(digit));
    b.mov(n, q);
    b.cmp(n, Src::Imm(0));
    b.jcc(Cond::Ne, top);
    b.cmp(value, Src::Imm(0));
    b.jcc(Cond::Ge, sign_done);
    b.bin(BinOp::Sub, cursor, cursor, Src::Imm(1));
    b.store_byte(cursor, 0, Src::Imm(b'-' as i64));
    b.bind(sign_done);
    b.ret(Src::Reg(cursor));
}

/// `print_int(value)`: decimal and a newline on stdout (no heap needed).
fn print_int(b: &mut Builder) {
    let [value] = b.params();
    let digits = b.lea(DIGITS);
    let end = b.op(BinOp::Add, digits, Src::Imm(DIGITS_SIZE));
    let newline = b.op(BinOp::Sub, end, Src::Imm(1));
    b.store_byte(newline, 0, Src::Imm(b'\n' as i64));
    let start = b.call(FORMAT_INT, &[Src::Reg(value), Src::Reg(newline)]);
    let len = b.op(BinOp::Sub, end, Src::Reg(start));
    b.write(STDOUT, Src::Reg(start), Src::Reg(len));
    b.ret_void();
}

/// `int_to_str(value)`: a new string of the decimal text, formatted in
/// the digits buffer and copied into a block of its exact size.
fn int_to_str(b: &mut Builder) {
    let [value] = b.params();
    let digits = b.lea(DIGITS);
    let end = b.op(BinOp::Add, digits, Src::Imm(DIGITS_SIZE));
    let start = b.call(FORMAT_INT, &[Src::Reg(value), Src::Reg(end)]);
    let len = b.op(BinOp::Sub, end, Src::Reg(start));
    let (s, bytes) = string_block(b, len);
    b.call_void(MEMCPY, &[Src::Reg(bytes), Src::Reg(start), Src::Reg(len)]);
    b.ret(Src::Reg(s));
}

/// `array_new(elem_size, cap)`: header `{ptr, 0, cap}` and zeroed elements.
fn array_new(b: &mut Builder) {
    let [elem_size, cap] = b.params();
    let h = b.call(ALLOC, &[Src::Imm(24)]);
    let bytes = b.op(BinOp::Mul, elem_size, Src::Reg(cap));
    let e = b.call(ALLOC, &[Src::Reg(bytes)]);
    b.store(h, 0, Src::Reg(e));
    b.store(h, 16, Src::Reg(cap));
    b.ret(Src::Reg(h));
}

/// `array_push_slot(arr, elem_size) -> slot`: grows the element buffer
/// (doubling, at least 4) when full, bumps the length, and returns the
/// address of the new last element for the caller to store into.
fn array_push_slot(b: &mut Builder) {
    let [arr, elem_size] = b.params();
    let (len, cap) = (b.load(arr, 8), b.load(arr, 16));
    let (room, at_least_four) = (b.label(), b.label());
    b.cmp(len, Src::Reg(cap));
    b.jcc(Cond::Lt, room);
    let new_cap = b.op(BinOp::Add, cap, Src::Reg(cap));
    b.cmp(new_cap, Src::Imm(4));
    b.jcc(Cond::Ge, at_least_four);
    b.mov_imm(new_cap, 4);
    b.bind(at_least_four);
    let bytes = b.op(BinOp::Mul, new_cap, Src::Reg(elem_size));
    let old = b.load(arr, 0);
    let old_bytes = b.op(BinOp::Mul, cap, Src::Reg(elem_size));
    let e = b.call(GROW, &[Src::Reg(old), Src::Reg(old_bytes), Src::Reg(bytes)]);
    b.store(arr, 0, Src::Reg(e));
    b.store(arr, 16, Src::Reg(new_cap));
    b.bind(room);
    let ptr = b.load(arr, 0);
    let offset = b.op(BinOp::Mul, len, Src::Reg(elem_size));
    let slot = b.op(BinOp::Add, ptr, Src::Reg(offset));
    let new_len = b.op(BinOp::Add, len, Src::Imm(1));
    b.store(arr, 8, Src::Reg(new_len));
    b.ret(Src::Reg(slot));
}

/// Writes `value` in decimal to stderr.
pub(crate) fn write_int(b: &mut Builder, value: Reg) {
    let digits = b.lea(DIGITS);
    let end = b.op(BinOp::Add, digits, Src::Imm(DIGITS_SIZE));
    let start = b.call(FORMAT_INT, &[Src::Reg(value), Src::Reg(end)]);
    let len = b.op(BinOp::Sub, end, Src::Reg(start));
    b.write(STDERR, Src::Reg(start), Src::Reg(len));
}

/// `index_panic(index, len)`: the out-of-range diagnostic, exit status 1.
fn index_panic(b: &mut Builder) {
    let [index, len] = b.params();
    let (msg, n) = text("__vbeam_msg_index");
    b.write_data(STDERR, msg, n);
    write_int(b, index);
    let (msg, n) = text("__vbeam_msg_len");
    b.write_data(STDERR, msg, n);
    write_int(b, len);
    end_panic(b);
}

/// Address of map entry `i` (16 bytes each) from the entries pointer.
fn entry(b: &mut Builder, entries: Reg, i: Reg) -> Reg {
    let offset = b.op(BinOp::Shl, i, Src::Imm(4));
    b.op(BinOp::Add, entries, Src::Reg(offset))
}

/// `map_find(map, key) -> index`: the first entry whose key is not less
/// than `key` (binary search over the sorted entries).
fn map_find(b: &mut Builder) {
    let [map, key] = b.params();
    let entries = b.load(map, 0);
    let (lo, hi) = (b.vreg(), b.vreg());
    b.mov_imm(lo, 0);
    let len = b.load(map, 8);
    b.mov(hi, len);
    let (top, right, done) = (b.label(), b.label(), b.label());
    b.bind(top);
    b.cmp(lo, Src::Reg(hi));
    b.jcc(Cond::Ge, done);
    let sum = b.op(BinOp::Add, lo, Src::Reg(hi));
    let mid = b.op(BinOp::Shr, sum, Src::Imm(1));
    let at = entry(b, entries, mid);
    let k = b.load(at, 0);
    b.cmp(k, Src::Reg(key));
    b.jcc(Cond::Lt, right);
    b.mov(hi, mid);
    b.jmp(top);
    b.bind(right);
    b.bin(BinOp::Add, lo, mid, Src::Imm(1));
    b.jmp(top);
    b.bind(done);
    b.ret(Src::Reg(lo));
}

/// The index of `key`'s place in `map`, the map's length, and the entry
/// address; jumps to `absent` (with index and length already set) when the
/// key is not there.
fn find_entry(b: &mut Builder, map: Reg, key: Reg, absent: Label) -> (Reg, Reg, Reg) {
    let i = b.call(MAP_FIND, &[Src::Reg(map), Src::Reg(key)]);
    let len = b.load(map, 8);
    let entries = b.load(map, 0);
    b.cmp(i, Src::Reg(len));
    b.jcc(Cond::Ge, absent);
    let at = entry(b, entries, i);
    let k = b.load(at, 0);
    b.cmp(k, Src::Reg(key));
    b.jcc(Cond::Ne, absent);
    (i, len, at)
}

/// `map_get(map, key)`: the value, or 0 when the key is absent.
fn map_get(b: &mut Builder) {
    let [map, key] = b.params();
    let absent = b.label();
    let (_, _, at) = find_entry(b, map, key, absent);
    let v = b.load(at, 8);
    b.ret(Src::Reg(v));
    b.bind(absent);
    b.ret(Src::Imm(0));
}

/// `map_put(map, key, value)`: replaces, or inserts in order (growing the
/// entries by doubling, at least 8).
fn map_put(b: &mut Builder) {
    let [map, key, value] = b.params();
    let insert = b.label();
    let (i, len, at) = find_entry(b, map, key, insert);
    b.store(at, 8, Src::Reg(value));
    b.ret_void();
    // find_entry defines i and len before its first branch.
    b.bind(insert);
    let cap = b.load(map, 16);
    let (room, at_least_eight, place) = (b.label(), b.label(), b.label());
    b.cmp(len, Src::Reg(cap));
    b.jcc(Cond::Lt, room);
    let new_cap = b.op(BinOp::Add, cap, Src::Reg(cap));
    b.cmp(new_cap, Src::Imm(8));
    b.jcc(Cond::Ge, at_least_eight);
    b.mov_imm(new_cap, 8);
    b.bind(at_least_eight);
    let bytes = b.op(BinOp::Shl, new_cap, Src::Imm(4));
    let old = b.load(map, 0);
    let old_bytes = b.op(BinOp::Shl, cap, Src::Imm(4));
    let fresh = b.call(GROW, &[Src::Reg(old), Src::Reg(old_bytes), Src::Reg(bytes)]);
    b.store(map, 0, Src::Reg(fresh));
    b.store(map, 16, Src::Reg(new_cap));
    b.bind(room);
    // Move entries i..len up by one, from the top down: four at a time,
    // then one at a time.
    let entries = b.load(map, 0);
    let stop = entry(b, entries, i);
    let to = entry(b, entries, len);
    let four_above_stop = b.op(BinOp::Add, stop, Src::Imm(64));
    let (fours, ones) = (b.label(), b.label());
    b.bind(fours);
    b.cmp(to, Src::Reg(four_above_stop));
    b.jcc(Cond::Ltu, ones);
    for k in 0..4 {
        b.copy16(to, -16 * k, to, -16 * (k + 1));
    }
    b.bin(BinOp::Sub, to, to, Src::Imm(64));
    b.jmp(fours);
    b.bind(ones);
    b.cmp(to, Src::Reg(stop));
    b.jcc(Cond::Leu, place);
    b.copy16(to, 0, to, -16);
    b.bin(BinOp::Sub, to, to, Src::Imm(16));
    b.jmp(ones);
    b.bind(place);
    let at = entry(b, entries, i);
    b.store(at, 0, Src::Reg(key));
    b.store(at, 8, Src::Reg(value));
    let new_len = b.op(BinOp::Add, len, Src::Imm(1));
    b.store(map, 8, Src::Reg(new_len));
    b.ret_void();
}

/// `map_delete(map, key)`: removes the entry if present.
fn map_delete(b: &mut Builder) {
    let [map, key] = b.params();
    let (absent, fours, ones, shrink) = (b.label(), b.label(), b.label(), b.label());
    let (_, len, at) = find_entry(b, map, key, absent);
    // Move the entries above `at` down by one, from the bottom up: four at
    // a time, then one at a time.
    let entries = b.load(map, 0);
    let last = b.op(BinOp::Sub, len, Src::Imm(1));
    let end = entry(b, entries, last);
    let to = b.vreg();
    b.mov(to, at);
    let four_below_end = b.op(BinOp::Sub, end, Src::Imm(64));
    b.bind(fours);
    b.cmp(to, Src::Reg(four_below_end));
    b.jcc(Cond::Gtu, ones);
    for k in 0..4 {
        b.copy16(to, 16 * k, to, 16 * (k + 1));
    }
    b.bin(BinOp::Add, to, to, Src::Imm(64));
    b.jmp(fours);
    b.bind(ones);
    b.cmp(to, Src::Reg(end));
    b.jcc(Cond::Geu, shrink);
    b.copy16(to, 0, to, 16);
    b.bin(BinOp::Add, to, to, Src::Imm(16));
    b.jmp(ones);
    b.bind(shrink);
    b.store(map, 8, Src::Reg(last));
    b.bind(absent);
    b.ret_void();
}

/// `string__int(s)`: optional sign then decimal digits, up to the first
/// other byte (0 when there are none), wrapping like the arithmetic.
fn string_int(b: &mut Builder) {
    let [s] = b.params();
    let (p, len) = (b.load(s, 0), b.load(s, 8));
    let (i, n, neg) = (b.vreg(), b.vreg(), b.vreg());
    b.mov_imm(i, 0);
    b.mov_imm(n, 0);
    b.mov_imm(neg, 0);
    let (digits, plus, top, done, positive) = (b.label(), b.label(), b.label(), b.label(), b.label());
    b.cmp(len, Src::Imm(0));
    b.jcc(Cond::Le, done);
    let first = b.load_byte(p, 0);
    b.cmp(first, Src::Imm(b'-' as i64));
    b.jcc(Cond::Ne, plus);
    b.mov_imm(neg, 1);
    b.mov_imm(i, 1);
    b.jmp(digits);
    b.bind(plus);
    b.cmp(first, Src::Imm(b'+' as i64));
    b.jcc(Cond::Ne, digits);
    b.mov_imm(i, 1);
    b.bind(digits);
    b.bind(top);
    b.cmp(i, Src::Reg(len));
    b.jcc(Cond::Ge, done);
    let at = b.op(BinOp::Add, p, Src::Reg(i));
    let c = b.load_byte(at, 0);
    let d = b.op(BinOp::Sub, c, Src::Imm(b'0' as i64));
    b.cmp(d, Src::Imm(9));
    b.jcc(Cond::Gtu, done);
    b.bin(BinOp::Mul, n, n, Src::Imm(10));
    b.bin(BinOp::Add, n, n, Src::Reg(d));
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.jmp(top);
    b.bind(done);
    b.cmp(neg, Src::Imm(0));
    b.jcc(Cond::Eq, positive);
    b.push(Inst::Unary { op: UnOp::Neg, dst: n, src: Src::Reg(n) });
    b.bind(positive);
    b.ret(Src::Reg(n));
}

/// `string__repeat(s, count)`: s repeated; empty for count <= 0.
fn string_repeat(b: &mut Builder) {
    let [s, count] = b.params();
    let (p, len) = (b.load(s, 0), b.load(s, 8));
    let (positive, top, done) = (b.label(), b.label(), b.label());
    let times = b.vreg();
    b.mov(times, count);
    b.cmp(times, Src::Imm(0));
    b.jcc(Cond::Gt, positive);
    b.mov_imm(times, 0);
    b.bind(positive);
    let total = b.op(BinOp::Mul, len, Src::Reg(times));
    let buf = b.call(ALLOC, &[Src::Reg(total)]);
    let (k, at) = (b.vreg(), b.vreg());
    b.mov_imm(k, 0);
    b.mov(at, buf);
    b.bind(top);
    b.cmp(k, Src::Reg(times));
    b.jcc(Cond::Ge, done);
    b.call_void(MEMCPY, &[Src::Reg(at), Src::Reg(p), Src::Reg(len)]);
    b.bin(BinOp::Add, at, at, Src::Reg(len));
    b.bin(BinOp::Add, k, k, Src::Imm(1));
    b.jmp(top);
    b.bind(done);
    let r = b.call(STRING_NEW, &[Src::Reg(buf), Src::Reg(total)]);
    b.ret(Src::Reg(r));
}

/// `string__to_upper(s)`: a copy with ASCII a-z made upper case.
fn string_to_upper(b: &mut Builder) {
    let [s] = b.params();
    let len = b.load(s, 8);
    let buf = b.call(ALLOC, &[Src::Reg(len)]);
    let p = b.load(s, 0);
    let i = b.vreg();
    b.mov_imm(i, 0);
    let (top, keep, done) = (b.label(), b.label(), b.label());
    b.bind(top);
    b.cmp(i, Src::Reg(len));
    b.jcc(Cond::Ge, done);
    let from = b.op(BinOp::Add, p, Src::Reg(i));
    let c = b.load_byte(from, 0);
    let letter = b.op(BinOp::Sub, c, Src::Imm(b'a' as i64));
    b.cmp(letter, Src::Imm(25));
    b.jcc(Cond::Gtu, keep);
    b.bin(BinOp::Sub, c, c, Src::Imm(32));
    b.bind(keep);
    let to = b.op(BinOp::Add, buf, Src::Reg(i));
    b.store_byte(to, 0, Src::Reg(c));
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.jmp(top);
    b.bind(done);
    let r = b.call(STRING_NEW, &[Src::Reg(buf), Src::Reg(len)]);
    b.ret(Src::Reg(r));
}

/// Jumps to `yes` when byte `c` is ASCII white space (space, \t … \r).
fn jump_if_space(b: &mut Builder, c: Reg, yes: Label) {
    b.cmp(c, Src::Imm(b' ' as i64));
    b.jcc(Cond::Eq, yes);
    let control = b.op(BinOp::Sub, c, Src::Imm(9));
    b.cmp(control, Src::Imm(4));
    b.jcc(Cond::Leu, yes);
}

/// `string__trim_space(s)`: the string without leading and trailing white
/// space (sharing s's bytes).
fn string_trim_space(b: &mut Builder) {
    let [s] = b.params();
    let (p, len) = (b.load(s, 0), b.load(s, 8));
    let (start, end) = (b.vreg(), b.vreg());
    b.mov_imm(start, 0);
    b.mov(end, len);
    let (front, front_skip, back, back_skip, done) = (b.label(), b.label(), b.label(), b.label(), b.label());
    b.bind(front);
    b.cmp(start, Src::Reg(end));
    b.jcc(Cond::Ge, done);
    let at = b.op(BinOp::Add, p, Src::Reg(start));
    let c = b.load_byte(at, 0);
    jump_if_space(b, c, front_skip);
    b.jmp(back);
    b.bind(front_skip);
    b.bin(BinOp::Add, start, start, Src::Imm(1));
    b.jmp(front);
    b.bind(back);
    b.cmp(end, Src::Reg(start));
    b.jcc(Cond::Le, done);
    let at = b.op(BinOp::Add, p, Src::Reg(end));
    let c = b.load_byte(at, -1);
    jump_if_space(b, c, back_skip);
    b.jmp(done);
    b.bind(back_skip);
    b.bin(BinOp::Sub, end, end, Src::Imm(1));
    b.jmp(back);
    b.bind(done);
    let from = b.op(BinOp::Add, p, Src::Reg(start));
    let n = b.op(BinOp::Sub, end, Src::Reg(start));
    let r = b.call(STRING_NEW, &[Src::Reg(from), Src::Reg(n)]);
    b.ret(Src::Reg(r));
}
