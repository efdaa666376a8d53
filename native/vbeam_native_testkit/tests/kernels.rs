//! The benchmark kernels (bench/kernels, timed by scripts/kernels.sh) are
//! right, untimed: each `NAME_x86_64.ir` and `NAME_arm64.ir` compiles and,
//! at the small test size of bench/kernels/sizes.txt, prints what its C
//! twin `NAME.c` built by `gcc -O1` prints (x86_64 natively, arm64 under
//! qemu-aarch64). Without gcc, the two targets must agree with each other.

#[path = "../../vbeam_native_core/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use vbeam_native_core::compile_term;
use vbeam_native_core::ir::Isa;

fn kernels_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/kernels")
}

/// (kernel, test size) from sizes.txt: `NAME DEFAULT QUICK TEST` a line.
fn kernels() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(kernels_dir().join("sizes.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(fields.len(), 4, "sizes.txt: {l}");
            (fields[0].to_string(), fields[3].to_string())
        })
        .collect()
}

/// The stdout of a run that must succeed.
fn stdout_of(mut command: Command, what: &str) -> Result<Vec<u8>, String> {
    let out = common::when_not_busy(|| command.output());
    if !out.status.success() {
        return Err(format!("{what}: {} ({})", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(out.stdout)
}

/// The kernel compiled by the backend for `isa`, run with `size`.
fn run_ir(name: &str, isa: Isa, size: &str, work: &Path) -> Result<Vec<u8>, String> {
    let path = kernels_dir().join(format!("{name}_{}.ir", isa.name()));
    let term =
        vbeam_native_ir_text::parse(&std::fs::read_to_string(&path).unwrap()).map_err(|e| format!("{name}: {e}"))?;
    let binary = compile_term(&&term, None, None).map_err(|e| format!("{name} {}: compile error {e}", isa.name()))?;
    let exe = work.join(format!("{name}_{}", isa.name()));
    common::write_executable(&exe, &binary);
    let mut command = common::command(isa, &exe);
    command.arg(size);
    stdout_of(command, &format!("{name} {}", isa.name()))
}

/// The C twin built by `gcc -O1` and run with `size`; None without gcc.
fn run_c(name: &str, size: &str, work: &Path) -> Option<Result<Vec<u8>, String>> {
    let exe = work.join(format!("{name}_c"));
    let source = kernels_dir().join(format!("{name}.c"));
    let built = Command::new("gcc").args(["-O1", "-ffp-contract=off", "-o"]).arg(&exe).arg(&source).arg("-lm").status();
    match built {
        Err(_) => None,
        Ok(status) if !status.success() => Some(Err(format!("{name}: gcc failed on {}", source.display()))),
        Ok(_) => {
            let mut command = Command::new(&exe);
            command.arg(size);
            Some(stdout_of(command, &format!("{name} (gcc)")))
        }
    }
}

#[test]
fn every_kernel_prints_what_its_c_twin_prints() {
    let work = std::env::temp_dir().join(format!("vbeam_kernels_{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let all = kernels();
    assert!(all.len() >= 10, "kernels missing from {}", kernels_dir().display());
    // Two at a time: the gcc builds take most of the time.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let halves: Vec<_> = all
            .chunks(all.len().div_ceil(2))
            .map(|half| {
                let work = &work;
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for (name, size) in half {
                        if let Err(e) = check(name, size, work) {
                            failures.push(e);
                        }
                    }
                    failures
                })
            })
            .collect();
        halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let _ = std::fs::remove_dir_all(&work);
    assert!(failures.is_empty(), "{} kernels failed:\n{}", failures.len(), failures.join("\n"));
}

fn check(name: &str, size: &str, work: &Path) -> Result<(), String> {
    let x86_64 = run_ir(name, Isa::X86_64, size, work)?;
    let arm64 = run_ir(name, Isa::Arm64, size, work)?;
    let (expected, whose) = match run_c(name, size, work) {
        Some(c) => (c?, "gcc -O1"),
        None => (x86_64.clone(), "x86_64"),
    };
    for (got, isa) in [(&x86_64, "x86_64"), (&arm64, "arm64")] {
        if *got != expected {
            return Err(format!(
                "{name} {isa} at size {size}:\n  got:  {:?}\n  want: {:?} ({whose})",
                String::from_utf8_lossy(got),
                String::from_utf8_lossy(&expected)
            ));
        }
    }
    Ok(())
}
