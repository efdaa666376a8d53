//! Rewrites the data-type instructions into the integer IR plus calls of
//! runtime routines (`Inst::CallWith`), before register allocation, so both
//! targets share one definition of every data structure. What stays for the
//! lowerers is the integer IR, `CallWith`, and the float arithmetic.
//!
//! Layouts (spec): string `{ptr, len}`, array `{ptr, len, cap}`, map
//! `{entries, len, cap}` with 16-byte `{key, value}` entries.

use std::collections::{HashMap, HashSet};

use crate::ir::*;
use crate::runtime as rt;
use crate::validate::method_symbol;

const STRING_LEN: i32 = 8;
const ARRAY_PTR: i32 = 0;
const ARRAY_LEN: i32 = 8;
const ARRAY_CAP: i32 = 16;
const MAP_HEADER_SIZE: i64 = 24;

/// The data entries a function's string literals need, named uniquely in
/// the module.
#[derive(Debug, Default)]
pub struct Literals {
    /// Bytes written in the instructions themselves (read-only).
    pub bytes: Vec<DataEntry>,
    /// The literals' string headers, `{ptr, len}`: writable data, as only
    /// that may hold addresses (which loaders may relocate). Nothing
    /// writes them: a string is never changed once made.
    pub headers: Vec<DataEntry>,
}

/// Expands function number `index` of its module in place, given the
/// sizes of the module's data and bss entries by name; returns the data
/// entries its string literals need.
pub fn expand_function(f: &mut Function, index: usize, data_sizes: &HashMap<String, u64>) -> Literals {
    if !needed(f) {
        return Literals::default();
    }
    let mut max_vreg = f.params.iter().filter_map(|r| if let Reg::V(v) = r { Some(*v) } else { None }).max();
    for inst in &f.body {
        crate::operands::for_each_reg(inst, |r, _| {
            if let Reg::V(v) = r {
                max_vreg = max_vreg.max(Some(v));
            }
        });
    }
    // Fresh vregs follow the largest; where numbers that high are used
    // (any u32 is a vreg), they may run past u32::MAX and go on from 0,
    // skipping the numbers the function uses.
    let taken = max_vreg.filter(|v| *v >= u32::MAX / 2).map(|_| {
        let mut taken = HashSet::new();
        f.params.iter().copied().chain(f.body.iter().flat_map(regs_of)).for_each(|r| {
            if let Reg::V(v) = r {
                taken.insert(v);
            }
        });
        taken
    });
    let body = std::mem::take(&mut f.body);
    let mut x = Expander {
        function_index: index,
        data_sizes,
        literals: Literals::default(),
        headers: HashMap::new(),
        labels: std::mem::take(&mut f.labels),
        next_vreg: max_vreg.map_or(0, |v| v.wrapping_add(1)),
        taken,
        out: Vec::with_capacity(body.len() * 2),
        out_of_line: Vec::new(),
    };
    // What an instruction expands into, here and out of line, is where it
    // is.
    let sources = std::mem::take(&mut f.sources);
    let (mut out_sources, mut out_of_line_sources) = (Vec::new(), Vec::new());
    for (k, inst) in body.into_iter().enumerate() {
        x.expand(inst);
        if let Some(&source) = sources.get(k) {
            out_sources.resize(x.out.len(), source);
            out_of_line_sources.resize(x.out_of_line.len(), source);
        }
    }
    if !x.out_of_line.is_empty() {
        // A body whose end is reached returns there: it still does, past
        // the blocks added after it.
        let end_reached = !matches!(x.out.last(), Some(Inst::Ret | Inst::Jmp(_) | Inst::Trap));
        let end = end_reached.then(|| x.label());
        x.out.extend(end.map(Inst::Jmp));
        x.out.append(&mut x.out_of_line);
        x.out.extend(end.map(Inst::Label));
        if !sources.is_empty() {
            out_sources.extend(end.map(|_| NO_SOURCE));
            out_sources.append(&mut out_of_line_sources);
            out_sources.extend(end.map(|_| NO_SOURCE));
        }
    }
    f.body = x.out;
    f.sources = out_sources;
    f.labels = x.labels;
    x.literals
}

/// Whether expanding the function changes it.
pub fn needed(f: &Function) -> bool {
    f.body.iter().any(needs_expansion)
}

fn needs_expansion(inst: &Inst) -> bool {
    !matches!(
        inst,
        Inst::Mov { .. }
            | Inst::Bin { .. }
            | Inst::Unary { .. }
            | Inst::Load { .. }
            | Inst::Store { .. }
            | Inst::Lea { .. }
            | Inst::Cmp { .. }
            | Inst::Jmp(_)
            | Inst::Jcc(..)
            | Inst::Call(_)
            | Inst::CallIndirect(_)
            | Inst::Ret
            | Inst::Push(_)
            | Inst::Pop(_)
            | Inst::Syscall
            | Inst::Label(_)
            | Inst::Nop
            | Inst::Raw(_)
            | Inst::FloatBin { .. }
            | Inst::IntToFloat { .. }
            | Inst::FloatToInt { .. }
            | Inst::CallWith { .. }
            | Inst::CallFirmware { .. }
            | Inst::FloatSqrt { .. }
            | Inst::LoadElement { .. }
            | Inst::StoreElement { .. }
            | Inst::Trap
    )
}

/// Where an array element is: the element pointer plus a constant byte
/// offset, or plus an index scaled by the element size.
#[derive(Clone, Copy)]
enum Element {
    At(Reg, i32),
    Indexed(Reg, Reg),
}

struct Expander<'a> {
    function_index: usize,
    data_sizes: &'a HashMap<String, u64>,
    literals: Literals,
    /// The header made for each literal (bytes, length), by name.
    headers: HashMap<(String, u64), String>,
    labels: Vec<String>,
    next_vreg: u32,
    /// The function's vregs, when fresh ones may wrap around to them.
    taken: Option<HashSet<u32>>,
    out: Vec<Inst>,
    /// Rarely taken blocks, placed after the body: each is entered by a
    /// branch and jumps back.
    out_of_line: Vec<Inst>,
}

/// The registers an instruction names.
fn regs_of(inst: &Inst) -> Vec<Reg> {
    let mut regs = Vec::new();
    crate::operands::for_each_reg(inst, |r, _| regs.push(r));
    regs
}

impl Expander<'_> {
    fn vreg(&mut self) -> Reg {
        loop {
            let v = self.next_vreg;
            self.next_vreg = v.wrapping_add(1);
            if !self.taken.as_ref().is_some_and(|t| t.contains(&v)) {
                return Reg::V(v);
            }
        }
    }
    fn label(&mut self) -> Label {
        self.labels.push(format!("__vbeam_l{}", self.labels.len()));
        Label(self.labels.len() as u32 - 1)
    }
    fn call(&mut self, callee: &str, args: Vec<Src>, dst: Option<Reg>) {
        self.out.push(Inst::CallWith { callee: callee.into(), args, dst });
    }
    /// `src` in a register (constants are moved into a fresh vreg).
    fn reg(&mut self, src: Src) -> Reg {
        match src {
            Src::Reg(r) => r,
            Src::Imm(i) => {
                let r = self.vreg();
                self.out.push(Inst::Mov { dst: Dst::Reg(r), src: Operand::Imm(i) });
                r
            }
        }
    }
    fn load(&mut self, dst: Reg, base: Reg, offset: i32) {
        self.out.push(Inst::Load { width: Width::W64, dst, base, offset });
    }

    /// Checks `index <u limit(arr)` (limit = the word at `limit_offset`),
    /// panicking otherwise; returns where element `index` is. The panic
    /// path ends in a `Trap`, so no value is live across its call and the
    /// check costs the allocator nothing.
    fn element(&mut self, arr: Reg, index: Src, elem_size: i64, limit_offset: i32) -> Element {
        let limit = self.vreg();
        self.load(limit, arr, limit_offset);
        let idx = self.reg(index);
        let ok = self.label();
        self.out.push(Inst::Cmp { a: idx, b: Src::Reg(limit) });
        self.out.push(Inst::Jcc(Cond::Ltu, ok));
        let len = self.vreg();
        self.load(len, arr, ARRAY_LEN);
        self.call(rt::INDEX_PANIC, vec![Src::Reg(idx), Src::Reg(len)], None);
        self.out.push(Inst::Trap);
        self.out.push(Inst::Label(ok));
        let ptr = self.vreg();
        self.load(ptr, arr, ARRAY_PTR);
        if let Src::Imm(i) = index {
            if let Some(offset) = i.checked_mul(elem_size).and_then(|o| i32::try_from(o).ok()) {
                return Element::At(ptr, offset);
            }
        }
        Element::Indexed(ptr, idx)
    }

    /// The name of the string header of the `len` bytes at data entry
    /// `bytes`, made once per function: a literal's string is the same
    /// every time it is evaluated, and strings are never changed.
    fn literal_header(&mut self, bytes: String, len: u64) -> String {
        let headers = &mut self.literals.headers;
        let name = format!("__vbeam_str{}_{}", self.function_index, headers.len());
        self.headers
            .entry((bytes, len))
            .or_insert_with_key(|(bytes, len)| {
                let mut contents = vec![0; 8];
                contents.extend_from_slice(&len.to_le_bytes());
                let refs = vec![DataRef { offset: 0, symbol: Symbol::Data(bytes.clone()), addend: 0 }];
                headers.push(DataEntry { name: name.clone(), align: 8, bytes: contents, refs });
                name
            })
            .clone()
    }

    /// Appends `value`: in place while there is room; otherwise the
    /// runtime grows the buffer, in a block placed after the body (see
    /// `out_of_line`), so the usual case falls through.
    fn append(&mut self, arr: Reg, value: Src, elem_size: i64) {
        let width = Width::of_size(elem_size);
        let (len, cap) = (self.vreg(), self.vreg());
        self.load(len, arr, ARRAY_LEN);
        self.load(cap, arr, ARRAY_CAP);
        let (full, appended) = (self.label(), self.label());
        self.out.push(Inst::Cmp { a: len, b: Src::Reg(cap) });
        self.out.push(Inst::Jcc(Cond::Ge, full));
        let ptr = self.vreg();
        self.load(ptr, arr, ARRAY_PTR);
        self.out.push(Inst::StoreElement { width, base: ptr, index: len, src: value });
        let new_len = self.vreg();
        self.out.push(Inst::Bin { op: BinOp::Add, dst: new_len, a: len, b: Src::Imm(1) });
        self.out.push(Inst::Store { width: Width::W64, base: arr, offset: ARRAY_LEN, src: Src::Reg(new_len) });
        self.out.push(Inst::Label(appended));
        let slot = self.vreg();
        self.out_of_line.extend([
            Inst::Label(full),
            Inst::CallWith {
                callee: rt::ARRAY_PUSH_SLOT.into(),
                args: vec![Src::Reg(arr), Src::Imm(elem_size)],
                dst: Some(slot),
            },
            Inst::Store { width, base: slot, offset: 0, src: value },
            Inst::Jmp(appended),
        ]);
    }

    fn load_element(&mut self, dst: Reg, element: Element, elem_size: i64) {
        let width = Width::of_size(elem_size);
        self.out.push(match element {
            Element::At(base, offset) => Inst::Load { width, dst, base, offset },
            Element::Indexed(base, index) => Inst::LoadElement { width, dst, base, index },
        });
    }

    fn store_element(&mut self, element: Element, src: Src, elem_size: i64) {
        let width = Width::of_size(elem_size);
        self.out.push(match element {
            Element::At(base, offset) => Inst::Store { width, base, offset, src },
            Element::Indexed(base, index) => Inst::StoreElement { width, base, index, src },
        });
    }

    fn expand(&mut self, inst: Inst) {
        match inst {
            Inst::PrintInt(s) => self.call(rt::PRINT_INT, vec![s], None),
            Inst::StringLit { dst, source } => {
                let (name, len) = match source {
                    StrSource::Data(name, Some(len)) => (name, len),
                    StrSource::Data(name, None) => {
                        let len = self.data_sizes.get(&name).copied().unwrap_or(0);
                        (name, len)
                    }
                    StrSource::Bytes(bytes) => {
                        let name = format!("__vbeam_lit{}_{}", self.function_index, self.literals.bytes.len());
                        let len = bytes.len() as u64;
                        self.literals.bytes.push(DataEntry { name: name.clone(), align: 1, bytes, refs: Vec::new() });
                        (name, len)
                    }
                };
                let header = self.literal_header(name, len);
                self.out.push(Inst::Lea { dst, symbol: Symbol::Data(header) });
            }
            Inst::StringLen { dst, s } => self.load(dst, s, STRING_LEN),
            Inst::StringCmp { dst, a, b } => self.call(rt::STRING_CMP, vec![Src::Reg(a), Src::Reg(b)], Some(dst)),
            Inst::StringConcat { dst, a, b } => self.call(rt::STRING_CONCAT, vec![Src::Reg(a), Src::Reg(b)], Some(dst)),
            Inst::PrintStr(s) => self.call(rt::PRINT_STR, vec![Src::Reg(s)], None),
            Inst::IntToStr { dst, src } => self.call(rt::INT_TO_STR, vec![src], Some(dst)),
            Inst::ArrayNew { dst, elem_size, cap } => {
                self.call(rt::ARRAY_NEW, vec![Src::Imm(elem_size), Src::Imm(cap)], Some(dst))
            }
            Inst::ArrayGet { dst, arr, index, elem_size } => {
                let element = self.element(arr, index, elem_size, ARRAY_LEN);
                self.load_element(dst, element, elem_size);
            }
            Inst::ArraySet { arr, index, value, elem_size } => {
                let element = self.element(arr, index, elem_size, ARRAY_CAP);
                self.store_element(element, value, elem_size);
            }
            Inst::ArrayLen { dst, arr } => self.load(dst, arr, ARRAY_LEN),
            Inst::ArrayAppend { dst, arr, value, elem_size } => {
                self.append(arr, value, elem_size);
                self.out.push(Inst::Mov { dst: Dst::Reg(dst), src: Operand::Reg(arr) });
            }
            Inst::StructNew { dst, size } => self.call(rt::ALLOC, vec![Src::Imm(size)], Some(dst)),
            Inst::FieldGet { dst, s, offset } => self.load(dst, s, offset as i32),
            Inst::FieldSet { s, offset, value } => {
                self.out.push(Inst::Store { width: Width::W64, base: s, offset: offset as i32, src: value })
            }
            Inst::MapNew { dst } => self.call(rt::ALLOC, vec![Src::Imm(MAP_HEADER_SIZE)], Some(dst)),
            Inst::MapPut { dst, map, key, value } => {
                self.call(rt::MAP_PUT, vec![Src::Reg(map), key, value], None);
                self.out.push(Inst::Mov { dst: Dst::Reg(dst), src: Operand::Reg(map) });
            }
            Inst::MapGet { dst, map, key } => self.call(rt::MAP_GET, vec![Src::Reg(map), key], Some(dst)),
            Inst::MapDelete { dst, map, key } => {
                self.call(rt::MAP_DELETE, vec![Src::Reg(map), key], None);
                self.out.push(Inst::Mov { dst: Dst::Reg(dst), src: Operand::Reg(map) });
            }
            Inst::MethodCall(call) => {
                let MethodCall { dst, type_name, method, args } = *call;
                self.call(&method_symbol(&type_name, &method), args, Some(dst))
            }
            Inst::PrintFloat(s) => self.call(rt::PRINT_FLOAT, vec![s], None),
            Inst::FloatToStr { dst, src } => self.call(rt::FLOAT_TO_STR, vec![src], Some(dst)),
            other => self.out.push(other),
        }
    }
}
