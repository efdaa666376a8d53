//! Every way a compilation can fail. Each variant maps one to one onto the
//! `{error, Reason}` term the Erlang API returns (see `erlang_reason`), and
//! names the function and instruction where that makes sense. Instruction
//! indices are 1-based, like `lists:nth/2`.

use thiserror::Error;

/// A failure to decode the IR term. `T` is the offending term, handed back to
/// the caller unchanged so the error shows exactly what was written.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DecodeError<T: std::fmt::Debug> {
    #[error("the IR module must be a map, got {0:?}")]
    InvalidModule(T),
    #[error("the IR module has no `{0}` key")]
    MissingKey(&'static str),
    #[error("invalid target {0:?} (expected x86_64 or arm64)")]
    InvalidTarget(T),
    #[error("invalid format {0:?} (expected elf64, macho or pe)")]
    InvalidFormat(T),
    #[error("invalid value for module key `{key}`: {term:?}")]
    InvalidField { key: &'static str, term: T },
    #[error("function number {index} is not a valid function map: {term:?}")]
    InvalidFunction { index: usize, term: T },
    #[error("function {function}: invalid value for key `{key}`: {term:?}")]
    InvalidFunctionField { function: String, key: &'static str, term: T },
    #[error("function {function}, instruction {index}: invalid instruction {term:?}")]
    InvalidInstruction { function: String, index: usize, term: T },
    #[error("invalid data or bss entry {0:?}")]
    InvalidData(T),
}

/// A failure after decoding: the module is well formed but means nothing
/// executable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CompileError {
    #[error("duplicate function {0}")]
    DuplicateFunction(String),
    #[error("the name {0} is reserved for the backend's own routines and data (prefix __vbeam_)")]
    ReservedName(String),
    #[error("duplicate data or bss name {0}")]
    DuplicateData(String),
    #[error("no entry point: the module has no function named {0}")]
    NoEntryPoint(String),
    #[error("function {function}: undefined label {label}")]
    UndefinedLabel { function: String, label: String },
    #[error("function {function}: label {label} is defined twice")]
    DuplicateLabel { function: String, label: String },
    #[error("function {function}, instruction {index}: {name} could mean any of {}", .candidates.join(", "))]
    AmbiguousCall { function: String, index: usize, name: String, candidates: Vec<String> },
    #[error("function {function}, instruction {index}: {name} needs files or streams, which {format} programs lack")]
    UnavailableBuiltin { function: String, index: usize, name: String, format: &'static str },
    #[error(
        "data entry {entry} holds the address of {name}, which needs files or streams, which {format} programs lack"
    )]
    UnavailableReference { entry: String, name: String, format: &'static str },
    #[error("unresolved symbols: {}", .0.join(", "))]
    UnresolvedSymbols(Vec<String>),
    #[error("data entry {entry} asks for alignment {align}; images of this format are loaded at any multiple of {max_align}")]
    UnsupportedAlignment { entry: String, align: u64, max_align: u64 },
    #[error("data entry {entry} holds the address of {name}, which is not defined")]
    UndefinedReference { entry: String, name: String },
    #[error("function {function}, instruction {index}: undefined data {name}")]
    UndefinedData { function: String, index: usize, name: String },
    #[error("function {function}, instruction {index}: register {register} is reserved by the backend")]
    ReservedRegister { function: String, index: usize, register: String },
    #[error("function {function}, instruction {index}: {reason}")]
    InvalidSyscall { function: String, index: usize, reason: String },
    #[error("function {function}, instruction {index}: {reason}")]
    InvalidOperand { function: String, index: usize, reason: String },
    #[error("function {function}, instruction {index}: jcc does not directly follow the cmp whose flags it tests")]
    JccWithoutCmp { function: String, index: usize },
    #[error("function {function}: {reason}")]
    InvalidFunction { function: String, reason: String },
    #[error("the program is too large: {0}")]
    TooLarge(String),
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error<T: std::fmt::Debug> {
    #[error(transparent)]
    Decode(#[from] DecodeError<T>),
    #[error(transparent)]
    Compile(#[from] CompileError),
}
