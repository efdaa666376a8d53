//! Core errors as the `{error, Reason}` reasons of the Erlang API (one
//! clause per variant, no wildcard, so a new variant cannot go unmapped).

use rustler::{Atom, Encoder, Env, Term};
use vbeam_native_core::error::{CompileError, DecodeError, Error};
use vbeam_native_core::warnings::{Register, Warning};

fn atom<'a>(env: Env<'a>, name: &str) -> Term<'a> {
    Atom::from_str(env, name).expect("an atom name").encode(env)
}

pub fn bin<'a>(env: Env<'a>, s: &str) -> Term<'a> {
    let mut b = rustler::OwnedBinary::new(s.len());
    b.as_mut_slice().copy_from_slice(s.as_bytes());
    rustler::Binary::from_owned(b, env).encode(env)
}

/// The reason term of `e`; `erl` makes the terms an error holds (the
/// caller's own, or built from `.ir` text).
pub fn reason<'a, T: std::fmt::Debug>(env: Env<'a>, e: &Error<T>, erl: impl Fn(&T) -> Term<'a>) -> Term<'a> {
    let a = |n: &str| atom(env, n);
    let b = |s: &str| bin(env, s);
    match e {
        Error::Decode(d) => match d {
            DecodeError::InvalidModule(t) => (a("invalid_module"), erl(t)).encode(env),
            DecodeError::MissingKey(k) => (a("missing_key"), a(k)).encode(env),
            DecodeError::InvalidTarget(t) => (a("invalid_target"), erl(t)).encode(env),
            DecodeError::InvalidFormat(t) => (a("invalid_format"), erl(t)).encode(env),
            DecodeError::InvalidField { key, term } => (a("invalid_field"), a(key), erl(term)).encode(env),
            DecodeError::InvalidFunction { index, term } => (a("invalid_function"), index, erl(term)).encode(env),
            DecodeError::InvalidFunctionField { function, key, term } => {
                (a("invalid_function_field"), b(function), a(key), erl(term)).encode(env)
            }
            DecodeError::InvalidInstruction { function, index, term } => {
                (a("invalid_instruction"), b(function), index, erl(term)).encode(env)
            }
            DecodeError::InvalidData(t) => (a("invalid_data"), erl(t)).encode(env),
        },
        Error::Compile(c) => match c {
            CompileError::DuplicateFunction(n) => (a("duplicate_function"), b(n)).encode(env),
            CompileError::DuplicateData(n) => (a("duplicate_data"), b(n)).encode(env),
            CompileError::ReservedName(n) => (a("reserved_name"), b(n)).encode(env),
            CompileError::NoEntryPoint(n) => (a("no_entry_point"), b(n)).encode(env),
            CompileError::UndefinedLabel { function, label } => {
                (a("undefined_label"), b(function), b(label)).encode(env)
            }
            CompileError::DuplicateLabel { function, label } => {
                (a("duplicate_label"), b(function), b(label)).encode(env)
            }
            CompileError::AmbiguousCall { function, index, name, candidates } => {
                let list: Vec<Term> = candidates.iter().map(|n| b(n)).collect();
                (a("ambiguous_call"), b(function), index, b(name), list).encode(env)
            }
            CompileError::UnavailableBuiltin { function, index, name, format } => {
                (a("unavailable_builtin"), b(function), index, b(name), a(format)).encode(env)
            }
            CompileError::UnavailableReference { entry, name, format } => {
                (a("unavailable_reference"), b(entry), b(name), a(format)).encode(env)
            }
            CompileError::UnresolvedSymbols(names) => {
                let list: Vec<Term> = names.iter().map(|n| b(n)).collect();
                (a("unresolved_symbols"), list).encode(env)
            }
            CompileError::UnsupportedAlignment { entry, align, .. } => {
                (a("unsupported_alignment"), b(entry), align).encode(env)
            }
            CompileError::UndefinedReference { entry, name } => {
                (a("undefined_reference"), b(entry), b(name)).encode(env)
            }
            CompileError::UndefinedData { function, index, name } => {
                (a("undefined_data"), b(function), index, b(name)).encode(env)
            }
            CompileError::ReservedRegister { function, index, register } => {
                (a("reserved_register"), b(function), index, a(register)).encode(env)
            }
            CompileError::InvalidSyscall { function, index, reason } => {
                (a("invalid_syscall"), b(function), index, b(reason)).encode(env)
            }
            CompileError::InvalidOperand { function, index, reason } => {
                (a("invalid_operand"), b(function), index, b(reason)).encode(env)
            }
            CompileError::JccWithoutCmp { function, index } => (a("jcc_without_cmp"), b(function), index).encode(env),
            CompileError::InvalidFunction { function, reason } => {
                (a("invalid_function"), b(function), b(reason)).encode(env)
            }
            CompileError::TooLarge(reason) => (a("too_large"), b(reason)).encode(env),
        },
    }
}

/// The term of a warning: `{unwritten_read, Function, Index, Vreg}` or
/// `{cmp_with_itself, Function, Index, {vreg, N} | {preg, Name}}`.
pub fn warning<'a>(env: Env<'a>, w: &Warning) -> Term<'a> {
    match w {
        Warning::UnwrittenRead { function, index, vreg } => {
            (atom(env, "unwritten_read"), bin(env, function), index, vreg).encode(env)
        }
        Warning::CmpWithItself { function, index, reg } => {
            let reg = match reg {
                Register::Vreg(n) => (atom(env, "vreg"), n).encode(env),
                Register::Preg(name) => (atom(env, "preg"), atom(env, name)).encode(env),
            };
            (atom(env, "cmp_with_itself"), bin(env, function), index, reg).encode(env)
        }
    }
}
