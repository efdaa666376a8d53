//! The IR's `syscall` made to mean the same thing on every format.
//!
//! The IR writes x86_64 system calls with Linux numbers in `rax` and arm64
//! ones with BSD/macOS numbers in `x16` (see the spec). The number must be
//! known at compile time wherever it has to be translated: it is the last
//! `mov`/`mov_imm` of a constant into the number register in the same basic
//! block before the `syscall`.

use crate::ir::{Dst, Function, Inst, Isa, Operand, Reg};
use crate::regs::CallConv;
use crate::target::{Os, Target};

/// The system calls the backend knows by meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    Write,
    Exit,
    Mmap,
    Munmap,
}

const LINUX_X86_64: [(Call, i64); 4] = [(Call::Write, 1), (Call::Exit, 60), (Call::Mmap, 9), (Call::Munmap, 11)];
const LINUX_ARM64: [(Call, i64); 4] = [(Call::Write, 64), (Call::Exit, 93), (Call::Mmap, 222), (Call::Munmap, 215)];
const BSD: [(Call, i64); 4] = [(Call::Write, 4), (Call::Exit, 1), (Call::Mmap, 197), (Call::Munmap, 73)];
/// macOS x86_64 selects the BSD call class in the high bits of rax.
const MACOS_X86_64_CLASS_UNIX: i64 = 0x200_0000;

fn arg_count(call: Call) -> u32 {
    match call {
        Call::Write => 3,
        Call::Exit => 1,
        Call::Mmap => 6,
        Call::Munmap => 2,
    }
}

fn lookup(table: &[(Call, i64)], number: i64) -> Option<Call> {
    table.iter().find(|(_, n)| *n == number).map(|(c, _)| *c)
}

fn number_of(table: &[(Call, i64)], call: Call) -> i64 {
    table.iter().find(|(c, _)| *c == call).map(|(_, n)| *n).expect("every table lists every call")
}

/// How to issue one `syscall` of the IR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The number to load into the OS's number register, or `None` to issue
    /// the call with the number the IR left in the register.
    pub number: Option<i64>,
    /// How many argument registers the call reads.
    pub args: u32,
}

/// Decides how a `syscall` whose IR number is `number` (if known) is issued.
pub fn plan(target: Target, number: Option<i64>) -> Result<Plan, String> {
    let all_args = target.cc.syscall_uses.len() as u32 - 1;
    let (ir_table, os_table, same_convention) = match (target.isa, target.os) {
        (Isa::X86_64, Os::Linux) => (&LINUX_X86_64, &LINUX_X86_64, true),
        (Isa::Arm64, Os::Darwin) => (&BSD, &BSD, true),
        (Isa::Arm64, Os::Linux) => (&BSD, &LINUX_ARM64, false),
        (Isa::X86_64, Os::Darwin) => (&LINUX_X86_64, &BSD, false),
        (_, Os::Uefi) => return Err("system calls are not available in UEFI applications".into()),
    };
    match number {
        None if same_convention => Ok(Plan { number: None, args: all_args }),
        None => Err(format!(
            "the system call number must be a constant loaded into {} in the same block",
            if target.isa == Isa::X86_64 { "rax" } else { "x16" }
        )),
        Some(n) => match lookup(ir_table, n) {
            Some(call) => {
                let mut os_number = number_of(os_table, call);
                if (target.isa, target.os) == (Isa::X86_64, Os::Darwin) {
                    os_number |= MACOS_X86_64_CLASS_UNIX;
                }
                let number = (!same_convention).then_some(os_number);
                Ok(Plan { number, args: arg_count(call) })
            }
            None if same_convention => Ok(Plan { number: None, args: all_args }),
            None => {
                Err(format!("system call {n} has no equivalent on {} {}", target.isa.name(), target.format().name()))
            }
        },
    }
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
                crate::operands::for_each_reg(other, |r, role| {
                    writes |= role == crate::operands::Role::Def && r == Reg::P(number_reg)
                });
                if writes || matches!(other, Inst::Call(_) | Inst::CallIndirect(_)) {
                    known = None;
                }
            }
        }
    }
    out
}
