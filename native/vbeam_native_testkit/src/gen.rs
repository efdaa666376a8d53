//! Random valid IR programs, written the way the V compiler writes IR:
//! arguments moved into the argument registers right before `call`,
//! results read from `rax`/`x0` right after, `string_lit` from data
//! entries with their lengths, `map_put` results moved back into the map.
//!
//! Every program terminates (bounded loops; a function calls only
//! lower-numbered ones, outside loops; `rec` recurses to a bounded depth)
//! and reads only defined values, so its output is fully specified. What
//! the spec leaves open is never observed: NaN bits are only printed (as
//! `nan`), `float_to_int` is guarded to the values it defines, and a named
//! preg is read after a call, runtime instruction or syscall only where the
//! spec says it survives.
//!
//! Besides ordinary code, the programs reach what once hid backend bugs
//! (`coverage::Feature` lists them; the interpreter records which a run
//! reached): array elements of 1, 2, 4 and 8 bytes, struct fields up to
//! 64 KiB, map keys over the whole 64-bit range, float arithmetic and
//! printing on any bit pattern, every condition, chains of `jcc` (and
//! `nop`s) after one `cmp`, named pregs live across runtime instructions,
//! syscalls and calls, deep recursion, sparse vreg numbers, bodies that end
//! without `ret` or in a label, addresses stored in data, `lea` of a
//! function and `call_indirect`.

use vbeam_native_core::ir::*;
use vbeam_native_core::regs::{call_conv, preg_from_name, RegSet};

/// A small, reproducible generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Functions besides `main`.
    pub functions: usize,
    /// Statements per function body (top level).
    pub statements: usize,
    /// Also exercise strings, arrays, maps, structs, floats and builtins.
    pub data_types: bool,
    /// How deep `rec` may recurse (from a quarter of this to all of it).
    pub recursion_depth: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config { functions: 4, statements: 24, data_types: true, recursion_depth: 4000 }
    }
}

const SCRATCH: &str = "scratch";
const SCRATCH_SIZE: u64 = 256;
const IR_SLOTS: u32 = 4;
const STRINGS: [&[u8]; 4] = [b"alpha", b"", b"beta gamma", b"  MiXed 42 "];
/// `{sym, fn_K}` for every `fn_K`, in order: what `call_indirect` loads.
const FN_TABLE: &str = "fn_table";
/// Addresses: `scratch`, `scratch` + an addend, `str_2`, `str_2` + 5.
const ADDRS: &str = "addrs";
const STR_2_ADDEND: i64 = 5;
/// String headers in data (`{data_ref, str_K[, Addend]}`, then the length).
const HEADERS: [(usize, i64); 2] = [(2, STR_2_ADDEND), (3, 0)];
/// The self-recursive function main calls.
const REC: &str = "rec";
/// A struct this large has fields up to 64 KiB.
const BIG_STRUCT: i64 = (64 << 10) + 8;
/// Float bit patterns that found bugs: zeros, infinities, NaNs (quiet,
/// signalling, with payloads and signs), subnormals, the extremes, and
/// values whose shortest text is a tie (1000000000000000.25).
const FLOAT_BITS: [u64; 18] = [
    0,
    0x8000_0000_0000_0000,
    0x7ff0_0000_0000_0000,
    0xfff0_0000_0000_0000,
    0x7ff8_0000_0000_0000,
    0xfff8_0000_dead_beef,
    0x7ff0_0000_0000_0001,
    1,
    0x800f_ffff_ffff_ffff,
    0x0010_0000_0000_0000,
    0x7fef_ffff_ffff_ffff,
    0x3ff0_0000_0000_0000,
    0x3fb9_9999_9999_999a,
    0x4340_0000_0000_0000,
    0x4340_0000_0000_0001,
    4831355200913801218,
    0x3ee4_f8b5_88e3_68f1,
    0xc3e0_0000_0000_0000,
];

fn interesting(rng: &mut Rng) -> i64 {
    match rng.below(10) {
        0 => rng.pick(&[0, 1, -1, 2, 7, 10, 255, 256]),
        1 => rng.pick(&[i64::MIN, i64::MAX, i32::MIN as i64, i32::MAX as i64, 1 << 32, -(1 << 32), 0xffff_ffff]),
        2 => rng.next_u64() as i64,
        _ => rng.below(2000) as i64 - 1000,
    }
}

/// A float bit pattern: one of `FLOAT_BITS`, any bits at all, a value in
/// [2^49, 2^60) (where about 3% of doubles print as a tie), or a sure tie.
fn float_bits(rng: &mut Rng) -> i64 {
    (match rng.below(5) {
        0 | 1 => rng.pick(&FLOAT_BITS),
        2 => rng.next_u64(),
        3 => (1072 + rng.below(11)) << 52 | rng.next_u64() >> 12,
        _ => {
            // k + 0.25 or k + 0.75 for a 15-digit k >= 2^49: 17 digits,
            // the ulp is 1/8, so both 16-digit neighbours (k.2 and k.3,
            // or k.7 and k.8) read back, and they are equally near.
            let k = (1u64 << 49) + rng.below(1_000_000_000_000_000 - (1 << 49));
            (k as f64 + rng.pick(&[0.25, 0.75])).to_bits()
        }
    }) as i64
}

/// A map key from anywhere in the 64-bit range.
fn wide_key(rng: &mut Rng) -> i64 {
    match rng.below(4) {
        0 => rng.pick(&[i64::MIN, i64::MAX, i64::MIN + 1, -1, 0, 1 << 32, -(1 << 32) - 1]),
        1 => rng.below(16) as i64 - 8,
        _ => rng.next_u64() as i64,
    }
}

/// What the functions of a module share.
struct ModuleFacts {
    /// The addend of `addrs`' second address into `scratch`.
    scratch_addend: i64,
    /// Whether the module has `rec`.
    recursion: bool,
}

/// Generates one module.
pub fn generate(target: Isa, seed: u64, cfg: &Config) -> Module {
    let mut rng = Rng::new(seed);
    let facts = ModuleFacts { scratch_addend: 8 * (rng.below(16) as i64 + 1), recursion: rng.chance(60) };
    let mut data: Vec<DataEntry> = STRINGS
        .iter()
        .enumerate()
        .map(|(i, s)| DataEntry { name: format!("str_{i}"), align: 1, bytes: s.to_vec(), refs: Vec::new() })
        .collect();
    // The functions a function may call, in the order of its callees.
    let callable = std::iter::once(LEAF.to_string()).chain((0..cfg.functions).map(|k| format!("fn_{k}")));
    data.push(addresses(FN_TABLE, callable.map(|name| (Symbol::Function(name), 0)).collect(), &[]));
    data.push(addresses(
        ADDRS,
        vec![
            (Symbol::Data(SCRATCH.into()), 0),
            (Symbol::Data(SCRATCH.into()), facts.scratch_addend),
            (Symbol::Data("str_2".into()), 0),
            (Symbol::Data("str_2".into()), STR_2_ADDEND),
        ],
        &[],
    ));
    for (k, (s, addend)) in HEADERS.into_iter().enumerate() {
        let len = STRINGS[s].len() as i64 - addend;
        data.push(addresses(&format!("hdr_{k}"), vec![(Symbol::Data(format!("str_{s}")), addend)], &len.to_le_bytes()));
    }
    let mut module = Module {
        isa: target,
        format: Format::Elf64,
        functions: Vec::new(),
        data,
        bss: vec![BssEntry { name: SCRATCH.into(), align: 8, size: SCRATCH_SIZE }],
        imports: Vec::new(),
        allow_stubs: false,
    };
    if cfg.data_types {
        module.functions.push(method(target));
    }
    if facts.recursion {
        module.functions.push(recursive(&mut rng, target));
    }
    // Called like the others; small enough for the optimizer to copy into
    // its callers.
    module.functions.push(leaf(&mut rng, target));
    let mut arities = vec![(LEAF.to_string(), 2)];
    for i in 0..=cfg.functions {
        let is_main = i == cfg.functions;
        let arity = if is_main { 0 } else { rng.below(7) as u32 };
        let name = if is_main { "main".to_string() } else { format!("fn_{i}") };
        let f = FnGen::new(&mut rng, target, cfg, &facts, name, arity, arities.clone()).build(is_main);
        arities.push((f.name.clone(), arity));
        module.functions.push(f);
    }
    module
}

/// A data entry of 8-byte addresses (`symbol` + addend each), then `tail`.
fn addresses(name: &str, refs: Vec<(Symbol, i64)>, tail: &[u8]) -> DataEntry {
    let mut bytes = vec![0; 8 * refs.len()];
    bytes.extend_from_slice(tail);
    let refs = refs
        .into_iter()
        .enumerate()
        .map(|(k, (symbol, addend))| DataRef { offset: 8 * k as u64, symbol, addend })
        .collect();
    DataEntry { name: name.into(), align: 8, bytes, refs }
}

/// `rec(n, acc)`: n frames deep, each keeping values (one in a named
/// callee-saved register) live across its call of itself, direct or
/// through its address.
fn recursive(rng: &mut Rng, target: Isa) -> Function {
    let cc = call_conv(target);
    let saved = Reg::P(preg_from_name(target, if target == Isa::X86_64 { "rbx" } else { "x19" }).unwrap());
    let (n, acc, kept, mixed, callee, r) = (v(0), v(1), v(2), v(3), v(4), v(5));
    let base = Label(0);
    let (k1, k2) = (interesting(rng), interesting(rng));
    let mut body = vec![
        Inst::Cmp { a: n, b: Src::Imm(0) },
        Inst::Jcc(Cond::Le, base),
        Inst::Bin { op: BinOp::Mul, dst: kept, a: acc, b: Src::Imm(k1) },
        Inst::Bin { op: BinOp::Xor, dst: mixed, a: n, b: Src::Imm(k2) },
        Inst::Mov { dst: Dst::Reg(saved), src: Operand::Reg(n) },
        Inst::Bin { op: BinOp::Sub, dst: Reg::P(cc.args[0]), a: n, b: Src::Imm(1) },
        Inst::Bin { op: BinOp::Add, dst: Reg::P(cc.args[1]), a: acc, b: Src::Reg(mixed) },
    ];
    if rng.chance(50) {
        body.push(Inst::Call(REC.into()));
    } else {
        body.push(Inst::Lea { dst: callee, symbol: Symbol::Function(REC.into()) });
        body.push(Inst::CallIndirect(callee));
    }
    body.extend([
        Inst::Mov { dst: Dst::Reg(r), src: Operand::Reg(Reg::P(cc.result)) },
        Inst::Bin { op: BinOp::Add, dst: r, a: r, b: Src::Reg(kept) },
        Inst::Bin { op: BinOp::Xor, dst: r, a: r, b: Src::Reg(saved) },
        Inst::Mov { dst: Dst::Reg(Reg::P(cc.result)), src: Operand::Reg(r) },
        Inst::Ret,
        Inst::Label(base),
        Inst::Mov { dst: Dst::Reg(Reg::P(cc.result)), src: Operand::Reg(acc) },
        Inst::Ret,
    ]);
    Function {
        name: REC.into(),
        arity: 2,
        exported: false,
        params: vec![n, acc],
        locals: 6,
        body,
        labels: vec!["base".into()],
        ..Default::default()
    }
}

const LEAF: &str = "leaf";

/// `leaf(a, b)`: a few integer operations on its arguments, a division by
/// a constant, and a branch with a return on each side.
fn leaf(rng: &mut Rng, target: Isa) -> Function {
    let result = Reg::P(call_conv(target).result);
    let (a, b, t, u) = (v(0), v(1), v(2), v(3));
    let ops = [BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Xor, BinOp::And, BinOp::Or];
    let mut op = || ops[rng.below(ops.len() as u64) as usize];
    let (first, second) = (op(), op());
    let divisors = [3, 7, -5, 16];
    let divisor = divisors[rng.below(divisors.len() as u64) as usize];
    let cond = Cond::ALL[rng.below(Cond::ALL.len() as u64) as usize];
    let k = interesting(rng);
    Function {
        name: LEAF.into(),
        arity: 2,
        exported: false,
        params: vec![a, b],
        locals: 4,
        body: vec![
            Inst::Bin { op: first, dst: t, a, b: Src::Reg(b) },
            Inst::Bin { op: second, dst: t, a: t, b: Src::Imm(k) },
            Inst::Bin { op: BinOp::Sdiv, dst: u, a: t, b: Src::Imm(divisor) },
            Inst::Cmp { a: u, b: Src::Reg(a) },
            Inst::Jcc(cond, Label(0)),
            Inst::Mov { dst: Dst::Reg(result), src: Operand::Reg(u) },
            Inst::Ret,
            Inst::Label(Label(0)),
            Inst::Unary { op: UnOp::Neg, dst: t, src: Src::Reg(t) },
            Inst::Mov { dst: Dst::Reg(result), src: Operand::Reg(t) },
            Inst::Ret,
        ],
        labels: vec!["other".into()],
        ..Default::default()
    }
}

/// `Box__get(self, k)`: field 0 of the struct plus k (for method_call).
fn method(target: Isa) -> Function {
    let result = call_conv(target).result;
    Function {
        name: "Box__get".into(),
        arity: 2,
        exported: false,
        params: vec![Reg::V(0), Reg::V(1)],
        locals: 3,
        body: vec![
            Inst::FieldGet { dst: Reg::V(2), s: Reg::V(0), offset: 0 },
            Inst::Bin { op: BinOp::Add, dst: Reg::V(2), a: Reg::V(2), b: Src::Reg(Reg::V(1)) },
            Inst::Mov { dst: Dst::Reg(Reg::P(result)), src: Operand::Reg(Reg::V(2)) },
            Inst::Ret,
        ],
        labels: Vec::new(),
        ..Default::default()
    }
}

/// How a function numbers its vregs: densely from 0, spread out from a
/// million, or down from `u32::MAX` (a small function may use any numbers).
#[derive(Clone, Copy)]
enum Numbering {
    Dense,
    Spread,
    Top,
}

impl Numbering {
    fn number(self, k: u32) -> u32 {
        match self {
            Numbering::Dense => k,
            Numbering::Spread => 1_000_000 + 1009 * k,
            Numbering::Top => u32::MAX - k,
        }
    }
}

struct FnGen<'r> {
    rng: &'r mut Rng,
    target: Isa,
    cfg: Config,
    facts: &'r ModuleFacts,
    name: String,
    arity: u32,
    callees: Vec<(String, u32)>,
    body: Vec<Inst>,
    labels: Vec<String>,
    numbering: Numbering,
    vregs_used: u32,
    /// Integer vregs that always hold a defined value.
    vars: Vec<u32>,
    /// Loop counters in scope: read-only for the loop body.
    protected: Vec<u32>,
    strings: Vec<u32>,
    /// Arrays (vreg, element size) with at least 4 elements.
    arrays: Vec<(u32, i64)>,
    maps: Vec<u32>,
    /// Keys the maps are mostly used with, so that gets and deletes hit.
    keys: Vec<i64>,
    floats: Vec<u32>,
    /// Structs (vreg, size).
    structs: Vec<(u32, i64)>,
    depth: u32,
    calls_left: u32,
    /// Whether the function names many pregs (leaving the backend few
    /// of its own).
    many_pregs: bool,
}

fn v(n: u32) -> Reg {
    Reg::V(n)
}

fn operand(s: Src) -> Operand {
    match s {
        Src::Reg(r) => Operand::Reg(r),
        Src::Imm(i) => Operand::Imm(i),
    }
}

/// What a named preg is live across in `pregs_live`.
#[derive(Clone, Copy, PartialEq)]
enum Across {
    /// A runtime instruction (print, data types), which keeps every register.
    Runtime,
    /// Division or a shift, which change only their destination.
    Arith,
    /// A `write` syscall, which changes its result (and rcx, r11 on x86_64).
    Syscall,
    /// A call, which keeps the callee-saved registers.
    Call,
}

impl<'r> FnGen<'r> {
    fn new(
        rng: &'r mut Rng,
        target: Isa,
        cfg: &Config,
        facts: &'r ModuleFacts,
        name: String,
        arity: u32,
        callees: Vec<(String, u32)>,
    ) -> FnGen<'r> {
        let numbering = match rng.below(10) {
            0 => Numbering::Spread,
            1 => Numbering::Top,
            _ => Numbering::Dense,
        };
        let keys = (0..4).map(|_| wide_key(rng)).collect();
        let many_pregs = rng.chance(20);
        FnGen {
            rng,
            target,
            cfg: cfg.clone(),
            facts,
            name,
            arity,
            callees,
            body: Vec::new(),
            labels: Vec::new(),
            numbering,
            vregs_used: arity,
            vars: (0..arity).map(|k| numbering.number(k)).collect(),
            protected: Vec::new(),
            strings: Vec::new(),
            arrays: Vec::new(),
            maps: Vec::new(),
            keys,
            floats: Vec::new(),
            structs: Vec::new(),
            depth: 0,
            calls_left: 2,
            many_pregs,
        }
    }
    fn preg(&self, name: &str) -> Reg {
        Reg::P(preg_from_name(self.target, name).expect("a register of the target"))
    }
    fn result(&self) -> Reg {
        Reg::P(call_conv(self.target).result)
    }
    fn arg(&self, k: usize) -> Reg {
        Reg::P(call_conv(self.target).args[k])
    }
    fn fresh(&mut self) -> u32 {
        self.vregs_used += 1;
        self.numbering.number(self.vregs_used - 1)
    }
    fn label(&mut self) -> Label {
        self.labels.push(format!("L{}", self.labels.len()));
        Label(self.labels.len() as u32 - 1)
    }
    fn emit(&mut self, i: Inst) {
        self.body.push(i);
    }
    fn var(&mut self) -> u32 {
        let vars = self.vars.clone();
        self.rng.pick(&vars)
    }
    /// A var the current code may overwrite.
    fn target_var(&mut self) -> u32 {
        loop {
            let t = self.var();
            if !self.protected.contains(&t) {
                return t;
            }
        }
    }
    fn src(&mut self) -> Src {
        if self.rng.chance(35) {
            Src::Imm(interesting(self.rng))
        } else {
            Src::Reg(v(self.var()))
        }
    }
    /// Remembers a new value for later statements, unless it is defined on
    /// only one path (inside a branch or loop body).
    fn keep(pool: &mut Vec<u32>, depth: u32, d: u32) {
        if depth == 0 {
            pool.push(d);
        }
    }
    fn mov_imm(&mut self, d: u32, i: i64) {
        self.emit(Inst::Mov { dst: Dst::Reg(v(d)), src: Operand::Imm(i) });
    }
    /// An odd (so never zero) divisor in a fresh vreg.
    fn divisor(&mut self) -> Src {
        let t = self.fresh();
        let x = self.var();
        self.emit(Inst::Bin { op: BinOp::Or, dst: v(t), a: v(x), b: Src::Imm(1) });
        Src::Reg(v(t))
    }

    fn build(mut self, is_main: bool) -> Function {
        for _ in 0..self.rng.below(5) + 4 {
            let d = self.fresh();
            let i = interesting(self.rng);
            self.mov_imm(d, i);
            self.vars.push(d);
        }
        for k in 0..IR_SLOTS {
            self.emit(Inst::Mov { dst: Dst::Stack(k), src: Operand::Imm(k as i64 * 11) });
        }
        if self.cfg.data_types {
            self.init_data_types();
        }
        if is_main && self.facts.recursion {
            self.call_recursive();
        }
        if self.many_pregs {
            for _ in 0..3 {
                self.pregs_live();
            }
        }
        for _ in 0..self.cfg.statements {
            self.statement();
        }
        if is_main {
            for _ in 0..2 {
                let x = self.var();
                self.emit(Inst::PrintInt(Src::Reg(v(x))));
            }
        } else {
            let r = self.var();
            self.emit(Inst::Mov { dst: Dst::Reg(self.result()), src: Operand::Reg(v(r)) });
        }
        // The end of the body returns as `ret` does (main's exits with 0).
        match self.rng.below(if is_main { 4 } else { 3 }) {
            0 => self.emit(Inst::Ret),
            1 => {}
            2 => self.end_in_label(is_main),
            _ => self.exit_syscall(),
        }
        let numbering = self.numbering;
        Function {
            name: self.name,
            arity: self.arity,
            exported: is_main,
            params: (0..self.arity).map(|k| v(numbering.number(k))).collect(),
            locals: self.vregs_used,
            body: self.body,
            labels: self.labels,
            ..Default::default()
        }
    }

    /// A last label some path jumps to: the body ends in it.
    fn end_in_label(&mut self, is_main: bool) {
        let end = self.label();
        let a = self.var();
        let b = self.src();
        self.emit(Inst::Cmp { a: v(a), b });
        let c = self.rng.pick(&Cond::ALL);
        self.emit(Inst::Jcc(c, end));
        let x = self.var();
        if is_main {
            self.emit(Inst::PrintInt(Src::Reg(v(x))));
        } else {
            self.emit(Inst::Mov { dst: Dst::Reg(self.result()), src: Operand::Reg(v(x)) });
        }
        self.emit(Inst::Label(end));
    }

    fn exit_syscall(&mut self) {
        let status = self.fresh();
        let r = self.var();
        self.emit(Inst::Bin { op: BinOp::And, dst: v(status), a: v(r), b: Src::Imm(255) });
        let (arg0, number, exit) = match self.target {
            Isa::X86_64 => ("rdi", "rax", 60),
            Isa::Arm64 => ("x0", "x16", 1),
        };
        self.emit(Inst::Mov { dst: Dst::Reg(self.preg(arg0)), src: Operand::Reg(v(status)) });
        self.emit(Inst::Mov { dst: Dst::Reg(self.preg(number)), src: Operand::Imm(exit) });
        self.emit(Inst::Syscall);
    }

    /// `rec` thousands of frames deep.
    fn call_recursive(&mut self) {
        let most = self.cfg.recursion_depth.max(1);
        let depth = (most / 4 + self.rng.below(most - most / 4 + 1)) as i64;
        let acc = self.src();
        self.emit(Inst::Mov { dst: Dst::Reg(self.arg(0)), src: Operand::Imm(depth) });
        self.emit(Inst::Mov { dst: Dst::Reg(self.arg(1)), src: operand(acc) });
        self.emit(Inst::Call(REC.into()));
        let d = self.target_var();
        self.emit(Inst::Mov { dst: Dst::Reg(v(d)), src: Operand::Reg(self.result()) });
        self.emit(Inst::PrintInt(Src::Reg(v(d))));
    }

    fn init_data_types(&mut self) {
        let s = self.fresh();
        let k = self.rng.below(STRINGS.len() as u64) as usize;
        self.emit(Inst::StringLit {
            dst: v(s),
            source: StrSource::Data(format!("str_{k}"), Some(STRINGS[k].len() as u64)),
        });
        self.strings.push(s);
        let s2 = self.fresh();
        self.emit(Inst::StringLit { dst: v(s2), source: StrSource::Bytes(b"lit!".to_vec()) });
        self.strings.push(s2);
        // A string header stored in data, its pointer an address in data.
        let h = self.fresh();
        let k = self.rng.below(HEADERS.len() as u64);
        self.emit(Inst::Lea { dst: v(h), symbol: Symbol::Data(format!("hdr_{k}")) });
        self.strings.push(h);
        // Array literals the way V writes them: set below capacity, then the length.
        for elem_size in [8, 1, 2, 4] {
            let a = self.fresh();
            self.emit(Inst::ArrayNew { dst: v(a), elem_size, cap: 4 });
            for i in 0..4 {
                let x = self.src();
                self.emit(Inst::ArraySet { arr: v(a), index: Src::Imm(i), value: x, elem_size });
            }
            self.emit(Inst::Store { width: Width::W64, base: v(a), offset: 8, src: Src::Imm(4) });
            self.arrays.push((a, elem_size));
        }
        let m = self.fresh();
        self.emit(Inst::MapNew { dst: v(m) });
        self.maps.push(m);
        let f = self.fresh();
        let x = self.rng.below(100) as i64 - 50;
        self.emit(Inst::IntToFloat { dst: v(f), src: Src::Imm(x) });
        self.floats.push(f);
        let g = self.fresh();
        // 3.14 is the text V programs print, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        let c: f64 = self.rng.pick(&[0.1, 3.14, 1e-7, 2.5e20, 1e300, 5e-324, -0.0, 0.3]);
        self.mov_imm(g, c.to_bits() as i64);
        self.floats.push(g);
        for _ in 0..2 {
            let g = self.fresh();
            let bits = float_bits(self.rng);
            self.mov_imm(g, bits);
            self.floats.push(g);
        }
        for size in [24, BIG_STRUCT] {
            let st = self.fresh();
            self.emit(Inst::StructNew { dst: v(st), size });
            self.structs.push((st, size));
        }
    }

    fn statement(&mut self) {
        let kinds = if self.cfg.data_types { 26 } else { 17 };
        match self.rng.below(kinds) {
            0..=2 => self.arith(),
            3 => self.unary(),
            4 => {
                let x = self.var();
                self.emit(Inst::PrintInt(Src::Reg(v(x))));
            }
            5 if self.depth < 3 => self.diamond(),
            6 if self.depth < 2 => self.counted_loop(),
            7 if self.can_call() => self.call(),
            8 => self.pressure(),
            9 => self.stack_slots(),
            10 => self.push_pop(),
            11 => self.memory(),
            12 => self.preg_moves(),
            13 if self.depth < 3 => self.branch_chain(),
            14 => self.pregs_live(),
            15 if self.can_call() => self.indirect_call(),
            16 => self.stored_addresses(),
            17 => self.strings_stmt(),
            18 => self.arrays_stmt(),
            19 => self.maps_stmt(),
            20 => self.floats_stmt(),
            21 => self.structs_stmt(),
            22 => self.builtins_stmt(),
            23 | 24 => self.array_loop(),
            25 => self.array_edge(),
            _ => self.arith(),
        }
    }

    /// Calls happen outside loops and branches, at most twice per function.
    fn can_call(&self) -> bool {
        self.depth == 0 && self.calls_left > 0 && !self.callees.is_empty()
    }

    fn arith(&mut self) {
        let d = self.target_var();
        let a = self.var();
        let op = self.rng.pick(&[
            BinOp::Add,
            BinOp::Sub,
            BinOp::Mul,
            BinOp::And,
            BinOp::Or,
            BinOp::Xor,
            BinOp::Sdiv,
            BinOp::Srem,
            BinOp::Shl,
            BinOp::Shr,
            BinOp::Sar,
        ]);
        let b = match op {
            BinOp::Sdiv | BinOp::Srem => {
                if self.rng.chance(50) {
                    // Powers of two and others, either sign, up to the
                    // ends of i32 (the lowerers' constant divisors) and past.
                    Src::Imm(self.rng.pick(&[
                        1,
                        -1,
                        2,
                        3,
                        7,
                        10,
                        -10,
                        -8,
                        1 << 30,
                        i32::MIN as i64,
                        i32::MAX as i64,
                        641,
                        -1000,
                        1 << 33,
                        i64::MIN,
                    ]))
                } else {
                    self.divisor()
                }
            }
            BinOp::Shl | BinOp::Shr | BinOp::Sar if self.rng.chance(50) => Src::Imm(self.rng.below(130) as i64),
            _ => self.src(),
        };
        self.emit(Inst::Bin { op, dst: v(d), a: v(a), b });
    }

    fn unary(&mut self) {
        let d = self.target_var();
        let op = self.rng.pick(&[UnOp::Neg, UnOp::Not]);
        let src = if self.rng.chance(50) { Src::Reg(v(d)) } else { self.src() };
        self.emit(Inst::Unary { op, dst: v(d), src });
    }

    fn block(&mut self, n: u64) {
        self.depth += 1;
        for _ in 0..self.rng.below(n) + 1 {
            self.statement();
        }
        self.depth -= 1;
    }

    fn diamond(&mut self) {
        let (else_l, end_l) = (self.label(), self.label());
        let a = self.var();
        let b = self.src();
        self.emit(Inst::Cmp { a: v(a), b });
        let c = self.rng.pick(&Cond::ALL);
        self.emit(Inst::Jcc(c, else_l));
        self.block(3);
        self.emit(Inst::Jmp(end_l));
        self.emit(Inst::Label(else_l));
        self.block(3);
        self.emit(Inst::Label(end_l));
    }

    /// One `cmp`, then two or three `jcc`s testing its flags, `nop`s
    /// between them (all the spec allows there): a three- or four-way branch.
    fn branch_chain(&mut self) {
        let a = self.var();
        let b = if self.rng.chance(30) { Src::Reg(v(a)) } else { self.src() };
        self.emit(Inst::Cmp { a: v(a), b });
        let arms: Vec<Label> = (0..self.rng.below(2) + 2).map(|_| self.label()).collect();
        for &arm in &arms {
            for _ in 0..self.rng.below(3) {
                self.emit(Inst::Nop);
            }
            let c = self.rng.pick(&Cond::ALL);
            self.emit(Inst::Jcc(c, arm));
        }
        let end = self.label();
        self.block(2);
        for &arm in &arms {
            self.emit(Inst::Jmp(end));
            self.emit(Inst::Label(arm));
            self.block(2);
        }
        self.emit(Inst::Label(end));
    }

    /// A loop of 1 to 5 iterations from any start, counting up or down,
    /// ended by a signed or an unsigned condition.
    fn counted_loop(&mut self) {
        let n = self.rng.below(5) as i64 + 1;
        let start = match self.rng.below(4) {
            0 => interesting(self.rng),
            1 => self.rng.pick(&[i64::MAX - 2, i64::MIN, -2, -1]),
            _ => 0,
        };
        let up = self.rng.chance(50);
        // The counter goes from `first` to `last` (exclusive), which no
        // condition below lets it pass, whatever the wrap-around.
        let (first, last, step) =
            if up { (start, start.wrapping_add(n), 1) } else { (start.wrapping_add(n), start, -1) };
        let (cond, limit) = loop {
            let c = if up {
                self.rng.pick(&[Cond::Lt, Cond::Ltu, Cond::Ne, Cond::Le, Cond::Leu])
            } else {
                self.rng.pick(&[Cond::Gt, Cond::Gtu, Cond::Ne, Cond::Ge, Cond::Geu])
            };
            // `le`/`ge` compare with the last value taken, unless that
            // comparison holds for every value (an endless loop).
            let limit = match c {
                Cond::Le | Cond::Leu | Cond::Ge | Cond::Geu => last.wrapping_sub(step),
                _ => last,
            };
            let endless =
                matches!((c, limit), (Cond::Le, i64::MAX) | (Cond::Leu, -1) | (Cond::Ge, i64::MIN) | (Cond::Geu, 0));
            if !endless {
                break (c, limit);
            }
        };
        let i = self.fresh();
        self.mov_imm(i, first);
        self.vars.push(i);
        self.protected.push(i);
        let top = self.label();
        self.emit(Inst::Label(top));
        self.block(4);
        self.emit(Inst::Bin { op: BinOp::Add, dst: v(i), a: v(i), b: Src::Imm(step) });
        self.emit(Inst::Cmp { a: v(i), b: Src::Imm(limit) });
        self.emit(Inst::Jcc(cond, top));
        self.protected.pop();
        if self.depth > 0 {
            self.vars.retain(|x| *x != i);
        }
    }

    fn call_args(&mut self, arity: u32) {
        for k in 0..arity as usize {
            let x = self.src();
            self.emit(Inst::Mov { dst: Dst::Reg(self.arg(k)), src: operand(x) });
        }
    }

    fn call(&mut self) {
        self.calls_left -= 1;
        let (name, arity) = self.callees[self.rng.below(self.callees.len() as u64) as usize].clone();
        self.call_args(arity);
        self.emit(Inst::Call(name));
        let d = self.target_var();
        self.emit(Inst::Mov { dst: Dst::Reg(v(d)), src: Operand::Reg(self.result()) });
    }

    /// A call through a function's address: from `lea` or loaded from the
    /// module's table of functions.
    fn indirect_call(&mut self) {
        self.calls_left -= 1;
        let k = self.rng.below(self.callees.len() as u64);
        let (name, arity) = self.callees[k as usize].clone();
        let f = self.fresh();
        if self.rng.chance(50) {
            self.emit(Inst::Lea { dst: v(f), symbol: Symbol::Function(name) });
        } else {
            let table = self.fresh();
            self.emit(Inst::Lea { dst: v(table), symbol: Symbol::Data(FN_TABLE.into()) });
            self.emit(Inst::Load { width: Width::W64, dst: v(f), base: v(table), offset: 8 * k as i32 });
        }
        self.call_args(arity);
        self.emit(Inst::CallIndirect(v(f)));
        let d = self.target_var();
        self.emit(Inst::Mov { dst: Dst::Reg(v(d)), src: Operand::Reg(self.result()) });
    }

    /// Memory reached through addresses stored in data: `scratch` (plus
    /// an addend) written and read, `str_2`'s bytes (plus 5) read.
    fn stored_addresses(&mut self) {
        let table = self.fresh();
        self.emit(Inst::Lea { dst: v(table), symbol: Symbol::Data(ADDRS.into()) });
        let k = self.rng.below(4) as i32;
        let p = self.fresh();
        self.emit(Inst::Load { width: Width::W64, dst: v(p), base: v(table), offset: 8 * k });
        let d = self.target_var();
        match k {
            0 | 1 => {
                let room = SCRATCH_SIZE as i64 - if k == 0 { 0 } else { self.facts.scratch_addend };
                let off = self.rng.below(room as u64 / 8) as i32 * 8;
                let x = self.src();
                self.emit(Inst::Store { width: Width::W64, base: v(p), offset: off, src: x });
                self.emit(Inst::Load { width: Width::W64, dst: v(d), base: v(p), offset: off });
            }
            _ => {
                let len = STRINGS[2].len() as i64 - if k == 2 { 0 } else { STR_2_ADDEND };
                let off = self.rng.below(len as u64) as i32;
                self.emit(Inst::Load { width: Width::W8, dst: v(d), base: v(p), offset: off });
            }
        }
    }

    /// Many values live at once (more than there are registers), folded
    /// into one var afterwards: forces spilling.
    fn pressure(&mut self) {
        let n = self.rng.below(20) + 20;
        let temps: Vec<u32> = (0..n).map(|_| self.fresh()).collect();
        for &t in &temps {
            let a = self.var();
            let b = self.src();
            let op = self.rng.pick(&[BinOp::Add, BinOp::Xor, BinOp::Mul, BinOp::Sub]);
            self.emit(Inst::Bin { op, dst: v(t), a: v(a), b });
        }
        let d = self.target_var();
        for &t in temps.iter().rev() {
            let op = self.rng.pick(&[BinOp::Add, BinOp::Xor]);
            self.emit(Inst::Bin { op, dst: v(d), a: v(d), b: Src::Reg(v(t)) });
        }
    }

    fn stack_slots(&mut self) {
        let k = self.rng.below(IR_SLOTS as u64) as u32;
        if self.rng.chance(50) {
            let x = self.src();
            self.emit(Inst::Mov { dst: Dst::Stack(k), src: operand(x) });
        } else {
            let d = self.target_var();
            self.emit(Inst::Mov { dst: Dst::Reg(v(d)), src: Operand::Stack(k) });
        }
    }

    fn push_pop(&mut self) {
        let x = self.src();
        self.emit(Inst::Push(x));
        self.arith();
        let d = self.target_var();
        self.emit(Inst::Pop(v(d)));
    }

    fn memory(&mut self) {
        let p = self.fresh();
        self.emit(Inst::Lea { dst: v(p), symbol: Symbol::Data(SCRATCH.into()) });
        let off = self.rng.below(SCRATCH_SIZE / 8) as i32 * 8;
        let x = self.src();
        let width = if self.rng.chance(30) { Width::W8 } else { Width::W64 };
        self.emit(Inst::Store { width, base: v(p), offset: off, src: x });
        let d = self.target_var();
        let off2 = if self.rng.chance(50) { off } else { self.rng.below(SCRATCH_SIZE / 8) as i32 * 8 };
        let width = if self.rng.chance(30) { Width::W8 } else { Width::W64 };
        self.emit(Inst::Load { width, dst: v(d), base: v(p), offset: off2 });
    }

    /// Values through physical registers: a callee-saved one (the function
    /// must preserve it) and an argument register as an operand.
    fn preg_moves(&mut self) {
        let saved = self.preg(if self.target == Isa::X86_64 { "rbx" } else { "x19" });
        let x = self.var();
        self.emit(Inst::Mov { dst: Dst::Reg(saved), src: Operand::Reg(v(x)) });
        let d = self.target_var();
        let a = self.var();
        self.emit(Inst::Bin { op: BinOp::Add, dst: v(d), a: v(a), b: Src::Reg(saved) });
    }

    /// Named pregs given values, then instructions they must survive (as
    /// the spec says which registers each changes), then read.
    fn pregs_live(&mut self) {
        let cc = call_conv(self.target);
        let mut across = vec![Across::Runtime, Across::Arith, Across::Syscall];
        if self.can_call() {
            across.push(Across::Call);
        }
        let mut events: Vec<Across> = (0..self.rng.below(3) + 1).map(|_| self.rng.pick(&across)).collect();
        // One call at most: a function makes few.
        if let Some(first) = events.iter().position(|e| *e == Across::Call) {
            events.retain(|e| *e != Across::Call);
            events.insert(first.min(events.len()), Across::Call);
        }
        let registers = if self.target == Isa::X86_64 { 16 } else { 31 };
        let mut candidates = RegSet::of(&(0..registers).map(PReg).collect::<Vec<_>>()).minus(cc.reserved);
        if self.cfg.data_types {
            candidates = candidates.without(cc.heap);
        }
        if events.contains(&Across::Syscall) {
            // The syscall's own operands are set right before it.
            candidates = candidates.minus(RegSet::of(&cc.syscall_uses[..4])).minus(cc.syscall_clobbers);
        }
        if events.contains(&Across::Call) {
            candidates = candidates.intersect(cc.callee_saved);
        }
        let candidates: Vec<PReg> = candidates.iter().collect();
        let most = if self.many_pregs { 8 } else { 4 };
        let live: Vec<PReg> = (0..self.rng.below(most) + 1).map(|_| self.rng.pick(&candidates)).collect();
        for &p in &live {
            let x = self.src();
            self.emit(Inst::Mov { dst: Dst::Reg(Reg::P(p)), src: operand(x) });
        }
        for event in events {
            match event {
                Across::Runtime => self.runtime_instruction(),
                Across::Arith => {
                    let d = self.target_var();
                    let a = self.var();
                    let op = self.rng.pick(&[BinOp::Sdiv, BinOp::Srem, BinOp::Shl, BinOp::Shr, BinOp::Sar]);
                    let b =
                        if matches!(op, BinOp::Sdiv | BinOp::Srem) { self.divisor() } else { Src::Reg(v(self.var())) };
                    self.emit(Inst::Bin { op, dst: v(d), a: v(a), b });
                }
                Across::Syscall => self.write_syscall(),
                Across::Call => self.call(),
            }
        }
        for &p in &live {
            if self.rng.chance(30) {
                self.emit(Inst::PrintInt(Src::Reg(Reg::P(p))));
            } else {
                let d = self.target_var();
                self.emit(Inst::Bin { op: BinOp::Add, dst: v(d), a: v(d), b: Src::Reg(Reg::P(p)) });
            }
        }
    }

    /// An instruction the backend implements by calling its runtime.
    fn runtime_instruction(&mut self) {
        if !self.cfg.data_types || self.rng.chance(30) {
            let x = self.src();
            self.emit(Inst::PrintInt(x));
            return;
        }
        match self.rng.below(5) {
            0 => self.strings_stmt(),
            1 => self.maps_stmt(),
            2 => {
                let (a, elem_size) = self.rng.pick(&self.arrays.clone());
                let x = self.src();
                self.emit(Inst::ArrayAppend { dst: v(a), arr: v(a), value: x, elem_size });
            }
            3 => {
                let f = self.rng.pick(&self.floats.clone());
                self.emit(Inst::PrintFloat(Src::Reg(v(f))));
            }
            _ => {
                let st = self.fresh();
                let size = 8 * (self.rng.below(4) as i64 + 1);
                self.emit(Inst::StructNew { dst: v(st), size });
            }
        }
    }

    /// `write(1, str_K, len)` by the IR's syscall convention; the argument
    /// registers keep their values, so they are read back sometimes.
    fn write_syscall(&mut self) {
        let cc = call_conv(self.target);
        let k = self.rng.below(STRINGS.len() as u64) as usize;
        let p = self.fresh();
        self.emit(Inst::Lea { dst: v(p), symbol: Symbol::Data(format!("str_{k}")) });
        let [number, fd, buf, len] = [0, 1, 2, 3].map(|i| Reg::P(cc.syscall_uses[i]));
        let write = if self.target == Isa::X86_64 { 1 } else { 4 };
        self.emit(Inst::Mov { dst: Dst::Reg(buf), src: Operand::Reg(v(p)) });
        self.emit(Inst::Mov { dst: Dst::Reg(fd), src: Operand::Imm(1) });
        self.emit(Inst::Mov { dst: Dst::Reg(len), src: Operand::Imm(STRINGS[k].len() as i64) });
        self.emit(Inst::Mov { dst: Dst::Reg(number), src: Operand::Imm(write) });
        self.emit(Inst::Syscall);
        for r in [number, fd, buf, len, Reg::P(cc.syscall_result)] {
            if self.rng.chance(40) {
                let d = self.target_var();
                // The buffer's address differs from the interpreter's: only
                // its distance from the string counts.
                if r == buf {
                    self.emit(Inst::Bin { op: BinOp::Sub, dst: v(d), a: r, b: Src::Reg(v(p)) });
                } else {
                    self.emit(Inst::Mov { dst: Dst::Reg(v(d)), src: Operand::Reg(r) });
                }
            }
        }
    }

    fn strings_stmt(&mut self) {
        let s = self.rng.pick(&self.strings.clone());
        match self.rng.below(5) {
            0 => {
                let t = self.rng.pick(&self.strings.clone());
                let d = self.fresh();
                self.emit(Inst::StringConcat { dst: v(d), a: v(s), b: v(t) });
                Self::keep(&mut self.strings, self.depth, d);
                self.emit(Inst::PrintStr(v(d)));
            }
            1 => {
                let d = self.target_var();
                self.emit(Inst::StringLen { dst: v(d), s: v(s) });
            }
            2 => {
                let t = self.rng.pick(&self.strings.clone());
                let d = self.target_var();
                self.emit(Inst::StringCmp { dst: v(d), a: v(s), b: v(t) });
            }
            3 => {
                let d = self.fresh();
                let x = self.src();
                self.emit(Inst::IntToStr { dst: v(d), src: x });
                Self::keep(&mut self.strings, self.depth, d);
                self.emit(Inst::PrintStr(v(d)));
            }
            _ => self.emit(Inst::PrintStr(v(s))),
        }
    }

    fn arrays_stmt(&mut self) {
        let (a, elem_size) = self.rng.pick(&self.arrays.clone());
        match self.rng.below(6) {
            0 => {
                let x = self.src();
                self.emit(Inst::ArrayAppend { dst: v(a), arr: v(a), value: x, elem_size });
            }
            1 => {
                // Index var & 3: always below the length (at least 4).
                let i = self.fresh();
                let x = self.var();
                self.emit(Inst::Bin { op: BinOp::And, dst: v(i), a: v(x), b: Src::Imm(3) });
                let d = self.target_var();
                self.emit(Inst::ArrayGet { dst: v(d), arr: v(a), index: Src::Reg(v(i)), elem_size });
            }
            2 => {
                let idx = Src::Imm(self.rng.below(4) as i64);
                let x = self.src();
                self.emit(Inst::ArraySet { arr: v(a), index: idx, value: x, elem_size });
            }
            3 => {
                let d = self.target_var();
                let idx = Src::Imm(self.rng.below(4) as i64);
                self.emit(Inst::ArrayGet { dst: v(d), arr: v(a), index: idx, elem_size });
            }
            4 => {
                // The elements as bytes and words: the first 4 exist, so
                // 4 × elem_size bytes.
                let e = self.fresh();
                self.emit(Inst::Load { width: Width::W64, dst: v(e), base: v(a), offset: 0 });
                let off = self.rng.below(4) as i32;
                let d = self.target_var();
                if self.rng.chance(30) {
                    let x = self.src();
                    self.emit(Inst::Store { width: Width::W8, base: v(e), offset: off, src: x });
                } else if elem_size >= 2 && self.rng.chance(50) {
                    self.emit(Inst::Load { width: Width::W64, dst: v(d), base: v(e), offset: 0 });
                } else {
                    self.emit(Inst::Load { width: Width::W8, dst: v(d), base: v(e), offset: off });
                }
            }
            _ => {
                let d = self.target_var();
                self.emit(Inst::ArrayLen { dst: v(d), arr: v(a) });
            }
        }
    }

    /// A loop over an array as V writes `for i in 0 .. a.len`: the length
    /// read each time round, the element at i read, sometimes written, and
    /// sometimes the loop left early when it matches a value; or a loop of
    /// a fixed count appending to the array and reading its new last
    /// element.
    fn array_loop(&mut self) {
        let (a, elem_size) = self.rng.pick(&self.arrays.clone());
        let (i, len, e) = (self.fresh(), self.fresh(), self.fresh());
        let sum = self.target_var();
        let (top, done) = (self.label(), self.label());
        self.mov_imm(i, 0);
        self.emit(Inst::Label(top));
        if self.rng.chance(30) {
            let count = self.rng.below(4) as i64 + 1;
            self.emit(Inst::Cmp { a: v(i), b: Src::Imm(count) });
            self.emit(Inst::Jcc(Cond::Ge, done));
            let x = self.src();
            self.emit(Inst::ArrayAppend { dst: v(a), arr: v(a), value: x, elem_size });
            let last = self.fresh();
            self.emit(Inst::ArrayLen { dst: v(len), arr: v(a) });
            self.emit(Inst::Bin { op: BinOp::Sub, dst: v(last), a: v(len), b: Src::Imm(1) });
            self.emit(Inst::ArrayGet { dst: v(e), arr: v(a), index: Src::Reg(v(last)), elem_size });
        } else {
            self.emit(Inst::ArrayLen { dst: v(len), arr: v(a) });
            self.emit(Inst::Cmp { a: v(i), b: Src::Reg(v(len)) });
            let past_the_end = self.rng.pick(&[Cond::Ge, Cond::Geu]);
            self.emit(Inst::Jcc(past_the_end, done));
            self.emit(Inst::ArrayGet { dst: v(e), arr: v(a), index: Src::Reg(v(i)), elem_size });
            if self.rng.chance(40) {
                let x = if self.rng.chance(50) { Src::Reg(v(sum)) } else { self.src() };
                self.emit(Inst::ArraySet { arr: v(a), index: Src::Reg(v(i)), value: x, elem_size });
            }
            if self.rng.chance(30) {
                let value = self.rng.below(4) as i64;
                self.emit(Inst::Cmp { a: v(e), b: Src::Imm(value) });
                self.emit(Inst::Jcc(Cond::Eq, done));
            }
        }
        self.emit(Inst::Bin { op: BinOp::Add, dst: v(sum), a: v(sum), b: Src::Reg(v(e)) });
        self.emit(Inst::Bin { op: BinOp::Add, dst: v(i), a: v(i), b: Src::Imm(1) });
        self.emit(Inst::Jmp(top));
        self.emit(Inst::Label(done));
    }

    /// An element at either end of an array, or rarely just past one (the
    /// index the length, or -1), which panics (`array_set` only at or past
    /// the capacity).
    fn array_edge(&mut self) {
        let (a, elem_size) = self.rng.pick(&self.arrays.clone());
        let (len, index) = (self.fresh(), self.fresh());
        self.emit(Inst::ArrayLen { dst: v(len), arr: v(a) });
        match self.rng.below(20) {
            0 => self.emit(Inst::Mov { dst: Dst::Reg(v(index)), src: Operand::Reg(v(len)) }),
            1 => self.mov_imm(index, -1),
            2..=10 => self.mov_imm(index, 0),
            _ => self.emit(Inst::Bin { op: BinOp::Sub, dst: v(index), a: v(len), b: Src::Imm(1) }),
        }
        if self.rng.chance(50) {
            let d = self.target_var();
            self.emit(Inst::ArrayGet { dst: v(d), arr: v(a), index: Src::Reg(v(index)), elem_size });
        } else {
            let x = self.src();
            self.emit(Inst::ArraySet { arr: v(a), index: Src::Reg(v(index)), value: x, elem_size });
        }
    }

    fn map_key(&mut self) -> Src {
        match self.rng.below(3) {
            0 => Src::Imm(self.rng.pick(&self.keys.clone())),
            1 => Src::Imm(wide_key(self.rng)),
            _ => self.src(),
        }
    }

    fn maps_stmt(&mut self) {
        let m = self.rng.pick(&self.maps.clone());
        let key = self.map_key();
        match self.rng.below(4) {
            0 => {
                let x = self.src();
                self.emit(Inst::MapPut { dst: v(m), map: v(m), key, value: x });
            }
            1 => {
                let d = self.target_var();
                self.emit(Inst::MapGet { dst: v(d), map: v(m), key });
            }
            2 => self.emit(Inst::MapDelete { dst: v(m), map: v(m), key }),
            _ => self.map_ends(m),
        }
    }

    /// Prints the map's length and, through its layout, its first and
    /// last keys: the entries are sorted by signed key.
    fn map_ends(&mut self, m: u32) {
        let (len, entries, last, key) = (self.fresh(), self.fresh(), self.fresh(), self.fresh());
        let empty = self.label();
        self.emit(Inst::Load { width: Width::W64, dst: v(len), base: v(m), offset: 8 });
        self.emit(Inst::PrintInt(Src::Reg(v(len))));
        self.emit(Inst::Cmp { a: v(len), b: Src::Imm(0) });
        self.emit(Inst::Jcc(Cond::Eq, empty));
        self.emit(Inst::Load { width: Width::W64, dst: v(entries), base: v(m), offset: 0 });
        self.emit(Inst::Load { width: Width::W64, dst: v(key), base: v(entries), offset: 0 });
        self.emit(Inst::PrintInt(Src::Reg(v(key))));
        self.emit(Inst::Bin { op: BinOp::Sub, dst: v(last), a: v(len), b: Src::Imm(1) });
        self.emit(Inst::Bin { op: BinOp::Shl, dst: v(last), a: v(last), b: Src::Imm(4) });
        self.emit(Inst::Bin { op: BinOp::Add, dst: v(last), a: v(last), b: Src::Reg(v(entries)) });
        self.emit(Inst::Load { width: Width::W64, dst: v(key), base: v(last), offset: 0 });
        self.emit(Inst::PrintInt(Src::Reg(v(key))));
        self.emit(Inst::Label(empty));
    }

    /// A float operand: a float var, or any bit pattern as an immediate.
    fn float_src(&mut self) -> Src {
        if self.rng.chance(30) {
            Src::Imm(float_bits(self.rng))
        } else {
            Src::Reg(v(self.rng.pick(&self.floats.clone())))
        }
    }

    fn floats_stmt(&mut self) {
        match self.rng.below(6) {
            0 | 1 => {
                let (a, b) = (self.float_src(), self.float_src());
                let op = self.rng.pick(&[FloatOp::Add, FloatOp::Sub, FloatOp::Mul, FloatOp::Div]);
                let d = self.fresh();
                self.emit(Inst::FloatBin { op, dst: v(d), a, b });
                Self::keep(&mut self.floats, self.depth, d);
            }
            2 => {
                // Any int, so conversions round (ties to even).
                let d = self.fresh();
                let x = self.src();
                self.emit(Inst::IntToFloat { dst: v(d), src: x });
                Self::keep(&mut self.floats, self.depth, d);
            }
            3 => self.float_to_int(),
            4 => {
                // Builtins the optimizer turns into instructions, and two it
                // does not.
                let name = self.rng.pick(&["sqrt", "abs", "floor", "ceil"]);
                let f = self.float_src();
                self.emit(Inst::Mov { dst: Dst::Reg(self.arg(0)), src: operand(f) });
                self.emit(Inst::Call(name.into()));
                let d = self.fresh();
                self.emit(Inst::Mov { dst: Dst::Reg(v(d)), src: Operand::Reg(self.result()) });
                Self::keep(&mut self.floats, self.depth, d);
            }
            _ => {
                let f = self.float_src();
                if self.rng.chance(50) {
                    self.emit(Inst::PrintFloat(f));
                } else {
                    let d = self.fresh();
                    self.emit(Inst::FloatToStr { dst: v(d), src: f });
                    self.emit(Inst::PrintStr(v(d)));
                    Self::keep(&mut self.strings, self.depth, d);
                }
                // Any bit pattern prints, specials and subnormals included.
                if self.rng.chance(20) {
                    let x = self.var();
                    self.emit(Inst::PrintFloat(Src::Reg(v(x))));
                }
            }
        }
    }

    /// `float_to_int` where the spec defines it: |x| < 2^63, so neither
    /// NaN nor out of range (tested on the bits: sign cleared, unsigned).
    fn float_to_int(&mut self) {
        let f = self.rng.pick(&self.floats.clone());
        let magnitude = self.fresh();
        let skip = self.label();
        self.emit(Inst::Bin { op: BinOp::And, dst: v(magnitude), a: v(f), b: Src::Imm(i64::MAX) });
        self.emit(Inst::Cmp { a: v(magnitude), b: Src::Imm(2f64.powi(63).to_bits() as i64) });
        self.emit(Inst::Jcc(Cond::Geu, skip));
        let d = self.target_var();
        self.emit(Inst::FloatToInt { dst: v(d), src: Src::Reg(v(f)) });
        self.emit(Inst::Label(skip));
    }

    fn structs_stmt(&mut self) {
        let (s, size) = self.rng.pick(&self.structs.clone());
        // Any byte offset of an 8-byte field, or an 8-byte slot.
        let last = size - 8;
        let off = if self.rng.chance(50) {
            self.rng.below(last as u64 / 8 + 1) as i64 * 8
        } else {
            self.rng.below(last as u64 + 1) as i64
        };
        match self.rng.below(3) {
            0 => {
                let x = self.src();
                self.emit(Inst::FieldSet { s: v(s), offset: off, value: x });
            }
            1 => {
                let d = self.target_var();
                self.emit(Inst::FieldGet { dst: v(d), s: v(s), offset: off });
            }
            _ => {
                let d = self.target_var();
                let k = self.src();
                self.emit(Inst::MethodCall(Box::new(MethodCall {
                    dst: v(d),
                    type_name: "Box".into(),
                    method: "get".into(),
                    args: vec![Src::Reg(v(s)), k],
                })));
            }
        }
    }

    /// A builtin, called by name or through its address.
    fn builtins_stmt(&mut self) {
        let s = self.rng.pick(&self.strings.clone());
        let (name, takes_int) = self.rng.pick(&[
            ("println", false),
            ("string__to_upper", false),
            ("string__trim_space", false),
            ("int__str", true),
            ("string__int", false),
        ]);
        let arg = if takes_int { Operand::Reg(v(self.var())) } else { Operand::Reg(v(s)) };
        if self.rng.chance(30) {
            let f = self.fresh();
            self.emit(Inst::Lea { dst: v(f), symbol: Symbol::Function(name.into()) });
            self.emit(Inst::Mov { dst: Dst::Reg(self.arg(0)), src: arg });
            self.emit(Inst::CallIndirect(v(f)));
        } else {
            self.emit(Inst::Mov { dst: Dst::Reg(self.arg(0)), src: arg });
            self.emit(Inst::Call(name.into()));
        }
        match name {
            "println" => {}
            "string__int" => {
                let d = self.target_var();
                self.emit(Inst::Mov { dst: Dst::Reg(v(d)), src: Operand::Reg(self.result()) });
            }
            _ => {
                let d = self.fresh();
                self.emit(Inst::Mov { dst: Dst::Reg(v(d)), src: Operand::Reg(self.result()) });
                Self::keep(&mut self.strings, self.depth, d);
                self.emit(Inst::PrintStr(v(d)));
            }
        }
    }
}
