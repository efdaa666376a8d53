//! Modules that mean nothing executable are refused with the error that
//! says why, and valid ones the spec allows are not.

mod common;

use vbeam_native_core::compile_term;
use vbeam_native_core::error::{CompileError, DecodeError, Error};

/// Compiles a module whose `main` has `body`, with `data`/`bss` entries.
fn compile(target: &str, body: &str, data: &str, bss: &str) -> Result<Vec<u8>, Error<String>> {
    let text = common::module_text(target, "elf64", &common::main_function(4, body), data, bss);
    let term = vbeam_native_ir_text::parse(&text).unwrap();
    compile_term(&&term, None, None).map_err(|e| match e {
        Error::Decode(d) => Error::Decode(match d {
            DecodeError::InvalidInstruction { function, index, term } => {
                DecodeError::InvalidInstruction { function, index, term: format!("{term:?}") }
            }
            other => DecodeError::InvalidData(format!("{other:?}")),
        }),
        Error::Compile(c) => Error::Compile(c),
    })
}

fn compile_error(target: &str, body: &str, data: &str, bss: &str) -> CompileError {
    match compile(target, body, data, bss) {
        Err(Error::Compile(e)) => e,
        other => panic!("expected a compile error, got {other:?}"),
    }
}

#[test]
fn jcc_must_follow_its_cmp() {
    let jcc_after_mov =
        "{cmp, {vreg, 0}, {imm, 1}}, {mov_imm, {vreg, 1}, 2}, {jcc, eq, <<\"x\">>}, {label, <<\"x\">>}, ret";
    assert_eq!(
        compile_error("x86_64", jcc_after_mov, "", ""),
        CompileError::JccWithoutCmp { function: "main".into(), index: 3 }
    );
    // The flags of a cmp before a label are not those a jump to it brings.
    let across_label = "{cmp, {vreg, 0}, {imm, 1}}, {label, <<\"y\">>}, {jcc, eq, <<\"y\">>}, ret";
    assert_eq!(
        compile_error("arm64", across_label, "", ""),
        CompileError::JccWithoutCmp { function: "main".into(), index: 3 }
    );
    // A print between the two changes the flags (it calls the runtime).
    let across_print =
        "{cmp, {vreg, 0}, {imm, 1}}, {print_int, {vreg, 0}}, {jcc, eq, <<\"z\">>}, {label, <<\"z\">>}, ret";
    assert!(matches!(compile_error("x86_64", across_print, "", ""), CompileError::JccWithoutCmp { index: 3, .. }));
    // Other jccs and comments may come between.
    let chained = "{mov_imm, {vreg, 0}, 1}, {cmp, {vreg, 0}, {imm, 1}}, {comment, <<\"c\">>}, {jcc, lt, <<\"a\">>},
                   {jcc, gt, <<\"a\">>}, nop, {jcc, eq, <<\"a\">>}, {label, <<\"a\">>}, ret";
    assert!(compile("x86_64", chained, "", "").is_ok());
}

#[test]
fn data_that_would_wrap_the_address_space_is_too_large() {
    let huge = "{<<\"a\">>, 8, 9223372036854775807}, {<<\"b\">>, 8, 9223372036854775807}, {<<\"c\">>, 8, 16}";
    assert!(matches!(compile_error("x86_64", "ret", "{<<\"d\">>, 8, <<1>>}", huge), CompileError::TooLarge(_)));
    let beyond = "{<<\"a\">>, 8, 140737488355328}";
    assert!(matches!(compile_error("arm64", "ret", "", beyond), CompileError::TooLarge(_)));
    assert!(compile("x86_64", "ret", "", "{<<\"a\">>, 8, 1073741824}").is_ok());
}

#[test]
fn arm64_raw_bytes_come_in_whole_instructions() {
    let three = "{raw, <<0, 0, 0>>}, ret";
    assert!(matches!(
        compile("arm64", three, "", ""),
        Err(Error::Decode(DecodeError::InvalidInstruction { index: 1, .. }))
    ));
    assert!(compile("arm64", "{raw, <<31, 32, 3, 213>>}, ret", "", "").is_ok()); // nop
    assert!(compile("x86_64", "{raw, <<144>>}, ret", "", "").is_ok()); // nop
}

#[test]
fn a_qualified_method_call_that_could_mean_several_functions_names_them() {
    let text = "#{target => x86_64, format => elf64, functions => [
        #{name => <<\"A__area\">>, arity => 1, exported => false, params => [{vreg, 0}], locals => 1, body => [ret]},
        #{name => <<\"B__area\">>, arity => 1, exported => false, params => [{vreg, 0}], locals => 1, body => [ret]},
        #{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 1,
          body => [{method_call, {vreg, 0}, <<\"main.Shape\">>, <<\"area\">>, [{imm, 1}]}, ret]}],
        data => [], bss => [], imports => []}.";
    let term = vbeam_native_ir_text::parse(text).unwrap();
    match compile_term(&&term, None, None) {
        Err(Error::Compile(CompileError::AmbiguousCall { function, index, name, candidates })) => {
            assert_eq!((function.as_str(), index, name.as_str()), ("main", 1, "main.Shape__area"));
            assert_eq!(candidates, ["A__area", "B__area"]);
        }
        other => panic!("expected an ambiguous call, got {other:?}"),
    }
}
