//! Random valid IR programs, written the way the V compiler writes IR:
//! arguments moved into the argument registers right before `call`,
//! results read from `rax`/`x0` right after, `string_lit` from data
//! entries with their lengths, `map_put` results moved back into the map.
//!
//! Every program terminates (bounded loops; a function calls only
//! lower-numbered ones, outside loops) and reads only defined values, so
//! its output is fully specified.

use vbeam_native_core::ir::*;
use vbeam_native_core::regs::{call_conv, preg_from_name};

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
}

impl Default for Config {
    fn default() -> Config {
        Config { functions: 4, statements: 24, data_types: true }
    }
}

const SCRATCH: &str = "scratch";
const SCRATCH_SIZE: u64 = 256;
const IR_SLOTS: u32 = 4;
const STRINGS: [&[u8]; 4] = [b"alpha", b"", b"beta gamma", b"  MiXed 42 "];

fn interesting(rng: &mut Rng) -> i64 {
    match rng.below(10) {
        0 => rng.pick(&[0, 1, -1, 2, 7, 10, 255, 256]),
        1 => rng.pick(&[i64::MIN, i64::MAX, i32::MIN as i64, i32::MAX as i64, 1 << 32, -(1 << 32), 0xffff_ffff]),
        2 => rng.next_u64() as i64,
        _ => rng.below(2000) as i64 - 1000,
    }
}

/// Generates one module.
pub fn generate(target: Isa, seed: u64, cfg: &Config) -> Module {
    let mut rng = Rng::new(seed);
    let mut module = Module {
        isa: target,
        format: Format::Elf64,
        functions: Vec::new(),
        data: STRINGS
            .iter()
            .enumerate()
            .map(|(i, s)| DataEntry { name: format!("str_{i}"), align: 1, bytes: s.to_vec(), refs: Vec::new() })
            .collect(),
        bss: vec![BssEntry { name: SCRATCH.into(), align: 8, size: SCRATCH_SIZE }],
        imports: Vec::new(),
        allow_stubs: false,
    };
    if cfg.data_types {
        module.functions.push(method(target));
    }
    let mut arities = Vec::new();
    for i in 0..=cfg.functions {
        let is_main = i == cfg.functions;
        let arity = if is_main { 0 } else { rng.below(7) as u32 };
        let name = if is_main { "main".to_string() } else { format!("fn_{i}") };
        let f = FnGen::new(&mut rng, target, cfg, name, arity, arities.clone()).build(is_main);
        arities.push((f.name.clone(), arity));
        module.functions.push(f);
    }
    module
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
    }
}

struct FnGen<'r> {
    rng: &'r mut Rng,
    target: Isa,
    cfg: Config,
    name: String,
    arity: u32,
    callees: Vec<(String, u32)>,
    body: Vec<Inst>,
    labels: Vec<String>,
    next_vreg: u32,
    /// Integer vregs that always hold a defined value.
    vars: Vec<u32>,
    /// Loop counters in scope: read-only for the loop body.
    protected: Vec<u32>,
    strings: Vec<u32>,
    /// Arrays of 8-byte elements with at least 4 elements.
    arrays: Vec<u32>,
    maps: Vec<u32>,
    floats: Vec<u32>,
    structs: Vec<u32>,
    depth: u32,
    calls_left: u32,
}

fn v(n: u32) -> Reg {
    Reg::V(n)
}

impl<'r> FnGen<'r> {
    fn new(
        rng: &'r mut Rng,
        target: Isa,
        cfg: &Config,
        name: String,
        arity: u32,
        callees: Vec<(String, u32)>,
    ) -> FnGen<'r> {
        FnGen {
            rng,
            target,
            cfg: cfg.clone(),
            name,
            arity,
            callees,
            body: Vec::new(),
            labels: Vec::new(),
            next_vreg: arity,
            vars: (0..arity).collect(),
            protected: Vec::new(),
            strings: Vec::new(),
            arrays: Vec::new(),
            maps: Vec::new(),
            floats: Vec::new(),
            structs: Vec::new(),
            depth: 0,
            calls_left: 2,
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
        self.next_vreg += 1;
        self.next_vreg - 1
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
        for _ in 0..self.cfg.statements {
            self.statement();
        }
        let r = self.var();
        if is_main {
            for _ in 0..2 {
                let x = self.var();
                self.emit(Inst::PrintInt(Src::Reg(v(x))));
            }
            if self.rng.chance(50) {
                self.emit(Inst::Ret);
            } else {
                let status = self.fresh();
                self.emit(Inst::Bin { op: BinOp::And, dst: v(status), a: v(r), b: Src::Imm(255) });
                let (arg0, number, exit) = match self.target {
                    Isa::X86_64 => ("rdi", "rax", 60),
                    Isa::Arm64 => ("x0", "x16", 1),
                };
                self.emit(Inst::Mov { dst: Dst::Reg(self.preg(arg0)), src: Operand::Reg(v(status)) });
                self.emit(Inst::Mov { dst: Dst::Reg(self.preg(number)), src: Operand::Imm(exit) });
                self.emit(Inst::Syscall);
            }
        } else {
            self.emit(Inst::Mov { dst: Dst::Reg(self.result()), src: Operand::Reg(v(r)) });
            self.emit(Inst::Ret);
        }
        Function {
            name: self.name,
            arity: self.arity,
            exported: is_main,
            params: (0..self.arity).map(v).collect(),
            locals: self.next_vreg,
            body: self.body,
            labels: self.labels,
        }
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
        // An array literal the way V writes it: set below capacity, then the length.
        let a = self.fresh();
        self.emit(Inst::ArrayNew { dst: v(a), elem_size: 8, cap: 4 });
        for i in 0..4 {
            let x = self.src();
            self.emit(Inst::ArraySet { arr: v(a), index: Src::Imm(i), value: x, elem_size: 8 });
        }
        self.emit(Inst::Store { width: Width::W64, base: v(a), offset: 8, src: Src::Imm(4) });
        self.arrays.push(a);
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
        let st = self.fresh();
        self.emit(Inst::StructNew { dst: v(st), size: 24 });
        self.structs.push(st);
    }

    fn statement(&mut self) {
        let kinds = if self.cfg.data_types { 19 } else { 13 };
        match self.rng.below(kinds) {
            0..=2 => self.arith(),
            3 => self.unary(),
            4 => {
                let x = self.var();
                self.emit(Inst::PrintInt(Src::Reg(v(x))));
            }
            5 if self.depth < 3 => self.diamond(),
            6 if self.depth < 2 => self.counted_loop(),
            7 if self.depth == 0 && self.calls_left > 0 && !self.callees.is_empty() => self.call(),
            8 => self.pressure(),
            9 => self.stack_slots(),
            10 => self.push_pop(),
            11 => self.memory(),
            12 => self.preg_moves(),
            13 => self.strings_stmt(),
            14 => self.arrays_stmt(),
            15 => self.maps_stmt(),
            16 => self.floats_stmt(),
            17 => self.structs_stmt(),
            18 => self.builtins_stmt(),
            _ => self.arith(),
        }
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
                    Src::Imm(self.rng.pick(&[1, -1, 2, 3, 7, 10, -10, 1 << 33, i64::MIN]))
                } else {
                    // An odd divisor is never zero.
                    let t = self.fresh();
                    let x = self.var();
                    self.emit(Inst::Bin { op: BinOp::Or, dst: v(t), a: v(x), b: Src::Imm(1) });
                    Src::Reg(v(t))
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

    fn counted_loop(&mut self) {
        let i = self.fresh();
        self.mov_imm(i, 0);
        self.vars.push(i);
        self.protected.push(i);
        let top = self.label();
        self.emit(Inst::Label(top));
        self.block(4);
        self.emit(Inst::Bin { op: BinOp::Add, dst: v(i), a: v(i), b: Src::Imm(1) });
        let n = self.rng.below(5) as i64 + 1;
        self.emit(Inst::Cmp { a: v(i), b: Src::Imm(n) });
        self.emit(Inst::Jcc(Cond::Lt, top));
        self.protected.pop();
        if self.depth > 0 {
            self.vars.retain(|x| *x != i);
        }
    }

    fn call(&mut self) {
        self.calls_left -= 1;
        let (name, arity) = self.callees[self.rng.below(self.callees.len() as u64) as usize].clone();
        for k in 0..arity as usize {
            let x = self.src();
            let src = match x {
                Src::Reg(r) => Operand::Reg(r),
                Src::Imm(i) => Operand::Imm(i),
            };
            self.emit(Inst::Mov { dst: Dst::Reg(self.arg(k)), src });
        }
        self.emit(Inst::Call(name));
        let d = self.target_var();
        self.emit(Inst::Mov { dst: Dst::Reg(v(d)), src: Operand::Reg(self.result()) });
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
            let src = match x {
                Src::Reg(r) => Operand::Reg(r),
                Src::Imm(i) => Operand::Imm(i),
            };
            self.emit(Inst::Mov { dst: Dst::Stack(k), src });
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
        let a = self.rng.pick(&self.arrays.clone());
        match self.rng.below(4) {
            0 => {
                let x = self.src();
                self.emit(Inst::ArrayAppend { dst: v(a), arr: v(a), value: x, elem_size: 8 });
            }
            1 => {
                // Index var & 3: always below the length (at least 4).
                let i = self.fresh();
                let x = self.var();
                self.emit(Inst::Bin { op: BinOp::And, dst: v(i), a: v(x), b: Src::Imm(3) });
                let d = self.target_var();
                self.emit(Inst::ArrayGet { dst: v(d), arr: v(a), index: Src::Reg(v(i)), elem_size: 8 });
            }
            2 => {
                let idx = Src::Imm(self.rng.below(4) as i64);
                let x = self.src();
                self.emit(Inst::ArraySet { arr: v(a), index: idx, value: x, elem_size: 8 });
            }
            _ => {
                let d = self.target_var();
                self.emit(Inst::ArrayLen { dst: v(d), arr: v(a) });
            }
        }
    }

    fn maps_stmt(&mut self) {
        let m = self.rng.pick(&self.maps.clone());
        let key = if self.rng.chance(50) { Src::Imm(self.rng.below(16) as i64 - 8) } else { self.src() };
        match self.rng.below(3) {
            0 => {
                let x = self.src();
                self.emit(Inst::MapPut { dst: v(m), map: v(m), key, value: x });
            }
            1 => {
                let d = self.target_var();
                self.emit(Inst::MapGet { dst: v(d), map: v(m), key });
            }
            _ => self.emit(Inst::MapDelete { dst: v(m), map: v(m), key }),
        }
    }

    fn floats_stmt(&mut self) {
        let f = self.rng.pick(&self.floats.clone());
        match self.rng.below(3) {
            0 => {
                let g = self.rng.pick(&self.floats.clone());
                let op = self.rng.pick(&[FloatOp::Add, FloatOp::Sub]);
                let d = self.fresh();
                self.emit(Inst::FloatBin { op, dst: v(d), a: Src::Reg(v(f)), b: Src::Reg(v(g)) });
                Self::keep(&mut self.floats, self.depth, d);
            }
            1 => {
                // Constants keep magnitudes finite: no infinities or NaNs.
                let c: f64 = self.rng.pick(&[0.5, 1.5, -2.0, 0.1, 3.0]);
                let op = self.rng.pick(&[FloatOp::Mul, FloatOp::Div]);
                let d = self.fresh();
                self.emit(Inst::FloatBin { op, dst: v(d), a: Src::Reg(v(f)), b: Src::Imm(c.to_bits() as i64) });
                Self::keep(&mut self.floats, self.depth, d);
            }
            _ => {
                if self.rng.chance(50) {
                    self.emit(Inst::PrintFloat(Src::Reg(v(f))));
                } else {
                    let d = self.fresh();
                    self.emit(Inst::FloatToStr { dst: v(d), src: Src::Reg(v(f)) });
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

    fn structs_stmt(&mut self) {
        let s = self.rng.pick(&self.structs.clone());
        let off = self.rng.below(3) as i64 * 8;
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
        self.emit(Inst::Mov { dst: Dst::Reg(self.arg(0)), src: arg });
        self.emit(Inst::Call(name.into()));
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
