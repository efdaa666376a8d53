//! Inlining: a call of a small function of the module becomes a copy of
//! its body, so the caller's loop keeps its values in registers across
//! what was a call, and the other passes see through it.
//!
//! Unlike the other passes this one works on the IR as decoded, before
//! expansion, because it needs another function's body. Only bodies that
//! compute in registers are copied (see `inlinable`): nothing in them can
//! call, panic, fault or touch memory, so a copy does exactly what the
//! call did, and no fault or panic report ever has a function missing
//! from it.

use crate::ir::{BinOp, Dst, Function, Inst, Label, Operand, PReg, Reg, Src};
use crate::operands::{for_each_reg, Role};
use crate::regs::CallConv;
use crate::validate::method_symbol;

/// Callees of more IR instructions than this stay calls: beyond it the
/// call's own cost is small beside the body's, and copies grow the code.
pub const MAX_CALLEE_INSTRUCTIONS: usize = 40;

/// Whether `f` may be copied into its callers: at most
/// `MAX_CALLEE_INSTRUCTIONS` instructions, its arguments all in registers,
/// and only instructions that compute in registers or branch within the
/// body (the only physical register named is the result's, written). No
/// call, memory access, stack slot, or division that can fault.
pub fn inlinable(f: &Function, cc: &CallConv) -> bool {
    let params_in_registers = f.params.len() == f.arity as usize && f.params.len() <= cc.args.len();
    let distinct_vregs = f.params.iter().enumerate().all(|(i, p)| matches!(p, Reg::V(_)) && !f.params[..i].contains(p));
    params_in_registers
        && distinct_vregs
        && f.body.len() <= MAX_CALLEE_INSTRUCTIONS
        && f.body.iter().all(|inst| copyable(inst, cc.result))
}

fn copyable(inst: &Inst, result: PReg) -> bool {
    let kind = match inst {
        Inst::Mov { dst, src } => matches!(dst, Dst::Reg(_)) && !matches!(src, Operand::Stack(_)),
        Inst::Bin { op: BinOp::Sdiv | BinOp::Srem, b, .. } => matches!(b, Src::Imm(n) if *n != 0),
        Inst::Bin { .. }
        | Inst::Unary { .. }
        | Inst::Cmp { .. }
        | Inst::Jmp(_)
        | Inst::Jcc(..)
        | Inst::Label(_)
        | Inst::Ret
        | Inst::Nop
        | Inst::FloatBin { .. }
        | Inst::IntToFloat { .. }
        | Inst::FloatToInt { .. } => true,
        _ => false,
    };
    let mut registers_ok = true;
    for_each_reg(inst, |r, _| {
        if let Reg::P(p) = r {
            registers_ok &= p == result && matches!(inst, Inst::Mov { dst: Dst::Reg(Reg::P(_)), .. });
        }
    });
    kind && registers_ok
}

/// A call found in the caller: where its instructions are and what it
/// passes and receives.
struct Site<'c> {
    callee: &'c Function,
    /// The instructions the call replaces: `start..end`.
    start: usize,
    end: usize,
    /// The argument of each parameter.
    args: Vec<Operand>,
    /// The vreg that receives the result, if one does at once.
    result: Option<Reg>,
    /// Whether the result register must still hold the result after the
    /// copy (a `call` leaves it there, and something may read it).
    result_register_read: bool,
}

/// Replaces each call in `f` of a function `callee` returns (one
/// `inlinable`) with a copy of its body. A call is `call` after a move into
/// each argument register, a `method_call`, or one the resolver made a call;
/// the move of the result out of the result register right after it joins
/// the copy. One pass over the body: copies are not inlined into again.
pub fn inline_calls<'c>(f: &mut Function, cc: &CallConv, callee: impl Fn(&str) -> Option<&'c Function>) {
    let Some(mut next_vreg) = next_free_vreg(f) else { return };
    let mut out: Vec<Inst> = Vec::new();
    let body = std::mem::take(&mut f.body);
    // A copy's instructions are where the call is.
    let sources = std::mem::take(&mut f.sources);
    let mut out_sources = Vec::new();
    let mut copied_up_to = 0;
    let mut i = 0;
    while i < body.len() {
        let Some(site) = call_site(&body, i, cc, &callee).filter(|s| s.start >= copied_up_to) else {
            i += 1;
            continue;
        };
        let vregs = vregs_of(site.callee);
        let Some(base) = next_vreg.checked_add(vregs).filter(|end| *end < u32::MAX / 2).map(|_| next_vreg) else {
            break;
        };
        next_vreg += vregs;
        if out.is_empty() {
            out.reserve(body.len() + site.callee.body.len());
        }
        out.extend_from_slice(&body[copied_up_to..site.start]);
        copy_body(&site, base, cc.result, &mut f.labels, &mut out);
        if !sources.is_empty() {
            out_sources.extend_from_slice(&sources[copied_up_to..site.start]);
            out_sources.resize(out.len(), sources[i]);
        }
        copied_up_to = site.end;
        i = site.end;
    }
    if copied_up_to == 0 {
        f.body = body;
        f.sources = sources;
        return;
    }
    out.extend_from_slice(&body[copied_up_to..]);
    f.body = out;
    if !sources.is_empty() {
        out_sources.extend_from_slice(&sources[copied_up_to..]);
        f.sources = out_sources;
    }
    f.locals = f.locals.max(next_vreg);
}

/// The call that ends at instruction `i` (a `call` or resolved method
/// call), if its callee is to be copied and its arguments are plain moves.
fn call_site<'c>(
    body: &[Inst],
    i: usize,
    cc: &CallConv,
    callee: &impl Fn(&str) -> Option<&'c Function>,
) -> Option<Site<'c>> {
    match &body[i] {
        Inst::Call(name) => {
            let callee = callee(name)?;
            let arity = callee.params.len();
            let start = i.checked_sub(arity)?;
            let mut args = vec![None; arity];
            for inst in &body[start..i] {
                let Inst::Mov { dst: Dst::Reg(Reg::P(p)), src } = inst else { return None };
                let k = cc.args[..arity].iter().position(|a| a == p)?;
                let reads_physical = matches!(src, Operand::Reg(Reg::P(_)));
                if args[k].is_some() || reads_physical {
                    return None;
                }
                args[k] = Some(src.clone());
            }
            let args = args.into_iter().collect::<Option<Vec<_>>>()?;
            let result = match body.get(i + 1) {
                Some(Inst::Mov { dst: Dst::Reg(d @ Reg::V(_)), src: Operand::Reg(Reg::P(p)) }) if *p == cc.result => {
                    Some(*d)
                }
                _ => None,
            };
            let end = i + 1 + usize::from(result.is_some());
            let result_register_read = result.is_some() && !overwritten_before_read(&body[end..], cc.result);
            Some(Site { callee, start, end, args, result, result_register_read })
        }
        Inst::CallWith { callee: name, args, dst } => with_args(callee(name)?, args, *dst, i),
        Inst::MethodCall(call) => {
            with_args(callee(&method_symbol(&call.type_name, &call.method))?, &call.args, Some(call.dst), i)
        }
        _ => None,
    }
}

/// The call at instruction `i` of `callee` with `args`, its result into
/// `result`, if no argument is a physical register.
fn with_args<'c>(callee: &'c Function, args: &[Src], result: Option<Reg>, i: usize) -> Option<Site<'c>> {
    if args.len() != callee.params.len() || args.iter().any(|a| matches!(a, Src::Reg(Reg::P(_)))) {
        return None;
    }
    let args = args
        .iter()
        .map(|a| match *a {
            Src::Reg(r) => Operand::Reg(r),
            Src::Imm(n) => Operand::Imm(n),
        })
        .collect();
    // The result register after a method call (a call, expanded) holds
    // nothing the IR may read.
    Some(Site { callee, start: i, end: i + 1, args, result, result_register_read: false })
}

/// Whether the result register is written, by an instruction or a call,
/// before `rest` reads it or leaves the straight line (up to a bound).
fn overwritten_before_read(rest: &[Inst], result: PReg) -> bool {
    const LOOKED_AT: usize = 32;
    for inst in rest.iter().take(LOOKED_AT) {
        let (mut reads, mut writes) = (false, false);
        for_each_reg(inst, |r, role| match (r, role) {
            (Reg::P(p), Role::Use) if p == result => reads = true,
            (Reg::P(p), Role::Def) if p == result => writes = true,
            _ => {}
        });
        let calls = matches!(inst, Inst::Call(_) | Inst::CallIndirect(_) | Inst::CallWith { .. } | Inst::MethodCall(_));
        match inst {
            _ if reads => return false,
            Inst::Label(_) | Inst::Jmp(_) | Inst::Jcc(..) | Inst::Ret | Inst::Syscall | Inst::Raw(_) => return false,
            _ if writes || calls => return true,
            _ => {}
        }
    }
    false
}

/// Appends the copy of the site's callee: its parameters set from the
/// arguments, its vregs numbered from `base`, its labels added to the
/// caller's, each return a jump to the end of the copy.
fn copy_body(site: &Site, base: u32, result: PReg, labels: &mut Vec<String>, out: &mut Vec<Inst>) {
    let callee = site.callee;
    let rename = |r: &mut Reg| {
        if let Reg::V(v) = r {
            *v += base;
        }
    };
    for (param, arg) in callee.params.iter().zip(&site.args) {
        let mut param = *param;
        rename(&mut param);
        out.push(Inst::Mov { dst: Dst::Reg(param), src: arg.clone() });
    }
    let first_label = labels.len() as u32;
    // Unique to this copy, in the backend's own names (listings name them).
    let prefix = format!("__vbeam_inline{first_label}.{}.", callee.name);
    labels.extend(callee.labels.iter().map(|name| format!("{prefix}{name}")));
    let relabel = |l: &mut Label| l.0 += first_label;
    let returned = Label(labels.len() as u32);
    let mut jumps_to_returned = false;
    let last = callee.body.len().saturating_sub(1);
    for (k, inst) in callee.body.iter().enumerate() {
        let mut inst = inst.clone();
        crate::operands::for_each_reg_mut(&mut inst, |r, _| rename(r));
        match &mut inst {
            Inst::Ret if k == last => continue,
            Inst::Ret => {
                jumps_to_returned = true;
                inst = Inst::Jmp(returned);
            }
            Inst::Label(l) | Inst::Jmp(l) | Inst::Jcc(_, l) => relabel(l),
            Inst::Mov { dst: Dst::Reg(d @ Reg::P(_)), .. } => {
                debug_assert_eq!(*d, Reg::P(result));
                if let Some(r) = site.result {
                    *d = r;
                }
            }
            _ => {}
        }
        out.push(inst);
    }
    if jumps_to_returned {
        labels.push(format!("{prefix}returned"));
        out.push(Inst::Label(returned));
    }
    if let (Some(r), true) = (site.result, site.result_register_read) {
        out.push(Inst::Mov { dst: Dst::Reg(Reg::P(result)), src: Operand::Reg(r) });
    }
}

/// The number above every vreg `f` names, if there is room above it.
fn next_free_vreg(f: &Function) -> Option<u32> {
    let mut max = None;
    let mut note = |r: Reg| {
        if let Reg::V(v) = r {
            max = Some(max.map_or(v, |m: u32| m.max(v)));
        }
    };
    f.params.iter().for_each(|r| note(*r));
    f.body.iter().for_each(|inst| for_each_reg(inst, |r, _| note(r)));
    max.map_or(Some(0), |m| m.checked_add(1))
}

/// How many vreg numbers the copy of `f` needs: one above its highest.
fn vregs_of(f: &Function) -> u32 {
    next_free_vreg(f).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Cond, Isa};
    use crate::opt::tests::function;
    use crate::regs::call_conv;

    const V: fn(u32) -> Reg = Reg::V;

    fn named(name: &str, mut f: Function) -> Function {
        f.name = name.into();
        f
    }

    /// `add2(a, b)`: `a + b`, or `b` when that is negative (two returns).
    fn add2(cc: &CallConv) -> Function {
        let result = Dst::Reg(Reg::P(cc.result));
        named(
            "add2",
            function(
                vec![V(0), V(1)],
                vec![
                    Inst::Bin { op: BinOp::Add, dst: V(2), a: V(0), b: Src::Reg(V(1)) },
                    Inst::Cmp { a: V(2), b: Src::Imm(0) },
                    Inst::Jcc(Cond::Lt, Label(0)),
                    Inst::Mov { dst: result, src: Operand::Reg(V(2)) },
                    Inst::Ret,
                    Inst::Label(Label(0)),
                    Inst::Mov { dst: result, src: Operand::Reg(V(1)) },
                    Inst::Ret,
                ],
            ),
        )
    }

    #[test]
    fn a_call_becomes_the_callees_body_from_its_arguments_to_its_result() {
        let cc = call_conv(Isa::X86_64);
        let callee = add2(cc);
        assert!(inlinable(&callee, cc));
        let arg = |k: usize| Dst::Reg(Reg::P(cc.args[k]));
        let mut caller = function(
            vec![V(0)],
            vec![
                Inst::Label(Label(0)),
                Inst::Mov { dst: arg(1), src: Operand::Imm(5) },
                Inst::Mov { dst: arg(0), src: Operand::Reg(V(0)) },
                Inst::Call("add2".into()),
                Inst::Mov { dst: Dst::Reg(V(1)), src: Operand::Reg(Reg::P(cc.result)) },
                Inst::PrintInt(Src::Reg(V(1))),
                Inst::Ret,
            ],
        );
        inline_calls(&mut caller, cc, |name| (name == "add2").then_some(&callee));
        // The caller's vregs end at v1: the copy's are v2.. (its own + 2).
        assert_eq!(
            caller.body,
            vec![
                Inst::Label(Label(0)),
                Inst::Mov { dst: Dst::Reg(V(2)), src: Operand::Reg(V(0)) },
                Inst::Mov { dst: Dst::Reg(V(3)), src: Operand::Imm(5) },
                Inst::Bin { op: BinOp::Add, dst: V(4), a: V(2), b: Src::Reg(V(3)) },
                Inst::Cmp { a: V(4), b: Src::Imm(0) },
                Inst::Jcc(Cond::Lt, Label(1)),
                Inst::Mov { dst: Dst::Reg(V(1)), src: Operand::Reg(V(4)) },
                Inst::Jmp(Label(2)),
                Inst::Label(Label(1)),
                Inst::Mov { dst: Dst::Reg(V(1)), src: Operand::Reg(V(3)) },
                Inst::Label(Label(2)),
                // The ret below returns what the call left in the result
                // register.
                Inst::Mov { dst: Dst::Reg(Reg::P(cc.result)), src: Operand::Reg(V(1)) },
                Inst::PrintInt(Src::Reg(V(1))),
                Inst::Ret,
            ]
        );
        assert_eq!(caller.labels, ["l0", "__vbeam_inline1.add2.l0", "__vbeam_inline1.add2.returned"]);
        assert!(caller.locals >= 5);
    }

    #[test]
    fn a_method_call_is_copied_too_and_its_result_kept_where_nothing_reads_it_at_once() {
        let cc = call_conv(Isa::Arm64);
        let callee = add2(cc);
        let mut caller = function(
            vec![V(0)],
            vec![
                Inst::Mov { dst: Dst::Reg(Reg::P(cc.args[0])), src: Operand::Reg(V(0)) },
                Inst::Mov { dst: Dst::Reg(Reg::P(cc.args[1])), src: Operand::Imm(1) },
                Inst::Call("add2".into()),
                Inst::Mov { dst: Dst::Stack(0), src: Operand::Reg(Reg::P(cc.result)) },
                Inst::MethodCall(Box::new(crate::ir::MethodCall {
                    dst: V(1),
                    type_name: "int".into(),
                    method: "add2".into(),
                    args: vec![Src::Imm(2), Src::Reg(V(0))],
                })),
                Inst::Ret,
            ],
        );
        inline_calls(&mut caller, cc, |name| matches!(name, "add2" | "int__add2").then_some(&callee));
        let result_writes: Vec<&Inst> =
            caller.body.iter().filter(|i| matches!(i, Inst::Mov { src: Operand::Reg(Reg::V(_)), .. })).collect();
        // The call's result stays in the result register (a stack slot
        // reads it after); the method call's goes straight to v1.
        let into_result = Dst::Reg(Reg::P(cc.result));
        assert_eq!(
            result_writes.iter().filter(|i| matches!(i, Inst::Mov { dst, .. } if *dst == into_result)).count(),
            2
        );
        assert_eq!(result_writes.iter().filter(|i| matches!(i, Inst::Mov { dst: Dst::Reg(Reg::V(1)), .. })).count(), 2);
        assert!(!caller.body.iter().any(|i| matches!(i, Inst::Call(_) | Inst::MethodCall(_))));
        assert!(caller.body.contains(&Inst::Mov { dst: Dst::Stack(0), src: Operand::Reg(Reg::P(cc.result)) }));
    }

    #[test]
    fn callees_that_could_panic_fault_call_or_use_the_frame_stay_calls() {
        let cc = call_conv(Isa::X86_64);
        let with = |inst: Inst| function(vec![V(0), V(1)], vec![inst, Inst::Ret]);
        let refused = [
            Inst::Bin { op: BinOp::Sdiv, dst: V(2), a: V(0), b: Src::Reg(V(1)) },
            Inst::Bin { op: BinOp::Srem, dst: V(2), a: V(0), b: Src::Imm(0) },
            Inst::Call("g".into()),
            Inst::ArrayGet { dst: V(2), arr: V(0), index: Src::Reg(V(1)), elem_size: 8 },
            Inst::Mov { dst: Dst::Stack(0), src: Operand::Reg(V(0)) },
            Inst::Mov { dst: Dst::Reg(V(2)), src: Operand::Reg(Reg::P(cc.args[0])) },
            Inst::PrintInt(Src::Reg(V(0))),
            // A fault in the copy would be reported in the caller.
            Inst::FieldGet { dst: V(2), s: V(0), offset: 8 },
            Inst::Load { width: crate::ir::Width::W64, dst: V(2), base: V(0), offset: 0 },
        ];
        for inst in refused {
            assert!(!inlinable(&with(inst.clone()), cc), "{inst:?}");
        }
        assert!(inlinable(&with(Inst::Bin { op: BinOp::Sdiv, dst: V(2), a: V(0), b: Src::Imm(3) }), cc));
        let long = function(vec![V(0)], vec![Inst::Nop; MAX_CALLEE_INSTRUCTIONS + 1]);
        assert!(!inlinable(&long, cc));
    }

    #[test]
    fn a_call_whose_arguments_are_not_plain_moves_stays_a_call() {
        let cc = call_conv(Isa::X86_64);
        let callee = add2(cc);
        let body = vec![
            Inst::Mov { dst: Dst::Reg(Reg::P(cc.args[0])), src: Operand::Reg(V(0)) },
            // An argument computed into its register.
            Inst::Bin { op: BinOp::Add, dst: Reg::P(cc.args[1]), a: V(0), b: Src::Imm(1) },
            Inst::Call("add2".into()),
            Inst::Ret,
        ];
        let mut caller = function(vec![V(0)], body.clone());
        inline_calls(&mut caller, cc, |name| (name == "add2").then_some(&callee));
        assert_eq!(caller.body, body);
    }

    #[test]
    fn the_result_register_keeps_the_result_only_where_it_may_be_read() {
        let cc = call_conv(Isa::X86_64);
        let callee = add2(cc);
        let call = |after: Vec<Inst>| {
            let mut body = vec![
                Inst::Mov { dst: Dst::Reg(Reg::P(cc.args[0])), src: Operand::Reg(V(0)) },
                Inst::Mov { dst: Dst::Reg(Reg::P(cc.args[1])), src: Operand::Imm(1) },
                Inst::Call("add2".into()),
                Inst::Mov { dst: Dst::Reg(V(1)), src: Operand::Reg(Reg::P(cc.result)) },
            ];
            body.extend(after);
            let mut caller = function(vec![V(0)], body);
            inline_calls(&mut caller, cc, |name| (name == "add2").then_some(&callee));
            let result = Dst::Reg(Reg::P(cc.result));
            caller.body.iter().any(|i| *i == Inst::Mov { dst: result, src: Operand::Reg(V(1)) })
        };
        // Read again: `mov v2, rax` after `mov v1, rax`.
        let read_again = Inst::Mov { dst: Dst::Reg(V(2)), src: Operand::Reg(Reg::P(cc.result)) };
        assert!(call(vec![read_again, Inst::Ret]));
        // Overwritten first: by a move, or by another call.
        let overwrite = Inst::Mov { dst: Dst::Reg(Reg::P(cc.result)), src: Operand::Imm(0) };
        assert!(!call(vec![Inst::PrintInt(Src::Reg(V(1))), overwrite, Inst::Ret]));
        assert!(!call(vec![Inst::Call("g".into()), Inst::Ret]));
    }

    #[test]
    fn two_copies_of_a_callee_have_labels_of_their_own() {
        let cc = call_conv(Isa::X86_64);
        let callee = add2(cc);
        let site = |k: u32| {
            [
                Inst::Mov { dst: Dst::Reg(Reg::P(cc.args[0])), src: Operand::Reg(V(0)) },
                Inst::Mov { dst: Dst::Reg(Reg::P(cc.args[1])), src: Operand::Imm(k as i64) },
                Inst::Call("add2".into()),
                Inst::Mov { dst: Dst::Reg(V(k)), src: Operand::Reg(Reg::P(cc.result)) },
            ]
        };
        let mut body: Vec<Inst> = site(1).into_iter().chain(site(2)).collect();
        body.push(Inst::Ret);
        let mut caller = function(vec![V(0)], body);
        inline_calls(&mut caller, cc, |name| (name == "add2").then_some(&callee));
        let mut names = caller.labels.clone();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), caller.labels.len(), "{:?}", caller.labels);
        assert_eq!(caller.labels.len(), 4);
    }
}
