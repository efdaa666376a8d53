//! Erlang term → `ir::Module`, straight from the term (no text round trip).
//!
//! The decoder checks shapes only: every instruction has a known opcode and
//! operands of the kinds the spec allows. Whole-module facts (labels defined,
//! symbols resolved, an entry point) are `validate`'s job.

use std::collections::HashMap;

use crate::error::DecodeError;
use crate::ir::*;
use crate::regs;
use crate::term::{tagged, Term};

type Result<T, E> = std::result::Result<T, DecodeError<E>>;

/// Decodes a module term. `target`/`format`, when given, override the
/// module's own keys (and the module's keys may then be absent).
pub fn decode_module<T: Term + std::fmt::Debug>(
    term: &T,
    target: Option<Target>,
    format: Option<Format>,
) -> Result<Module, T> {
    if !term.is_map() {
        return Err(DecodeError::InvalidModule(term.clone()));
    }
    let get = |key: &'static str| term.map_get(key).flatten();
    let target = match target {
        Some(t) => t,
        None => {
            let t = get("target").ok_or(DecodeError::MissingKey("target"))?;
            t.atom()
                .and_then(|a| Target::from_name(&a))
                .ok_or(DecodeError::InvalidTarget(t))?
        }
    };
    let format = match format {
        Some(f) => f,
        None => {
            let f = get("format").ok_or(DecodeError::MissingKey("format"))?;
            f.atom()
                .and_then(|a| Format::from_name(&a))
                .ok_or(DecodeError::InvalidFormat(f))?
        }
    };
    let functions_term = get("functions").ok_or(DecodeError::MissingKey("functions"))?;
    let function_terms = functions_term
        .list()
        .ok_or_else(|| DecodeError::InvalidField { key: "functions", term: functions_term.clone() })?;
    let mut functions = Vec::with_capacity(function_terms.len());
    for (i, f) in function_terms.iter().enumerate() {
        functions.push(decode_function(f, i + 1, target)?);
    }
    let data = match get("data") {
        None => Vec::new(),
        Some(d) => list_of(&d, "data")?
            .into_iter()
            .map(|e| {
                symbol_entry(&e)
                    .and_then(|(name, align, bytes)| Some(DataEntry { name, align, bytes: bytes.bytes()?.to_vec() }))
                    .ok_or(DecodeError::InvalidData(e))
            })
            .collect::<Result<Vec<_>, T>>()?,
    };
    let bss = match get("bss") {
        None => Vec::new(),
        Some(b) => list_of(&b, "bss")?
            .into_iter()
            .map(|e| {
                symbol_entry(&e)
                    .and_then(|(name, align, size)| {
                        let size = size.int64_bits().filter(|s| *s >= 0)? as u64;
                        Some(BssEntry { name, align, size })
                    })
                    .ok_or(DecodeError::InvalidData(e))
            })
            .collect::<Result<Vec<_>, T>>()?,
    };
    let imports = match get("imports") {
        None => Vec::new(),
        Some(i) => list_of(&i, "imports")?
            .into_iter()
            .map(|e| {
                e.tuple()
                    .filter(|t| t.len() == 2)
                    .and_then(|t| {
                        let name = name_of(&t[0])?;
                        let arity = t[1].int64_bits().filter(|a| (0..=255).contains(a))? as u32;
                        Some((name, arity))
                    })
                    .ok_or_else(|| DecodeError::InvalidField { key: "imports", term: e.clone() })
            })
            .collect::<Result<Vec<_>, T>>()?,
    };
    let allow_stubs = match get("allow_stubs") {
        None => false,
        Some(a) => match a.atom().as_deref() {
            Some("true") => true,
            Some("false") => false,
            _ => return Err(DecodeError::InvalidField { key: "allow_stubs", term: a }),
        },
    };
    Ok(Module { target, format, functions, data, bss, imports, allow_stubs })
}

fn list_of<T: Term + std::fmt::Debug>(term: &T, key: &'static str) -> Result<Vec<T>, T> {
    term.list().ok_or_else(|| DecodeError::InvalidField { key, term: term.clone() })
}

/// `{Name, Align, Payload}` with a positive power-of-two alignment.
fn symbol_entry<T: Term>(term: &T) -> Option<(String, u64, T)> {
    let t = term.tuple().filter(|t| t.len() == 3)?;
    let name = name_of(&t[0])?;
    let align = t[1].int64_bits().filter(|a| *a > 0 && (*a as u64).is_power_of_two() && *a <= 1 << 16)?;
    Some((name, align as u64, t[2].clone()))
}

/// A name: a binary of UTF-8 text (atoms are accepted too).
fn name_of<T: Term>(term: &T) -> Option<String> {
    match term.bytes() {
        Some(b) => String::from_utf8(b.to_vec()).ok(),
        None => term.atom().map(String::from),
    }
}

pub fn decode_function<T: Term + std::fmt::Debug>(term: &T, index: usize, target: Target) -> Result<Function, T> {
    let invalid = || DecodeError::InvalidFunction { index, term: term.clone() };
    if !term.is_map() {
        return Err(invalid());
    }
    let name_term = term.map_get("name").flatten().ok_or_else(invalid)?;
    let name = name_of(&name_term).ok_or_else(invalid)?;
    let field = |key: &'static str| term.map_get(key).flatten();
    let field_error = |key: &'static str, t: T| DecodeError::InvalidFunctionField { function: name.clone(), key, term: t };

    let arity = match field("arity") {
        None => None,
        Some(a) => Some(a.int64_bits().filter(|n| (0..=255).contains(n)).ok_or_else(|| field_error("arity", a.clone()))? as u32),
    };
    let exported = match field("exported") {
        None => false,
        Some(e) => match e.atom().as_deref() {
            Some("true") => true,
            Some("false") => false,
            _ => return Err(field_error("exported", e)),
        },
    };
    let params = match field("params") {
        None => Vec::new(),
        Some(p) => {
            let items = p.list().ok_or_else(|| field_error("params", p.clone()))?;
            items
                .iter()
                .map(|r| reg(r, target).ok_or_else(|| field_error("params", r.clone())))
                .collect::<Result<Vec<_>, T>>()?
        }
    };
    let locals = match field("locals") {
        None => 0,
        Some(l) => l.int64_bits().filter(|n| (0..=u32::MAX as i64).contains(n)).ok_or_else(|| field_error("locals", l.clone()))? as u32,
    };
    let body_term = field("body").ok_or_else(|| field_error("body", name_term.clone()))?;
    let body_terms = body_term.list().ok_or_else(|| field_error("body", body_term.clone()))?;

    let mut labels = LabelTable::default();
    let mut body = Vec::with_capacity(body_terms.len());
    for (i, inst) in body_terms.iter().enumerate() {
        let decoded = decode_inst(inst, target, &mut labels).ok_or_else(|| DecodeError::InvalidInstruction {
            function: name.clone(),
            index: i + 1,
            term: inst.clone(),
        })?;
        body.push(decoded);
    }
    Ok(Function {
        name,
        arity: arity.unwrap_or(params.len() as u32),
        exported,
        params,
        locals,
        body,
        labels: labels.names,
    })
}

/// Interns label names into dense per-function indices.
#[derive(Default)]
struct LabelTable {
    index: HashMap<Vec<u8>, Label>,
    names: Vec<String>,
}

impl LabelTable {
    fn intern(&mut self, name: &[u8]) -> Option<Label> {
        if let Some(l) = self.index.get(name) {
            return Some(*l);
        }
        let text = String::from_utf8(name.to_vec()).ok()?;
        let label = Label(self.names.len() as u32);
        self.names.push(text);
        self.index.insert(name.to_vec(), label);
        Some(label)
    }
}

fn label<T: Term>(term: &T, labels: &mut LabelTable) -> Option<Label> {
    if let Some(b) = term.bytes() {
        return labels.intern(b);
    }
    let (tag, args) = tagged(term)?;
    match (tag.as_ref(), args.as_slice()) {
        ("label_ref", [name]) | ("label", [name]) => labels.intern(name.bytes()?),
        _ => None,
    }
}

/// Any operand of `{vreg, N}`, `{preg, Name}`, `{imm, I}`, `{stack, N}`,
/// from one look at the term.
fn operand<T: Term>(term: &T, target: Target) -> Option<Operand> {
    let (tag, args) = tagged(term)?;
    match (tag.as_ref(), args.as_slice()) {
        ("vreg", [n]) => {
            let n = n.int64_bits().filter(|n| (0..=u32::MAX as i64).contains(n))?;
            Some(Operand::Reg(Reg::V(n as u32)))
        }
        ("preg", [name]) => regs::preg_from_name(target, &name.atom()?).map(|p| Operand::Reg(Reg::P(p))),
        ("imm", [i]) => i.int64_bits().map(Operand::Imm),
        ("stack", [n]) => Some(Operand::Stack(n.int64_bits().filter(|n| (0..1 << 24).contains(n))? as u32)),
        _ => None,
    }
}

fn reg<T: Term>(term: &T, target: Target) -> Option<Reg> {
    match operand(term, target)? {
        Operand::Reg(r) => Some(r),
        _ => None,
    }
}

fn imm<T: Term>(term: &T) -> Option<i64> {
    let (tag, args) = tagged(term)?;
    match (tag.as_ref(), args.as_slice()) {
        ("imm", [i]) => i.int64_bits(),
        _ => None,
    }
}

fn src<T: Term>(term: &T, target: Target) -> Option<Src> {
    match operand(term, target)? {
        Operand::Reg(r) => Some(Src::Reg(r)),
        Operand::Imm(i) => Some(Src::Imm(i)),
        Operand::Stack(_) => None,
    }
}

/// A bare integer, or `{imm, I}`, where the spec writes a plain integer.
fn int<T: Term>(term: &T) -> Option<i64> {
    term.int64_bits().or_else(|| imm(term))
}

fn offset<T: Term>(term: &T) -> Option<i32> {
    int(term).and_then(|o| i32::try_from(o).ok())
}

/// `{imm, N}` (or a bare N) for sizes: non-negative and below 2^32.
fn size<T: Term>(term: &T) -> Option<i64> {
    int(term).filter(|n| (0..=u32::MAX as i64).contains(n))
}

fn data_ref<T: Term>(term: &T) -> Option<String> {
    let (tag, args) = tagged(term)?;
    match (tag.as_ref(), args.as_slice()) {
        ("data_ref", [name]) => name_of(name),
        _ => None,
    }
}

fn symbol<T: Term>(term: &T) -> Option<String> {
    if term.bytes().is_some() {
        return name_of(term);
    }
    let (tag, args) = tagged(term)?;
    match (tag.as_ref(), args.as_slice()) {
        ("sym", [name]) => name_of(name),
        _ => None,
    }
}

fn decode_inst<T: Term>(term: &T, target: Target, labels: &mut LabelTable) -> Option<Inst> {
    let (tag, a) = tagged(term)?;
    let r = |t: &T| reg(t, target);
    let s = |t: &T| src(t, target);
    let bin = |op: BinOp, a: &[T]| -> Option<Inst> {
        match a {
            [d, x, y] => Some(Inst::Bin { op, dst: r(d)?, a: r(x)?, b: s(y)? }),
            _ => None,
        }
    };
    let fbin = |op: FloatOp, a: &[T]| -> Option<Inst> {
        match a {
            [d, x, y] => Some(Inst::FloatBin { op, dst: r(d)?, a: s(x)?, b: s(y)? }),
            _ => None,
        }
    };
    let unary = |op: UnOp, a: &[T]| -> Option<Inst> {
        match a {
            [d, x] => Some(Inst::Unary { op, dst: r(d)?, src: s(x)? }),
            [d] => Some(Inst::Unary { op, dst: r(d)?, src: Src::Reg(r(d)?) }),
            _ => None,
        }
    };
    let inst = match (tag.as_ref(), a.as_slice()) {
        ("mov", [d, x]) => {
            let dst = match operand(d, target)? {
                Operand::Reg(reg) => Dst::Reg(reg),
                Operand::Stack(n) => Dst::Stack(n),
                Operand::Imm(_) => return None,
            };
            let src = operand(x, target)?;
            if matches!((dst, &src), (Dst::Stack(_), Operand::Stack(_))) {
                return None;
            }
            Inst::Mov { dst, src }
        }
        ("mov_imm", [d, i]) => Inst::Mov { dst: Dst::Reg(r(d)?), src: Operand::Imm(int(i)?) },
        ("add", a) => bin(BinOp::Add, a)?,
        ("sub", a) => bin(BinOp::Sub, a)?,
        ("mul", a) => bin(BinOp::Mul, a)?,
        ("and_", a) => bin(BinOp::And, a)?,
        ("or_", a) => bin(BinOp::Or, a)?,
        ("xor_", a) => bin(BinOp::Xor, a)?,
        ("sdiv", a) => bin(BinOp::Sdiv, a)?,
        ("srem", a) => bin(BinOp::Srem, a)?,
        ("shl", a) => bin(BinOp::Shl, a)?,
        ("shr", a) => bin(BinOp::Shr, a)?,
        ("sar", a) => bin(BinOp::Sar, a)?,
        ("neg", a) => unary(UnOp::Neg, a)?,
        ("not_", a) => unary(UnOp::Not, a)?,
        ("load", [d, b, o]) => Inst::Load { width: Width::W64, dst: r(d)?, base: r(b)?, offset: offset(o)? },
        ("load_byte", [d, b, o]) => Inst::Load { width: Width::W8, dst: r(d)?, base: r(b)?, offset: offset(o)? },
        ("store", [b, o, v]) => Inst::Store { width: Width::W64, base: r(b)?, offset: offset(o)?, src: s(v)? },
        ("store_byte", [b, o, v]) => Inst::Store { width: Width::W8, base: r(b)?, offset: offset(o)?, src: s(v)? },
        ("lea", [d, x]) => Inst::Lea { dst: r(d)?, symbol: data_ref(x)? },
        ("cmp", [x, y]) => Inst::Cmp { a: r(x)?, b: s(y)? },
        ("jmp", [l]) => Inst::Jmp(label(l, labels)?),
        ("jcc", [c, l]) => Inst::Jcc(Cond::from_name(&c.atom()?)?, label(l, labels)?),
        ("call", [f]) => Inst::Call(symbol(f)?),
        ("call_indirect", [x]) => Inst::CallIndirect(r(x)?),
        ("ret", []) => Inst::Ret,
        ("push", [x]) => Inst::Push(s(x)?),
        ("pop", [d]) => Inst::Pop(r(d)?),
        ("syscall", []) => Inst::Syscall,
        ("label", [l]) => Inst::Label(labels.intern(l.bytes()?)?),
        ("comment", [_]) | ("nop", []) => Inst::Nop,
        ("raw", [b]) => Inst::Raw(b.bytes()?.to_vec()),
        ("print_int", [x]) => Inst::PrintInt(s(x)?),
        ("string_lit", [d, x, len]) => {
            Inst::StringLit { dst: r(d)?, source: StrSource::Data(data_ref(x)?, Some(size(len)? as u64)) }
        }
        ("string_lit", [d, x]) => {
            let source = match x.bytes() {
                Some(b) => StrSource::Bytes(b.to_vec()),
                None => StrSource::Data(data_ref(x)?, None),
            };
            Inst::StringLit { dst: r(d)?, source }
        }
        ("string_len", [d, x]) => Inst::StringLen { dst: r(d)?, s: r(x)? },
        ("string_cmp", [d, x, y]) => Inst::StringCmp { dst: r(d)?, a: r(x)?, b: r(y)? },
        ("string_concat", [d, x, y]) => Inst::StringConcat { dst: r(d)?, a: r(x)?, b: r(y)? },
        ("print_str", [x]) => Inst::PrintStr(r(x)?),
        ("int_to_str", [d, x]) => Inst::IntToStr { dst: r(d)?, src: s(x)? },
        ("float_to_str", [d, x]) => Inst::FloatToStr { dst: r(d)?, src: s(x)? },
        ("array_new", [d, e, c]) => Inst::ArrayNew { dst: r(d)?, elem_size: elem_size(e)?, cap: size(c)? },
        ("array_get", [d, x, i, e]) => Inst::ArrayGet { dst: r(d)?, arr: r(x)?, index: s(i)?, elem_size: elem_size(e)? },
        ("array_set", [x, i, v, e]) => Inst::ArraySet { arr: r(x)?, index: s(i)?, value: s(v)?, elem_size: elem_size(e)? },
        ("array_len", [d, x]) => Inst::ArrayLen { dst: r(d)?, arr: r(x)? },
        ("array_append", [d, x, v, e]) => Inst::ArrayAppend { dst: r(d)?, arr: r(x)?, value: s(v)?, elem_size: elem_size(e)? },
        ("struct_new", [d, n]) => Inst::StructNew { dst: r(d)?, size: size(n)? },
        ("field_get", [d, x, o]) => Inst::FieldGet { dst: r(d)?, s: r(x)?, offset: field_offset(o)? },
        ("field_set", [x, o, v]) => Inst::FieldSet { s: r(x)?, offset: field_offset(o)?, value: s(v)? },
        ("map_new", [d]) => Inst::MapNew { dst: r(d)? },
        ("map_put", [d, m, k, v]) => Inst::MapPut { dst: r(d)?, map: r(m)?, key: s(k)?, value: s(v)? },
        ("map_get", [d, m, k]) => Inst::MapGet { dst: r(d)?, map: r(m)?, key: s(k)? },
        ("map_delete", [d, m, k]) => Inst::MapDelete { dst: r(d)?, map: r(m)?, key: s(k)? },
        ("fadd", a) => fbin(FloatOp::Add, a)?,
        ("fsub", a) => fbin(FloatOp::Sub, a)?,
        ("fmul", a) => fbin(FloatOp::Mul, a)?,
        ("fdiv", a) => fbin(FloatOp::Div, a)?,
        ("int_to_float", [d, x]) => Inst::IntToFloat { dst: r(d)?, src: s(x)? },
        ("float_to_int", [d, x]) => Inst::FloatToInt { dst: r(d)?, src: s(x)? },
        ("print_float", [x]) => Inst::PrintFloat(s(x)?),
        ("method_call", [d, t, m, args]) => Inst::MethodCall {
            dst: r(d)?,
            type_name: name_of(t)?,
            method: name_of(m)?,
            args: args.list()?.iter().map(s).collect::<Option<Vec<_>>>()?,
        },
        _ => return None,
    };
    Some(inst)
}

/// Element sizes the layouts support: 1, 2, 4 or 8 bytes.
fn elem_size<T: Term>(term: &T) -> Option<i64> {
    int(term).filter(|n| matches!(n, 1 | 2 | 4 | 8))
}

/// Field offsets: non-negative and below 2^31.
fn field_offset<T: Term>(term: &T) -> Option<i64> {
    int(term).filter(|n| (0..i32::MAX as i64).contains(n))
}
