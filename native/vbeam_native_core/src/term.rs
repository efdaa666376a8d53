//! A read-only view of Erlang terms, so the decoder works on any
//! representation: live terms inside the NIF, `eetf` terms in Rust tools and
//! tests. The core never depends on the BEAM itself.

use std::borrow::Cow;

/// What the decoder needs to know of a term. Implementations must be cheap to
/// clone (a handle, not a deep copy).
pub trait Term: Clone {
    /// The atom's name, if the term is an atom. Implementations may lend the
    /// names of `KNOWN_ATOMS` without allocating.
    fn atom(&self) -> Option<Cow<'static, str>>;
    /// The integer as 64 bits, if the term is an integer in
    /// `-2^63 .. 2^64-1`; values of 2^63 and above wrap to their two's
    /// complement bit pattern (float constants are written that way).
    fn int64_bits(&self) -> Option<i64>;
    /// The bytes, if the term is a binary.
    fn bytes(&self) -> Option<&[u8]>;
    /// The elements, if the term is a tuple.
    fn tuple(&self) -> Option<Vec<Self>>;
    /// The elements, if the term is a proper list.
    fn list(&self) -> Option<Vec<Self>>;
    /// `None` if the term is not a map; `Some(None)` if the atom key is absent.
    fn map_get(&self, key: &str) -> Option<Option<Self>>;
    /// Whether the term is a map.
    fn is_map(&self) -> bool;
}

/// The tag atom and arguments of a tagged tuple such as `{add, D, A, B}`, or
/// the atom alone for bare atoms such as `ret`.
pub fn tagged<T: Term>(term: &T) -> Option<(Cow<'static, str>, Vec<T>)> {
    if let Some(name) = term.atom() {
        return Some((name, Vec::new()));
    }
    let mut items = term.tuple()?;
    if items.is_empty() {
        return None;
    }
    let tag = items[0].atom()?;
    items.remove(0);
    Some((tag, items))
}

/// Every atom the IR uses by name: opcodes, operand tags, conditions,
/// registers of both targets, module and function keys. Term
/// implementations can intern these once and hand them out without
/// allocating.
pub const KNOWN_ATOMS: &[&str] = &[
    // operand tags and keys
    "vreg", "preg", "imm", "stack", "data_ref", "sym", "label_ref", "mem", "true", "false", "undefined",
    "target", "format", "functions", "data", "bss", "imports", "allow_stubs", "name", "arity", "exported",
    "params", "locals", "body", "x86_64", "arm64", "elf64", "macho", "pe",
    // opcodes
    "mov", "mov_imm", "add", "sub", "mul", "and_", "or_", "xor_", "sdiv", "srem", "shl", "shr", "sar", "neg",
    "not_", "load", "load_byte", "store", "store_byte", "lea", "cmp", "jmp", "jcc", "call", "call_indirect", "ret",
    "push", "pop", "syscall", "label", "comment", "nop", "raw", "print_int", "string_lit", "string_len",
    "string_cmp", "string_concat", "print_str", "int_to_str", "float_to_str", "array_new", "array_get",
    "array_set", "array_len", "array_append", "struct_new", "field_get", "field_set", "map_new", "map_put",
    "map_get", "map_delete", "fadd", "fsub", "fmul", "fdiv", "int_to_float", "float_to_int", "print_float",
    "method_call",
    // conditions
    "eq", "ne", "lt", "le", "gt", "ge", "ltu", "leu", "gtu", "geu",
    // registers
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16",
    "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29", "x30", "sp", "fp",
    "lr", "xzr",
];
