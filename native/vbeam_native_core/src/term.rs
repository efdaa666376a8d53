//! A read-only view of Erlang terms, so the decoder works on any
//! representation: live terms inside the NIF, `eetf` terms in Rust tools and
//! tests. The core never depends on the BEAM itself.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

/// What the decoder needs to know of a term. Implementations are handles
/// (a reference or a word), never a deep copy.
pub trait Term: Copy {
    /// The atom's name, if the term is an atom. Implementations may lend the
    /// names of `KNOWN_ATOMS` without allocating.
    fn atom(&self) -> Option<Cow<'static, str>>;
    /// The atom, if the term is one of the IR's known atoms. Implementations
    /// over live terms answer from a table of interned atoms.
    fn known_atom(&self) -> Option<Atom> {
        Atom::from_name(&self.atom()?)
    }
    /// The integer as 64 bits, if the term is an integer in
    /// `-2^63 .. 2^64-1`; values of 2^63 and above wrap to their two's
    /// complement bit pattern (float constants are written that way).
    fn int64_bits(&self) -> Option<i64>;
    /// The bytes, if the term is a binary.
    fn bytes(&self) -> Option<&[u8]>;
    /// `f` of the elements, if the term is a tuple.
    fn with_tuple<R>(&self, f: impl FnOnce(&[Self]) -> R) -> Option<R>;
    /// The elements, if the term is a proper list.
    fn list(&self) -> Option<Vec<Self>>;
    /// The elements, if the term is a proper list of at most `max`.
    /// Implementations over linked cells stop walking past `max`.
    fn list_up_to(&self, max: usize) -> Option<Vec<Self>> {
        self.list().filter(|items| items.len() <= max)
    }
    /// `list` of each term. Implementations over linked cells walk the
    /// lists side by side: cells of different lists can be fetched from
    /// memory at once, where one list's cells can only be fetched in turn.
    fn lists(terms: &[Self]) -> Vec<Option<Vec<Self>>> {
        terms.iter().map(Term::list).collect()
    }
    /// `None` if the term is not a map; `Some(None)` if the atom key is absent.
    fn map_get(&self, key: Atom) -> Option<Option<Self>>;
    /// Whether the term is a map.
    fn is_map(&self) -> bool;
    /// The byte offset of the term in the text it was read from, if any
    /// (for debug information).
    fn text_offset(&self) -> Option<usize> {
        None
    }
    /// The line and column (1-based) of each byte offset of the text the
    /// term was read from; empty if it was read from none.
    fn line_columns(&self, _offsets: &[usize]) -> Vec<(usize, usize)> {
        Vec::new()
    }
    /// Runs `work` on a thread the compiler started to read terms beside
    /// the calling thread, with whatever such a thread needs to read them.
    fn on_worker_thread<R>(work: impl FnOnce() -> R) -> R {
        work()
    }
}

/// Tuples up to this size are gathered on the stack: every IR instruction
/// and operand fits.
const INLINE_ITEMS: usize = 6;

/// Calls `f` with `len` items, gathered without a heap allocation when
/// they are few, so taking an instruction apart allocates nothing.
/// `filler` (any value of the type, never read) occupies unused slots.
#[inline(always)]
pub fn with_items<T: Copy, R>(filler: T, len: usize, items: impl Iterator<Item = T>, f: impl FnOnce(&[T]) -> R) -> R {
    if len <= INLINE_ITEMS {
        let mut inline = [filler; INLINE_ITEMS];
        for (slot, item) in inline.iter_mut().zip(items) {
            *slot = item;
        }
        f(&inline[..len])
    } else {
        f(&items.collect::<Vec<T>>())
    }
}

/// `f` of the tag and arguments of a tagged tuple such as `{add, D, A, B}`,
/// or of the atom alone for bare atoms such as `ret` (no arguments), by name.
pub fn with_tagged<T: Term, R>(term: &T, f: impl FnOnce(&str, &[T]) -> Option<R>) -> Option<R> {
    with_tag_of(term, T::atom, |tag, args| f(&tag, args))
}

/// As `with_tagged`, for tags among the IR's known atoms: one table lookup.
#[inline(always)]
pub fn with_tagged_known<T: Term, R>(term: &T, f: impl FnOnce(Atom, &[T]) -> Option<R>) -> Option<R> {
    with_tag_of(term, T::known_atom, f)
}

/// `f` of `tag_of` the tag and the arguments, for a tuple or a bare atom.
#[inline(always)]
fn with_tag_of<T: Term, K, R>(
    term: &T,
    tag_of: impl Fn(&T) -> Option<K>,
    f: impl FnOnce(K, &[T]) -> Option<R>,
) -> Option<R> {
    // Tuples first: nearly every instruction and operand is one.
    let mut f = Some(f);
    if let Some(result) = term.with_tuple(|items| {
        let (tag, args) = items.split_first()?;
        (f.take()?)(tag_of(tag)?, args)
    }) {
        return result;
    }
    (f?)(tag_of(term)?, &[])
}

macro_rules! known_atoms {
    ($($variant:ident = $name:literal),* $(,)?) => {
        /// Every atom the IR uses by name: operand tags, module and function
        /// keys, opcodes, conditions and the registers of both targets.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Atom { $($variant),* }

        /// The names of `Atom`'s variants, in order: implementations of
        /// `Term` intern these once.
        pub const KNOWN_ATOMS: &[&str] = &[$($name),*];

        impl Atom {
            pub const ALL: &'static [Atom] = &[$(Atom::$variant),*];
        }
    };
}

impl Atom {
    pub fn name(self) -> &'static str {
        KNOWN_ATOMS[self as usize]
    }
    pub fn from_name(name: &str) -> Option<Atom> {
        static BY_NAME: LazyLock<HashMap<&'static str, Atom>> =
            LazyLock::new(|| Atom::ALL.iter().map(|a| (a.name(), *a)).collect());
        BY_NAME.get(name).copied()
    }
}

known_atoms! {
    // operand tags and keys
    Vreg = "vreg", Preg = "preg", Imm = "imm", Stack = "stack", DataRef = "data_ref", Sym = "sym",
    LabelRef = "label_ref", Mem = "mem", True = "true", False = "false", Undefined = "undefined",
    Target = "target", Format = "format", Functions = "functions", Data = "data", Bss = "bss",
    Imports = "imports", AllowStubs = "allow_stubs", Name = "name", Arity = "arity", Exported = "exported",
    Params = "params", Locals = "locals", Body = "body", X86_64 = "x86_64", Arm64 = "arm64", Elf64 = "elf64",
    Macho = "macho", Pe = "pe",
    // opcodes
    Mov = "mov", MovImm = "mov_imm", Add = "add", Sub = "sub", Mul = "mul", And = "and_", Or = "or_",
    Xor = "xor_", Sdiv = "sdiv", Srem = "srem", Shl = "shl", Shr = "shr", Sar = "sar", Neg = "neg", Not = "not_",
    Load = "load", LoadByte = "load_byte", Store = "store", StoreByte = "store_byte", Lea = "lea", Cmp = "cmp",
    Jmp = "jmp", Jcc = "jcc", Call = "call", CallIndirect = "call_indirect", Ret = "ret", Push = "push",
    Pop = "pop", Syscall = "syscall", Label = "label", Comment = "comment", Nop = "nop", Raw = "raw",
    PrintInt = "print_int", StringLit = "string_lit", StringLen = "string_len", StringCmp = "string_cmp",
    StringConcat = "string_concat", PrintStr = "print_str", IntToStr = "int_to_str", FloatToStr = "float_to_str",
    ArrayNew = "array_new", ArrayGet = "array_get", ArraySet = "array_set", ArrayLen = "array_len",
    ArrayAppend = "array_append", StructNew = "struct_new", FieldGet = "field_get", FieldSet = "field_set",
    MapNew = "map_new", MapPut = "map_put", MapGet = "map_get", MapDelete = "map_delete", Fadd = "fadd",
    Fsub = "fsub", Fmul = "fmul", Fdiv = "fdiv", IntToFloat = "int_to_float", FloatToInt = "float_to_int",
    PrintFloat = "print_float", MethodCall = "method_call", Loc = "loc",
    // conditions
    Eq = "eq", Ne = "ne", Lt = "lt", Le = "le", Gt = "gt", Ge = "ge", Ltu = "ltu", Leu = "leu", Gtu = "gtu",
    Geu = "geu",
    // registers
    Rax = "rax", Rcx = "rcx", Rdx = "rdx", Rbx = "rbx", Rsp = "rsp", Rbp = "rbp", Rsi = "rsi", Rdi = "rdi",
    R8 = "r8", R9 = "r9", R10 = "r10", R11 = "r11", R12 = "r12", R13 = "r13", R14 = "r14", R15 = "r15",
    X0 = "x0", X1 = "x1", X2 = "x2", X3 = "x3", X4 = "x4", X5 = "x5", X6 = "x6", X7 = "x7", X8 = "x8",
    X9 = "x9", X10 = "x10", X11 = "x11", X12 = "x12", X13 = "x13", X14 = "x14", X15 = "x15", X16 = "x16",
    X17 = "x17", X18 = "x18", X19 = "x19", X20 = "x20", X21 = "x21", X22 = "x22", X23 = "x23", X24 = "x24",
    X25 = "x25", X26 = "x26", X27 = "x27", X28 = "x28", X29 = "x29", X30 = "x30", Sp = "sp", Fp = "fp",
    Lr = "lr", Xzr = "xzr",
}
