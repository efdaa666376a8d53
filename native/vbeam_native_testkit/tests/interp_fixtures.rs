//! The reference interpreter runs every fixture it can (not those calling
//! through function addresses, nor those too long to interpret) to the
//! output and status the fixture expects: it agrees with the compiled
//! programs on the builtins too.

use std::path::Path;

use vbeam_native_core::decode::decode_module;
use vbeam_native_testkit::difftest::MAX_STEPS;
use vbeam_native_testkit::interp::{self, InterpError};

#[test]
fn the_interpreter_runs_the_fixtures_as_expected() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ir"))
        .collect();
    paths.sort();
    let (mut ran, mut failures) = (0, Vec::new());
    for path in &paths {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let name = stem.strip_suffix("_x86_64").or_else(|| stem.strip_suffix("_arm64")).unwrap();
        let term = vbeam_native_ir_text::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        let module = decode_module(&&term, None, None).unwrap();
        let outcome = match interp::run(&module, MAX_STEPS) {
            Ok(o) => o,
            // Calls through addresses, and programs too long to interpret.
            Err(InterpError::At(_, _, e)) if matches!(*e, InterpError::Unsupported(_) | InterpError::StepLimit) => {
                continue
            }
            Err(InterpError::StepLimit) => continue,
            Err(e) => {
                failures.push(format!("{stem}: {e:?}"));
                continue;
            }
        };
        ran += 1;
        let stdout = std::fs::read(dir.join(format!("{name}.stdout"))).unwrap();
        let status: i32 =
            std::fs::read_to_string(dir.join(format!("{name}.status"))).map_or(0, |s| s.trim().parse().unwrap());
        if outcome.stdout != stdout || outcome.exit_status != status {
            failures.push(format!(
                "{stem}: status {} (want {status})\n  stdout: {:?}\n  want:   {:?}",
                outcome.exit_status,
                String::from_utf8_lossy(&outcome.stdout),
                String::from_utf8_lossy(&stdout)
            ));
        }
    }
    assert!(ran >= 20, "only {ran} fixtures ran");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
