//! The optimizing layer: passes over one function's IR between expansion
//! (`crate::expand`) and register allocation, the same on both targets.
//! Each pass is linear in the function's size and never changes what a
//! program does: its output, exit status, float bits, or where it panics.
//!
//! The driver numbers the function's vregs densely first (as the allocator
//! does), so passes keep their facts in vectors indexed by vreg.

mod constants;
mod dead_code;
mod hoist;
pub mod inline;
mod inline_math;
mod rotate;

use std::time::{Duration, Instant};

use crate::ir::{Function, Inst, Reg};
use crate::regalloc;
use crate::regs::CallConv;

/// What a pass may need to know beyond the function.
pub struct Context<'a> {
    pub cc: &'static CallConv,
    /// Whether the module defines a function of this name (a call to it is
    /// then no call of the builtin of that name).
    pub defines: &'a dyn Fn(&str) -> bool,
}

/// A function being optimized: its IR and how many vregs it numbers.
pub struct Body<'f> {
    pub func: &'f mut Function,
    /// Every vreg is below this.
    pub vregs: u32,
}

struct Pass {
    name: &'static str,
    run: fn(&mut Body, &Context),
}

/// In order (after `inline`, which runs before expansion): `inline_math`
/// turns math calls into instructions the others see through; dead code
/// removes what propagation left unread; then loops
/// are rotated, which gives each a place before its body where `hoist`
/// puts what the body computes the same every time.
const PASSES: [Pass; 5] = [
    Pass { name: "inline_math", run: inline_math::run },
    Pass { name: "constants", run: constants::run },
    Pass { name: "dead_code", run: dead_code::run },
    Pass { name: "rotate", run: |body, _| rotate::rotate_loops(body.func) },
    Pass { name: "hoist", run: |body, _| hoist::hoist_loop_invariants(body.func) },
];

/// Time spent in each pass, summed over the functions optimized:
/// `inline` (before expansion), then the passes after it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassTimes {
    pub inline: Duration,
    passes: [Duration; PASSES.len()],
}

impl PassTimes {
    /// Each pass by name, in the order they run.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, Duration)> + '_ {
        std::iter::once(("inline", self.inline)).chain(PASSES.iter().zip(self.passes).map(|(p, d)| (p.name, d)))
    }
    pub fn add(&mut self, other: &PassTimes) {
        self.inline += other.inline;
        self.passes.iter_mut().zip(other.passes).for_each(|(a, b)| *a += b);
    }
}

/// Runs every pass over `func`, adding each one's time to `times` when
/// asked to measure.
pub fn optimize(func: &mut Function, ctx: &Context, times: Option<&mut PassTimes>) {
    let vregs = regalloc::renumber(func).len() as u32;
    let mut body = Body { func, vregs };
    match times {
        None => PASSES.iter().for_each(|p| (p.run)(&mut body, ctx)),
        Some(times) => {
            for (pass, time) in PASSES.iter().zip(&mut times.passes) {
                let started = Instant::now();
                (pass.run)(&mut body, ctx);
                *time += started.elapsed();
            }
        }
    }
    let f = body.func;
    if !f.sources.is_empty() {
        let mut kept = f.body.iter().map(|inst| *inst != Inst::Nop);
        f.sources.retain(|_| kept.next().expect("a place per instruction"));
    }
    f.body.retain(|inst| *inst != Inst::Nop);
}

/// The dense index of a vreg.
fn vreg_index(r: Reg) -> Option<usize> {
    match r {
        Reg::V(v) => Some(v as usize),
        Reg::P(_) => None,
    }
}

/// The instructions that jump to each label of `f`, in body order.
fn label_references(f: &Function) -> Vec<Vec<usize>> {
    let mut refs = vec![Vec::new(); f.labels.len()];
    for (i, inst) in f.body.iter().enumerate() {
        if let Inst::Jmp(l) | Inst::Jcc(_, l) = inst {
            refs[l.0 as usize].push(i);
        }
    }
    refs
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ir::{Isa, Label};
    use crate::regs::call_conv;

    /// A function of `body` (labels `l0`.. as the body names them).
    pub fn function(params: Vec<Reg>, body: Vec<Inst>) -> Function {
        let labels = body
            .iter()
            .filter_map(|i| match i {
                Inst::Label(Label(n)) | Inst::Jmp(Label(n)) | Inst::Jcc(_, Label(n)) => Some(*n + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        Function {
            name: "f".into(),
            arity: params.len() as u32,
            exported: false,
            params,
            locals: 0,
            body,
            labels: (0..labels).map(|n| format!("l{n}")).collect(),
            ..Default::default()
        }
    }

    /// `pass` run over `body` (vregs numbered densely already) on x86_64,
    /// in a module that defines `defined`.
    pub fn run_pass(pass: fn(&mut Body, &Context), params: Vec<Reg>, body: Vec<Inst>, defined: &[&str]) -> Vec<Inst> {
        let mut func = function(params, body);
        let defines = |name: &str| defined.contains(&name);
        let ctx = Context { cc: call_conv(Isa::X86_64), defines: &defines };
        let vregs = regalloc::renumber(&mut func).len() as u32;
        pass(&mut Body { func: &mut func, vregs }, &ctx);
        func.body
    }

    #[test]
    fn the_driver_removes_what_the_passes_leave_as_nops_and_times_each_pass() {
        use crate::ir::{Dst, Operand, Src};
        let mut func = function(
            vec![Reg::V(0)],
            vec![
                Inst::Nop,
                Inst::Mov { dst: Dst::Reg(Reg::V(1)), src: Operand::Imm(2) },
                Inst::Push(Src::Reg(Reg::V(0))),
                Inst::Ret,
            ],
        );
        let defines = |_: &str| false;
        let ctx = Context { cc: call_conv(Isa::Arm64), defines: &defines };
        let mut times = PassTimes::default();
        optimize(&mut func, &ctx, Some(&mut times));
        assert_eq!(func.body, vec![Inst::Push(Src::Reg(Reg::V(0))), Inst::Ret]);
        let names: Vec<&str> = times.iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["inline", "inline_math", "constants", "dead_code", "rotate", "hoist"]);
    }
}
