//! A function whose code outgrows a conditional branch's reach (arm64's
//! ±1 MiB): branches backward and forward over more than a MiB, taken and
//! not, and the branches of the division-by-zero check and of a bounds
//! check to the function's end, run on both targets (arm64 under
//! qemu-aarch64).

mod common;

use vbeam_native_core::compile_term;
use vbeam_native_core::ir::Isa;

/// Additions per block: 4 bytes each on arm64, 1.2 MB a block.
const ADDS: usize = 300_000;

fn program(isa: &str) -> String {
    let ret = if isa == "x86_64" { "rax" } else { "x0" };
    let adds = "{add, {vreg, 1}, {vreg, 1}, {imm, 1}},".repeat(ADDS);
    format!(
        "#{{target => {isa}, format => elf64,
           functions => [
             #{{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 6,
                body => [{{mov_imm, {{vreg, 0}}, 0}}, {{mov_imm, {{vreg, 1}}, 0}}, {{mov_imm, {{vreg, 3}}, 7}},
                         {{sdiv, {{vreg, 2}}, {{vreg, 3}}, {{vreg, 3}}}},
                         {{array_new, {{vreg, 4}}, {{imm, 8}}, {{imm, 1}}}},
                         {{array_append, {{vreg, 4}}, {{vreg, 4}}, {{imm, 5}}, {{imm, 8}}}},
                         {{array_get, {{vreg, 5}}, {{vreg, 4}}, {{imm, 0}}, {{imm, 8}}}},
                         {{label, <<\"loop\">>}}, {adds} {{add, {{vreg, 0}}, {{vreg, 0}}, {{imm, 1}}}},
                         {{cmp, {{vreg, 0}}, {{imm, 3}}}}, {{jcc, lt, <<\"loop\">>}},
                         {{cmp, {{vreg, 0}}, {{imm, 0}}}}, {{jcc, eq, <<\"skip_not_taken\">>}},
                         {adds} {{label, <<\"skip_not_taken\">>}},
                         {{cmp, {{vreg, 0}}, {{imm, 3}}}}, {{jcc, eq, <<\"skip_taken\">>}},
                         {adds} {{label, <<\"skip_taken\">>}},
                         {{add, {{vreg, 1}}, {{vreg, 1}}, {{vreg, 2}}}},
                         {{add, {{vreg, 1}}, {{vreg, 1}}, {{vreg, 5}}}},
                         {{print_int, {{vreg, 1}}}}, {{mov_imm, {{preg, {ret}}}, 0}}, ret]}}],
           data => [], bss => [], imports => []}}."
    )
}

#[test]
fn branches_reach_across_functions_larger_than_a_mebibyte() {
    for isa in ["x86_64", "arm64"] {
        let term = vbeam_native_ir_text::parse(&program(isa)).unwrap();
        let binary = compile_term(&&term, None, None).unwrap_or_else(|e| panic!("{isa}: {e}"));
        assert!(binary.len() > 3 << 20, "{isa}: {} bytes: the blocks are not large enough", binary.len());
        let exe = std::env::temp_dir().join(format!("vbeam_long_branches_{isa}_{}", std::process::id()));
        common::write_executable(&exe, &binary);
        let out = common::when_not_busy(|| common::command(Isa::from_name(isa).expect("an ISA"), &exe).output());
        let _ = std::fs::remove_file(&exe);
        // Three times round the loop, the block not skipped, 7 / 7 and the
        // array's element.
        let want = format!("{}\n", 4 * ADDS + 1 + 5);
        assert_eq!(
            (String::from_utf8_lossy(&out.stdout).as_ref(), out.status.code()),
            (want.as_str(), Some(0)),
            "{isa}"
        );
    }
}
