//! `image-digests [--count N]`: the SHA-256 of every executable the backend
//! writes for the fixtures (`test/fixtures`), the corpus (`test/corpus`) and
//! N generated programs per target, each for both targets and every format
//! (a compile error is recorded by its message instead), one line each.
//! Two runs are compared with `diff` to show a refactoring changed no byte.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use vbeam_native_core::ir::{Format, Isa};
use vbeam_native_core::{compile_module, compile_term};
use vbeam_native_testkit::gen::{generate, Config};

const TARGETS: [Isa; 2] = [Isa::X86_64, Isa::Arm64];
const FORMATS: [Format; 3] = [Format::Elf64, Format::Macho, Format::Pe];

fn digest<E: std::fmt::Display>(result: Result<Vec<u8>, E>) -> String {
    match result {
        Ok(bytes) => Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect(),
        Err(e) => format!("error {e}"),
    }
}

/// The `.ir` files under `dir` (one level deep), sorted.
fn ir_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(ir_files(&path));
        } else if path.extension().is_some_and(|e| e == "ir") {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn main() {
    let mut count = 200u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--count" => count = args.next().and_then(|n| n.parse().ok()).expect("--count N"),
            other => panic!("unknown option {other}"),
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for dir in ["test/fixtures", "test/corpus"] {
        for path in ir_files(&root.join(dir)) {
            let text = std::fs::read_to_string(&path).unwrap();
            let term = vbeam_native_ir_text::parse(&text).unwrap();
            let name = path.strip_prefix(&root).unwrap().display();
            for target in TARGETS {
                for format in FORMATS {
                    let result = compile_term(&&term, Some(target), Some(format));
                    println!("{name} {} {}\t{}", target.name(), format.name(), digest(result));
                }
            }
        }
    }
    let cfg = Config::default();
    for target in TARGETS {
        for seed in 1..=count {
            let mut module = generate(target, seed, &cfg);
            for format in FORMATS {
                module.format = format;
                println!("seed {seed} {} {}\t{}", target.name(), format.name(), digest(compile_module(&module)));
            }
        }
    }
}
