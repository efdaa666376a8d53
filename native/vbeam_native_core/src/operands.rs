//! What each IR instruction reads and writes: the explicit register operands
//! (`for_each_reg`) and the implicit ones a calling or system-call convention
//! adds (`implicit`). Liveness, allocation and lowering all agree through
//! this one module.

use crate::ir::*;
use crate::regs::{CallConv, RegSet};

/// How to issue one `syscall` of the IR (decided by `os::syscall`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The number to load into the kernel's number register, or `None` to
    /// issue the call with the number the IR left in the register.
    pub number: Option<i64>,
    /// How many argument registers the call reads.
    pub args: u32,
    /// Registers destroyed besides the result.
    pub clobbers: RegSet,
    /// The destroyed registers the IR's convention says survive: the
    /// lowering saves those the IR keeps live across the call.
    pub preserved: RegSet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Use,
    Def,
}

macro_rules! visit_regs {
    ($inst:expr, $f:expr, $m:ident, $($r:tt)*) => {{
        let f = $f;
        macro_rules! src { ($s:expr) => { if let Src::Reg(r) = $s { f(r, Role::Use) } } }
        match $inst {
            Inst::Mov { dst, src } => {
                if let Operand::Reg(r) = src { f(r, Role::Use) }
                if let Dst::Reg(r) = dst { f(r, Role::Def) }
            }
            Inst::Bin { dst, a, b, .. } => { f(a, Role::Use); src!(b); f(dst, Role::Def) }
            Inst::Unary { dst, src, .. } => { src!(src); f(dst, Role::Def) }
            Inst::Load { dst, base, .. } => { f(base, Role::Use); f(dst, Role::Def) }
            Inst::Store { base, src, .. } => { f(base, Role::Use); src!(src) }
            Inst::LoadElement { dst, base, index, .. } => { f(base, Role::Use); f(index, Role::Use); f(dst, Role::Def) }
            Inst::StoreElement { base, index, src, .. } => { f(base, Role::Use); f(index, Role::Use); src!(src) }
            Inst::Copy16 { dst, src, .. } => { f(dst, Role::Use); f(src, Role::Use) }
            Inst::FramePointer { dst } => f(dst, Role::Def),
            Inst::Lea { dst, .. } => f(dst, Role::Def),
            Inst::Cmp { a, b } => { f(a, Role::Use); src!(b) }
            Inst::CallIndirect(r) => f(r, Role::Use),
            Inst::Push(s) => src!(s),
            Inst::Pop(r) => f(r, Role::Def),
            Inst::PrintInt(s) | Inst::PrintFloat(s) => src!(s),
            Inst::StringLit { dst, .. } | Inst::MapNew { dst } | Inst::ArrayNew { dst, .. } | Inst::StructNew { dst, .. } => {
                f(dst, Role::Def)
            }
            Inst::StringLen { dst, s } => { f(s, Role::Use); f(dst, Role::Def) }
            Inst::StringCmp { dst, a, b } | Inst::StringConcat { dst, a, b } => {
                f(a, Role::Use); f(b, Role::Use); f(dst, Role::Def)
            }
            Inst::PrintStr(r) => f(r, Role::Use),
            Inst::IntToStr { dst, src } | Inst::FloatToStr { dst, src } | Inst::IntToFloat { dst, src } | Inst::FloatToInt { dst, src } => {
                src!(src); f(dst, Role::Def)
            }
            Inst::ArrayGet { dst, arr, index, .. } => { f(arr, Role::Use); src!(index); f(dst, Role::Def) }
            Inst::ArraySet { arr, index, value, .. } => { f(arr, Role::Use); src!(index); src!(value) }
            Inst::ArrayLen { dst, arr } => { f(arr, Role::Use); f(dst, Role::Def) }
            Inst::ArrayAppend { dst, arr, value, .. } => { f(arr, Role::Use); src!(value); f(dst, Role::Def) }
            Inst::FieldGet { dst, s, .. } => { f(s, Role::Use); f(dst, Role::Def) }
            Inst::FieldSet { s, value, .. } => { f(s, Role::Use); src!(value) }
            Inst::MapPut { dst, map, key, value } => { f(map, Role::Use); src!(key); src!(value); f(dst, Role::Def) }
            Inst::MapGet { dst, map, key } | Inst::MapDelete { dst, map, key } => {
                f(map, Role::Use); src!(key); f(dst, Role::Def)
            }
            Inst::FloatBin { dst, a, b, .. } => { src!(a); src!(b); f(dst, Role::Def) }
            Inst::FloatSqrt { dst, src } => { src!(src); f(dst, Role::Def) }
            Inst::MethodCall(call) => {
                for a in call.args.$m() { src!(a) }
                f($($r)* call.dst, Role::Def)
            }
            Inst::CallFirmware { function, args, dst } => {
                f(function, Role::Use);
                for a in args.$m() { src!(a) }
                if let Some(d) = dst { f(d, Role::Def) }
            }
            Inst::CallWith { args, dst, .. } => {
                for a in args.$m() { src!(a) }
                if let Some(d) = dst { f(d, Role::Def) }
            }
            Inst::Jmp(_) | Inst::Jcc(..) | Inst::Call(_) | Inst::Ret | Inst::Syscall | Inst::Label(_)
            | Inst::Nop | Inst::Raw(_) | Inst::Trap => {}
        }
    }};
}

/// Calls `f` for every explicit register operand, uses before defs.
pub fn for_each_reg(inst: &Inst, mut f: impl FnMut(Reg, Role)) {
    visit_regs!(inst, &mut |r: &Reg, role| f(*r, role), iter, &)
}

/// Like `for_each_reg`, with the operands mutable (for renaming).
pub fn for_each_reg_mut(inst: &mut Inst, mut f: impl FnMut(&mut Reg, Role)) {
    visit_regs!(inst, &mut |r: &mut Reg, role| f(r, role), iter_mut, &mut)
}

/// Registers an instruction touches beyond its explicit operands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Implicit {
    pub uses: RegSet,
    pub defs: RegSet,
    /// Destroyed between the instruction's reads and its writes: a value
    /// live across the instruction cannot stay in one of these.
    pub clobbers: RegSet,
    /// Destroyed while the operands are read and the result written too, so
    /// no operand or destination may be allocated to them (x86 division).
    pub clobbers_operands: RegSet,
    /// The instruction calls a runtime routine: physical registers that the
    /// IR keeps live across it are saved and restored by the lowering.
    pub runtime_call: bool,
    /// Destroyed registers the lowering saves around the instruction when
    /// the IR keeps them live across it (a kernel's beyond the IR's
    /// convention).
    pub preserves: RegSet,
}

/// Facts about the module an instruction's implicit operands depend on.
pub trait CallInfo {
    /// Number of integer arguments a direct call to `name` passes.
    fn call_arity(&self, name: &str) -> Option<u32>;
    /// How the `syscall` at this instruction is issued, when it is known.
    fn syscall_plan(&self, index: usize) -> Option<Plan>;
    /// Whether the function ever sets the result register (explicitly or
    /// by a call): otherwise its `ret` returns nothing, and the register is
    /// not kept live up to it.
    fn returns_value(&self) -> bool;
}

pub fn implicit(inst: &Inst, index: usize, cc: &CallConv, info: &dyn CallInfo) -> Implicit {
    let args = |n: usize| RegSet::of(&cc.args[..n.min(cc.args.len())]);
    let call = |uses: RegSet| Implicit {
        uses,
        defs: RegSet::of(&[cc.result]),
        clobbers: cc.caller_saved.without(cc.result).union(cc.fp_caller_saved),
        ..Implicit::default()
    };
    let runtime =
        Implicit { clobbers: cc.caller_saved.union(cc.fp_caller_saved), runtime_call: true, ..Implicit::default() };
    match inst {
        Inst::Call(name) => call(args(info.call_arity(name).unwrap_or(cc.args.len() as u32) as usize)),
        Inst::CallIndirect(_) => call(args(cc.args.len())),
        Inst::CallWith { .. } | Inst::CallFirmware { .. } => runtime,
        Inst::Ret if info.returns_value() => Implicit { uses: RegSet::of(&[cc.result]), ..Implicit::default() },
        Inst::Syscall => {
            // Unplanned: every argument read, everything a call may destroy.
            let (n, clobbers, preserves) = info
                .syscall_plan(index)
                .map_or((cc.syscall_uses.len() - 1, cc.caller_saved.without(cc.syscall_result), RegSet::EMPTY), |p| {
                    (p.args as usize, p.clobbers, p.preserved)
                });
            Implicit {
                uses: RegSet::of(&cc.syscall_uses[..=n.min(cc.syscall_uses.len() - 1)]),
                defs: RegSet::of(&[cc.syscall_result]),
                // Kernels keep floating-point registers, but a system call
                // the OS layer implements is a call.
                clobbers: clobbers.union(cc.fp_caller_saved),
                preserves,
                ..Implicit::default()
            }
        }
        Inst::Bin { op: BinOp::Sdiv | BinOp::Srem, .. } => {
            Implicit { clobbers_operands: cc.division_clobbers, ..Implicit::default() }
        }
        Inst::Bin { op: BinOp::Shl | BinOp::Shr | BinOp::Sar, b: Src::Reg(_), .. } => {
            Implicit { clobbers_operands: cc.shift_count_clobbers, ..Implicit::default() }
        }
        _ => Implicit::default(),
    }
}

/// Whether `func` sets the result register anywhere: explicitly, or through
/// a call (whose result it may pass on) or a system call.
pub fn sets_result(func: &Function, cc: &CallConv) -> bool {
    func.body.iter().any(|inst| {
        let mut writes = matches!(inst, Inst::Call(_) | Inst::CallIndirect(_) | Inst::Syscall);
        for_each_reg(inst, |r, role| writes |= role == Role::Def && r == Reg::P(cc.result));
        writes
    })
}
