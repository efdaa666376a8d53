//! The assembly listing (`-S`): every function of the executable, in the
//! order and at the alignment the linker places them, in the syntax
//! `llvm-mc` reads for the ISA, each IR instruction as a comment above the
//! machine instructions it became. The IR is the one lowered: after
//! expansion and optimization, vregs numbered as written. An instruction
//! found unchanged as often in the function as written as in the function
//! lowered is taken to be the one written (see `origins`), and its comment
//! says where that is in the text (`file:line:column`, which the caller
//! finds for the `places` asked); other instructions are the passes' own.
//!
//! The listing assembles to the executable's code: with the addresses of
//! the data (which it names but does not hold) resolved, the bytes are the
//! `.text` the backend wrote (`tests/listing.rs` checks every fixture).

use std::collections::HashMap;
use std::fmt::Write;

use crate::code;
use crate::ir::{Dst, Function, Inst, Isa, Operand, Reg, Src, StrSource, Symbol, Width};
use crate::regs::preg_name;

/// A place in the module as written: function number N, or instruction
/// I of it (0-based).
pub type Place = (usize, Option<usize>);

/// The listing of a whole program.
#[derive(Clone, Debug)]
pub struct Listing {
    pub isa: Isa,
    pub functions: Vec<FunctionListing>,
}

/// One function's part.
#[derive(Clone, Debug)]
pub struct FunctionListing {
    pub name: String,
    pub global: bool,
    /// The function's number in the module, for the program's own.
    pub module_function: Option<usize>,
    /// What the function was written as: IR, or (the process entry point
    /// and the OS layer's bare routines) machine instructions directly.
    pub from_ir: bool,
    /// The function's code and comments.
    text: String,
    /// Where the IR's positions go: an offset in `text` and the index of
    /// the instruction as written.
    sources: Vec<(usize, usize)>,
}

impl FunctionListing {
    /// A function lowered from IR: the code's `listing` with a comment for
    /// each IR instruction of `func` (renumbered: `vregs` gives each vreg's
    /// number as written), `origins` saying which instruction as written
    /// each is, when known.
    pub fn from_ir(
        isa: Isa,
        func: &Function,
        vregs: &[u32],
        origins: &[Option<usize>],
        listing: code::Listing,
    ) -> FunctionListing {
        let mut text = String::with_capacity(listing.text.len() * 2);
        let mut sources = Vec::new();
        let mut done = 0;
        let printer = IrPrinter { isa, labels: &func.labels, vregs };
        for (at, index) in listing.ir_starts {
            text.push_str(&listing.text[done..at]);
            done = at;
            text.push('\t');
            text.push_str(comment_mark(isa));
            text.push(' ');
            match index {
                Some(i) => {
                    if let Some(&Some(written)) = origins.get(i as usize) {
                        sources.push((text.len(), written));
                    }
                    printer.inst(&mut text, &func.body[i as usize]);
                }
                None => text.push_str("(the division-by-zero exit)"),
            }
            text.push('\n');
        }
        text.push_str(&listing.text[done..]);
        FunctionListing {
            name: func.name.clone(),
            global: func.exported,
            module_function: None,
            from_ir: true,
            text,
            sources,
        }
    }

    /// Code written without IR.
    pub fn bare(name: &str, global: bool, listing: code::Listing) -> FunctionListing {
        FunctionListing {
            name: name.to_string(),
            global,
            module_function: None,
            from_ir: false,
            text: listing.text,
            sources: Vec::new(),
        }
    }
}

impl Listing {
    /// The places in the module's text the listing can name: function
    /// numbers, and the instructions as written (by index) of each.
    pub fn places(&self) -> Vec<Place> {
        let mut places = Vec::new();
        for f in &self.functions {
            if let Some(n) = f.module_function {
                places.push((n, None));
                places.extend(f.sources.iter().map(|&(_, index)| (n, Some(index))));
            }
        }
        places
    }

    /// The assembly text, with the `file:line:column` of the places
    /// `located` holds.
    pub fn text(&self, located: &HashMap<Place, String>) -> String {
        let locate = |n: usize, index: Option<usize>| located.get(&(n, index));
        let (syntax, align) = match self.isa {
            Isa::X86_64 => ("\t.intel_syntax noprefix\n", "\t.p2align 4, 0xcc"),
            Isa::Arm64 => ("", "\t.balignl 16, 0"),
        };
        let comment = |text: &str| format!("{} {text}\n", comment_mark(self.isa));
        let mut out = comment(&format!(
            "vbeam_native {} listing, as llvm-mc -triple={} reads it",
            self.isa.name(),
            triple(self.isa)
        ));
        out.push_str(syntax);
        out.push_str("\t.text\n");
        for f in &self.functions {
            let _ = write!(out, "\n{align}\n");
            let at = f.module_function.and_then(|n| locate(n, None)).map(|at| format!("{at}: ")).unwrap_or_default();
            let origin = match (f.module_function, f.from_ir) {
                (Some(_), _) => "",
                (None, true) => " (the runtime's)",
                (None, false) => " (the runtime's, written without IR)",
            };
            out.push_str(&comment(&format!("{at}function {}{origin}", f.name)));
            let name = code::symbol_text(&f.name);
            if f.global {
                let _ = writeln!(out, "\t.globl {name}");
            }
            let _ = writeln!(out, "{name}:");
            let mut done = 0;
            for &(at, written) in &f.sources {
                out.push_str(&f.text[done..at]);
                done = at;
                if let Some(position) = f.module_function.and_then(|n| locate(n, Some(written))) {
                    let _ = write!(out, "{position}: ");
                }
            }
            out.push_str(&f.text[done..]);
        }
        out
    }
}

/// What starts a comment in the ISA's assembly.
fn comment_mark(isa: Isa) -> &'static str {
    match isa {
        Isa::X86_64 => "#",
        Isa::Arm64 => "//",
    }
}

/// The `llvm-mc -triple` of an ISA.
pub fn triple(isa: Isa) -> &'static str {
    match isa {
        Isa::X86_64 => "x86_64",
        Isa::Arm64 => "aarch64",
    }
}

/// For each instruction of `lowered`, the index of the instruction of
/// `written` it is, when that is sure enough: an instruction that occurs
/// as many times in each is taken to be, occurrence for occurrence in
/// order, the one written (the passes copy, rewrite and delete
/// instructions, which changes their number, and move them only across
/// others).
pub fn origins(written: &[Inst], lowered: &[Inst]) -> Vec<Option<usize>> {
    // By their debug text: instructions hold no floats, so equal texts are
    // equal instructions.
    let mut places: HashMap<String, Vec<usize>> = HashMap::with_capacity(written.len());
    for (i, inst) in written.iter().enumerate() {
        places.entry(format!("{inst:?}")).or_default().push(i);
    }
    let keys: Vec<String> = lowered.iter().map(|inst| format!("{inst:?}")).collect();
    let mut count: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
    keys.iter().for_each(|k| *count.entry(k).or_default() += 1);
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
    keys.iter()
        .map(|k| {
            let nth = seen.entry(k).or_default();
            *nth += 1;
            let at = places.get(k).filter(|at| at.len() == count[k.as_str()])?;
            Some(at[*nth - 1])
        })
        .collect()
}

/// Prints IR instructions as the `.ir` text writes them (the internal
/// ones the expansion makes in the same style).
struct IrPrinter<'a> {
    isa: Isa,
    labels: &'a [String],
    vregs: &'a [u32],
}

impl IrPrinter<'_> {
    fn reg(&self, r: Reg) -> String {
        match r {
            Reg::V(v) => format!("{{vreg,{}}}", self.vregs.get(v as usize).copied().unwrap_or(v)),
            Reg::P(p) => format!("{{preg,{}}}", preg_name(self.isa, p)),
        }
    }
    fn src(&self, s: Src) -> String {
        match s {
            Src::Reg(r) => self.reg(r),
            Src::Imm(i) => format!("{{imm,{i}}}"),
        }
    }
    fn label(&self, l: crate::ir::Label) -> String {
        binary(self.labels.get(l.0 as usize).map_or(&[][..], |n| n.as_bytes()))
    }
    fn srcs(&self, args: &[Src]) -> String {
        let args: Vec<String> = args.iter().map(|a| self.src(*a)).collect();
        format!("[{}]", args.join(","))
    }

    fn inst(&self, out: &mut String, inst: &Inst) {
        let r = |x: Reg| self.reg(x);
        let s = |x: Src| self.src(x);
        let dst_or_none = |d: Option<Reg>| d.map_or("none".to_string(), r);
        let text = match inst {
            Inst::Mov { dst, src } => {
                let dst = match dst {
                    Dst::Reg(x) => r(*x),
                    Dst::Stack(n) => format!("{{stack,{n}}}"),
                };
                let src = match src {
                    Operand::Reg(x) => r(*x),
                    Operand::Imm(i) => format!("{{imm,{i}}}"),
                    Operand::Stack(n) => format!("{{stack,{n}}}"),
                };
                format!("{{mov,{dst},{src}}}")
            }
            Inst::Bin { op, dst, a, b } => {
                let name = format!("{op:?}").to_lowercase();
                let name = if matches!(name.as_str(), "and" | "or" | "xor") { name + "_" } else { name };
                format!("{{{name},{},{},{}}}", r(*dst), r(*a), s(*b))
            }
            Inst::Unary { op, dst, src } => {
                let name = match op {
                    crate::ir::UnOp::Neg => "neg",
                    crate::ir::UnOp::Not => "not_",
                };
                format!("{{{name},{},{}}}", r(*dst), s(*src))
            }
            Inst::Load { width, dst, base, offset } => {
                format!("{{{},{},{},{offset}}}", sized("load", *width), r(*dst), r(*base))
            }
            Inst::Store { width, base, offset, src } => {
                format!("{{{},{},{offset},{}}}", sized("store", *width), r(*base), s(*src))
            }
            Inst::Lea { dst, symbol } => format!("{{lea,{},{}}}", r(*dst), symbol_term(symbol)),
            Inst::Cmp { a, b } => format!("{{cmp,{},{}}}", r(*a), s(*b)),
            Inst::Jmp(l) => format!("{{jmp,{}}}", self.label(*l)),
            Inst::Jcc(c, l) => format!("{{jcc,{},{}}}", c.name(), self.label(*l)),
            Inst::Call(name) => format!("{{call,{{sym,{}}}}}", binary(name.as_bytes())),
            Inst::CallIndirect(x) => format!("{{call_indirect,{}}}", r(*x)),
            Inst::Ret => "ret".into(),
            Inst::Push(x) => format!("{{push,{}}}", s(*x)),
            Inst::Pop(x) => format!("{{pop,{}}}", r(*x)),
            Inst::Syscall => "syscall".into(),
            Inst::Label(l) => format!("{{label,{}}}", self.label(*l)),
            Inst::Nop => "nop".into(),
            Inst::Raw(bytes) => format!("{{raw,{}}}", binary(bytes)),
            Inst::PrintInt(x) => format!("{{print_int,{}}}", s(*x)),
            Inst::StringLit { dst, source } => match source {
                StrSource::Data(name, Some(len)) => {
                    format!("{{string_lit,{},{{data_ref,{}}},{len}}}", r(*dst), binary(name.as_bytes()))
                }
                StrSource::Data(name, None) => {
                    format!("{{string_lit,{},{{data_ref,{}}}}}", r(*dst), binary(name.as_bytes()))
                }
                StrSource::Bytes(bytes) => format!("{{string_lit,{},{}}}", r(*dst), binary(bytes)),
            },
            Inst::StringLen { dst, s: x } => format!("{{string_len,{},{}}}", r(*dst), r(*x)),
            Inst::StringCmp { dst, a, b } => format!("{{string_cmp,{},{},{}}}", r(*dst), r(*a), r(*b)),
            Inst::StringConcat { dst, a, b } => format!("{{string_concat,{},{},{}}}", r(*dst), r(*a), r(*b)),
            Inst::PrintStr(x) => format!("{{print_str,{}}}", r(*x)),
            Inst::IntToStr { dst, src } => format!("{{int_to_str,{},{}}}", r(*dst), s(*src)),
            Inst::FloatToStr { dst, src } => format!("{{float_to_str,{},{}}}", r(*dst), s(*src)),
            Inst::ArrayNew { dst, elem_size, cap } => {
                format!("{{array_new,{},{{imm,{elem_size}}},{{imm,{cap}}}}}", r(*dst))
            }
            Inst::ArrayGet { dst, arr, index, elem_size } => {
                format!("{{array_get,{},{},{},{{imm,{elem_size}}}}}", r(*dst), r(*arr), s(*index))
            }
            Inst::ArraySet { arr, index, value, elem_size } => {
                format!("{{array_set,{},{},{},{{imm,{elem_size}}}}}", r(*arr), s(*index), s(*value))
            }
            Inst::ArrayLen { dst, arr } => format!("{{array_len,{},{}}}", r(*dst), r(*arr)),
            Inst::ArrayAppend { dst, arr, value, elem_size } => {
                format!("{{array_append,{},{},{},{{imm,{elem_size}}}}}", r(*dst), r(*arr), s(*value))
            }
            Inst::StructNew { dst, size } => format!("{{struct_new,{},{{imm,{size}}}}}", r(*dst)),
            Inst::FieldGet { dst, s: x, offset } => format!("{{field_get,{},{},{{imm,{offset}}}}}", r(*dst), r(*x)),
            Inst::FieldSet { s: x, offset, value } => {
                format!("{{field_set,{},{{imm,{offset}}},{}}}", r(*x), s(*value))
            }
            Inst::MapNew { dst } => format!("{{map_new,{}}}", r(*dst)),
            Inst::MapPut { dst, map, key, value } => {
                format!("{{map_put,{},{},{},{}}}", r(*dst), r(*map), s(*key), s(*value))
            }
            Inst::MapGet { dst, map, key } => format!("{{map_get,{},{},{}}}", r(*dst), r(*map), s(*key)),
            Inst::MapDelete { dst, map, key } => format!("{{map_delete,{},{},{}}}", r(*dst), r(*map), s(*key)),
            Inst::FloatBin { op, dst, a, b } => {
                format!("{{f{},{},{},{}}}", format!("{op:?}").to_lowercase(), r(*dst), s(*a), s(*b))
            }
            Inst::IntToFloat { dst, src } => format!("{{int_to_float,{},{}}}", r(*dst), s(*src)),
            Inst::FloatToInt { dst, src } => format!("{{float_to_int,{},{}}}", r(*dst), s(*src)),
            Inst::PrintFloat(x) => format!("{{print_float,{}}}", s(*x)),
            Inst::MethodCall(m) => format!(
                "{{method_call,{},{},{},{}}}",
                r(m.dst),
                binary(m.type_name.as_bytes()),
                binary(m.method.as_bytes()),
                self.srcs(&m.args)
            ),
            // The expansion's own instructions, in the same style.
            Inst::CallWith { callee, args, dst } => {
                format!("{{call_with,{},{},{}}}", binary(callee.as_bytes()), self.srcs(args), dst_or_none(*dst))
            }
            Inst::FloatSqrt { dst, src } => format!("{{float_sqrt,{},{}}}", r(*dst), s(*src)),
            Inst::CallFirmware { function, args, dst } => {
                format!("{{call_firmware,{},{},{}}}", r(*function), self.srcs(args), dst_or_none(*dst))
            }
            Inst::LoadElement { width, dst, base, index } => {
                format!("{{{},{},{},{}}}", sized("load_element", *width), r(*dst), r(*base), r(*index))
            }
            Inst::StoreElement { width, base, index, src } => {
                format!("{{{},{},{},{}}}", sized("store_element", *width), r(*base), r(*index), s(*src))
            }
            Inst::Copy16 { dst, dst_offset, src, src_offset } => {
                format!("{{copy16,{},{dst_offset},{},{src_offset}}}", r(*dst), r(*src))
            }
            Inst::FramePointer { dst } => format!("{{frame_pointer,{}}}", r(*dst)),
            Inst::Trap => "trap".into(),
        };
        out.push_str(&text);
    }
}

/// An access's name with its width: `load`, `load_byte`, `load_element_4`.
fn sized(name: &str, width: Width) -> String {
    match (name, width) {
        ("load" | "store", Width::W8) => format!("{name}_byte"),
        (_, Width::W64) if name == "load" || name == "store" => name.to_string(),
        _ => format!("{name}_{}", width.bytes()),
    }
}

fn symbol_term(symbol: &Symbol) -> String {
    match symbol {
        Symbol::Function(name) => format!("{{sym,{}}}", binary(name.as_bytes())),
        Symbol::Data(name) => format!("{{data_ref,{}}}", binary(name.as_bytes())),
    }
}

/// A binary as the `.ir` text writes it: `<<"text">>`, escaping what is
/// not printable ASCII; on one line, so that it stays a comment.
fn binary(bytes: &[u8]) -> String {
    let mut out = String::from("<<\"");
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{{{b:x}}}");
            }
        }
    }
    out + "\">>"
}
