//! Inputs the fuzzers (`fuzz/`, `scripts/fuzz.sh`) found, minimised and
//! replayed: each is compiled with its own keys and for every instruction
//! set and format, and must give a file or an error, never a panic; where
//! the bug was a miscompilation, the program is also run.

mod common;

use std::process::Command;

use vbeam_native_core::compile_term;
use vbeam_native_core::ir::{Format, Isa};
use vbeam_native_ir_text::parse;
use vbeam_native_ir_text::{self, Value};

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
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz_regressions");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    common::write_executable(&path, file);
    let out = common::when_not_busy(|| Command::new(&path).output());
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
            if let Ok(value) = vbeam_native_ir_text::parse(&text) {
                let _ = compile_term(&&value, None, None);
                seen += 1;
            }
        }
    }
    assert!(seen > 0, "no .ir files in {}", dir.display());
}

/// Reads `text` with the three readers of `vbeam_native_ir_text` (the `Value` tree,
/// the external term format writer and the in-place `Document`), which
/// must agree: the same error, or the same terms; and a module read in
/// place must compile as its tree does.
fn read_everywhere(text: &[u8]) -> Result<usize, String> {
    use vbeam_native_ir_text::{etf, Document};
    let tree = vbeam_native_ir_text::parse_all(text);
    let written = etf::document_to_etf(text);
    let doc = Document::parse(text);
    match (&tree, &written, &doc) {
        (Err(a), Err(b), Err(c)) => {
            assert_eq!(a, b, "the tree and the term writer disagree");
            assert_eq!(a, c, "the tree and the document disagree");
            Err(a.to_string())
        }
        (Ok(values), Ok(_), Ok(doc)) => {
            let terms = doc.terms();
            assert_eq!(values.len(), terms.len());
            for (value, term) in values.iter().zip(&terms) {
                let in_place = compile_term(term, None, None).map_err(|e| e.to_string());
                let from_tree = compile_term(&value, None, None).map_err(|e| e.to_string());
                assert_eq!(in_place.is_ok(), from_tree.is_ok(), "{in_place:?} / {from_tree:?}");
            }
            Ok(values.len())
        }
        _ => panic!(
            "the readers disagree: tree {:?}, writer {:?}, document {:?}",
            tree.as_ref().map(Vec::len),
            written.as_ref().map(Vec::len),
            doc.as_ref().map(|d| d.terms().len())
        ),
    }
}

/// bytes: `signed_number` indexed past the end of the text for `<<(` (a
/// parenthesised segment value with nothing after it), naming the sign it
/// expected at an offset that was not there.
#[test]
fn parenthesis_at_the_end_of_a_binary() {
    for text in ["<<(", "<<( ", "<<(-", "<<-(", "<<(-(", "-(", "- (", "+"] {
        let e = read_everywhere(text.as_bytes()).unwrap_err();
        assert!(e.starts_with("1:"), "{text}: {e}");
    }
}

/// bytes: `<<1:111111111>>` took minutes, the segment's 111 million bits
/// pushed one at a time. Segments not whole bytes are now shifted in a
/// byte at a time, and a segment beyond `MAX_SEGMENT_BITS` (or a binary
/// beyond its limit, whatever its segments) is refused at once.
#[test]
fn huge_bit_segments_are_quick_or_refused() {
    let started = std::time::Instant::now();
    assert_eq!(read_everywhere(b"<<1:111111111>>.").unwrap(), 1);
    assert_eq!(read_everywhere(b"<<1:3, 7:111111109, 1:5>>.").unwrap(), 1);
    let e = read_everywhere(b"<<1:99999999999>>.").unwrap_err();
    assert!(e.contains("segment size 99999999999 too large: at most 134217728 bits"), "{e}");
    let e = read_everywhere(b"<<1:134217728/unit:2>>.").unwrap_err();
    assert!(e.contains("segment of 268435456 bits too large"), "{e}");
    let many = format!("<<\"{}\":134217727>>.", "a".repeat(100));
    let e = read_everywhere(many.as_bytes()).unwrap_err();
    assert!(e.contains("binary too large"), "{e}");
    assert!(started.elapsed().as_secs() < 20, "took {:?}", started.elapsed());
}

/// bytes (the old reader): texts ending inside a string, a character
/// literal or an escape panicked. Each is an error with a position.
#[test]
fn texts_ending_inside_a_token() {
    for text in
        ["<<\"", "$", "\"\\", "'\\", "$\\", "$\\x", "$\\x{", "$\\^", "\"\\x{41", "<<\"\\", "<<$", "[$", "#{", "<<1:"]
    {
        let e = read_everywhere(text.as_bytes()).unwrap_err();
        assert!(e.starts_with("1:"), "{text}: {e}");
    }
}
