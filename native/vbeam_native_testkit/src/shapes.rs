//! Single functions that grow large in the ways front ends write them (a V
//! `main` with everything inlined), for the shapes that stress liveness and
//! register allocation: many blocks each defining a value live to the end,
//! one huge block, a long chain of blocks with values live across many of
//! them, a big loop, and many small loops. Each is a `main` of about the
//! requested number of IR instructions that prints a checksum, so the same
//! module serves the compile-time benchmark (`examples/large_functions.rs`)
//! and the tests that run it against the interpreter.

use vbeam_native_core::ir::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Blocks that each define a value, all summed at the end: block k has
    /// k values live across it.
    LiveToEnd,
    /// One block: each value is computed from the previous one and from
    /// one defined `ONE_BLOCK_WINDOW` instructions earlier.
    OneBlock,
    /// A chain of blocks, each value read again `CHAIN_SPAN` blocks later.
    LongLiveChain,
    /// One loop around a body of diamonds: a loop-carried accumulator,
    /// constants from before the loop, values assigned on both arms of a
    /// branch, and values read `LOOP_SPAN` diamonds after their definition.
    BigLoop,
    /// A sequence of small loops: before each a value that stays live to
    /// the end, inside each a value assigned twice that does too.
    ManyLoops,
}

impl Shape {
    pub const ALL: [Shape; 5] =
        [Shape::LiveToEnd, Shape::OneBlock, Shape::LongLiveChain, Shape::BigLoop, Shape::ManyLoops];

    pub fn name(self) -> &'static str {
        match self {
            Shape::LiveToEnd => "live_to_end",
            Shape::OneBlock => "one_block",
            Shape::LongLiveChain => "long_live_chain",
            Shape::BigLoop => "big_loop",
            Shape::ManyLoops => "many_loops",
        }
    }
}

const ONE_BLOCK_WINDOW: u32 = 64;
const CHAIN_SPAN: u32 = 256;
const LOOP_SPAN: usize = 32;
/// Constants defined before the big loop and read inside it.
const LOOP_CONSTANTS: u32 = 16;

/// A module whose `main` has the shape and about `instructions` IR
/// instructions.
pub fn module(target: Isa, shape: Shape, instructions: usize) -> Module {
    let mut b = Builder::default();
    match shape {
        Shape::LiveToEnd => b.live_to_end(instructions / 5),
        Shape::OneBlock => b.one_block(instructions),
        Shape::LongLiveChain => b.long_live_chain(instructions / 4),
        Shape::BigLoop => b.big_loop(instructions / 9),
        Shape::ManyLoops => b.many_loops(instructions / 10),
    }
    b.body.push(Inst::Ret);
    let main = Function {
        name: "main".into(),
        arity: 0,
        exported: true,
        params: Vec::new(),
        locals: b.next_vreg,
        body: b.body,
        labels: b.labels,
        ..Default::default()
    };
    Module {
        isa: target,
        format: Format::Elf64,
        functions: vec![main],
        data: Vec::new(),
        bss: Vec::new(),
        imports: Vec::new(),
        allow_stubs: false,
    }
}

#[derive(Default)]
struct Builder {
    body: Vec<Inst>,
    labels: Vec<String>,
    next_vreg: u32,
}

fn v(n: u32) -> Reg {
    Reg::V(n)
}

impl Builder {
    fn fresh(&mut self) -> u32 {
        self.next_vreg += 1;
        self.next_vreg - 1
    }
    fn label(&mut self) -> Label {
        self.labels.push(format!("L{}", self.labels.len()));
        Label(self.labels.len() as u32 - 1)
    }
    fn mov_imm(&mut self, d: u32, i: i64) {
        self.body.push(Inst::Mov { dst: Dst::Reg(v(d)), src: Operand::Imm(i) });
    }
    fn bin(&mut self, op: BinOp, d: u32, a: u32, b: Src) {
        self.body.push(Inst::Bin { op, dst: v(d), a: v(a), b });
    }
    /// Ends the block with a conditional branch to the next one (both
    /// ways lead there) and starts that block.
    fn branch_to_next(&mut self, x: u32, bound: i64) {
        let next = self.label();
        self.body.push(Inst::Cmp { a: v(x), b: Src::Imm(bound) });
        self.body.push(Inst::Jcc(Cond::Lt, next));
        self.body.push(Inst::Label(next));
    }
    fn print(&mut self, x: u32) {
        self.body.push(Inst::PrintInt(Src::Reg(v(x))));
    }

    fn live_to_end(&mut self, blocks: usize) {
        let values: Vec<u32> = (0..blocks)
            .map(|k| {
                let x = self.fresh();
                self.mov_imm(x, 3 * k as i64 + 1);
                self.branch_to_next(x, 0);
                x
            })
            .collect();
        let sum = self.fresh();
        self.mov_imm(sum, 0);
        for x in values {
            self.bin(BinOp::Add, sum, sum, Src::Reg(v(x)));
        }
        self.print(sum);
    }

    fn one_block(&mut self, instructions: usize) {
        let first = self.next_vreg;
        for k in 0..ONE_BLOCK_WINDOW {
            let x = self.fresh();
            self.mov_imm(x, k as i64 * 7 + 1);
        }
        let ops = [BinOp::Add, BinOp::Xor, BinOp::Sub, BinOp::Mul];
        for k in ONE_BLOCK_WINDOW as usize..instructions.max(ONE_BLOCK_WINDOW as usize + 1) {
            let x = self.fresh();
            self.bin(ops[k % ops.len()], x, x - 1, Src::Reg(v(x - ONE_BLOCK_WINDOW)));
        }
        let last = self.next_vreg - 1;
        self.print(last);
        self.print(first + ONE_BLOCK_WINDOW);
    }

    fn long_live_chain(&mut self, blocks: usize) {
        let first = self.fresh();
        self.mov_imm(first, 5);
        for k in 1..blocks.max(2) as u32 {
            let x = self.fresh();
            let far = if k >= CHAIN_SPAN { Src::Reg(v(x - CHAIN_SPAN)) } else { Src::Imm(k as i64) };
            self.bin(BinOp::Add, x, x - 1, far);
            self.branch_to_next(x, 0);
        }
        let last = self.next_vreg - 1;
        self.print(last);
    }

    fn big_loop(&mut self, diamonds: usize) {
        let counter = self.fresh();
        let acc = self.fresh();
        self.mov_imm(counter, 3);
        self.mov_imm(acc, 1);
        let constants: Vec<u32> = (0..LOOP_CONSTANTS)
            .map(|k| {
                let c = self.fresh();
                self.mov_imm(c, k as i64 * 1_000_003 + 17);
                c
            })
            .collect();
        let top = self.label();
        self.body.push(Inst::Label(top));
        let mut kept: Vec<u32> = Vec::with_capacity(diamonds);
        for g in 0..diamonds {
            let (otherwise, join) = (self.label(), self.label());
            let t = self.fresh();
            self.bin(BinOp::Add, t, acc, Src::Reg(v(constants[g % constants.len()])));
            self.body.push(Inst::Cmp { a: v(t), b: Src::Imm((g as i64 * 37) % 1000 - 500) });
            self.body.push(Inst::Jcc(Cond::Lt, otherwise));
            // `x` is assigned on both arms.
            let x = self.fresh();
            self.bin(BinOp::Add, x, t, Src::Imm(g as i64));
            self.body.push(Inst::Jmp(join));
            self.body.push(Inst::Label(otherwise));
            self.bin(BinOp::Xor, x, t, Src::Reg(v(constants[(g + 5) % constants.len()])));
            self.body.push(Inst::Label(join));
            let earlier = if g >= LOOP_SPAN { kept[g - LOOP_SPAN] } else { x };
            self.bin(BinOp::Add, acc, x, Src::Reg(v(earlier)));
            kept.push(t);
        }
        self.bin(BinOp::Sub, counter, counter, Src::Imm(1));
        self.body.push(Inst::Cmp { a: v(counter), b: Src::Imm(0) });
        self.body.push(Inst::Jcc(Cond::Gt, top));
        self.print(acc);
    }

    fn many_loops(&mut self, loops: usize) {
        let acc = self.fresh();
        self.mov_imm(acc, 0);
        let mut live = Vec::with_capacity(2 * loops);
        for k in 0..loops {
            let (before, count, inside) = (self.fresh(), self.fresh(), self.fresh());
            self.mov_imm(before, k as i64 + 1);
            self.mov_imm(count, 2);
            let top = self.label();
            self.body.push(Inst::Label(top));
            self.bin(BinOp::Add, acc, acc, Src::Reg(v(before)));
            self.bin(BinOp::Mul, inside, acc, Src::Imm(3));
            self.bin(BinOp::Add, inside, inside, Src::Reg(v(count)));
            self.bin(BinOp::Sub, count, count, Src::Imm(1));
            self.body.push(Inst::Cmp { a: v(count), b: Src::Imm(0) });
            self.body.push(Inst::Jcc(Cond::Gt, top));
            live.extend([before, inside]);
        }
        for x in live {
            self.bin(BinOp::Xor, acc, acc, Src::Reg(v(x)));
        }
        self.print(acc);
    }
}
