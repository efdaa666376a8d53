//! A module as the Erlang term text of a `.ir` file, so a failing program
//! can be replayed through `erl` and `vbeam_native:main/1`.

use std::fmt::Write;

use vbeam_native_core::ir::*;
use vbeam_native_core::regs::preg_name;

fn bin(bytes: &[u8]) -> String {
    if bytes.iter().all(|b| (0x20..0x7f).contains(b) && *b != b'"' && *b != b'\\') {
        format!("<<\"{}\">>", String::from_utf8_lossy(bytes))
    } else {
        format!("<<{}>>", bytes.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(","))
    }
}

struct Printer<'a> {
    target: Isa,
    labels: &'a [String],
}

impl Printer<'_> {
    fn reg(&self, r: Reg) -> String {
        match r {
            Reg::V(n) => format!("{{vreg,{n}}}"),
            Reg::P(p) => format!("{{preg,{}}}", preg_name(self.target, p)),
        }
    }
    fn src(&self, s: Src) -> String {
        match s {
            Src::Reg(r) => self.reg(r),
            Src::Imm(i) => format!("{{imm,{i}}}"),
        }
    }
    fn label(&self, l: Label) -> String {
        bin(self.labels[l.0 as usize].as_bytes())
    }
    fn inst(&self, i: &Inst) -> String {
        let bop = |op: BinOp| match op {
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::Mul => "mul",
            BinOp::And => "and_",
            BinOp::Or => "or_",
            BinOp::Xor => "xor_",
            BinOp::Sdiv => "sdiv",
            BinOp::Srem => "srem",
            BinOp::Shl => "shl",
            BinOp::Shr => "shr",
            BinOp::Sar => "sar",
        };
        let imm = |n: i64| format!("{{imm,{n}}}");
        match i {
            Inst::Mov { dst, src } => {
                let d = match dst {
                    Dst::Reg(r) => self.reg(*r),
                    Dst::Stack(n) => format!("{{stack,{n}}}"),
                };
                let s = match src {
                    Operand::Reg(r) => self.reg(*r),
                    Operand::Imm(n) => imm(*n),
                    Operand::Stack(n) => format!("{{stack,{n}}}"),
                };
                format!("{{mov,{d},{s}}}")
            }
            Inst::Bin { op, dst, a, b } => {
                format!("{{{},{},{},{}}}", bop(*op), self.reg(*dst), self.reg(*a), self.src(*b))
            }
            Inst::Unary { op, dst, src } => {
                let name = if *op == UnOp::Neg { "neg" } else { "not_" };
                format!("{{{name},{},{}}}", self.reg(*dst), self.src(*src))
            }
            Inst::Load { width, dst, base, offset } => {
                let name = if *width == Width::W8 { "load_byte" } else { "load" };
                format!("{{{name},{},{},{offset}}}", self.reg(*dst), self.reg(*base))
            }
            Inst::Store { width, base, offset, src } => {
                let name = if *width == Width::W8 { "store_byte" } else { "store" };
                format!("{{{name},{},{offset},{}}}", self.reg(*base), self.src(*src))
            }
            Inst::Lea { dst, symbol: Symbol::Data(name) } => {
                format!("{{lea,{},{{data_ref,{}}}}}", self.reg(*dst), bin(name.as_bytes()))
            }
            Inst::Lea { dst, symbol: Symbol::Function(name) } => {
                format!("{{lea,{},{{sym,{}}}}}", self.reg(*dst), bin(name.as_bytes()))
            }
            Inst::Cmp { a, b } => format!("{{cmp,{},{}}}", self.reg(*a), self.src(*b)),
            Inst::Jmp(l) => format!("{{jmp,{}}}", self.label(*l)),
            Inst::Jcc(c, l) => format!("{{jcc,{},{}}}", c.name(), self.label(*l)),
            Inst::Call(n) => format!("{{call,{{sym,{}}}}}", bin(n.as_bytes())),
            Inst::CallIndirect(r) => format!("{{call_indirect,{}}}", self.reg(*r)),
            Inst::Ret => "ret".into(),
            Inst::Push(s) => format!("{{push,{}}}", self.src(*s)),
            Inst::Pop(r) => format!("{{pop,{}}}", self.reg(*r)),
            Inst::Syscall => "syscall".into(),
            Inst::Label(l) => format!("{{label,{}}}", self.label(*l)),
            Inst::Nop => "nop".into(),
            Inst::Raw(b) => format!("{{raw,{}}}", bin(b)),
            Inst::PrintInt(s) => format!("{{print_int,{}}}", self.src(*s)),
            Inst::StringLit { dst, source } => match source {
                StrSource::Data(n, Some(len)) => {
                    format!("{{string_lit,{},{{data_ref,{}}},{len}}}", self.reg(*dst), bin(n.as_bytes()))
                }
                StrSource::Data(n, None) => {
                    format!("{{string_lit,{},{{data_ref,{}}}}}", self.reg(*dst), bin(n.as_bytes()))
                }
                StrSource::Bytes(b) => format!("{{string_lit,{},{}}}", self.reg(*dst), bin(b)),
            },
            Inst::StringLen { dst, s } => format!("{{string_len,{},{}}}", self.reg(*dst), self.reg(*s)),
            Inst::StringCmp { dst, a, b } => {
                format!("{{string_cmp,{},{},{}}}", self.reg(*dst), self.reg(*a), self.reg(*b))
            }
            Inst::StringConcat { dst, a, b } => {
                format!("{{string_concat,{},{},{}}}", self.reg(*dst), self.reg(*a), self.reg(*b))
            }
            Inst::PrintStr(r) => format!("{{print_str,{}}}", self.reg(*r)),
            Inst::IntToStr { dst, src } => format!("{{int_to_str,{},{}}}", self.reg(*dst), self.src(*src)),
            Inst::FloatToStr { dst, src } => format!("{{float_to_str,{},{}}}", self.reg(*dst), self.src(*src)),
            Inst::ArrayNew { dst, elem_size, cap } => {
                format!("{{array_new,{},{},{}}}", self.reg(*dst), imm(*elem_size), imm(*cap))
            }
            Inst::ArrayGet { dst, arr, index, elem_size } => {
                format!("{{array_get,{},{},{},{}}}", self.reg(*dst), self.reg(*arr), self.src(*index), imm(*elem_size))
            }
            Inst::ArraySet { arr, index, value, elem_size } => {
                format!(
                    "{{array_set,{},{},{},{}}}",
                    self.reg(*arr),
                    self.src(*index),
                    self.src(*value),
                    imm(*elem_size)
                )
            }
            Inst::ArrayLen { dst, arr } => format!("{{array_len,{},{}}}", self.reg(*dst), self.reg(*arr)),
            Inst::ArrayAppend { dst, arr, value, elem_size } => {
                format!(
                    "{{array_append,{},{},{},{}}}",
                    self.reg(*dst),
                    self.reg(*arr),
                    self.src(*value),
                    imm(*elem_size)
                )
            }
            Inst::StructNew { dst, size } => format!("{{struct_new,{},{}}}", self.reg(*dst), imm(*size)),
            Inst::FieldGet { dst, s, offset } => {
                format!("{{field_get,{},{},{}}}", self.reg(*dst), self.reg(*s), imm(*offset))
            }
            Inst::FieldSet { s, offset, value } => {
                format!("{{field_set,{},{},{}}}", self.reg(*s), imm(*offset), self.src(*value))
            }
            Inst::MapNew { dst } => format!("{{map_new,{}}}", self.reg(*dst)),
            Inst::MapPut { dst, map, key, value } => {
                format!("{{map_put,{},{},{},{}}}", self.reg(*dst), self.reg(*map), self.src(*key), self.src(*value))
            }
            Inst::MapGet { dst, map, key } => {
                format!("{{map_get,{},{},{}}}", self.reg(*dst), self.reg(*map), self.src(*key))
            }
            Inst::MapDelete { dst, map, key } => {
                format!("{{map_delete,{},{},{}}}", self.reg(*dst), self.reg(*map), self.src(*key))
            }
            Inst::FloatBin { op, dst, a, b } => {
                let name = match op {
                    FloatOp::Add => "fadd",
                    FloatOp::Sub => "fsub",
                    FloatOp::Mul => "fmul",
                    FloatOp::Div => "fdiv",
                };
                format!("{{{name},{},{},{}}}", self.reg(*dst), self.src(*a), self.src(*b))
            }
            Inst::IntToFloat { dst, src } => format!("{{int_to_float,{},{}}}", self.reg(*dst), self.src(*src)),
            Inst::FloatToInt { dst, src } => format!("{{float_to_int,{},{}}}", self.reg(*dst), self.src(*src)),
            Inst::PrintFloat(s) => format!("{{print_float,{}}}", self.src(*s)),
            Inst::MethodCall(call) => {
                let MethodCall { dst, type_name, method, args } = &**call;
                let a: Vec<String> = args.iter().map(|x| self.src(*x)).collect();
                format!(
                    "{{method_call,{},{},{},[{}]}}",
                    self.reg(*dst),
                    bin(type_name.as_bytes()),
                    bin(method.as_bytes()),
                    a.join(",")
                )
            }
            other => format!("{{internal, {other:?}}}"),
        }
    }
}

/// The `.ir` file text of `module`.
pub fn to_text(module: &Module) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "#{{target => {}, format => {}, allow_stubs => {},\n  functions => [\n",
        module.isa.name(),
        module.format.name(),
        module.allow_stubs
    );
    for (k, f) in module.functions.iter().enumerate() {
        let p = Printer { target: module.isa, labels: &f.labels };
        let params: Vec<String> = f.params.iter().map(|r| p.reg(*r)).collect();
        let body: Vec<String> = f.body.iter().map(|i| p.inst(i)).collect();
        let _ = write!(
            s,
            "    #{{name => {}, arity => {}, exported => {}, params => [{}], locals => {},\n      body => [{}]}}{}\n",
            bin(f.name.as_bytes()),
            f.arity,
            f.exported,
            params.join(","),
            f.locals,
            body.join(",\n               "),
            if k + 1 < module.functions.len() { "," } else { "" }
        );
    }
    let data: Vec<String> =
        module.data.iter().map(|d| format!("{{{},{},{}}}", bin(d.name.as_bytes()), d.align, contents(d))).collect();
    let bss: Vec<String> =
        module.bss.iter().map(|b| format!("{{{},{},{}}}", bin(b.name.as_bytes()), b.align, b.size)).collect();
    let _ = write!(s, "  ],\n  data => [{}],\n  bss => [{}],\n  imports => []}}.\n", data.join(", "), bss.join(", "));
    s
}

/// A data entry's contents: a binary, or its bytes and addresses as a list.
fn contents(d: &DataEntry) -> String {
    if d.refs.is_empty() {
        return bin(&d.bytes);
    }
    let mut parts = Vec::new();
    let mut at = 0;
    for r in &d.refs {
        let offset = r.offset as usize;
        if offset > at {
            parts.push(bin(&d.bytes[at..offset]));
        }
        parts.push(match &r.symbol {
            Symbol::Data(name) if r.addend == 0 => format!("{{data_ref,{}}}", bin(name.as_bytes())),
            Symbol::Data(name) => format!("{{data_ref,{},{}}}", bin(name.as_bytes()), r.addend),
            Symbol::Function(name) => format!("{{sym,{}}}", bin(name.as_bytes())),
        });
        at = offset + 8;
    }
    if at < d.bytes.len() {
        parts.push(bin(&d.bytes[at..]));
    }
    format!("[{}]", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::{generate, Config};
    use vbeam_native_core::decode::decode_module;

    #[test]
    fn generated_programs_survive_the_text_round_trip() {
        for seed in 0..40 {
            for target in [Isa::X86_64, Isa::Arm64] {
                let m = generate(target, seed, &Config::default());
                let text = to_text(&m);
                let term = vbeam_native_ir_text::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
                let back = decode_module(&&term, None, None).unwrap_or_else(|e| panic!("{e:?}"));
                // Label indices follow first appearance, so compare by name.
                assert_eq!(to_text(&back), text, "seed {seed}");
            }
        }
    }
}
