//! A small assembler of IR functions, for the runtime routines and the OS
//! layer's primitives (which add the calls of the system, `os::Builder`).

use super::*;

/// A small IR assembler for runtime routines, building one function for
/// `target` (what the routines built with it ask: the assembler itself
/// needs only the register results are returned in).
pub struct Builder<T> {
    pub target: T,
    result: PReg,
    func: Function,
    next_vreg: u32,
}

impl<T> Builder<T> {
    /// A function `name` whose `ret` returns values in `result`.
    pub fn new(target: T, result: PReg, name: &str) -> Builder<T> {
        let func = Function { name: name.into(), ..Function::default() };
        Builder { target, result, func, next_vreg: 0 }
    }
    /// Declares the routine's N parameters (before any other vreg).
    pub fn params<const N: usize>(&mut self) -> [Reg; N] {
        debug_assert_eq!(self.next_vreg, 0, "parameters come first");
        self.func.params = (0..N as u32).map(Reg::V).collect();
        self.func.arity = N as u32;
        self.next_vreg = N as u32;
        std::array::from_fn(|k| Reg::V(k as u32))
    }
    pub fn vreg(&mut self) -> Reg {
        self.next_vreg += 1;
        Reg::V(self.next_vreg - 1)
    }
    pub fn label(&mut self) -> Label {
        self.func.labels.push(format!("l{}", self.func.labels.len()));
        Label(self.func.labels.len() as u32 - 1)
    }
    pub fn push(&mut self, inst: Inst) {
        self.func.body.push(inst);
    }
    pub fn bind(&mut self, l: Label) {
        self.push(Inst::Label(l));
    }
    pub fn mov_imm(&mut self, dst: Reg, imm: i64) {
        self.push(Inst::Mov { dst: Dst::Reg(dst), src: Operand::Imm(imm) });
    }
    pub fn mov(&mut self, dst: Reg, src: Reg) {
        self.push(Inst::Mov { dst: Dst::Reg(dst), src: Operand::Reg(src) });
    }
    pub fn bin(&mut self, op: BinOp, dst: Reg, a: Reg, b: Src) {
        self.push(Inst::Bin { op, dst, a, b });
    }
    /// A fresh vreg holding `a op b`.
    pub fn op(&mut self, op: BinOp, a: Reg, b: Src) -> Reg {
        let d = self.vreg();
        self.bin(op, d, a, b);
        d
    }
    pub fn load(&mut self, base: Reg, offset: i32) -> Reg {
        let d = self.vreg();
        self.push(Inst::Load { width: Width::W64, dst: d, base, offset });
        d
    }
    /// A zero-extended 32-bit load.
    pub fn load_u32(&mut self, base: Reg, offset: i32) -> Reg {
        let d = self.vreg();
        self.push(Inst::Load { width: Width::W32, dst: d, base, offset });
        d
    }
    pub fn load_byte(&mut self, base: Reg, offset: i32) -> Reg {
        let d = self.vreg();
        self.push(Inst::Load { width: Width::W8, dst: d, base, offset });
        d
    }
    /// `dst := [base + offset]`, 64 bits.
    pub fn load_into(&mut self, dst: Reg, base: Reg, offset: i32) {
        self.push(Inst::Load { width: Width::W64, dst, base, offset });
    }
    pub fn store_narrow(&mut self, width: Width, base: Reg, offset: i32, src: Src) {
        self.push(Inst::Store { width, base, offset, src });
    }
    pub fn store(&mut self, base: Reg, offset: i32, src: Src) {
        self.push(Inst::Store { width: Width::W64, base, offset, src });
    }
    pub fn store_byte(&mut self, base: Reg, offset: i32, src: Src) {
        self.push(Inst::Store { width: Width::W8, base, offset, src });
    }
    /// The address of the routine's own frame record.
    pub fn frame_pointer(&mut self) -> Reg {
        let d = self.vreg();
        self.push(Inst::FramePointer { dst: d });
        d
    }
    /// The 16 bytes at `src + src_offset` to `dst + dst_offset`.
    pub fn copy16(&mut self, dst: Reg, dst_offset: i32, src: Reg, src_offset: i32) {
        self.push(Inst::Copy16 { dst, dst_offset, src, src_offset });
    }
    pub fn lea(&mut self, symbol: &str) -> Reg {
        let d = self.vreg();
        self.push(Inst::Lea { dst: d, symbol: Symbol::Data(symbol.into()) });
        d
    }
    /// The address of the routine `name`.
    pub fn lea_function(&mut self, name: &str) -> Reg {
        let d = self.vreg();
        self.push(Inst::Lea { dst: d, symbol: Symbol::Function(name.into()) });
        d
    }
    pub fn cmp(&mut self, a: Reg, b: Src) {
        self.push(Inst::Cmp { a, b });
    }
    pub fn jcc(&mut self, c: Cond, l: Label) {
        self.push(Inst::Jcc(c, l));
    }
    pub fn jmp(&mut self, l: Label) {
        self.push(Inst::Jmp(l));
    }
    /// Calls another routine; returns its result in a fresh vreg.
    pub fn call(&mut self, callee: &str, args: &[Src]) -> Reg {
        let d = self.vreg();
        self.push(Inst::CallWith { callee: callee.into(), args: args.to_vec(), dst: Some(d) });
        d
    }
    pub fn call_void(&mut self, callee: &str, args: &[Src]) {
        self.push(Inst::CallWith { callee: callee.into(), args: args.to_vec(), dst: None });
    }
    /// Calls the firmware function at `function`; its result in a fresh
    /// vreg.
    pub fn call_firmware(&mut self, function: Reg, args: &[Src]) -> Reg {
        let d = self.vreg();
        self.push(Inst::CallFirmware { function, args: args.to_vec(), dst: Some(d) });
        d
    }
    pub fn ret(&mut self, value: Src) {
        let result = Reg::P(self.result);
        match value {
            Src::Reg(r) => self.mov(result, r),
            Src::Imm(i) => self.mov_imm(result, i),
        }
        self.push(Inst::Ret);
    }
    pub fn ret_void(&mut self) {
        self.push(Inst::Ret);
    }
    /// Marks a point control never reaches (after a call that does not
    /// return).
    pub fn trap(&mut self) {
        self.push(Inst::Trap);
    }
    pub fn finish(mut self) -> Function {
        self.func.locals = self.next_vreg;
        self.func
    }
}
