//! A frame beyond the 16 MiB that arm64 moves sp by with immediates (the
//! prologue and epilogue then go through registers) and a slot far into
//! it, run under qemu-aarch64 with a stack large enough to hold it.

mod common;

use std::process::Command;

use vbeam_native_core::compile_term;

/// An IR stack slot 2.2 million slots (17.6 MiB) into the frame.
const FAR_SLOT: u32 = 2_200_000;

#[test]
fn a_frame_beyond_sixteen_mib_runs_on_arm64() {
    let text = format!(
        "#{{target => arm64, format => elf64,
           functions => [
             #{{name => <<\"far\">>, arity => 1, exported => false, params => [{{vreg, 0}}], locals => 2,
                body => [{{mov, {{stack, {FAR_SLOT}}}, {{vreg, 0}}}}, {{mov_imm, {{vreg, 0}}, 0}},
                         {{mov, {{vreg, 1}}, {{stack, {FAR_SLOT}}}}}, {{add, {{vreg, 1}}, {{vreg, 1}}, {{imm, 1}}}},
                         {{mov, {{preg, x0}}, {{vreg, 1}}}}, ret]}},
             #{{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 1,
                body => [{{mov_imm, {{vreg, 0}}, 41}}, {{mov, {{preg, x0}}, {{vreg, 0}}}},
                         {{call, {{sym, <<\"far\">>}}}}, {{print_int, {{preg, x0}}}},
                         {{print_int, {{vreg, 0}}}}, ret]}}],
           data => [], bss => [], imports => []}}."
    );
    let term = vbeam_native_ir_text::parse(&text).unwrap();
    let binary = compile_term(&&term, None, None).unwrap();
    let exe = std::env::temp_dir().join(format!("vbeam_huge_frame_{}", std::process::id()));
    common::write_executable(&exe, &binary);
    let out = Command::new("qemu-aarch64").args(["-s", "64M"]).arg(&exe).output().expect("qemu-aarch64 runs");
    let _ = std::fs::remove_file(&exe);
    assert_eq!((String::from_utf8_lossy(&out.stdout).as_ref(), out.status.code()), ("42\n41\n", Some(0)));
}
