//! Replays the committed corpus through the functions the fuzz targets
//! call, on stable Rust without libFuzzer: `cargo test --release
//! --manifest-path fuzz/Cargo.toml`. Any panic here is a fuzzer finding.

use std::path::{Path, PathBuf};

use vbeam_native_fuzz::etf::{self, Etf};
use vbeam_native_fuzz::{bytes, compile_everywhere, structured, structured_module};

fn files(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    files
}

#[test]
fn bytes_corpus() {
    let files = files("bytes");
    assert!(files.len() >= 2, "the corpus holds the fixtures");
    for f in files {
        let data = std::fs::read(&f).expect("a corpus file");
        eprintln!("{}", f.display());
        bytes(&data);
    }
}

#[test]
fn structured_corpus() {
    for f in files("structured") {
        let data = std::fs::read(&f).expect("a corpus file");
        eprintln!("{}", f.display());
        structured(&data);
    }
}

/// The seeds reach the compiler: every fixture, read as ETF through the
/// `eetf` view and as text, compiles with its own keys.
#[test]
fn fixture_seeds_compile_as_etf_and_as_text() {
    let mut seen = 0;
    for f in files("bytes")
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n.to_string_lossy().starts_with("fixture_")))
    {
        let data = std::fs::read(&f).expect("a corpus file");
        let result = if f.extension().is_some_and(|e| e == "etf") {
            let term = etf::decode(&data).unwrap_or_else(|| panic!("{}: not decoded", f.display()));
            compile_everywhere(&Etf(&term)).map(|_| ()).map_err(|e| e.to_string())
        } else {
            let value =
                vbeam_native_ir_text::parse(std::str::from_utf8(&data).expect("UTF-8")).expect("parses");
            compile_everywhere(&&value).map(|_| ()).map_err(|e| e.to_string())
        };
        result.unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        seen += 1;
    }
    assert!(seen >= 2);
}

/// Most structured inputs build a module that compiles: the generator's
/// modules reach the back end, not only the validator.
#[test]
fn structured_modules_mostly_compile() {
    let mut ok = 0;
    let mut built = 0;
    let mut state = 0x1234_5678_9abc_def0u64;
    for _ in 0..300 {
        let data: Vec<u8> = (0..2048)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let Some(module) = structured_module(&data) else { continue };
        built += 1;
        if vbeam_native_core::compile_term(&Etf(&module), None, None).is_ok() {
            ok += 1;
        }
        structured(&data);
    }
    eprintln!("{ok} of {built} built modules compiled");
    assert!(built >= 250 && ok * 4 >= built, "{ok} of {built} compiled");
}
