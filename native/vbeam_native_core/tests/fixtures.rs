//! Compiles every `test/fixtures/NAME_TARGET.ir`, runs the executable
//! (x86_64 natively, arm64 under qemu-aarch64) and compares its stdout with
//! `NAME.stdout` and its exit status with `NAME.status` (0 when absent).

use std::path::{Path, PathBuf};
use std::process::Command;

use vbeam_native_core::{compile_term, term_text};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures")
}

fn run(binary: &Path, target: &str) -> (Vec<u8>, i32) {
    let out = match target {
        "arm64" => Command::new("qemu-aarch64").arg(binary).output(),
        _ => Command::new(binary).output(),
    }
    .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
    (out.stdout, out.status.code().unwrap_or(-1))
}

#[test]
fn every_fixture_runs_with_its_expected_output() {
    let dir = fixtures_dir();
    let work = std::env::temp_dir().join(format!("vbeam_fixtures_{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ir"))
        .collect();
    entries.sort();
    // VBEAM_FIXTURES=substring runs only the matching fixtures (for debugging).
    if let Ok(only) = std::env::var("VBEAM_FIXTURES") {
        entries.retain(|p| p.to_string_lossy().contains(&only));
    }
    let mut failures = Vec::new();
    for path in &entries {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let (name, target) = match stem.strip_suffix("_x86_64") {
            Some(name) => (name, "x86_64"),
            None => (stem.strip_suffix("_arm64").expect("fixtures are named NAME_TARGET.ir"), "arm64"),
        };
        let term = term_text::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        let binary = match compile_term(&&term, None, None) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{stem}: compile error {e}"));
                continue;
            }
        };
        let exe = work.join(stem);
        std::fs::write(&exe, binary).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let want_stdout = std::fs::read(dir.join(format!("{name}.stdout"))).unwrap();
        let want_status: i32 =
            std::fs::read_to_string(dir.join(format!("{name}.status"))).map_or(0, |s| s.trim().parse().unwrap());
        let (stdout, status) = run(&exe, target);
        if stdout != want_stdout || status != want_status {
            failures.push(format!(
                "{stem}: status {status} (want {want_status})\n  stdout: {:?}\n  want:   {:?}",
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&want_stdout)
            ));
        }
    }
    if std::env::var("VBEAM_FIXTURES").is_err() {
        assert!(entries.len() >= 14, "fixtures missing from {}", dir.display());
    }
    assert!(failures.is_empty(), "{} of {} fixtures failed:\n{}", failures.len(), entries.len(), failures.join("\n"));
}
