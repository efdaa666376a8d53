//! Erlang term → `ir::Module`, straight from the term (no text round trip).
//!
//! The decoder checks shapes only: every instruction has a known opcode and
//! operands of the kinds the spec allows. Whole-module facts (labels defined,
//! symbols resolved, an entry point) are `validate`'s job.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::error::DecodeError;
use crate::ir::*;
use crate::regs;
use crate::term::{with_tagged_known, Atom, Term};

type Result<T, E> = std::result::Result<T, DecodeError<E>>;

/// Decodes a module term. `target`/`format`, when given, override the
/// module's own keys (and the module's keys may then be absent).
pub fn decode_module<T: Term + std::fmt::Debug>(
    term: &T,
    target: Option<Isa>,
    format: Option<Format>,
) -> Result<Module, T> {
    let mut outline = decode_outline(term, target, format)?;
    let mut functions = std::mem::take(&mut outline.module.functions);
    outline.bodies.decode_all(&mut functions)?;
    if let Some(e) = outline.header_error {
        return Err(e);
    }
    outline.module.functions = functions;
    Ok(outline.module)
}

/// A module decoded but for its functions' instructions.
pub struct Outline<T: Term + std::fmt::Debug> {
    /// The module, each function with an empty body.
    pub module: Module,
    pub bodies: Bodies<T>,
    /// The error of the first function whose fields do not decode (it is
    /// not in `module`); an error in the bodies before it comes first.
    pub header_error: Option<DecodeError<T>>,
}

/// Decodes a module term but for its functions' bodies: module keys first,
/// then each function's fields.
pub fn decode_outline<T: Term + std::fmt::Debug>(
    term: &T,
    target: Option<Isa>,
    format: Option<Format>,
) -> Result<Outline<T>, T> {
    if !term.is_map() {
        return Err(DecodeError::InvalidModule(*term));
    }
    let get = |key: Atom| term.map_get(key).flatten();
    let target = match target {
        Some(t) => t,
        None => {
            let t = get(Atom::Target).ok_or(DecodeError::MissingKey("target"))?;
            t.atom().and_then(|a| Isa::from_name(&a)).ok_or(DecodeError::InvalidTarget(t))?
        }
    };
    let format = match format {
        Some(f) => f,
        None => {
            let f = get(Atom::Format).ok_or(DecodeError::MissingKey("format"))?;
            f.atom().and_then(|a| Format::from_name(&a)).ok_or(DecodeError::InvalidFormat(f))?
        }
    };
    let functions_term = get(Atom::Functions).ok_or(DecodeError::MissingKey("functions"))?;
    let function_terms =
        functions_term.list().ok_or(DecodeError::InvalidField { key: "functions", term: functions_term })?;
    let mut functions = Vec::with_capacity(function_terms.len());
    let mut bodies = Vec::with_capacity(function_terms.len());
    let mut header_error = None;
    for (i, f) in function_terms.iter().enumerate() {
        match decode_header(f, i + 1, target) {
            Ok((function, body)) => {
                functions.push(function);
                bodies.push(body);
            }
            Err(e) => {
                header_error = Some(e);
                break;
            }
        }
    }
    let data = match get(Atom::Data) {
        None => Vec::new(),
        Some(d) => list_of(&d, "data")?
            .into_iter()
            .map(|e| {
                symbol_entry(&e)
                    .and_then(|(name, align, contents)| {
                        let (bytes, refs) = data_contents(&contents, align)?;
                        Some(DataEntry { name, align, bytes, refs })
                    })
                    .ok_or(DecodeError::InvalidData(e))
            })
            .collect::<Result<Vec<_>, T>>()?,
    };
    let bss = match get(Atom::Bss) {
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
    let imports = match get(Atom::Imports) {
        None => Vec::new(),
        Some(i) => list_of(&i, "imports")?
            .into_iter()
            .map(|e| {
                e.with_tuple(|t| match t {
                    [name, arity] => {
                        let arity = arity.int64_bits().filter(|a| (0..=255).contains(a))? as u32;
                        Some((name_of(name)?, arity))
                    }
                    _ => None,
                })
                .flatten()
                .ok_or(DecodeError::InvalidField { key: "imports", term: e })
            })
            .collect::<Result<Vec<_>, T>>()?,
    };
    let allow_stubs = match get(Atom::AllowStubs) {
        None => false,
        Some(a) => match a.known_atom() {
            Some(Atom::True) => true,
            Some(Atom::False) => false,
            _ => return Err(DecodeError::InvalidField { key: "allow_stubs", term: a }),
        },
    };
    let module = Module { isa: target, format, functions, data, bss, imports, allow_stubs };
    Ok(Outline { module, bodies: Bodies { terms: bodies, target, sources: false }, header_error })
}

/// The body terms of a module's functions, decoded a chunk at a time.
pub struct Bodies<T> {
    terms: Vec<T>,
    target: Isa,
    /// Whether to keep where each instruction is in the text (see
    /// `Function::sources`).
    pub sources: bool,
}

impl<T: Term + std::fmt::Debug> Bodies<T> {
    /// Decodes the bodies of `functions`, the module's functions from
    /// number `first` (from 0) on, at most `BODIES_WALKED_TOGETHER` of them
    /// for their lists to be walked together; fails with the first error.
    pub fn decode(&self, first: usize, functions: &mut [Function]) -> Result<(), T> {
        let terms = &self.terms[first..first + functions.len()];
        for ((function, body), items) in functions.iter_mut().zip(terms).zip(T::lists(terms)) {
            decode_body(function, *body, items, self.target, self.sources)?;
        }
        Ok(())
    }

    /// Decodes the body of `function`, the module's function number
    /// `index`, if it has at most `max` instructions; whether it did.
    pub fn decode_short(&self, index: usize, function: &mut Function, max: usize) -> bool {
        let body = self.terms[index];
        let Some(items) = body.list_up_to(max) else { return false };
        decode_body(function, body, Some(items), self.target, false).is_ok()
    }

    /// Decodes the bodies of `functions`, the module's first functions, a
    /// chunk at a time; fails with the first error.
    pub fn decode_all(&self, functions: &mut [Function]) -> Result<(), T> {
        for (chunk_index, chunk) in functions.chunks_mut(BODIES_WALKED_TOGETHER).enumerate() {
            self.decode(chunk_index * BODIES_WALKED_TOGETHER, chunk)?;
        }
        Ok(())
    }
}

fn list_of<T: Term + std::fmt::Debug>(term: &T, key: &'static str) -> Result<Vec<T>, T> {
    term.list().ok_or(DecodeError::InvalidField { key, term: *term })
}

/// `{Name, Align, Payload}` with a positive power-of-two alignment.
fn symbol_entry<T: Term>(term: &T) -> Option<(String, u64, T)> {
    term.with_tuple(|t| match t {
        [name, align, payload] => {
            let align = align.int64_bits().filter(|a| *a > 0 && (*a as u64).is_power_of_two() && *a <= 1 << 16)?;
            Some((name_of(name)?, align as u64, *payload))
        }
        _ => None,
    })?
}

/// A data entry's contents: a binary, or a list of binaries and absolute
/// addresses, 8 bytes each (`{data_ref, Name}`, `{data_ref, Name, Addend}`,
/// `{sym, Name}`), 8-byte aligned in an entry aligned to 8 at least.
fn data_contents<T: Term>(contents: &T, align: u64) -> Option<(Vec<u8>, Vec<DataRef>)> {
    if let Some(bytes) = contents.bytes() {
        return Some((bytes.to_vec(), Vec::new()));
    }
    let mut bytes = Vec::new();
    let mut refs = Vec::new();
    for part in contents.list()? {
        if let Some(b) = part.bytes() {
            bytes.extend_from_slice(b);
            continue;
        }
        let (symbol, addend) = with_tagged_known(&part, |tag, args| match (tag, args) {
            (Atom::DataRef, [name]) => Some((Symbol::Data(name_of(name)?), 0)),
            (Atom::DataRef, [name, addend]) => Some((Symbol::Data(name_of(name)?), addend.int64_bits()?)),
            (Atom::Sym, [name]) => Some((Symbol::Function(name_of(name)?), 0)),
            _ => None,
        })?;
        if align < ADDRESS_SIZE || !(bytes.len() as u64).is_multiple_of(ADDRESS_SIZE) {
            return None;
        }
        refs.push(DataRef { offset: bytes.len() as u64, symbol, addend });
        bytes.extend_from_slice(&[0; ADDRESS_SIZE as usize]);
    }
    Some((bytes, refs))
}

/// Bytes of an address stored in data.
const ADDRESS_SIZE: u64 = 8;

/// A name: a binary of UTF-8 text (atoms are accepted too).
fn name_of<T: Term>(term: &T) -> Option<String> {
    match term.bytes() {
        Some(b) => String::from_utf8(b.to_vec()).ok(),
        None => term.atom().map(String::from),
    }
}

/// Function bodies whose lists are walked together (see `Term::lists`):
/// enough to overlap the fetches of their cells, few enough that the
/// instructions the walk brings into cache are still there when decoded.
pub const BODIES_WALKED_TOGETHER: usize = 8;

/// Decodes one function term (the `index`th of its module, from 1).
pub fn decode_function<T: Term + std::fmt::Debug>(term: &T, index: usize, target: Isa) -> Result<Function, T> {
    let (mut function, body) = decode_header(term, index, target)?;
    decode_body(&mut function, body, body.list(), target, false)?;
    Ok(function)
}

/// A function's fields, with an empty body, and the body's term.
fn decode_header<T: Term + std::fmt::Debug>(term: &T, index: usize, target: Isa) -> Result<(Function, T), T> {
    let invalid = || DecodeError::InvalidFunction { index, term: *term };
    if !term.is_map() {
        return Err(invalid());
    }
    let name_term = term.map_get(Atom::Name).flatten().ok_or_else(invalid)?;
    let name = name_of(&name_term).ok_or_else(invalid)?;
    let field = |key: Atom| term.map_get(key).flatten();
    let field_error =
        |key: Atom, t: T| DecodeError::InvalidFunctionField { function: name.clone(), key: key.name(), term: t };

    let arity = match field(Atom::Arity) {
        None => None,
        Some(a) => {
            Some(a.int64_bits().filter(|n| (0..=255).contains(n)).ok_or_else(|| field_error(Atom::Arity, a))? as u32)
        }
    };
    let exported = match field(Atom::Exported) {
        None => false,
        Some(e) => match e.known_atom() {
            Some(Atom::True) => true,
            Some(Atom::False) => false,
            _ => return Err(field_error(Atom::Exported, e)),
        },
    };
    let params = match field(Atom::Params) {
        None => Vec::new(),
        Some(p) => {
            let items = p.list().ok_or_else(|| field_error(Atom::Params, p))?;
            items
                .iter()
                .map(|r| reg(r, target).ok_or_else(|| field_error(Atom::Params, *r)))
                .collect::<Result<Vec<_>, T>>()?
        }
    };
    let locals = match field(Atom::Locals) {
        None => 0,
        Some(l) => {
            l.int64_bits().filter(|n| (0..=u32::MAX as i64).contains(n)).ok_or_else(|| field_error(Atom::Locals, l))?
                as u32
        }
    };
    let body = field(Atom::Body).ok_or_else(|| field_error(Atom::Body, name_term))?;
    let arity = arity.unwrap_or(params.len() as u32);
    let function =
        Function { name, arity, exported, params, locals, body: Vec::new(), labels: Vec::new(), ..Default::default() };
    Ok((function, body))
}

/// Decodes a body's instructions, `items` being the body term as a list.
fn decode_body<T: Term + std::fmt::Debug>(
    function: &mut Function,
    body: T,
    items: Option<Vec<T>>,
    target: Isa,
    sources: bool,
) -> Result<(), T> {
    let items = items.ok_or_else(|| DecodeError::InvalidFunctionField {
        function: function.name.clone(),
        key: "body",
        term: body,
    })?;
    let mut labels = LabelTable::default();
    function.body.reserve_exact(items.len());
    for (i, inst) in items.iter().enumerate() {
        let decoded = decode_inst(inst, target, &mut labels).ok_or_else(|| DecodeError::InvalidInstruction {
            function: function.name.clone(),
            index: i + 1,
            term: *inst,
        })?;
        function.body.push(decoded);
    }
    if sources {
        // Each instruction is where it is written, until a `loc` names a
        // place, which holds until the next.
        let mut named = None;
        function.sources = items
            .iter()
            .zip(&function.body)
            .map(|(inst, decoded)| {
                // A `loc` decodes as a `nop`.
                if let Some(loc) = (*decoded == Inst::Nop).then(|| as_loc(inst)).flatten() {
                    named = Some(LOC_PLACE + function.locs.len() as u32);
                    function.locs.push(loc);
                    return NO_SOURCE;
                }
                let written = inst.text_offset().and_then(|at| u32::try_from(at).ok()).filter(|&at| at < LOC_PLACE);
                named.or(written).unwrap_or(NO_SOURCE)
            })
            .collect();
    }
    function.labels = labels.names;
    Ok(())
}

/// The place a `{loc, File, Line, Column}` instruction names, if `inst` is
/// one.
fn as_loc<T: Term>(inst: &T) -> Option<SourceLoc> {
    with_tagged_known(inst, |tag, a| match (tag, a) {
        (Atom::Loc, [file, line, column]) => source_loc(file, line, column),
        _ => None,
    })
}

fn source_loc<T: Term>(file: &T, line: &T, column: &T) -> Option<SourceLoc> {
    let number = |t: &T| t.int64_bits().and_then(|n| u32::try_from(n).ok());
    Some(SourceLoc {
        file: String::from_utf8_lossy(file.bytes()?).into_owned(),
        line: number(line)?,
        column: number(column)?,
    })
}

/// Interns label names into dense per-function indices.
#[derive(Default)]
struct LabelTable {
    index: HashMap<Vec<u8>, Label, BuildHasherDefault<Fnv1a>>,
    names: Vec<String>,
}

/// FNV-1a: label names are short and the table per function small, where
/// the default hasher's setup costs more than the hashing itself.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl LabelTable {
    fn intern(&mut self, name: &[u8]) -> Option<Label> {
        if let Some(l) = self.index.get(name) {
            return Some(*l);
        }
        // A label is any binary; its name in messages is its text.
        let text = String::from_utf8_lossy(name).into_owned();
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
    with_tagged_known(term, |tag, args| match (tag, args) {
        (Atom::LabelRef, [name]) | (Atom::Label, [name]) => labels.intern(name.bytes()?),
        _ => None,
    })
}

/// Any operand of `{vreg, N}`, `{preg, Name}`, `{imm, I}`, `{stack, N}`,
/// from one look at the term.
fn operand<T: Term>(term: &T, target: Isa) -> Option<Operand> {
    with_tagged_known(term, |tag, args| match (tag, args) {
        (Atom::Vreg, [n]) => {
            let n = n.int64_bits().filter(|n| (0..=u32::MAX as i64).contains(n))?;
            Some(Operand::Reg(Reg::V(n as u32)))
        }
        (Atom::Preg, [name]) => regs::preg_from_name(target, &name.atom()?).map(|p| Operand::Reg(Reg::P(p))),
        (Atom::Imm, [i]) => i.int64_bits().map(Operand::Imm),
        (Atom::Stack, [n]) => Some(Operand::Stack(n.int64_bits().filter(|n| (0..1 << 24).contains(n))? as u32)),
        _ => None,
    })
}

fn reg<T: Term>(term: &T, target: Isa) -> Option<Reg> {
    match operand(term, target)? {
        Operand::Reg(r) => Some(r),
        _ => None,
    }
}

fn imm<T: Term>(term: &T) -> Option<i64> {
    with_tagged_known(term, |tag, args| match (tag, args) {
        (Atom::Imm, [i]) => i.int64_bits(),
        _ => None,
    })
}

fn src<T: Term>(term: &T, target: Isa) -> Option<Src> {
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
    with_tagged_known(term, |tag, args| match (tag, args) {
        (Atom::DataRef, [name]) => name_of(name),
        _ => None,
    })
}

fn symbol<T: Term>(term: &T) -> Option<String> {
    if term.bytes().is_some() {
        return name_of(term);
    }
    with_tagged_known(term, |tag, args| match (tag, args) {
        (Atom::Sym, [name]) => name_of(name),
        _ => None,
    })
}

fn decode_inst<T: Term>(term: &T, target: Isa, labels: &mut LabelTable) -> Option<Inst> {
    with_tagged_known(term, |tag, a| decode_tagged(tag, a, target, labels))
}

fn decode_tagged<T: Term>(tag: Atom, a: &[T], target: Isa, labels: &mut LabelTable) -> Option<Inst> {
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
    let inst = match (tag, a) {
        (Atom::Mov, [d, x]) => {
            let dst = match operand(d, target)? {
                Operand::Reg(reg) => Dst::Reg(reg),
                Operand::Stack(n) => Dst::Stack(n),
                Operand::Imm(_) => return None,
            };
            Inst::Mov { dst, src: operand(x, target)? }
        }
        (Atom::MovImm, [d, i]) => Inst::Mov { dst: Dst::Reg(r(d)?), src: Operand::Imm(int(i)?) },
        (Atom::Add, a) => bin(BinOp::Add, a)?,
        (Atom::Sub, a) => bin(BinOp::Sub, a)?,
        (Atom::Mul, a) => bin(BinOp::Mul, a)?,
        (Atom::And, a) => bin(BinOp::And, a)?,
        (Atom::Or, a) => bin(BinOp::Or, a)?,
        (Atom::Xor, a) => bin(BinOp::Xor, a)?,
        (Atom::Sdiv, a) => bin(BinOp::Sdiv, a)?,
        (Atom::Srem, a) => bin(BinOp::Srem, a)?,
        (Atom::Shl, a) => bin(BinOp::Shl, a)?,
        (Atom::Shr, a) => bin(BinOp::Shr, a)?,
        (Atom::Sar, a) => bin(BinOp::Sar, a)?,
        (Atom::Neg, a) => unary(UnOp::Neg, a)?,
        (Atom::Not, a) => unary(UnOp::Not, a)?,
        (Atom::Load, [d, b, o]) => Inst::Load { width: Width::W64, dst: r(d)?, base: r(b)?, offset: offset(o)? },
        (Atom::LoadByte, [d, b, o]) => Inst::Load { width: Width::W8, dst: r(d)?, base: r(b)?, offset: offset(o)? },
        (Atom::Store, [b, o, v]) => Inst::Store { width: Width::W64, base: r(b)?, offset: offset(o)?, src: s(v)? },
        (Atom::StoreByte, [b, o, v]) => Inst::Store { width: Width::W8, base: r(b)?, offset: offset(o)?, src: s(v)? },
        (Atom::Lea, [d, x]) => {
            let function = |x: &T| {
                with_tagged_known(x, |tag, args| match (tag, args) {
                    (Atom::Sym, [name]) => name_of(name),
                    _ => None,
                })
            };
            let symbol = match data_ref(x) {
                Some(name) => Symbol::Data(name),
                None => Symbol::Function(function(x)?),
            };
            Inst::Lea { dst: r(d)?, symbol }
        }
        (Atom::Cmp, [x, y]) => Inst::Cmp { a: r(x)?, b: s(y)? },
        (Atom::Jmp, [l]) => Inst::Jmp(label(l, labels)?),
        (Atom::Jcc, [c, l]) => Inst::Jcc(Cond::from_name(&c.atom()?)?, label(l, labels)?),
        (Atom::Call, [f]) => Inst::Call(symbol(f)?),
        (Atom::CallIndirect, [x]) => Inst::CallIndirect(r(x)?),
        (Atom::Ret, []) => Inst::Ret,
        (Atom::Push, [x]) => Inst::Push(s(x)?),
        (Atom::Pop, [d]) => Inst::Pop(r(d)?),
        (Atom::Syscall, []) => Inst::Syscall,
        (Atom::Label, [l]) => Inst::Label(labels.intern(l.bytes()?)?),
        (Atom::Comment, [_]) | (Atom::Nop, []) => Inst::Nop,
        // Only a place for the debug information (see `decode_body`).
        (Atom::Loc, [file, line, column]) => source_loc(file, line, column).map(|_| Inst::Nop)?,
        // arm64 instructions are 4 bytes: other sizes would misalign the rest.
        (Atom::Raw, [b]) if target == Isa::Arm64 && !b.bytes()?.len().is_multiple_of(4) => return None,
        (Atom::Raw, [b]) => Inst::Raw(b.bytes()?.to_vec()),
        (Atom::PrintInt, [x]) => Inst::PrintInt(s(x)?),
        (Atom::StringLit, [d, x, len]) => {
            Inst::StringLit { dst: r(d)?, source: StrSource::Data(data_ref(x)?, Some(size(len)? as u64)) }
        }
        (Atom::StringLit, [d, x]) => {
            let source = match x.bytes() {
                Some(b) => StrSource::Bytes(b.to_vec()),
                None => StrSource::Data(data_ref(x)?, None),
            };
            Inst::StringLit { dst: r(d)?, source }
        }
        (Atom::StringLen, [d, x]) => Inst::StringLen { dst: r(d)?, s: r(x)? },
        (Atom::StringCmp, [d, x, y]) => Inst::StringCmp { dst: r(d)?, a: r(x)?, b: r(y)? },
        (Atom::StringConcat, [d, x, y]) => Inst::StringConcat { dst: r(d)?, a: r(x)?, b: r(y)? },
        (Atom::PrintStr, [x]) => Inst::PrintStr(r(x)?),
        (Atom::IntToStr, [d, x]) => Inst::IntToStr { dst: r(d)?, src: s(x)? },
        (Atom::FloatToStr, [d, x]) => Inst::FloatToStr { dst: r(d)?, src: s(x)? },
        (Atom::ArrayNew, [d, e, c]) => Inst::ArrayNew { dst: r(d)?, elem_size: elem_size(e)?, cap: size(c)? },
        (Atom::ArrayGet, [d, x, i, e]) => {
            Inst::ArrayGet { dst: r(d)?, arr: r(x)?, index: s(i)?, elem_size: elem_size(e)? }
        }
        (Atom::ArraySet, [x, i, v, e]) => {
            Inst::ArraySet { arr: r(x)?, index: s(i)?, value: s(v)?, elem_size: elem_size(e)? }
        }
        (Atom::ArrayLen, [d, x]) => Inst::ArrayLen { dst: r(d)?, arr: r(x)? },
        (Atom::ArrayAppend, [d, x, v, e]) => {
            Inst::ArrayAppend { dst: r(d)?, arr: r(x)?, value: s(v)?, elem_size: elem_size(e)? }
        }
        (Atom::StructNew, [d, n]) => Inst::StructNew { dst: r(d)?, size: size(n)? },
        (Atom::FieldGet, [d, x, o]) => Inst::FieldGet { dst: r(d)?, s: r(x)?, offset: field_offset(o)? },
        (Atom::FieldSet, [x, o, v]) => Inst::FieldSet { s: r(x)?, offset: field_offset(o)?, value: s(v)? },
        (Atom::MapNew, [d]) => Inst::MapNew { dst: r(d)? },
        (Atom::MapPut, [d, m, k, v]) => Inst::MapPut { dst: r(d)?, map: r(m)?, key: s(k)?, value: s(v)? },
        (Atom::MapGet, [d, m, k]) => Inst::MapGet { dst: r(d)?, map: r(m)?, key: s(k)? },
        (Atom::MapDelete, [d, m, k]) => Inst::MapDelete { dst: r(d)?, map: r(m)?, key: s(k)? },
        (Atom::Fadd, a) => fbin(FloatOp::Add, a)?,
        (Atom::Fsub, a) => fbin(FloatOp::Sub, a)?,
        (Atom::Fmul, a) => fbin(FloatOp::Mul, a)?,
        (Atom::Fdiv, a) => fbin(FloatOp::Div, a)?,
        (Atom::IntToFloat, [d, x]) => Inst::IntToFloat { dst: r(d)?, src: s(x)? },
        (Atom::FloatToInt, [d, x]) => Inst::FloatToInt { dst: r(d)?, src: s(x)? },
        (Atom::PrintFloat, [x]) => Inst::PrintFloat(s(x)?),
        (Atom::MethodCall, [d, t, m, args]) => Inst::MethodCall(Box::new(MethodCall {
            dst: r(d)?,
            type_name: name_of(t)?,
            method: name_of(m)?,
            args: args.list()?.iter().map(s).collect::<Option<Vec<_>>>()?,
        })),
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
