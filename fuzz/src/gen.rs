//! Structured random modules, driven by the fuzzer's bytes (`arbitrary`'s
//! `Unstructured`): mostly well-formed IR, shaped as the V compiler and the
//! testkit's generator write it (arguments moved into the argument
//! registers before `call`, results read after, `cmp` then `jcc`, labels
//! defined, data entries named by `lea` and `string_lit`), so that most
//! modules pass decoding and validation and reach the allocator, the
//! lowering, the linker and the file writers. A `chaos` level read from the
//! input then sets how often an operand is of the wrong kind, an
//! immediate huge, a vreg number sparse, a label missing, a size odd; and
//! whole-module mutations delete, duplicate, swap and replace instructions
//! and subterms — of generated modules or of the repository's fixtures.

use arbitrary::{Result, Unstructured};
use eetf::Term as ETerm;
use vbeam_native_core::ir::Isa;

use crate::etf::{atom, bin, int, list, map, tagged, tuple};

/// The repository's fixtures (`test/fixtures/*.ir`), the bases of mutated
/// modules.
pub const FIXTURES: &[(&str, &str)] = &include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));

const X86_REGS: &[&str] =
    &["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
const X86_ARGS: &[&str] = &["rdi", "rsi", "rdx", "rcx", "r8", "r9"];
const ARM_ARGS: &[&str] = &["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"];
/// Registers the IR may not name (and the heap registers, reserved in a
/// module that allocates).
const RESERVED: &[&str] = &["rsp", "rbp", "r15", "sp", "fp", "lr", "x18", "x29", "x30", "x28"];

const BUILTINS: &[&str] = &[
    "println",
    "print",
    "eprintln",
    "eprint",
    "exit",
    "panic",
    "string__int",
    "int__str",
    "string__repeat",
    "string__to_upper",
    "string__trim_space",
    "string__index_after",
    "u8__ascii_str",
    "abs",
    "sqrt",
    "floor",
    "ceil",
    "atoi",
    "[]int__clone",
    "[]int__delete",
    "[]string__last",
    "[]int__pop",
    "[]u8__bytestr",
    "flush_stdout",
    "unbuffer_stdout",
];

const CONDS: &[&str] = &["eq", "ne", "lt", "le", "gt", "ge", "ltu", "leu", "gtu", "geu"];

/// Opcodes and their operands, by kind.
#[derive(Clone, Copy)]
enum K {
    /// A register written: vreg mostly, preg sometimes.
    D,
    /// A register read.
    R,
    /// A register or an immediate.
    S,
    /// A register, an immediate or a stack slot (`mov`'s source).
    O,
    /// A bare integer offset (load/store).
    Off,
    /// `{imm, N}` for sizes and capacities.
    Size,
    /// `{imm, E}`: an element size.
    Elem,
    /// `{imm, O}`: a field offset.
    Field,
}

const OPS: &[(&str, &[K])] = &[
    ("mov", &[K::D, K::O]),
    ("add", &[K::D, K::R, K::S]),
    ("sub", &[K::D, K::R, K::S]),
    ("mul", &[K::D, K::R, K::S]),
    ("and_", &[K::D, K::R, K::S]),
    ("or_", &[K::D, K::R, K::S]),
    ("xor_", &[K::D, K::R, K::S]),
    ("sdiv", &[K::D, K::R, K::S]),
    ("srem", &[K::D, K::R, K::S]),
    ("shl", &[K::D, K::R, K::S]),
    ("shr", &[K::D, K::R, K::S]),
    ("sar", &[K::D, K::R, K::S]),
    ("neg", &[K::D, K::S]),
    ("not_", &[K::D, K::S]),
    ("neg", &[K::D]),
    ("load", &[K::D, K::R, K::Off]),
    ("load_byte", &[K::D, K::R, K::Off]),
    ("store", &[K::R, K::Off, K::S]),
    ("store_byte", &[K::R, K::Off, K::S]),
    ("call_indirect", &[K::R]),
    ("push", &[K::S]),
    ("pop", &[K::D]),
    ("print_int", &[K::S]),
    ("string_len", &[K::D, K::R]),
    ("string_cmp", &[K::D, K::R, K::R]),
    ("string_concat", &[K::D, K::R, K::R]),
    ("print_str", &[K::R]),
    ("int_to_str", &[K::D, K::S]),
    ("float_to_str", &[K::D, K::S]),
    ("array_new", &[K::D, K::Elem, K::Size]),
    ("array_get", &[K::D, K::R, K::S, K::Elem]),
    ("array_set", &[K::R, K::S, K::S, K::Elem]),
    ("array_len", &[K::D, K::R]),
    ("array_append", &[K::D, K::R, K::S, K::Elem]),
    ("struct_new", &[K::D, K::Size]),
    ("field_get", &[K::D, K::R, K::Field]),
    ("field_set", &[K::R, K::Field, K::S]),
    ("map_new", &[K::D]),
    ("map_put", &[K::D, K::R, K::S, K::S]),
    ("map_get", &[K::D, K::R, K::S]),
    ("map_delete", &[K::D, K::R, K::S]),
    ("fadd", &[K::D, K::S, K::S]),
    ("fsub", &[K::D, K::S, K::S]),
    ("fmul", &[K::D, K::S, K::S]),
    ("fdiv", &[K::D, K::S, K::S]),
    ("int_to_float", &[K::D, K::S]),
    ("float_to_int", &[K::D, K::S]),
    ("print_float", &[K::S]),
];

/// Every opcode name the IR has, for wrong instructions.
const OPCODES: &[&str] = &[
    "mov",
    "mov_imm",
    "add",
    "lea",
    "cmp",
    "jmp",
    "jcc",
    "call",
    "ret",
    "syscall",
    "label",
    "comment",
    "nop",
    "raw",
    "string_lit",
    "method_call",
    "array_new",
    "map_put",
    "fadd",
    "load",
    "store",
    "frobnicate",
];

/// Values where encodings, ranges and arithmetic change.
const INTERESTING: &[i128] = &[
    0,
    1,
    -1,
    2,
    3,
    7,
    8,
    15,
    16,
    31,
    32,
    63,
    64,
    127,
    128,
    -128,
    -129,
    255,
    256,
    4095,
    4096,
    -4096,
    65535,
    65536,
    (1 << 24) - 1,
    1 << 24,
    i32::MAX as i128,
    i32::MIN as i128,
    i32::MAX as i128 + 1,
    i32::MIN as i128 - 1,
    u32::MAX as i128,
    1 << 32,
    -(1 << 32),
    (1 << 48) - 1,
    i64::MAX as i128,
    i64::MIN as i128,
    1 << 63,
    u64::MAX as i128,
    0x7ff0_0000_0000_0000,
    0x3ff0_0000_0000_0000,
    0x7ff8_0000_0000_0001,
    0x8000_0000_0000_0000,
];

/// Integers the IR refuses (outside 64 bits) or that are only just in.
const OUT_OF_RANGE: &[i128] = &[1 << 64, -(1 << 63) - 1, i128::MAX, i128::MIN, (1 << 64) + 1, -(1 << 64)];

/// What a function body is generated against.
struct Scope {
    isa: Isa,
    /// Vregs are mostly below this.
    vregs: u32,
    /// Label names of the function.
    labels: Vec<Vec<u8>>,
    /// Callable names: the module's functions (with arities) and others.
    callees: Vec<(Vec<u8>, u32)>,
    /// Data and bss entries: name, size.
    data: Vec<(Vec<u8>, u64)>,
}

/// The generator: the input's bytes and how wrong to make things.
pub struct Gen<'u, 'a> {
    u: &'u mut Unstructured<'a>,
    /// Per mille: how often an operand or field is replaced by a wrong term.
    chaos: u32,
    fixed_chaos: Option<u32>,
}

impl<'u, 'a> Gen<'u, 'a> {
    pub fn new(u: &'u mut Unstructured<'a>) -> Gen<'u, 'a> {
        Gen { u, chaos: 0, fixed_chaos: None }
    }

    /// A generator whose chaos is `chaos` per mille whatever the input
    /// says (for measuring what the generator makes).
    pub fn with_chaos(u: &'u mut Unstructured<'a>, chaos: u32) -> Gen<'u, 'a> {
        Gen { u, chaos, fixed_chaos: Some(chaos) }
    }

    /// One module: generated, or a fixture; then mutated.
    pub fn module(&mut self) -> Result<ETerm> {
        // Mostly little chaos: most modules should get through validation.
        self.chaos = match self.u.int_in_range(0u8..=15)? {
            0..=5 => 0,
            6..=10 => 5,
            11..=13 => 30,
            _ => 150,
        };
        if let Some(chaos) = self.fixed_chaos {
            self.chaos = chaos;
        }
        let mut module = if self.u.ratio(1u8, 4)? && !FIXTURES.is_empty() {
            let (_, text) = FIXTURES[self.u.choose_index(FIXTURES.len())?];
            fixture_term(text)
        } else {
            self.generate()?
        };
        let mutations = match self.u.int_in_range(0u8..=7)? {
            0..=3 => 0,
            4..=5 => 1,
            6 => 2,
            _ => self.u.int_in_range(3..=12)?,
        };
        for _ in 0..mutations {
            self.mutate(&mut module)?;
        }
        Ok(module)
    }

    fn chance(&mut self, per_mille: u32) -> Result<bool> {
        Ok(per_mille > 0 && self.u.int_in_range(0u32..=999)? < per_mille)
    }

    fn wrong(&mut self) -> Result<bool> {
        self.chance(self.chaos)
    }

    /// Up to `max` bytes of the input.
    fn some_bytes(&mut self, max: usize) -> Result<Vec<u8>> {
        let n = self.u.int_in_range(0..=max)?;
        Ok(self.u.bytes(n)?.to_vec())
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Result<T> {
        Ok(*self.u.choose(items)?)
    }

    fn interesting(&mut self) -> Result<i128> {
        Ok(match self.u.int_in_range(0u8..=9)? {
            0..=3 => self.pick(INTERESTING)?,
            4 => i128::from(self.u.arbitrary::<i64>()?),
            5 => i128::from(self.u.arbitrary::<u64>()?),
            _ => i128::from(self.u.int_in_range(-1000i64..=1000)?),
        })
    }

    /// A term of some kind the position does not expect, or a value out of
    /// its range.
    fn junk(&mut self, isa: Isa) -> Result<ETerm> {
        let other_reg = if isa == Isa::X86_64 { "x0" } else { "rax" };
        Ok(match self.u.int_in_range(0u8..=23)? {
            0 => tagged("imm", vec![int(self.pick(OUT_OF_RANGE)?)]),
            1 => tagged("vreg", vec![int(self.pick(&[-1, 1 << 32, u32::MAX as i128, i64::MAX as i128, 1 << 70])?)]),
            2 => tagged("vreg", vec![int(u32::MAX as i128 - self.u.int_in_range(0..=3)? as i128)]),
            3 => tagged("preg", vec![atom(other_reg)]),
            4 => tagged("preg", vec![atom(self.pick(RESERVED)?)]),
            5 => tagged("preg", vec![atom(self.pick(&["x31", "r16", "xzr", "x", "x01", "eax", ""])?)]),
            6 => tagged("stack", vec![int(self.pick(&[-1, 0, 1 << 24, (1 << 24) - 1, u32::MAX as i128])?)]),
            7 => tagged("imm", vec![bin(b"1")]),
            // Element sizes, sizes and offsets out of their ranges.
            8 => tagged("vreg", vec![]),
            9 => tagged("vreg", vec![int(1), int(2)]),
            10 => int(self.interesting()?),
            11 => int(self.pick(OUT_OF_RANGE)?),
            12 => atom(self.pick(&["undefined", "true", "ret", "main", "eq", "x86_64", "", "vreg"])?),
            13 => bin(&self.some_bytes(8)?),
            14 => list(vec![]),
            15 => tuple(vec![]),
            16 => map(vec![]),
            17 => tagged("label_ref", vec![bin(b"L0")]),
            18 => tagged("data_ref", vec![bin(b"d0")]),
            19 => tagged("sym", vec![bin(b"main")]),
            20 => eetf::Term::Float(eetf::Float::try_from(1.5f64).expect("finite")),
            22 => {
                let inner = self.junk_shallow()?;
                tagged("vreg", vec![tuple(vec![inner])])
            }
            21 => eetf::Term::ImproperList(eetf::ImproperList::from((vec![atom("ret")], atom("foo")))),
            _ => tagged("imm", vec![int(self.pick(&[0, 3, 16, -8, 1 << 31, 1 << 32])?)]),
        })
    }

    /// A small term of any kind, for nesting.
    fn junk_shallow(&mut self) -> Result<ETerm> {
        Ok(match self.u.int_in_range(0u8..=3)? {
            0 => atom("x"),
            1 => int(self.interesting()?),
            2 => list(vec![list(vec![tuple(vec![])])]),
            _ => bin(b""),
        })
    }

    fn vreg(&mut self, s: &Scope) -> Result<ETerm> {
        let n: i128 = if self.chance(self.chaos / 2 + 5)? {
            // Sparse: huge numbers, or far apart.
            self.pick(&[u32::MAX as i128, u32::MAX as i128 - 1, 1 << 31, 100_000, 1 << 20, 65_536])?
                + i128::from(self.u.int_in_range(0u8..=3)?)
        } else {
            i128::from(self.u.int_in_range(0..=s.vregs.max(1) - 1)?)
        };
        Ok(tagged("vreg", vec![int(n.min(u32::MAX as i128))]))
    }

    fn preg(&mut self, s: &Scope) -> Result<ETerm> {
        let name = match s.isa {
            Isa::X86_64 => {
                if self.u.ratio(2u8, 3)? {
                    self.pick(&["rax", "rdi", "rsi", "rdx", "rcx", "r8", "r9"])?
                } else {
                    self.pick(X86_REGS)?
                }
            }
            Isa::Arm64 => {
                if self.u.ratio(2u8, 3)? {
                    self.pick(ARM_ARGS)?
                } else {
                    let name = format!("x{}", self.u.int_in_range(0..=30)?);
                    if RESERVED.contains(&name.as_str()) && !self.wrong()? {
                        return Ok(tagged("preg", vec![atom("x9")]));
                    }
                    return Ok(tagged("preg", vec![atom(&name)]));
                }
            }
        };
        // Reserved registers only where things are meant to go wrong.
        if RESERVED.contains(&name) && !self.wrong()? {
            return Ok(tagged("preg", vec![atom(if s.isa == Isa::X86_64 { "rax" } else { "x0" })]));
        }
        Ok(tagged("preg", vec![atom(name)]))
    }

    fn reg(&mut self, s: &Scope) -> Result<ETerm> {
        if self.u.ratio(1u8, 8)? {
            self.preg(s)
        } else {
            self.vreg(s)
        }
    }

    fn imm(&mut self) -> Result<ETerm> {
        Ok(tagged("imm", vec![int(self.interesting()?)]))
    }

    fn operand(&mut self, kind: K, s: &Scope) -> Result<ETerm> {
        if self.wrong()? {
            return self.junk(s.isa);
        }
        Ok(match kind {
            K::D | K::R => self.reg(s)?,
            K::S => {
                if self.u.ratio(1u8, 3)? {
                    self.imm()?
                } else {
                    self.reg(s)?
                }
            }
            K::O => match self.u.int_in_range(0u8..=9)? {
                0..=2 => self.imm()?,
                3 => tagged("stack", vec![int(i128::from(self.u.int_in_range(0u32..=5)?))]),
                _ => self.reg(s)?,
            },
            K::Off => {
                let o = if self.u.ratio(1u8, 4)? {
                    self.interesting()?.clamp(i32::MIN.into(), i32::MAX.into())
                } else {
                    8 * self.u.int_in_range(-4..=16)?
                };
                if self.u.ratio(1u8, 5)? {
                    tagged("imm", vec![int(o)])
                } else {
                    int(o)
                }
            }
            K::Size => {
                let n = if self.u.ratio(1u8, 5)? {
                    self.interesting()?.clamp(0, u32::MAX.into())
                } else {
                    self.u.int_in_range(0..=64)?
                };
                tagged("imm", vec![int(n)])
            }
            K::Elem => tagged("imm", vec![int(self.pick(&[1, 2, 4, 8, 8, 8])?)]),
            K::Field => {
                let n = if self.u.ratio(1u8, 5)? {
                    self.interesting()?.clamp(0, i32::MAX as i128 - 1)
                } else {
                    8 * self.u.int_in_range(0..=8)?
                };
                tagged("imm", vec![int(n)])
            }
        })
    }

    /// A label name of the function, sometimes a new one.
    fn label_name(&mut self, s: &mut Scope) -> Result<Vec<u8>> {
        if s.labels.is_empty() || self.u.ratio(1u8, 4)? {
            let name = format!("L{}", s.labels.len()).into_bytes();
            s.labels.push(name);
        }
        Ok(s.labels[self.u.choose_index(s.labels.len())?].clone())
    }

    /// A label operand: the name's binary, or `{label_ref, Name}`.
    fn label(&mut self, s: &mut Scope) -> Result<ETerm> {
        let name = self.label_name(s)?;
        Ok(match self.u.int_in_range(0u8..=9)? {
            0 => tagged("label_ref", vec![bin(&name)]),
            _ => bin(&name),
        })
    }

    /// One of `names`, or `fallback` when there are none; a name defined
    /// nowhere (or no name) where things are meant to go wrong.
    fn name(&mut self, names: &[(Vec<u8>, u64)], fallback: &[u8]) -> Result<Vec<u8>> {
        if self.wrong()? {
            return Ok(self.pick(&[&b"nope"[..], b"", b"\xff", b"__vbeam_heap_end"])?.to_vec());
        }
        if names.is_empty() {
            return Ok(fallback.to_vec());
        }
        Ok(names[self.u.choose_index(names.len())?].0.clone())
    }

    /// `mov`s of values into `count` argument registers.
    fn set_args(&mut self, s: &Scope, count: u32, out: &mut Vec<ETerm>) -> Result<()> {
        let args = if s.isa == Isa::X86_64 { X86_ARGS } else { ARM_ARGS };
        for a in args.iter().take(count as usize) {
            let src = self.operand(K::S, s)?;
            out.push(tagged("mov", vec![tagged("preg", vec![atom(a)]), src]));
        }
        Ok(())
    }

    fn result(&mut self, s: &Scope, out: &mut Vec<ETerm>) -> Result<()> {
        let r = if s.isa == Isa::X86_64 { "rax" } else { "x0" };
        let d = self.vreg(s)?;
        out.push(tagged("mov", vec![d, tagged("preg", vec![atom(r)])]));
        Ok(())
    }

    /// One statement: an instruction or a short sequence (a call with its
    /// arguments, a compare and its branches, a system call).
    fn statement(&mut self, s: &mut Scope, out: &mut Vec<ETerm>) -> Result<()> {
        match self.u.int_in_range(0u8..=24)? {
            0..=9 => {
                let (op, kinds) = self.pick(OPS)?;
                let mut args = Vec::with_capacity(kinds.len());
                for k in kinds {
                    args.push(self.operand(*k, s)?);
                }
                if self.wrong()? {
                    // An operand too few or too many.
                    if self.u.arbitrary()? {
                        args.pop();
                    } else {
                        args.push(self.operand(K::S, s)?);
                    }
                }
                out.push(tagged(op, args));
            }
            10 => {
                let d = self.operand(K::D, s)?;
                let v = if self.wrong()? { int(self.pick(OUT_OF_RANGE)?) } else { int(self.interesting()?) };
                out.push(tagged("mov_imm", vec![d, v]));
            }
            11 | 12 => {
                let a = self.operand(K::R, s)?;
                let b = self.operand(K::S, s)?;
                out.push(tagged("cmp", vec![a, b]));
                for _ in 0..self.u.int_in_range(1..=3)? {
                    let c = if self.wrong()? { atom("always") } else { atom(self.pick(CONDS)?) };
                    let l = self.label(s)?;
                    out.push(tagged("jcc", vec![c, l]));
                    if self.chance(100)? {
                        out.push(atom("nop"));
                    }
                }
            }
            13 => {
                let l = self.label(s)?;
                out.push(tagged("jmp", vec![l]));
            }
            14 => {
                // A label defined here (those never defined are added at
                // random places afterwards).
                let name = self.label_name(s)?;
                if out.iter().filter_map(label_definition).any(|d| d == name) && !self.wrong()? {
                    return Ok(());
                }
                out.push(tagged("label", vec![bin(&name)]));
            }
            15 | 16 => {
                let builtin = s.callees.is_empty() || self.u.ratio(1u8, 5)?;
                let (name, arity) = if builtin {
                    (self.pick(BUILTINS)?.as_bytes().to_vec(), self.u.int_in_range(0..=3)?)
                } else {
                    s.callees[self.u.choose_index(s.callees.len())?].clone()
                };
                self.set_args(s, arity, out)?;
                let target = match self.u.int_in_range(0u8..=7)? {
                    0 => bin(&name),
                    1 => tagged("sym", vec![atom(&String::from_utf8_lossy(&name))]),
                    // The generator's qualified names mean the module's functions.
                    2 if !builtin || self.wrong()? => tagged("sym", vec![bin(&[b"main.", &name[..]].concat())]),
                    _ => tagged("sym", vec![bin(&name)]),
                };
                out.push(tagged("call", vec![target]));
                if self.u.ratio(2u8, 3)? {
                    self.result(s, out)?;
                }
            }
            17 => {
                // A system call: its number, arguments, then the call.
                // The IR's numbers: Linux's in rax on x86_64, BSD's in x16
                // on arm64 (write, exit, mmap); others only mean something
                // on some systems.
                let (number, nums, others) = match s.isa {
                    Isa::X86_64 => ("rax", &[1i128, 1, 60][..], &[9i128, 0, 12, 231, 39, 1000][..]),
                    Isa::Arm64 => ("x16", &[4i128, 4, 1][..], &[197i128, 3, 20, 93, 64, 1000][..]),
                };
                let n = if self.wrong()? {
                    self.interesting()?
                } else if self.u.ratio(1u8, 10)? {
                    self.pick(others)?
                } else {
                    self.pick(nums)?
                };
                let count = self.u.int_in_range(0..=4)?;
                self.set_args(s, count, out)?;
                out.push(tagged("mov_imm", vec![tagged("preg", vec![atom(number)]), int(n)]));
                out.push(atom("syscall"));
                if self.u.arbitrary()? {
                    self.result(s, out)?;
                }
            }
            18 => {
                let d = self.operand(K::D, s)?;
                let what = match self.u.int_in_range(0u8..=3)? {
                    _ if s.data.is_empty() && !self.wrong()? => tagged("sym", vec![bin(b"main")]),
                    0 => tagged(
                        "sym",
                        vec![bin(
                            &self.name(&s.callees.iter().map(|(n, _)| (n.clone(), 0)).collect::<Vec<_>>(), b"main")?
                        )],
                    ),
                    _ => tagged("data_ref", vec![bin(&self.name(&s.data, b"nope")?)]),
                };
                out.push(tagged("lea", vec![d, what]));
            }
            19 => {
                let d = self.operand(K::D, s)?;
                match self.u.int_in_range(0u8..=2)? {
                    _ if s.data.is_empty() && !self.wrong()? => {
                        let bytes = self.some_bytes(24)?;
                        out.push(tagged("string_lit", vec![d, bin(&bytes)]));
                    }
                    0 => {
                        let bytes = self.some_bytes(24)?;
                        out.push(tagged("string_lit", vec![d, bin(&bytes)]));
                    }
                    1 => {
                        let name = self.name(&s.data, b"nope")?;
                        out.push(tagged("string_lit", vec![d, tagged("data_ref", vec![bin(&name)])]));
                    }
                    _ => {
                        let name = self.name(&s.data, b"nope")?;
                        let size = s.data.iter().find(|(n, _)| *n == name).map_or(0, |(_, size)| *size);
                        let len = if self.wrong()? {
                            self.interesting()?
                        } else {
                            i128::from(self.u.int_in_range(0..=size.min(1 << 20))?)
                        };
                        out.push(tagged("string_lit", vec![d, tagged("data_ref", vec![bin(&name)]), int(len)]));
                    }
                }
            }
            20 => {
                let d = self.operand(K::D, s)?;
                // Methods the module or the runtime has (`T__m`), with their
                // arities; others where things are meant to go wrong.
                let defined = |name: &[u8]| s.callees.iter().any(|(n, _)| n == name);
                let (box_get, t_m) = (defined(b"Box__get"), defined(b"T__m"));
                let (type_name, method, arity) = if self.wrong()? {
                    (self.pick(&["Box", "int literal", "float literal", "main.Box", "T", ""])?, "nope", 9)
                } else {
                    let known = [("Box", "get", 2), ("main.Box", "get", 2), ("T", "m", 1)];
                    let mine: Vec<_> =
                        known.into_iter().filter(|(t, _, _)| if *t == "T" { t_m } else { box_get }).collect();
                    if !mine.is_empty() && self.u.ratio(1u8, 3)? {
                        self.pick(&mine)?
                    } else {
                        self.pick(&[
                            ("int literal", "str", 1),
                            ("int", "str", 1),
                            ("string", "repeat", 2),
                            ("string", "to_upper", 1),
                            ("string", "trim_space", 1),
                            ("string", "int", 1),
                            ("string", "index_after", 3),
                            ("u8", "ascii_str", 1),
                            ("[]int", "clone", 1),
                            ("[]int", "last", 1),
                            ("[]u8", "bytestr", 1),
                        ])?
                    }
                };
                let mut args = Vec::new();
                for _ in 0..arity {
                    args.push(self.operand(K::S, s)?);
                }
                out.push(tagged("method_call", vec![d, bin(type_name.as_bytes()), bin(method.as_bytes()), list(args)]));
            }
            21 => {
                let len = match s.isa {
                    Isa::X86_64 => self.pick(&[1usize, 2, 3, 5, 15])?,
                    Isa::Arm64 => 4 * self.u.int_in_range(1..=3)? + if self.wrong()? { 1 } else { 0 },
                };
                let bytes = self.u.bytes(len)?.to_vec();
                out.push(tagged("raw", vec![bin(&bytes)]));
            }
            22 => out.push(atom(self.pick(&["ret", "nop", "ret"])?)),
            23 => out.push(tagged("comment", vec![bin(b"a comment")])),
            _ if !self.wrong()? => out.push(atom("nop")),
            _ => {
                // An instruction of a known opcode with any operands.
                let op = self.pick(OPCODES)?;
                let mut args = Vec::new();
                for _ in 0..self.u.int_in_range(0..=4)? {
                    let k = self.pick(&[K::D, K::S, K::O, K::Off, K::Size])?;
                    args.push(if self.u.ratio(1u8, 3)? { self.junk(s.isa)? } else { self.operand(k, s)? });
                }
                out.push(tagged(op, args));
            }
        }
        Ok(())
    }

    fn body(&mut self, s: &mut Scope, is_main: bool) -> Result<Vec<ETerm>> {
        let mut out = Vec::new();
        let statements = self.u.int_in_range(0..=40)?;
        for _ in 0..statements {
            if self.u.is_empty() {
                break;
            }
            self.statement(s, &mut out)?;
        }
        // Labels used but not defined get a definition at a random place,
        // except where one is meant to be missing.
        let defined: Vec<Vec<u8>> = out.iter().filter_map(label_definition).collect();
        self.define_labels(s, &mut out, &defined)?;
        if is_main && self.u.ratio(1u8, 2)? {
            let r = if s.isa == Isa::X86_64 { "rax" } else { "x0" };
            out.push(tagged("mov_imm", vec![tagged("preg", vec![atom(r)]), int(0)]));
        }
        if self.u.ratio(7u8, 8)? {
            out.push(atom("ret"));
        }
        Ok(out)
    }

    /// Defines the labels of `s` not in `defined`, each at a random place
    /// that does not part a `jcc` from its `cmp` (anywhere, with chaos).
    fn define_labels(&mut self, s: &Scope, body: &mut Vec<ETerm>, defined: &[Vec<u8>]) -> Result<()> {
        for name in &s.labels {
            if !defined.contains(name) && !self.wrong()? {
                let at = self.insertion_point(body)?;
                body.insert(at, tagged("label", vec![bin(name)]));
            }
        }
        Ok(())
    }

    /// A random place to insert an instruction at: with chaos anywhere,
    /// else the first place from a random one on that is not between a
    /// `cmp` and its `jcc`s.
    fn insertion_point(&mut self, body: &[ETerm]) -> Result<usize> {
        let mut at = self.u.int_in_range(0..=body.len())?;
        if self.chaos == 0 {
            while at < body.len() && body[at..].iter().find(|i| !is_op(i, "nop")).is_some_and(|i| is_op(i, "jcc")) {
                at += 1;
            }
        }
        Ok(at)
    }

    fn align(&mut self) -> Result<i128> {
        if self.wrong()? {
            return self.pick(&[0, 3, -8, 1 << 17, 1 << 20, 1 << 40, u64::MAX as i128]);
        }
        if self.u.ratio(1u8, 32)? {
            return self.pick(&[4096, 16384, 65536]);
        }
        self.pick(&[1, 1, 2, 4, 8, 8, 16, 64])
    }

    fn generate(&mut self) -> Result<ETerm> {
        let isa = if self.u.arbitrary()? { Isa::X86_64 } else { Isa::Arm64 };
        let format = self.pick(&["elf64", "elf64", "macho", "pe"])?;

        // Data and bss entries.
        let mut data_terms = Vec::new();
        let mut bss_terms = Vec::new();
        let mut entries: Vec<(Vec<u8>, u64)> = Vec::new();
        for i in 0..self.u.int_in_range(0..=4)? {
            let name = format!("d{i}").into_bytes();
            let align = self.align()?;
            let contents = if align >= 8 && self.u.ratio(1u8, 3)? {
                let mut parts = Vec::new();
                let mut size = 0u64;
                for _ in 0..self.u.int_in_range(1..=4)? {
                    let part = match self.u.int_in_range(0u8..=3)? {
                        0 => tagged("data_ref", vec![bin(&self.name(&entries, &name)?)]),
                        1 => {
                            let target = self.name(&entries, &name)?;
                            tagged("data_ref", vec![bin(&target), int(self.interesting()?)])
                        }
                        2 => tagged("sym", vec![bin(if self.u.arbitrary()? { b"main" } else { b"println" })]),
                        _ => {
                            // Mostly whole words, so the addresses stay aligned.
                            let n = 8 * self.u.int_in_range(0..=3)? + if self.wrong()? { 3 } else { 0 };
                            size += n as u64;
                            parts.push(bin(self.u.bytes(n)?));
                            continue;
                        }
                    };
                    size += 8;
                    parts.push(part);
                }
                entries.push((name.clone(), size));
                list(parts)
            } else {
                let bytes = self.some_bytes(32)?;
                entries.push((name.clone(), bytes.len() as u64));
                bin(&bytes)
            };
            data_terms.push(tuple(vec![bin(&name), int(align), contents]));
        }
        for i in 0..self.u.int_in_range(0..=3)? {
            let name = format!("b{i}").into_bytes();
            let align = self.align()?;
            let size: i128 = if self.wrong()? {
                self.pick(&[-1, 1 << 40, u32::MAX as i128 + 1, i64::MAX as i128, u64::MAX as i128, 1 << 64])?
            } else {
                self.pick(&[0, 1, 8, 256, 4096, 1 << 20])?
            };
            entries.push((name.clone(), size.clamp(0, u64::MAX as i128) as u64));
            bss_terms.push(tuple(vec![bin(&name), int(align), int(size)]));
        }
        if self.wrong()? {
            // The same name twice, or a name the backend reserves.
            let name = self.pick(&[&b"d0"[..], b"b0", b"__vbeam_heap", b"main"])?;
            bss_terms.push(tuple(vec![bin(name), int(8), int(8)]));
        }

        // Functions: their names and arities first, for calls.
        let count = self.u.int_in_range(0..=4)?;
        let mut signatures: Vec<(Vec<u8>, u32)> = Vec::new();
        for i in 0..count {
            // Methods too, for `method_call`.
            let name = match (i, self.u.int_in_range(0u8..=3)?) {
                (0, 0) => b"Box__get".to_vec(),
                (1, 0) => b"T__m".to_vec(),
                _ => format!("f{i}").into_bytes(),
            };
            let arity = if self.wrong()? { self.pick(&[7, 8, 9, 255])? } else { self.u.int_in_range(0..=6)? };
            signatures.push((name, arity));
        }
        signatures.push((b"main".to_vec(), 0));
        let mut functions = Vec::new();
        for (k, (name, arity)) in signatures.iter().enumerate() {
            let locals = arity + self.u.int_in_range(1..=24)?;
            let mut scope = Scope {
                isa,
                vregs: locals,
                labels: Vec::new(),
                callees: signatures[..k].to_vec(),
                data: entries.clone(),
            };
            let body = self.body(&mut scope, k + 1 == signatures.len())?;
            let params: Vec<ETerm> = (0..*arity).map(|v| tagged("vreg", vec![int(i128::from(v))])).collect();
            let mut fields = vec![
                (atom("name"), bin(name)),
                (atom("arity"), int(i128::from(*arity))),
                (atom("exported"), atom(if k + 1 == signatures.len() { "true" } else { "false" })),
                (atom("params"), list(params)),
                (atom("locals"), int(i128::from(locals))),
                (atom("body"), list(body)),
            ];
            if self.wrong()? {
                let i = self.u.choose_index(fields.len())?;
                if self.u.arbitrary()? {
                    fields.remove(i);
                } else {
                    fields[i].1 = self.junk(isa)?;
                }
            }
            functions.push(map(fields));
        }
        if self.wrong()? {
            let i = self.u.choose_index(functions.len())?;
            let copy = functions[i].clone();
            functions.push(copy);
        }

        let mut keys = vec![
            (atom("target"), atom(isa.name())),
            (atom("format"), atom(format)),
            (atom("functions"), list(functions)),
            (atom("data"), list(data_terms)),
            (atom("bss"), list(bss_terms)),
            (atom("imports"), list(vec![])),
        ];
        if self.u.ratio(1u8, 4)? {
            keys.push((atom("allow_stubs"), atom(if self.u.arbitrary()? { "true" } else { "false" })));
        }
        if self.wrong()? {
            let i = self.u.choose_index(keys.len())?;
            if self.u.arbitrary()? {
                keys.remove(i);
            } else {
                keys[i].1 = self.junk(isa)?;
            }
        }
        Ok(map(keys))
    }

    /// One mutation of a module: of an instruction, a function's body or
    /// any subterm.
    fn mutate(&mut self, module: &mut ETerm) -> Result<()> {
        let isa = match module_key(module, "target") {
            Some(ETerm::Atom(a)) if a.name == "arm64" => Isa::Arm64,
            _ => Isa::X86_64,
        };
        let data = data_entries(module);
        // Mutations that make terms of the wrong kind only with chaos.
        let choice = self.u.int_in_range(0u8..=if self.chaos == 0 { 4 } else { 9 })?;
        if choice >= 8 {
            return self.replace_subterm(module, isa, 1);
        }
        let Some(functions) = module_key_mut(module, "functions").and_then(list_mut) else {
            return self.replace_subterm(module, isa, 0);
        };
        if functions.is_empty() {
            return Ok(());
        }
        let callees: Vec<(Vec<u8>, u32)> = functions.iter().filter_map(signature).collect();
        let f = self.u.choose_index(functions.len())?;
        let Some(body) = map_key_mut(&mut functions[f], "body").and_then(list_mut) else { return Ok(()) };
        let labels: Vec<Vec<u8>> = body.iter().filter_map(label_definition).collect();
        let mut scope = Scope { isa, vregs: 16, labels, callees, data };
        let len = body.len();
        let at = self.u.int_in_range(0..=len)?;
        // Without chaos, labels, compares and branches stay where they are
        // (moving them only gives errors the validator is sure to find).
        let structural = |inst: &ETerm| label_definition(inst).is_some() || is_op(inst, "cmp") || is_op(inst, "jcc");
        let movable = |g: &Self, inst: &ETerm| g.chaos > 0 || !structural(inst);
        let i = at.min(len.saturating_sub(1));
        match choice {
            0..=2 if len == 0 => {}
            0 => {
                if movable(self, &body[i]) {
                    body.remove(i);
                }
            }
            1 => {
                if movable(self, &body[i]) {
                    let copy = body[i].clone();
                    body.insert(at, copy);
                }
            }
            2 => {
                let other = self.u.choose_index(len)?;
                if movable(self, &body[i]) && movable(self, &body[other]) {
                    body.swap(i, other);
                }
            }
            3 | 4 => {
                let mut new = Vec::new();
                self.statement(&mut scope, &mut new)?;
                let at = self.insertion_point(body)?;
                for (k, inst) in new.into_iter().enumerate() {
                    body.insert(at + k, inst);
                }
                let defined: Vec<Vec<u8>> = body.iter().filter_map(label_definition).collect();
                self.define_labels(&scope, body, &defined)?;
            }
            _ if len == 0 => {}
            5 | 6 => {
                // One operand of an instruction made wrong.
                if let ETerm::Tuple(t) = &mut body[i] {
                    if t.elements.len() > 1 {
                        let k = 1 + self.u.choose_index(t.elements.len() - 1)?;
                        t.elements[k] = if self.u.arbitrary()? {
                            self.junk(isa)?
                        } else {
                            let kind = self.pick(&[K::D, K::S, K::O, K::Off, K::Size, K::Elem, K::Field])?;
                            self.operand(kind, &scope)?
                        };
                    }
                }
            }
            _ => self.replace_subterm(&mut body[i], isa, 0)?,
        }
        Ok(())
    }

    /// Replaces a random subterm of `term` (or `term`) by a wrong one.
    fn replace_subterm(&mut self, term: &mut ETerm, isa: Isa, depth: u32) -> Result<()> {
        let children: Option<&mut Vec<ETerm>> = match term {
            ETerm::Tuple(t) => Some(&mut t.elements),
            ETerm::List(l) => Some(&mut l.elements),
            _ => None,
        };
        if let Some(children) = children {
            if !children.is_empty() && depth < 8 && (depth <= 2 || self.u.ratio(3u8, 4)?) {
                let i = self.u.choose_index(children.len())?;
                return self.replace_subterm(&mut children[i], isa, depth + 1);
            }
        }
        if let ETerm::Map(m) = term {
            if !m.map.is_empty() && depth < 8 && (depth == 1 || self.u.ratio(3u8, 4)?) {
                let i = self.u.choose_index(m.map.len())?;
                let value = m.map.values_mut().nth(i).expect("an index below the length");
                return self.replace_subterm(value, isa, depth + 1);
            }
        }
        *term = self.junk(isa)?;
        Ok(())
    }
}

/// The module term of a fixture's text, read with the core's reader.
fn fixture_term(text: &str) -> ETerm {
    match vbeam_native_ir_text::parse(text) {
        Ok(value) => crate::etf::from_term(&&value),
        Err(_) => atom("unreadable_fixture"),
    }
}

fn module_key<'t>(module: &'t ETerm, key: &str) -> Option<&'t ETerm> {
    match module {
        ETerm::Map(m) => m.map.get(&atom(key)),
        _ => None,
    }
}

fn module_key_mut<'t>(module: &'t mut ETerm, key: &str) -> Option<&'t mut ETerm> {
    map_key_mut(module, key)
}

fn map_key_mut<'t>(term: &'t mut ETerm, key: &str) -> Option<&'t mut ETerm> {
    match term {
        ETerm::Map(m) => m.map.get_mut(&atom(key)),
        _ => None,
    }
}

fn list_mut(term: &mut ETerm) -> Option<&mut Vec<ETerm>> {
    match term {
        ETerm::List(l) => Some(&mut l.elements),
        _ => None,
    }
}

/// A function term's name and arity.
fn signature(f: &ETerm) -> Option<(Vec<u8>, u32)> {
    let ETerm::Map(m) = f else { return None };
    let name = match m.map.get(&atom("name"))? {
        ETerm::Binary(b) => b.bytes.clone(),
        _ => return None,
    };
    let arity = match m.map.get(&atom("arity")) {
        Some(ETerm::FixInteger(i)) => i.value.clamp(0, 8) as u32,
        _ => 0,
    };
    Some((name, arity))
}

/// The module's data and bss entries: name and size (as far as they read).
fn data_entries(module: &ETerm) -> Vec<(Vec<u8>, u64)> {
    let mut out = Vec::new();
    for key in ["data", "bss"] {
        if let Some(ETerm::List(l)) = module_key(module, key) {
            for e in &l.elements {
                if let ETerm::Tuple(t) = e {
                    if let [ETerm::Binary(name), _, contents] = &t.elements[..] {
                        let size = match contents {
                            ETerm::Binary(b) => b.bytes.len() as u64,
                            ETerm::FixInteger(i) => i.value.max(0) as u64,
                            _ => 8,
                        };
                        out.push((name.bytes.clone(), size));
                    }
                }
            }
        }
    }
    out
}

/// Whether `inst` is `Op` or `{Op, ...}`.
fn is_op(inst: &ETerm, op: &str) -> bool {
    match inst {
        ETerm::Atom(a) => a.name == op,
        ETerm::Tuple(t) => matches!(t.elements.first(), Some(ETerm::Atom(a)) if a.name == op),
        _ => false,
    }
}

/// The name a `{label, Name}` instruction defines.
fn label_definition(inst: &ETerm) -> Option<Vec<u8>> {
    match inst {
        ETerm::Tuple(t) => match &t.elements[..] {
            [ETerm::Atom(a), ETerm::Binary(name)] if a.name == "label" => Some(name.bytes.clone()),
            _ => None,
        },
        _ => None,
    }
}
