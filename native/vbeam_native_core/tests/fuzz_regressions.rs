//! Inputs the fuzzers (`fuzz/`, `scripts/fuzz.sh`) found, minimised and
//! replayed: each is compiled with its own keys and for every instruction
//! set and format, and must give a file or an error, never a panic; where
//! the bug was a miscompilation, the program is also run.

use std::process::Command;

use vbeam_native_core::ir::{Format, Isa};
use vbeam_native_core::term_text::{self, Value};
use vbeam_native_core::{compile_term, term_text::parse};

/// The result with the module's own keys (the error as text), after
/// compiling it everywhere.
fn compile_everywhere(text: &str) -> Result<Vec<u8>, String> {
    let module: Value = parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    for isa in [Isa::X86_64, Isa::Arm64] {
        for format in [Format::Elf64, Format::Macho, Format::Pe] {
            let _ = compile_term(&&module, Some(isa), Some(format));
        }
    }
    compile_term(&&module, None, None).map_err(|e| e.to_string())
}

/// Runs an x86_64 ELF executable natively: its stdout and exit status.
fn run_x86_64(name: &str, file: &[u8]) -> (String, i32) {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz_regressions");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, file).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(&path).output().unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), out.status.code().unwrap_or(-1))
}

/// structured, crash-01d7b11d…: `attempt to add with overflow` in
/// `expand::expand_function` (expand.rs:42, `max_vreg + 1`) for a function
/// using vreg 4294967295 and an instruction that expands (`string_lit`):
/// the expander's fresh vregs started past u32::MAX. In release builds the
/// number wrapped to 0, so the string's address went into vreg 0 and
/// clobbered it. Fresh vregs now go on from 0 skipping the function's own.
#[test]
fn expand_fresh_vregs_past_u32_max() {
    let text = "#{target => x86_64, format => elf64, functions => [#{name => <<\"main\">>, arity => 0, \
                params => [], locals => 1, body => [{mov_imm, {vreg, 0}, 42}, {mov_imm, {vreg, 1}, 7}, \
                {string_lit, {vreg, 4294967295}, <<\"hi\\n\">>}, {print_str, {vreg, 4294967295}}, \
                {print_int, {vreg, 0}}, {print_int, {vreg, 1}}, ret]}]}.";
    let file = compile_everywhere(text).expect("compiles");
    assert_eq!(run_x86_64("expand_fresh_vregs", &file), ("hi\n42\n7\n".to_string(), 0));
}

/// The corpus files the fuzzers keep as `.ir` text under
/// `fuzz/corpus/bytes` all read and compile without a panic (the fuzz
/// crate's own `cargo test` replays every file, ETF ones too).
#[test]
fn text_corpus_compiles_without_panics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/bytes");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ir") {
            let text = std::fs::read_to_string(&path).unwrap();
            if let Ok(value) = term_text::parse(&text) {
                let _ = compile_term(&&value, None, None);
                seen += 1;
            }
        }
    }
    assert!(seen > 0, "no .ir files in {}", dir.display());
}
