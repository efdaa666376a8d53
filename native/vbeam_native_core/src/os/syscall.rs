//! The IR's `syscall` made to mean the same thing on every system.
//!
//! The IR writes x86_64 system calls with Linux numbers in `rax` and arm64
//! ones with BSD/macOS numbers in `x16` (see the spec). Where the system's
//! kernel takes other numbers or another number register, the number must
//! be known at compile time: it is the last `mov`/`mov_imm` of a constant
//! into the number register in the same basic block before the `syscall`.
//! The OS layer's own primitives write their calls with the kernel's own
//! numbers (`Caller::OsLayer`).

use super::kernel;
use crate::error::CompileError;
use crate::ir::{Dst, Function, Inst, Isa, Operand, Reg, Src};
use crate::operands::{for_each_reg, Plan, Role};
use crate::regs::CallConv;
use crate::target::Target;

/// The system calls the backend knows by meaning (each kernel lists the
/// ones it has).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Write,
    Exit,
    Mmap,
    Read,
    Open,
    /// `openat`, where there is no `open` (Linux arm64).
    Openat,
    Close,
    Nanosleep,
    Select,
    ClockGettime,
    Gettimeofday,
    Getrandom,
    Getentropy,
    /// `rt_sigaction` (Linux), `sigaction` (XNU).
    Sigaction,
    Sigaltstack,
    /// `rt_sigreturn` (Linux).
    Sigreturn,
}

impl Call {
    /// How many argument registers the call reads.
    fn args(self) -> u32 {
        match self {
            Call::Sigreturn => 0,
            Call::Exit | Call::Close => 1,
            Call::Nanosleep | Call::ClockGettime | Call::Gettimeofday | Call::Getentropy | Call::Sigaltstack => 2,
            Call::Write | Call::Read | Call::Open | Call::Getrandom => 3,
            // Linux's takes the mask's size too.
            Call::Openat | Call::Sigaction => 4,
            Call::Select => 5,
            Call::Mmap => 6,
        }
    }
}

/// Whose `syscall` is planned: a program's, written in the IR's
/// convention, means on another system only what the spec translates
/// (write, exit: the arguments of others, such as mmap's flags, differ
/// between systems); the OS layer's primitives are written with the
/// kernel's own numbers and arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    Program,
    OsLayer,
}

/// The IR's numbers (the spec's table): Linux's on x86_64, BSD's on arm64.
fn ir_calls(isa: Isa) -> &'static [(Call, i64)] {
    match isa {
        Isa::X86_64 => &[(Call::Write, 1), (Call::Exit, 60)],
        Isa::Arm64 => &[(Call::Write, 4), (Call::Exit, 1)],
    }
}

/// Plans every `syscall` of `func`, by instruction index; an error names
/// the function and the (1-based) instruction.
pub fn plans(target: Target, func: &Function, caller: Caller) -> Result<Vec<(usize, Plan)>, CompileError> {
    numbers(func, target.cc)
        .into_iter()
        .map(|(i, number)| {
            plan(target, number, caller).map(|p| (i, p)).map_err(|reason| CompileError::InvalidSyscall {
                function: func.name.clone(),
                index: i + 1,
                reason,
            })
        })
        .collect()
}

/// Checks that every `syscall` of a program's function (as written, so
/// errors name the instruction the program has) means something on
/// `target`; where there is no kernel (UEFI), each becomes a call of the
/// OS primitive it means.
pub fn prepare(target: Target, func: &mut Function) -> Result<(), CompileError> {
    match kernel(target) {
        Some(_) => plans(target, func, Caller::Program).map(drop),
        None => replace_with_primitives(target, func),
    }
}

/// Decides how a `syscall` whose IR number is `number` (if known) is issued.
fn plan(target: Target, number: Option<i64>, caller: Caller) -> Result<Plan, String> {
    let Some(kernel) = kernel(target) else {
        return Err("system calls are not available in UEFI applications".into());
    };
    let cc = target.cc;
    let preserved = kernel.clobbers.minus(cc.syscall_clobbers);
    if caller == Caller::OsLayer {
        let n = number.expect("the OS layer's numbers are constants");
        let call = kernel.call_of(n).expect("the OS layer calls what its kernel has");
        // The number is in the IR's register: copied where the kernel wants it.
        let number = (kernel.number != cc.syscall_uses[0]).then_some(n);
        return Ok(Plan { number, args: call.args(), clobbers: kernel.clobbers, preserved });
    }
    let ir_calls = ir_calls(target.isa);
    // The kernel takes the IR's numbers in the IR's register.
    let same_convention = kernel.number == cc.syscall_uses[0]
        && ir_calls.iter().all(|&(call, n)| kernel.calls.contains(&(call, n)) && kernel.class == 0);
    let unchanged = Plan { number: None, args: cc.syscall_uses.len() as u32 - 1, clobbers: kernel.clobbers, preserved };
    match number {
        None if same_convention => Ok(unchanged),
        None => Err(format!(
            "the system call number must be a constant loaded into {} in the same block",
            crate::regs::preg_name(target.isa, cc.syscall_uses[0])
        )),
        Some(n) => match ir_calls.iter().find(|(_, number)| *number == n) {
            Some(&(call, _)) => Ok(Plan {
                number: (!same_convention).then(|| kernel.number_of(call)),
                args: call.args(),
                clobbers: kernel.clobbers,
                preserved,
            }),
            None if same_convention => Ok(unchanged),
            None => {
                Err(format!("system call {n} has no equivalent on {} {}", target.isa.name(), target.format().name()))
            }
        },
    }
}

/// On a system without a kernel (UEFI), turns each `syscall` of `func`
/// into a call of the OS primitive it means (`write`, `exit`), which
/// changes only the result register. Any other call, or a number not known
/// at compile time, is an error naming the function and instruction.
fn replace_with_primitives(target: Target, func: &mut Function) -> Result<(), CompileError> {
    let cc = target.cc;
    let ir_calls = ir_calls(target.isa);
    for (i, number) in numbers(func, cc) {
        let call = number.and_then(|n| ir_calls.iter().find(|(_, m)| *m == n)).map(|(call, _)| *call);
        let routine = match call {
            Some(Call::Write) => super::WRITE,
            Some(Call::Exit) => super::EXIT,
            _ => {
                let what = number
                    .map_or("a system call whose number is not a constant".into(), |n| format!("system call {n}"));
                return Err(CompileError::InvalidSyscall {
                    function: func.name.clone(),
                    index: i + 1,
                    reason: format!("{what} has no meaning in a UEFI application (only write and exit do)"),
                });
            }
        };
        let args = cc.syscall_uses[1..=call.map_or(0, Call::args) as usize].iter().map(|r| Src::Reg(Reg::P(*r)));
        func.body[i] =
            Inst::CallWith { callee: routine.into(), args: args.collect(), dst: Some(Reg::P(cc.syscall_result)) };
    }
    Ok(())
}

/// The IR system-call number statically known at each `syscall` of `func`
/// (by instruction index), `None` where it is not a constant.
pub fn numbers(func: &Function, cc: &CallConv) -> Vec<(usize, Option<i64>)> {
    let number_reg = cc.syscall_uses[0];
    let mut known: Option<i64> = None;
    let mut out = Vec::new();
    for (i, inst) in func.body.iter().enumerate() {
        match inst {
            Inst::Label(_) => known = None,
            Inst::Syscall => {
                out.push((i, known));
                known = None;
            }
            Inst::Mov { dst: Dst::Reg(Reg::P(p)), src } if *p == number_reg => {
                known = match src {
                    Operand::Imm(n) => Some(*n),
                    _ => None,
                };
            }
            other => {
                let mut writes = false;
                for_each_reg(other, |r, role| writes |= role == Role::Def && r == Reg::P(number_reg));
                if writes || matches!(other, Inst::Call(_) | Inst::CallIndirect(_)) {
                    known = None;
                }
            }
        }
    }
    out
}
