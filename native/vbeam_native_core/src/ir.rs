//! The native IR as the backend sees it after decoding (see `shared/docs/ir-spec.md`).
//!
//! Decoding (`crate::decode`) resolves every name it can: labels become
//! per-function indices, physical registers become hardware encodings of the
//! module's target. Symbols (`data_ref`, `sym`) stay names until validation,
//! because they refer to the whole module.

use std::fmt;

pub mod builder;

/// The function a program starts in.
pub const ENTRY_POINT: &str = "main";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    X86_64,
    Arm64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Elf64,
    Macho,
    Pe,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::X86_64 => "x86_64",
            Isa::Arm64 => "arm64",
        }
    }
    pub fn from_name(name: &str) -> Option<Isa> {
        match name {
            "x86_64" => Some(Isa::X86_64),
            "arm64" => Some(Isa::Arm64),
            _ => None,
        }
    }
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Elf64 => "elf64",
            Format::Macho => "macho",
            Format::Pe => "pe",
        }
    }
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "elf64" => Some(Format::Elf64),
            "macho" => Some(Format::Macho),
            "pe" => Some(Format::Pe),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    /// The IR's `target` key: the instruction set.
    pub isa: Isa,
    pub format: Format,
    pub functions: Vec<Function>,
    pub data: Vec<DataEntry>,
    pub bss: Vec<BssEntry>,
    pub imports: Vec<(String, u32)>,
    pub allow_stubs: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DataEntry {
    pub name: String,
    pub align: u64,
    pub bytes: Vec<u8>,
    /// The absolute addresses stored in `bytes` (8 bytes each, little
    /// endian), filled in when the program is linked.
    pub refs: Vec<DataRef>,
}

/// A function or a data or bss entry, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Symbol {
    Function(String),
    Data(String),
}

/// The address of `symbol` plus `addend`, stored at byte `offset` of a
/// data entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataRef {
    pub offset: u64,
    pub symbol: Symbol,
    pub addend: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BssEntry {
    pub name: String,
    pub align: u64,
    pub size: u64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Function {
    pub name: String,
    pub arity: u32,
    pub exported: bool,
    /// Bound in order to the incoming argument registers.
    pub params: Vec<Reg>,
    /// The generator's hint of how many vregs the body uses.
    pub locals: u32,
    pub body: Vec<Inst>,
    /// Label names, indexed by `Label`.
    pub labels: Vec<String>,
    /// For debug information only (`Options::debug`), else empty: per
    /// instruction of `body`, where the instruction it comes from is: a
    /// byte offset in the module's text below `LOC_PLACE`, `LOC_PLACE + k`
    /// for the place `locs[k]` a `loc` instruction named, `NO_SOURCE` for
    /// none. What an instruction expands into, and a copy of it, keeps its
    /// place; an inlined body takes the call's.
    pub sources: Vec<u32>,
    /// The places the body's `loc` instructions name (with `sources`).
    pub locs: Vec<SourceLoc>,
}

/// A place a `{loc, File, Line, Column}` instruction names: in the source
/// a front end compiled, not in the `.ir` text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLoc {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

/// The place (`Function::sources`) of an instruction that comes from none
/// in the text.
pub const NO_SOURCE: u32 = u32::MAX;
/// Places from here on (`Function::sources`) are `loc`s; text offsets
/// beyond are not kept.
pub const LOC_PLACE: u32 = 1 << 31;

/// A physical register: its hardware number on the module's target
/// (x86_64: rax=0 … r15=15; arm64: x0=0 … x30=30).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PReg(pub u8);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reg {
    V(u32),
    P(PReg),
}

/// A per-function label: index into `Function::labels`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(pub u32);

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Reg(Reg),
    Imm(i64),
    /// IR stack slot N of the current frame (8 bytes each).
    Stack(u32),
}

/// A register or an immediate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Src {
    Reg(Reg),
    Imm(i64),
}

/// A register or an IR stack slot: the destinations of `mov`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dst {
    Reg(Reg),
    Stack(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    And,
    Or,
    Xor,
    Sdiv,
    Srem,
    Shl,
    Shr,
    Sar,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    W64,
    W8,
    /// Internal widths for 2- and 4-byte array elements (loads zero-extend).
    W16,
    W32,
}

impl Width {
    pub fn bytes(self) -> i64 {
        match self {
            Width::W8 => 1,
            Width::W16 => 2,
            Width::W32 => 4,
            Width::W64 => 8,
        }
    }
    /// The width of an element of `size` bytes (1, 2, 4 or 8).
    pub fn of_size(size: i64) -> Width {
        match size {
            1 => Width::W8,
            2 => Width::W16,
            4 => Width::W32,
            _ => Width::W64,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Ltu,
    Leu,
    Gtu,
    Geu,
}

impl Cond {
    pub const ALL: [Cond; 10] =
        [Cond::Eq, Cond::Ne, Cond::Lt, Cond::Le, Cond::Gt, Cond::Ge, Cond::Ltu, Cond::Leu, Cond::Gtu, Cond::Geu];
    pub fn name(self) -> &'static str {
        match self {
            Cond::Eq => "eq",
            Cond::Ne => "ne",
            Cond::Lt => "lt",
            Cond::Le => "le",
            Cond::Gt => "gt",
            Cond::Ge => "ge",
            Cond::Ltu => "ltu",
            Cond::Leu => "leu",
            Cond::Gtu => "gtu",
            Cond::Geu => "geu",
        }
    }
    pub fn from_name(name: &str) -> Option<Cond> {
        Cond::ALL.into_iter().find(|c| c.name() == name)
    }
    /// The condition that holds exactly when this one does not.
    pub fn inverse(self) -> Cond {
        match self {
            Cond::Eq => Cond::Ne,
            Cond::Ne => Cond::Eq,
            Cond::Lt => Cond::Ge,
            Cond::Le => Cond::Gt,
            Cond::Gt => Cond::Le,
            Cond::Ge => Cond::Lt,
            Cond::Ltu => Cond::Geu,
            Cond::Leu => Cond::Gtu,
            Cond::Gtu => Cond::Leu,
            Cond::Geu => Cond::Ltu,
        }
    }
    /// Whether `a cond b` holds for 64-bit values.
    pub fn holds(self, a: i64, b: i64) -> bool {
        let (ua, ub) = (a as u64, b as u64);
        match self {
            Cond::Eq => a == b,
            Cond::Ne => a != b,
            Cond::Lt => a < b,
            Cond::Le => a <= b,
            Cond::Gt => a > b,
            Cond::Ge => a >= b,
            Cond::Ltu => ua < ub,
            Cond::Leu => ua <= ub,
            Cond::Gtu => ua > ub,
            Cond::Geu => ua >= ub,
        }
    }
}

/// The source of a string literal.
#[derive(Clone, Debug, PartialEq)]
pub enum StrSource {
    /// A data entry, with an explicit length or (None) the entry's size.
    Data(String, Option<u64>),
    /// A literal binary written in the instruction itself.
    Bytes(Vec<u8>),
}

/// `method_call`: `dst = TypeName__method(args)`.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodCall {
    pub dst: Reg,
    pub type_name: String,
    pub method: String,
    pub args: Vec<Src>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Inst {
    /// `mov` and `mov_imm`.
    Mov {
        dst: Dst,
        src: Operand,
    },
    Bin {
        op: BinOp,
        dst: Reg,
        a: Reg,
        b: Src,
    },
    Unary {
        op: UnOp,
        dst: Reg,
        src: Src,
    },
    Load {
        width: Width,
        dst: Reg,
        base: Reg,
        offset: i32,
    },
    Store {
        width: Width,
        base: Reg,
        offset: i32,
        src: Src,
    },
    /// The address of a data entry or of a function.
    Lea {
        dst: Reg,
        symbol: Symbol,
    },
    Cmp {
        a: Reg,
        b: Src,
    },
    Jmp(Label),
    Jcc(Cond, Label),
    Call(String),
    CallIndirect(Reg),
    Ret,
    Push(Src),
    Pop(Reg),
    Syscall,
    Label(Label),
    /// `comment` and `nop` (the comment text is dropped).
    Nop,
    Raw(Vec<u8>),
    PrintInt(Src),
    // ---- data types ----
    StringLit {
        dst: Reg,
        source: StrSource,
    },
    StringLen {
        dst: Reg,
        s: Reg,
    },
    StringCmp {
        dst: Reg,
        a: Reg,
        b: Reg,
    },
    StringConcat {
        dst: Reg,
        a: Reg,
        b: Reg,
    },
    PrintStr(Reg),
    IntToStr {
        dst: Reg,
        src: Src,
    },
    FloatToStr {
        dst: Reg,
        src: Src,
    },
    ArrayNew {
        dst: Reg,
        elem_size: i64,
        cap: i64,
    },
    ArrayGet {
        dst: Reg,
        arr: Reg,
        index: Src,
        elem_size: i64,
    },
    ArraySet {
        arr: Reg,
        index: Src,
        value: Src,
        elem_size: i64,
    },
    ArrayLen {
        dst: Reg,
        arr: Reg,
    },
    ArrayAppend {
        dst: Reg,
        arr: Reg,
        value: Src,
        elem_size: i64,
    },
    StructNew {
        dst: Reg,
        size: i64,
    },
    FieldGet {
        dst: Reg,
        s: Reg,
        offset: i64,
    },
    FieldSet {
        s: Reg,
        offset: i64,
        value: Src,
    },
    MapNew {
        dst: Reg,
    },
    MapPut {
        dst: Reg,
        map: Reg,
        key: Src,
        value: Src,
    },
    MapGet {
        dst: Reg,
        map: Reg,
        key: Src,
    },
    MapDelete {
        dst: Reg,
        map: Reg,
        key: Src,
    },
    FloatBin {
        op: FloatOp,
        dst: Reg,
        a: Src,
        b: Src,
    },
    IntToFloat {
        dst: Reg,
        src: Src,
    },
    FloatToInt {
        dst: Reg,
        src: Src,
    },
    PrintFloat(Src),
    /// Boxed: the one large instruction would make every instruction as large.
    MethodCall(Box<MethodCall>),
    // ---- internal (never decoded) ----
    /// Call `callee` with `args` in the argument registers and its result
    /// into `dst`, preserving every physical register the IR keeps live
    /// across it. Data-type instructions expand into these (see `expand`).
    CallWith {
        callee: String,
        args: Vec<Src>,
        dst: Option<Reg>,
    },
    /// dst := the square root of float `src`, correctly rounded (IEEE 754),
    /// for the runtime's `sqrt`.
    FloatSqrt {
        dst: Reg,
        src: Src,
    },
    /// Call the firmware function at the address in `function` with `args`
    /// in the firmware's argument registers (its calling convention, not
    /// the program's: see `os::firmware_args`) and its result into `dst`,
    /// preserving what `CallWith` preserves. The UEFI layer's primitives
    /// are written with these.
    CallFirmware {
        function: Reg,
        args: Vec<Src>,
        dst: Option<Reg>,
    },
    /// dst := the `width` bytes at `base + index * width.bytes()`,
    /// zero-extended: an array element the expansion checked.
    LoadElement {
        width: Width,
        dst: Reg,
        base: Reg,
        index: Reg,
    },
    /// The low `width` bytes of `src` stored at `base + index * width.bytes()`.
    StoreElement {
        width: Width,
        base: Reg,
        index: Reg,
        src: Src,
    },
    /// The 16 bytes at `src + src_offset` stored at `dst + dst_offset`, all
    /// read before any is written (the runtime's block moves: one vector
    /// register's load and store where words would take two of each).
    Copy16 {
        dst: Reg,
        dst_offset: i32,
        src: Reg,
        src_offset: i32,
    },
    /// dst := the frame pointer (rbp, x29): the address of the function's
    /// frame record, for the runtime's panics to name their callers.
    FramePointer {
        dst: Reg,
    },
    /// Never reached (follows a call that does not return): a terminator
    /// with no successors, lowered to a trapping instruction.
    Trap,
}

impl Inst {
    /// Whether control never falls through to the next instruction.
    pub fn is_terminator(&self) -> bool {
        matches!(self, Inst::Jmp(_) | Inst::Ret | Inst::Trap)
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reg::V(n) => write!(f, "v{n}"),
            Reg::P(p) => write!(f, "p{}", p.0),
        }
    }
}
