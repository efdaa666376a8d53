//! The runtime routines the binaries carry, written once as IR and compiled
//! by the backend itself for each target, so both targets share one
//! definition of every algorithm. Only the routines a program needs are
//! linked in. Their names start with `__vbeam_`, a prefix reserved for them.

use crate::ir::*;
use crate::regs::{arm64, call_conv, x86};

pub const PRINT_INT: &str = "__vbeam_print_int";
pub const DIV_ZERO: &str = "__vbeam_div_zero";
const DIGITS: &str = "__vbeam_digits";
const DIV_ZERO_MSG: &str = "__vbeam_msg_div_zero";
/// Room for "-9223372036854775808\n".
const DIGITS_SIZE: u64 = 32;

/// Builtins: functions the V compiler leaves undefined and the backend
/// provides, by name.
const BUILTINS: &[&str] = &[];

/// The builtin called `name`, if the backend provides it.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTINS.iter().copied().find(|b| *b == name)
}

/// Whether an instruction allocates heap memory.
pub fn allocates(inst: &Inst) -> bool {
    matches!(
        inst,
        Inst::StringLit { .. }
            | Inst::StringConcat { .. }
            | Inst::IntToStr { .. }
            | Inst::FloatToStr { .. }
            | Inst::ArrayNew { .. }
            | Inst::ArrayAppend { .. }
            | Inst::StructNew { .. }
            | Inst::MapNew { .. }
            | Inst::MapPut { .. }
    )
}

/// Whether the lowerers implement an instruction.
pub fn lowered(inst: &Inst) -> bool {
    matches!(
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
            | Inst::PrintInt(_)
    )
}

/// Routines and data a program needs beyond its own.
#[derive(Default)]
pub struct Runtime {
    pub functions: Vec<Function>,
    pub data: Vec<DataEntry>,
    pub bss: Vec<BssEntry>,
}

/// Which runtime routines an instruction calls.
pub fn routines_used(inst: &Inst) -> &'static [&'static str] {
    match inst {
        Inst::PrintInt(_) => &[PRINT_INT],
        Inst::Bin { op: BinOp::Sdiv | BinOp::Srem, b, .. } if !matches!(b, Src::Imm(n) if *n != 0) => &[DIV_ZERO],
        Inst::Bin { op: BinOp::Sdiv | BinOp::Srem, .. } => &[],
        _ => &[],
    }
}

/// Builds the routines named in `names` (and stubs returning 0 for
/// `stubs`) for `target`.
pub fn build<'a>(target: Target, names: impl IntoIterator<Item = &'a str>, stubs: impl IntoIterator<Item = &'a str>) -> Runtime {
    let mut rt = Runtime::default();
    for name in names {
        match name {
            PRINT_INT => {
                rt.functions.push(print_int(target));
                rt.bss.push(BssEntry { name: DIGITS.into(), align: 8, size: DIGITS_SIZE });
            }
            DIV_ZERO => {
                let msg = b"panic: division by zero\n".to_vec();
                rt.functions.push(fatal(target, DIV_ZERO, DIV_ZERO_MSG, msg.len() as i64));
                rt.data.push(DataEntry { name: DIV_ZERO_MSG.into(), align: 1, bytes: msg });
            }
            other => unreachable!("no runtime routine named {other}"),
        }
    }
    for name in stubs {
        let mut b = Builder::new(target, name, 0);
        b.mov_imm(Reg::P(b.cc_result()), 0);
        b.push(Inst::Ret);
        rt.functions.push(b.finish());
    }
    rt
}

/// A small IR assembler for runtime routines.
struct Builder {
    target: Target,
    func: Function,
    next_vreg: u32,
}

impl Builder {
    fn new(target: Target, name: &str, arity: u32) -> Builder {
        let func = Function {
            name: name.into(),
            arity,
            exported: false,
            params: (0..arity).map(Reg::V).collect(),
            locals: arity,
            body: Vec::new(),
            labels: Vec::new(),
        };
        Builder { target, func, next_vreg: arity }
    }
    fn vreg(&mut self) -> Reg {
        self.next_vreg += 1;
        Reg::V(self.next_vreg - 1)
    }
    fn label(&mut self, name: &str) -> Label {
        self.func.labels.push(name.into());
        Label(self.func.labels.len() as u32 - 1)
    }
    fn push(&mut self, inst: Inst) {
        self.func.body.push(inst);
    }
    fn mov_imm(&mut self, dst: Reg, imm: i64) {
        self.push(Inst::Mov { dst: Dst::Reg(dst), src: Operand::Imm(imm) });
    }
    fn mov(&mut self, dst: Reg, src: Reg) {
        self.push(Inst::Mov { dst: Dst::Reg(dst), src: Operand::Reg(src) });
    }
    fn bin(&mut self, op: BinOp, dst: Reg, a: Reg, b: Src) {
        self.push(Inst::Bin { op, dst, a, b });
    }
    fn cc_result(&self) -> PReg {
        call_conv(self.target).result
    }
    /// A system call in the IR's own convention for the target: x86_64 uses
    /// Linux numbers, arm64 BSD ones (translated per format by `syscall`).
    fn syscall(&mut self, call: IrSyscall, args: &[Src]) {
        let (number_reg, number) = match (self.target, call) {
            (Target::X86_64, IrSyscall::Write) => (x86::RAX, 1),
            (Target::X86_64, IrSyscall::Exit) => (x86::RAX, 60),
            (Target::Arm64, IrSyscall::Write) => (arm64::X16, 4),
            (Target::Arm64, IrSyscall::Exit) => (arm64::X16, 1),
        };
        let arg_regs = call_conv(self.target).syscall_uses[1..].to_vec();
        for (a, r) in args.iter().zip(arg_regs) {
            let src = match a {
                Src::Reg(x) => Operand::Reg(*x),
                Src::Imm(i) => Operand::Imm(*i),
            };
            self.push(Inst::Mov { dst: Dst::Reg(Reg::P(r)), src });
        }
        self.mov_imm(Reg::P(number_reg), number);
        self.push(Inst::Syscall);
    }
    fn finish(mut self) -> Function {
        self.func.locals = self.next_vreg;
        self.func
    }
}

#[derive(Clone, Copy)]
enum IrSyscall {
    Write,
    Exit,
}

const STDOUT: i64 = 1;
const STDERR: i64 = 2;

/// `print_int`: the value in decimal and a newline on stdout. Digits are
/// produced from the value made non-positive, so i64::MIN needs no special
/// case.
fn print_int(target: Target) -> Function {
    let mut b = Builder::new(target, PRINT_INT, 1);
    let value = Reg::V(0);
    let (end, cursor, n, digit) = (b.vreg(), b.vreg(), b.vreg(), b.vreg());
    let (non_positive, loop_top, positive_done, len) = (b.label("non_positive"), b.label("digit"), b.label("sign_done"), b.vreg());
    b.push(Inst::Lea { dst: end, symbol: DIGITS.into() });
    b.bin(BinOp::Add, end, end, Src::Imm(DIGITS_SIZE as i64));
    b.bin(BinOp::Sub, cursor, end, Src::Imm(1));
    b.push(Inst::Store { width: Width::W8, base: cursor, offset: 0, src: Src::Imm(b'\n' as i64) });
    b.mov(n, value);
    b.push(Inst::Cmp { a: n, b: Src::Imm(0) });
    b.push(Inst::Jcc(Cond::Le, non_positive));
    b.push(Inst::Unary { op: UnOp::Neg, dst: n, src: Src::Reg(n) });
    b.push(Inst::Label(non_positive));
    b.push(Inst::Label(loop_top));
    // digit = '0' - (n rem 10), since n rem 10 is in -9..=0.
    b.bin(BinOp::Srem, digit, n, Src::Imm(10));
    b.push(Inst::Unary { op: UnOp::Neg, dst: digit, src: Src::Reg(digit) });
    b.bin(BinOp::Add, digit, digit, Src::Imm(b'0' as i64));
    b.bin(BinOp::Sub, cursor, cursor, Src::Imm(1));
    b.push(Inst::Store { width: Width::W8, base: cursor, offset: 0, src: Src::Reg(digit) });
    b.bin(BinOp::Sdiv, n, n, Src::Imm(10));
    b.push(Inst::Cmp { a: n, b: Src::Imm(0) });
    b.push(Inst::Jcc(Cond::Ne, loop_top));
    b.push(Inst::Cmp { a: value, b: Src::Imm(0) });
    b.push(Inst::Jcc(Cond::Ge, positive_done));
    b.bin(BinOp::Sub, cursor, cursor, Src::Imm(1));
    b.push(Inst::Store { width: Width::W8, base: cursor, offset: 0, src: Src::Imm(b'-' as i64) });
    b.push(Inst::Label(positive_done));
    b.bin(BinOp::Sub, len, end, Src::Reg(cursor));
    b.syscall(IrSyscall::Write, &[Src::Imm(STDOUT), Src::Reg(cursor), Src::Reg(len)]);
    b.push(Inst::Ret);
    b.finish()
}

/// A routine that writes a fixed message to stderr and exits with status 1.
fn fatal(target: Target, name: &str, message: &str, len: i64) -> Function {
    let mut b = Builder::new(target, name, 0);
    let msg = b.vreg();
    b.push(Inst::Lea { dst: msg, symbol: message.into() });
    b.syscall(IrSyscall::Write, &[Src::Imm(STDERR), Src::Reg(msg), Src::Imm(len)]);
    b.syscall(IrSyscall::Exit, &[Src::Imm(1)]);
    b.push(Inst::Ret);
    b.finish()
}
