//! What a person needs to fix an error: for an instruction the decoder
//! refused, which part is wrong (the opcode, the number of operands, an
//! operand's kind, a register of the other instruction set, an
//! immediate's size); for any error, the term it is about (whose position
//! the text gives). Works on any `Term`: live terms and `.ir` text alike.
//!
//! The instruction forms below mirror `decode`; a test checks that this
//! module finds nothing wrong exactly when the decoder accepts.

use std::collections::HashMap;
use std::fmt::Debug;

use vbeam_native_core::error::{CompileError, DecodeError};
use vbeam_native_core::ir::{Cond, Isa};
use vbeam_native_core::regs;
use vbeam_native_core::term::{with_tagged_known, Atom, Term};
use vbeam_native_core::warnings::Warning;

/// The kinds of operand the IR's instruction forms take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `{vreg, N}` or `{preg, Name}`.
    Reg,
    /// A register or `{imm, I}`.
    Src,
    /// A register or `{stack, N}` (`mov`'s destination).
    MovDst,
    /// A register, `{imm, I}` or `{stack, N}` (`mov`'s source).
    MovSrc,
    /// An integer, bare or `{imm, I}`, of 64 bits.
    Int,
    /// An integer of 32 bits (memory offsets).
    Offset,
    /// An integer 0..2^32-1.
    Size,
    /// 1, 2, 4 or 8.
    ElemSize,
    /// An integer 0..2^31-2.
    FieldOffset,
    /// `{data_ref, Name}`.
    DataRef,
    /// `{data_ref, Name}` or `{sym, Name}` (`lea`).
    Address,
    /// A binary (the literal's bytes) or `{data_ref, Name}`.
    StrSource,
    /// A binary or `{label_ref, Name}`.
    Label,
    /// A binary (a label's name).
    LabelName,
    /// A binary (a source file's name, `loc`).
    FileName,
    /// A binary of whole instructions (`raw`).
    Code,
    /// A condition atom.
    Cond,
    /// `{sym, Name}` or a binary.
    Symbol,
    /// A binary or an atom.
    Name,
    /// Anything.
    Any,
    /// A list of sources.
    SrcList,
}

use Kind::*;

type Form = &'static [(Kind, &'static str)];

const BIN: &[Form] = &[&[(Reg, "Dst"), (Reg, "A"), (Src, "B")]];
const UNARY: &[Form] = &[&[(Reg, "Dst"), (Src, "Src")], &[(Reg, "R")]];
const LOAD: &[Form] = &[&[(Reg, "Dst"), (Reg, "Base"), (Offset, "Off")]];
const STORE: &[Form] = &[&[(Reg, "Base"), (Offset, "Off"), (Src, "Src")]];
const FBIN: &[Form] = &[&[(Reg, "Dst"), (Src, "A"), (Src, "B")]];
const CONVERT: &[Form] = &[&[(Reg, "Dst"), (Src, "Src")]];
const NONE: &[Form] = &[&[]];

/// Every opcode and its forms (operands after the opcode).
const OPCODES: &[(&str, &[Form])] = &[
    ("mov", &[&[(MovDst, "Dst"), (MovSrc, "Src")]]),
    ("mov_imm", &[&[(Reg, "Dst"), (Int, "Int")]]),
    ("add", BIN),
    ("sub", BIN),
    ("mul", BIN),
    ("and_", BIN),
    ("or_", BIN),
    ("xor_", BIN),
    ("sdiv", BIN),
    ("srem", BIN),
    ("shl", BIN),
    ("shr", BIN),
    ("sar", BIN),
    ("neg", UNARY),
    ("not_", UNARY),
    ("load", LOAD),
    ("load_byte", LOAD),
    ("store", STORE),
    ("store_byte", STORE),
    ("lea", &[&[(Reg, "Dst"), (Address, "{data_ref, Name} | {sym, Name}")]]),
    ("cmp", &[&[(Reg, "A"), (Src, "B")]]),
    ("jmp", &[&[(Label, "Label")]]),
    ("jcc", &[&[(Cond, "Cond"), (Label, "Label")]]),
    ("call", &[&[(Symbol, "{sym, Name}")]]),
    ("call_indirect", &[&[(Reg, "Reg")]]),
    ("ret", NONE),
    ("push", &[&[(Src, "Src")]]),
    ("pop", &[&[(Reg, "Dst")]]),
    ("syscall", NONE),
    ("label", &[&[(LabelName, "Name")]]),
    ("comment", &[&[(Any, "Text")]]),
    ("nop", NONE),
    ("loc", &[&[(FileName, "File"), (Size, "Line"), (Size, "Column")]]),
    ("raw", &[&[(Code, "Bytes")]]),
    ("print_int", &[&[(Src, "Src")]]),
    (
        "string_lit",
        &[&[(Reg, "Dst"), (DataRef, "{data_ref, Name}"), (Size, "Len")], &[(Reg, "Dst"), (StrSource, "Bytes")]],
    ),
    ("string_len", &[&[(Reg, "Dst"), (Reg, "S")]]),
    ("string_cmp", &[&[(Reg, "Dst"), (Reg, "A"), (Reg, "B")]]),
    ("string_concat", &[&[(Reg, "Dst"), (Reg, "A"), (Reg, "B")]]),
    ("print_str", &[&[(Reg, "S")]]),
    ("int_to_str", CONVERT),
    ("float_to_str", CONVERT),
    ("array_new", &[&[(Reg, "Dst"), (ElemSize, "{imm, ElemSize}"), (Size, "{imm, Cap}")]]),
    ("array_get", &[&[(Reg, "Dst"), (Reg, "Arr"), (Src, "Idx"), (ElemSize, "{imm, ElemSize}")]]),
    ("array_set", &[&[(Reg, "Arr"), (Src, "Idx"), (Src, "Val"), (ElemSize, "{imm, ElemSize}")]]),
    ("array_len", &[&[(Reg, "Dst"), (Reg, "Arr")]]),
    ("array_append", &[&[(Reg, "Dst"), (Reg, "Arr"), (Src, "Val"), (ElemSize, "{imm, ElemSize}")]]),
    ("struct_new", &[&[(Reg, "Dst"), (Size, "{imm, Size}")]]),
    ("field_get", &[&[(Reg, "Dst"), (Reg, "S"), (FieldOffset, "{imm, Off}")]]),
    ("field_set", &[&[(Reg, "S"), (FieldOffset, "{imm, Off}"), (Src, "Val")]]),
    ("map_new", &[&[(Reg, "Dst")]]),
    ("map_put", &[&[(Reg, "Dst"), (Reg, "Map"), (Src, "Key"), (Src, "Val")]]),
    ("map_get", &[&[(Reg, "Dst"), (Reg, "Map"), (Src, "Key")]]),
    ("map_delete", &[&[(Reg, "Dst"), (Reg, "Map"), (Src, "Key")]]),
    ("fadd", FBIN),
    ("fsub", FBIN),
    ("fmul", FBIN),
    ("fdiv", FBIN),
    ("int_to_float", CONVERT),
    ("float_to_int", CONVERT),
    ("print_float", &[&[(Src, "Src")]]),
    ("method_call", &[&[(Reg, "Dst"), (Name, "Type"), (Name, "Method"), (SrcList, "Args")]]),
];

/// Terms in messages are cut to this many characters.
const SHOWN: usize = 60;

fn show<T: Debug>(t: &T) -> String {
    let s = format!("{t:?}");
    match s.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s,
    }
}

/// What a term is, in words, with its text.
fn what<T: Term + Debug>(t: &T) -> String {
    let tagged = with_tagged_known(t, |tag, args| {
        let words = match (tag, args.len()) {
            (Atom::Vreg, 1) => "the virtual register",
            (Atom::Preg, 1) => "the register",
            (Atom::Imm, 1) => "the immediate",
            (Atom::Stack, 1) => "the stack slot",
            (Atom::DataRef, _) => "the data reference",
            (Atom::Sym, 1) => "the symbol",
            (Atom::LabelRef, 1) => "the label reference",
            _ => return None,
        };
        Some(words)
    });
    let words = match tagged {
        Some(w) => w,
        None if t.int64_bits().is_some() => "the integer",
        None if t.bytes().is_some() => "the binary",
        None if t.atom().is_some() => "the atom",
        None if t.with_tuple(|_| ()).is_some() => "the tuple",
        None if t.is_map() => "the map",
        None if t.list().is_some() => "the list",
        None => "",
    };
    if words.is_empty() {
        show(t)
    } else {
        format!("{words} {}", show(t))
    }
}

fn isa_name(isa: Isa) -> &'static str {
    match isa {
        Isa::X86_64 => "x86_64",
        Isa::Arm64 => "arm64",
    }
}

fn other(isa: Isa) -> Isa {
    match isa {
        Isa::X86_64 => Isa::Arm64,
        Isa::Arm64 => Isa::X86_64,
    }
}

/// A 64-bit integer term, or why not; `immediate`: whether it is the
/// integer of an `{imm, I}` (else a bare integer operand).
fn int64<T: Term + Debug>(t: &T, immediate: bool) -> Result<i64, String> {
    if let Some(v) = t.int64_bits() {
        return Ok(v);
    }
    let noun = if immediate { "the immediate" } else { "the integer" };
    if is_float(t) {
        let must = if immediate { "the immediate must be an integer" } else { "expected an integer" };
        return Err(format!("{must}, got the float {}", show(t)));
    }
    if t.atom().is_none() && t.bytes().is_none() && t.with_tuple(|_| ()).is_none() && !t.is_map() && t.list().is_none()
    {
        // An integer the 64 bits cannot hold.
        return Err(format!(
            "{noun} {} does not fit in 64 bits (-9223372036854775808 .. 18446744073709551615)",
            show(t)
        ));
    }
    let must = if immediate { "the immediate must be an integer" } else { "expected an integer" };
    Err(format!("{must}, got {}", what(t)))
}

/// An integer operand, bare or `{imm, I}`.
fn int_operand<T: Term + Debug>(t: &T) -> Result<i64, String> {
    let imm = with_tagged_known(t, |tag, args| match (tag, args) {
        (Atom::Imm, [i]) => Some(*i),
        _ => None,
    });
    match imm {
        Some(i) => int64(&i, true),
        None => int64(t, false),
    }
}

/// Whether a number `int64_bits` refused is a float. `Term` does not
/// say, and `TextTerm` (whose `kind` does) cannot be told apart here from
/// a live term: its text is read as `erl_scan` would, past parentheses,
/// a sign and spaces (`(1.5)`, `+1.5`, `- 2.5e3`). Only floats have a
/// '.' there: no integer (based or `$c`) has one.
fn is_float<T: Debug>(t: &T) -> bool {
    let text = format!("{t:?}");
    let number = text.trim_start_matches(|c: char| c == '(' || c == '+' || c == '-' || c.is_whitespace());
    number.starts_with(|c: char| c.is_ascii_digit()) && !number.contains('#') && number.contains('.')
}

/// A register operand, or why not.
fn register<T: Term + Debug>(t: &T, isa: Option<Isa>, role: &str) -> Result<(), String> {
    let expected = || format!("{role} must be a register ({{vreg, N}} or {{preg, Name}}), got {}", what(t));
    let checked = with_tagged_known(t, |tag, args| match (tag, args) {
        (Atom::Vreg, [n]) => Some(match n.int64_bits() {
            Some(v) if (0..=u32::MAX as i64).contains(&v) => Ok(()),
            _ => Err(format!("a vreg number is an integer 0..4294967295, got {}", show(n))),
        }),
        (Atom::Preg, [name]) => Some(match name.atom() {
            None => Err(format!("a preg names a register with an atom, got {}", what(name))),
            Some(name) => preg(&name, isa),
        }),
        _ => None,
    });
    checked.unwrap_or_else(|| Err(expected()))
}

fn preg(name: &str, isa: Option<Isa>) -> Result<(), String> {
    let valid = |isa: Isa| regs::preg_from_name(isa, name).is_some();
    match isa {
        Some(isa) if valid(isa) => Ok(()),
        Some(isa) if valid(other(isa)) => {
            Err(format!("{name} is a register of {}, and this module is for {}", isa_name(other(isa)), isa_name(isa)))
        }
        None if valid(Isa::X86_64) || valid(Isa::Arm64) => Ok(()),
        Some(isa) => Err(format!("unknown register {name} ({} registers: {})", isa_name(isa), register_names(isa))),
        None => Err(format!("unknown register {name}")),
    }
}

fn register_names(isa: Isa) -> &'static str {
    match isa {
        Isa::X86_64 => "rax rcx rdx rbx rsp rbp rsi rdi r8 … r15",
        Isa::Arm64 => "x0 … x30, sp, fp, lr",
    }
}

/// A name: a binary of UTF-8 text, or an atom.
fn name<T: Term + Debug>(t: &T, role: &str) -> Result<(), String> {
    match t.bytes() {
        Some(b) if std::str::from_utf8(b).is_ok() => Ok(()),
        Some(_) => Err(format!("{role} must be UTF-8 text, got {}", show(t))),
        None if t.atom().is_some() => Ok(()),
        None => Err(format!("{role} must be a binary (or an atom), got {}", what(t))),
    }
}

fn binary<T: Term + Debug>(t: &T, role: &str) -> Result<(), String> {
    match t.bytes() {
        Some(_) => Ok(()),
        None => Err(format!("{role} must be a binary, got {}", what(t))),
    }
}

fn tagged_one<T: Term>(t: &T, want: Atom) -> Option<T> {
    with_tagged_known(t, |tag, args| match args {
        [x] if tag == want => Some(*x),
        _ => None,
    })
}

/// Checks one operand of kind `kind`.
fn operand<T: Term + Debug>(kind: Kind, t: &T, isa: Option<Isa>, role: &str) -> Result<(), String> {
    let stack = |t: &T| -> Option<Result<(), String>> {
        let n = tagged_one(t, Atom::Stack)?;
        Some(match n.int64_bits() {
            Some(v) if (0..1 << 24).contains(&v) => Ok(()),
            _ => Err(format!("a stack slot number is an integer 0..16777215, got {}", show(&n))),
        })
    };
    let imm = |t: &T| -> Option<Result<(), String>> {
        let i = tagged_one(t, Atom::Imm)?;
        Some(int64(&i, true).map(|_| ()))
    };
    match kind {
        Reg => register(t, isa, role),
        Src => match imm(t) {
            Some(r) => r,
            None => register(t, isa, role).map_err(|e| {
                if e.ends_with(&what(t)) {
                    format!("{role} must be a register or an immediate {{imm, I}}, got {}", what(t))
                } else {
                    e
                }
            }),
        },
        MovDst => match stack(t) {
            Some(r) => r,
            None if imm(t).is_some() => Err(format!("{role} cannot be an immediate: a register or {{stack, N}}")),
            None => register(t, isa, role).map_err(|e| {
                if e.ends_with(&what(t)) {
                    format!("{role} must be a register or a stack slot {{stack, N}}, got {}", what(t))
                } else {
                    e
                }
            }),
        },
        MovSrc => match (stack(t), imm(t)) {
            (Some(r), _) | (_, Some(r)) => r,
            _ => register(t, isa, role).map_err(|e| {
                if e.ends_with(&what(t)) {
                    format!(
                        "{role} must be a register, an immediate {{imm, I}} or a stack slot {{stack, N}}, got {}",
                        what(t)
                    )
                } else {
                    e
                }
            }),
        },
        Int => int_operand(t).map(|_| ()),
        Offset => {
            let v = int_operand(t)?;
            i32::try_from(v).map(|_| ()).map_err(|_| format!("the offset {v} does not fit in 32 bits"))
        }
        Size => {
            let v = int_operand(t)?;
            if (0..=u32::MAX as i64).contains(&v) {
                Ok(())
            } else {
                Err(format!("{role} must be 0..4294967295, got {v}"))
            }
        }
        ElemSize => {
            let v = int_operand(t)?;
            if matches!(v, 1 | 2 | 4 | 8) {
                Ok(())
            } else {
                Err(format!("an element size is 1, 2, 4 or 8 bytes, got {v}"))
            }
        }
        FieldOffset => {
            let v = int_operand(t)?;
            if (0..i32::MAX as i64).contains(&v) {
                Ok(())
            } else {
                Err(format!("a field offset is 0..2147483646, got {v}"))
            }
        }
        DataRef => match with_tagged_known(t, |tag, args| match (tag, args) {
            (Atom::DataRef, [n]) => Some(*n),
            _ => None,
        }) {
            Some(n) => name(&n, "a data entry's name"),
            None => Err(format!("{role} must be a data reference {{data_ref, Name}}, got {}", what(t))),
        },
        StrSource => {
            if t.bytes().is_some() {
                Ok(())
            } else {
                operand(DataRef, t, isa, role)
                    .map_err(|_| format!("{role} must be a binary or {{data_ref, Name}}, got {}", what(t)))
            }
        }
        Label => {
            if t.bytes().is_some() {
                return Ok(());
            }
            let inner = with_tagged_known(t, |tag, args| match (tag, args) {
                (Atom::LabelRef | Atom::Label, [n]) => Some(*n),
                _ => None,
            });
            match inner {
                Some(n) => binary(&n, "a label"),
                None => Err(format!("a label is a binary (<<\"loop\">>) or {{label_ref, Name}}, got {}", what(t))),
            }
        }
        LabelName => binary(t, "a label's name"),
        FileName => binary(t, "a file's name"),
        Address => match with_tagged_known(t, |tag, args| match (tag, args) {
            (Atom::DataRef | Atom::Sym, [n]) => Some(*n),
            _ => None,
        }) {
            Some(n) => name(&n, "a name"),
            None => Err(format!("{role} must be {{data_ref, Name}} or {{sym, Name}}, got {}", what(t))),
        },
        Code => match t.bytes() {
            Some(b) if isa == Some(Isa::Arm64) && !b.len().is_multiple_of(4) => {
                Err(format!("arm64 instructions are 4 bytes each: {} bytes are not whole instructions", b.len()))
            }
            Some(_) => Ok(()),
            None => Err(format!("{role} must be a binary, got {}", what(t))),
        },
        Cond => match t.atom() {
            Some(a) if Cond::from_name(&a).is_some() => Ok(()),
            _ => Err(format!("unknown condition {} (expected eq, ne, lt, le, gt, ge, ltu, leu, gtu or geu)", show(t))),
        },
        Symbol => {
            if t.bytes().is_some() {
                return name(t, "a function's name");
            }
            match tagged_one(t, Atom::Sym) {
                Some(n) => name(&n, "a function's name"),
                None => Err(format!("{role} must be {{sym, Name}}, got {}", what(t))),
            }
        }
        Name => name(t, role),
        Any => Ok(()),
        SrcList => match t.list() {
            None => Err(format!("{role} must be a list of registers and immediates, got {}", what(t))),
            Some(items) => {
                for (k, item) in items.iter().enumerate() {
                    operand(Src, item, isa, &format!("argument {}", k + 1))?;
                }
                Ok(())
            }
        },
    }
}

/// Edit distance, for suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn forms_text(op: &str, forms: &[Form]) -> String {
    let mut forms = forms.to_vec();
    forms.sort_by_key(|f| f.len());
    let counts: Vec<String> = forms.iter().map(|f| f.len().to_string()).collect();
    let shapes: Vec<String> = forms
        .iter()
        .map(|f| {
            let mut s = format!("{{{op}");
            for (_, role) in f.iter() {
                s += ", ";
                s += role;
            }
            s + "}"
        })
        .collect();
    let n = counts.join(" or ");
    let plural = if forms.len() == 1 && forms[0].len() == 1 { "operand" } else { "operands" };
    format!("{op} takes {n} {plural}: {}", shapes.join(" or "))
}

/// What is wrong with an instruction the decoder refused, in words; `None`
/// if nothing is (the decoder would accept it). `isa`: the module's
/// instruction set, if known.
pub fn explain_instruction<T: Term + Debug>(term: &T, isa: Option<Isa>) -> Option<String> {
    let (opcode, args): (String, Vec<T>) = match term.with_tuple(|items| items.to_vec()) {
        Some(items) => match items.split_first() {
            None => return Some("an empty tuple is not an instruction".into()),
            Some((tag, rest)) => match tag.atom() {
                Some(a) => (a.into_owned(), rest.to_vec()),
                None => {
                    return Some(format!(
                        "an instruction is {{Opcode, Operand, …}} with an atom first, got {} first",
                        what(tag)
                    ))
                }
            },
        },
        None => match term.atom() {
            Some(a) => (a.into_owned(), Vec::new()),
            None => {
                return Some(format!(
                    "an instruction is a tuple {{Opcode, Operand, …}} or a bare opcode (ret, syscall, nop), got {}",
                    what(term)
                ))
            }
        },
    };
    let Some((_, forms)) = OPCODES.iter().find(|(name, _)| *name == opcode) else {
        if ["vreg", "preg", "imm", "stack", "data_ref", "sym", "label_ref"].contains(&opcode.as_str()) {
            return Some(format!("unknown opcode {opcode}: {{{opcode}, …}} is an operand, not an instruction"));
        }
        // Nearest first; of equals, one the opcode begins (and → and_).
        let closest =
            OPCODES.iter().map(|(name, _)| (distance(&opcode, name), !name.starts_with(opcode.as_str()), *name)).min();
        let hint = match closest {
            Some((d, _, name)) if d == 1 || (d == 2 && opcode.chars().count() >= 5) => {
                format!(" (did you mean {name}?)")
            }
            _ => String::new(),
        };
        return Some(format!("unknown opcode {opcode}{hint}"));
    };
    let Some(form) = forms.iter().find(|f| f.len() == args.len()) else {
        return Some(format!("{}, got {}", forms_text(&opcode, forms), args.len()));
    };
    for (k, ((kind, role), arg)) in form.iter().zip(&args).enumerate() {
        let role_text = format!("operand {} ({role}) of {opcode}", k + 1);
        if let Err(e) = operand(*kind, arg, isa, &role_text) {
            let e = if e.starts_with("operand ") { e } else { format!("{role_text}: {e}") };
            return Some(e);
        }
    }
    None
}

/// The function of `module` named `name` (the `nth` such, from 0).
fn function<T: Term>(module: &T, name: &str, nth: usize) -> Option<T> {
    module
        .map_get(Atom::Functions)??
        .list()?
        .into_iter()
        .filter(|f| f.map_get(Atom::Name).flatten().is_some_and(|n| name_is(&n, name)))
        .nth(nth)
}

fn name_is<T: Term>(t: &T, name: &str) -> bool {
    match t.bytes() {
        Some(b) => b == name.as_bytes(),
        None => t.atom().is_some_and(|a| a == name),
    }
}

fn body<T: Term>(f: &T) -> Option<Vec<T>> {
    f.map_get(Atom::Body)??.list()
}

/// Instruction `index` (from 1) of function `name`, or the function.
fn instruction<T: Term>(module: &T, name: &str, index: usize) -> Option<T> {
    let f = function(module, name, 0)?;
    body(&f).and_then(|b| b.get(index.checked_sub(1)?).copied()).or(Some(f))
}

/// The data and bss entries named `name` (in that order).
fn entries<T: Term>(module: &T, name: &str) -> Vec<T> {
    [Atom::Data, Atom::Bss]
        .iter()
        .filter_map(|key| module.map_get(*key).flatten()?.list())
        .flatten()
        .filter(|e| e.with_tuple(|items| items.first().is_some_and(|n| name_is(n, name))).unwrap_or(false))
        .collect()
}

/// Whether instruction `inst` names `label` (as a jump target).
fn jumps_to<T: Term>(inst: &T, label: &str) -> bool {
    with_tagged_known(inst, |tag, args| match tag {
        Atom::Jmp | Atom::Jcc => Some(args.iter().any(|a| {
            name_is(a, label) && a.bytes().is_some()
                || tagged_one(a, Atom::LabelRef).is_some_and(|n| name_is(&n, label))
        })),
        _ => None,
    })
    .unwrap_or(false)
}

fn defines_label<T: Term>(inst: &T, label: &str) -> bool {
    tagged_one(inst, Atom::Label).is_some_and(|n| name_is(&n, label))
}

/// Whether `inst` calls `name`.
fn calls<T: Term>(inst: &T, name: &str) -> bool {
    with_tagged_known(inst, |tag, args| match (tag, args) {
        (Atom::Call, [f]) => Some(name_is(f, name) || tagged_one(f, Atom::Sym).is_some_and(|n| name_is(&n, name))),
        (Atom::MethodCall, [_, ty, method, _]) => {
            let text =
                |t: &T| t.bytes().map(|b| String::from_utf8_lossy(b).into_owned()).or(t.atom().map(|a| a.into_owned()));
            Some(text(ty).zip(text(method)).is_some_and(|(t, m)| format!("{t}__{m}") == name))
        }
        _ => None,
    })
    .unwrap_or(false)
}

/// The term of `module` an error after decoding is about: the instruction,
/// function or data entry it names, the first use of an undefined label or
/// function, the second definition of a duplicate.
pub fn locate_compile_error<T: Term>(module: &T, error: &CompileError) -> Option<T> {
    use CompileError::*;
    let all_instructions = || -> Vec<T> {
        module
            .map_get(Atom::Functions)
            .flatten()
            .and_then(|fs| fs.list())
            .unwrap_or_default()
            .iter()
            .filter_map(body)
            .flatten()
            .collect()
    };
    match error {
        DuplicateFunction(name) => function(module, name, 1),
        ReservedName(name) => function(module, name, 0).or_else(|| entries(module, name).first().copied()),
        DuplicateData(name) => entries(module, name).get(1).copied(),
        NoEntryPoint(_) => module.map_get(Atom::Functions).flatten(),
        UndefinedLabel { function: f, label } => {
            let found = function(module, f, 0).and_then(|f| body(&f)?.into_iter().find(|i| jumps_to(i, label)));
            found.or_else(|| function(module, f, 0))
        }
        DuplicateLabel { function: f, label } => {
            let found =
                function(module, f, 0).and_then(|f| body(&f)?.into_iter().filter(|i| defines_label(i, label)).nth(1));
            found.or_else(|| function(module, f, 0))
        }
        UnresolvedSymbols(names) => {
            let name = names.first()?;
            all_instructions().into_iter().find(|i| calls(i, name))
        }
        UnsupportedAlignment { entry, .. } | UndefinedReference { entry, .. } | UnavailableReference { entry, .. } => {
            entries(module, entry).first().copied()
        }
        UndefinedData { function: f, index, .. }
        | ReservedRegister { function: f, index, .. }
        | InvalidSyscall { function: f, index, .. }
        | InvalidOperand { function: f, index, .. }
        | AmbiguousCall { function: f, index, .. }
        | UnavailableBuiltin { function: f, index, .. }
        | JccWithoutCmp { function: f, index } => instruction(module, f, *index),
        InvalidFunction { function: f, .. } => function(module, f, 0),
        TooLarge(_) => None,
    }
}

/// The instruction a warning is about.
/// The instructions `warnings` are about, in one pass over the module's
/// functions (each function's body read once, however many warnings it
/// has): `None` for one whose function or instruction is not there.
pub fn locate_warnings<T: Term>(module: &T, warnings: &[Warning]) -> Vec<Option<T>> {
    let place = |w: &Warning| match w {
        Warning::UnwrittenRead { function, index, .. } | Warning::CmpWithItself { function, index, .. } => {
            (function.clone(), *index)
        }
    };
    let mut wanted: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
    for (k, w) in warnings.iter().enumerate() {
        let (function, index) = place(w);
        wanted.entry(function).or_default().push((k, index));
    }
    let mut found = vec![None; warnings.len()];
    let functions = module.map_get(Atom::Functions).flatten().and_then(|fs| fs.list()).unwrap_or_default();
    for f in functions {
        let Some(name) = f.map_get(Atom::Name).flatten().and_then(|n| name_text(&n)) else { continue };
        let Some(these) = wanted.remove(&name) else { continue };
        let body = body(&f).unwrap_or_default();
        for (k, index) in these {
            found[k] = index.checked_sub(1).and_then(|i| body.get(i)).copied();
        }
    }
    found
}

/// A function's name as the decoder reads it: a binary's text or an atom.
fn name_text<T: Term>(t: &T) -> Option<String> {
    match t.bytes() {
        Some(b) => std::str::from_utf8(b).ok().map(String::from),
        None => t.atom().map(|a| a.into_owned()),
    }
}

/// The term a decoding error is about.
pub fn locate_decode_error<T: Term + Debug>(module: &T, error: &DecodeError<T>) -> Option<T> {
    use DecodeError::*;
    Some(match error {
        InvalidModule(t) | InvalidTarget(t) | InvalidFormat(t) | InvalidData(t) => *t,
        MissingKey(_) => *module,
        InvalidField { term, .. }
        | InvalidFunction { term, .. }
        | InvalidFunctionField { term, .. }
        | InvalidInstruction { term, .. } => *term,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse, Document};
    use vbeam_native_core::decode::decode_function;

    fn explain(text: &str, isa: Isa) -> Option<String> {
        let text = format!("{text}.");
        let d = Document::parse(text.as_bytes()).unwrap();
        let t = d.terms()[0];
        explain_instruction(&t, Some(isa))
    }

    #[test]
    fn says_what_is_wrong() {
        let x = Isa::X86_64;
        let cases = [
            ("{frobnicate, {vreg, 0}}", "unknown opcode frobnicate"),
            ("{'and', {vreg, 0}, {vreg, 0}, {imm, 1}}", "unknown opcode and (did you mean and_?)"),
            ("{add, {vreg, 0}, {imm, 1}}", "add takes 3 operands: {add, Dst, A, B}, got 2"),
            ("{add, {vreg, 0}, {imm, 1}, {vreg, 1}}", "operand 2 (A) of add must be a register ({vreg, N} or {preg, Name}), got the immediate {imm, 1}"),
            ("{mov, {preg, x0}, {imm, 1}}", "operand 1 (Dst) of mov: x0 is a register of arm64, and this module is for x86_64"),
            ("{mov, {preg, foo}, {imm, 1}}", "operand 1 (Dst) of mov: unknown register foo (x86_64 registers"),
            ("{mov_imm, {vreg, 0}, 1180591620717411303424}", "operand 2 (Int) of mov_imm: the integer 1180591620717411303424 does not fit in 64 bits"),
            ("{mov, {vreg, 0}, {imm, -18446744073709551616}}", "the immediate -18446744073709551616 does not fit in 64 bits"),
            ("{mov, {vreg, 0}, {imm, 1.5}}", "the immediate must be an integer, got the float 1.5"),
            ("{mov_imm, {vreg, 0}, (1.5)}", "operand 2 (Int) of mov_imm: expected an integer, got the float (1.5)"),
            ("{mov_imm, {vreg, 0}, +1.5}", "operand 2 (Int) of mov_imm: expected an integer, got the float +1.5"),
            ("{mov, {vreg, 0}, {imm, (2.5e3)}}", "the immediate must be an integer, got the float (2.5e3)"),
            ("{jcc, always, <<\"l\">>}", "unknown condition always"),
            ("{array_new, {vreg, 0}, {imm, 3}, {imm, 4}}", "an element size is 1, 2, 4 or 8 bytes, got 3"),
            ("{neg, {vreg, 0}, {vreg, 1}, {vreg, 2}}", "neg takes 1 or 2 operands: {neg, R} or {neg, Dst, Src}, got 3"),
            ("[ret]", "an instruction is a tuple {Opcode, Operand, …} or a bare opcode (ret, syscall, nop), got the list [ret]"),
            ("{mov, {imm, 1}, {vreg, 0}}", "operand 1 (Dst) of mov cannot be an immediate"),
            ("{vreg, 1}", "unknown opcode vreg"),
            ("add", "add takes 3 operands: {add, Dst, A, B}, got 0"),
            ("{call, foo}", "operand 1 ({sym, Name}) of call must be {sym, Name}, got the atom foo"),
            ("{method_call, {vreg, 0}, <<\"T\">>, <<\"m\">>, [{vreg, 1}, {stack, 2}]}", "argument 2 must be a register or an immediate {imm, I}, got the stack slot {stack, 2}"),
        ];
        for (text, expected) in cases {
            let got = explain(text, x).unwrap_or_else(|| panic!("{text}: nothing wrong?"));
            assert!(got.contains(expected), "{text}:\n got      {got}\n expected {expected}");
        }
        assert_eq!(explain("{mov, {preg, rax}, {imm, 1}}", x), None);
        assert_eq!(explain("ret", x), None);
    }

    /// The forms here and the decoder's agree: on many instructions built
    /// from every opcode and a pool of operands, nothing is found wrong
    /// exactly when the decoder accepts.
    #[test]
    fn agrees_with_the_decoder() {
        let operands = [
            "{vreg, 1}",
            "{vreg, -1}",
            "{vreg, 4294967296}",
            "{preg, rax}",
            "{preg, x1}",
            "{preg, sp}",
            "{preg, nope}",
            "{imm, 5}",
            "{imm, 18446744073709551615}",
            "{imm, 18446744073709551616}",
            "{imm, -9223372036854775809}",
            "{imm, 1.0}",
            "{imm, 8}",
            "{imm, 0}",
            "{imm, -1}",
            "{imm, 2147483647}",
            "{stack, 3}",
            "{stack, 16777216}",
            "7",
            "-2147483649",
            "<<\"lbl\">>",
            "<<255>>",
            "{label_ref, <<\"x\">>}",
            "{data_ref, <<\"d\">>}",
            "{data_ref, d}",
            "{sym, <<\"f\">>}",
            "{sym, f}",
            "<<1,2,3,4>>",
            "eq",
            "geu",
            "foo",
            "[{vreg, 1}, {imm, 2}]",
            "[{stack, 1}]",
            "[]",
            "\"str\"",
            "{}",
            "#{}",
        ];
        let mut checked = 0;
        for isa in [Isa::X86_64, Isa::Arm64] {
            for (op, forms) in OPCODES {
                let max = forms.iter().map(|f| f.len()).max().unwrap_or(0);
                for arity in 0..=max + 1 {
                    // Operands drawn from the pool by a simple walk.
                    for seed in 0..60usize {
                        let args: Vec<&str> =
                            (0..arity).map(|k| operands[(seed * 7 + k * 13 + seed / 5 * k) % operands.len()]).collect();
                        let text = if args.is_empty() {
                            format!("{{{op}}}")
                        } else {
                            format!("{{{op}, {}}}", args.join(", "))
                        };
                        let inst = parse(&format!("{text}.")).unwrap();
                        let function = parse(&format!(
                            "#{{name => <<\"f\">>, arity => 0, exported => false, params => [], locals => 0, body => [{text}]}}."
                        ))
                        .unwrap();
                        let decoded = decode_function(&&function, 1, isa).is_ok();
                        let explained = explain_instruction(&&inst, Some(isa));
                        assert_eq!(
                            decoded,
                            explained.is_none(),
                            "{text} on {isa:?}: decoder ok = {decoded}, explanation {explained:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 10_000);
    }
}
