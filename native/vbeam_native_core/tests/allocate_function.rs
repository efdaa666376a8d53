//! `compile::allocate_function`, the register allocation the Erlang API
//! `vbeam_native_regalloc:allocate/4` returns: a body whose labels are not
//! each defined once is an error naming the label, not a panic.

use vbeam_native_core::compile::allocate_function;
use vbeam_native_core::error::CompileError;
use vbeam_native_core::ir::{Cond, Function, Inst, Isa, Label, Reg, Src};

fn function(body: Vec<Inst>) -> Function {
    Function {
        name: "f".into(),
        arity: 1,
        exported: false,
        params: vec![Reg::V(0)],
        locals: 1,
        body,
        labels: vec!["top".into(), "out".into()],
        ..Default::default()
    }
}

#[test]
fn a_branch_to_an_undefined_label_is_an_error() {
    let f = function(vec![
        Inst::Label(Label(0)),
        Inst::Cmp { a: Reg::V(0), b: Src::Imm(0) },
        Inst::Jcc(Cond::Eq, Label(1)),
        Inst::Jmp(Label(0)),
    ]);
    for isa in [Isa::X86_64, Isa::Arm64] {
        let error = allocate_function(isa, f.clone()).unwrap_err();
        assert_eq!(error, CompileError::UndefinedLabel { function: "f".into(), label: "out".into() });
    }
}

#[test]
fn a_label_defined_twice_is_an_error() {
    let f = function(vec![Inst::Label(Label(0)), Inst::Label(Label(1)), Inst::Label(Label(0)), Inst::Jmp(Label(1))]);
    let error = allocate_function(Isa::X86_64, f).unwrap_err();
    assert_eq!(error, CompileError::DuplicateLabel { function: "f".into(), label: "top".into() });
}
