//! Compiles every `test/fixtures/NAME_ISA.ir` for each format and runs the
//! executable, comparing its stdout with `NAME.stdout` and its exit status
//! with `NAME.status` (0 when absent): ELF natively (x86_64) or under
//! qemu-aarch64, Mach-O in the test loader (XNU and dyld on an emulated
//! CPU, slid by one page as XNU may). As ELF also with the optimizing
//! layer off (`-O0`).

mod common;

use std::path::PathBuf;
use std::process::Command;

use vbeam_native_core::compile::{compile_term_with, Options};
use vbeam_native_core::ir::Format;
use vbeam_native_macho_loader as macho;

struct Fixture {
    path: PathBuf,
    /// `NAME_ISA`.
    stem: String,
    isa: &'static str,
    stdout: Vec<u8>,
    status: i32,
}

/// Every fixture; `VBEAM_FIXTURES=substring` keeps only the matching ones
/// (for debugging).
fn fixtures() -> Vec<Fixture> {
    let dir = common::fixtures_dir();
    let mut paths = common::ir_files(&dir);
    let only = std::env::var("VBEAM_FIXTURES").ok();
    if let Some(only) = &only {
        paths.retain(|p| p.to_string_lossy().contains(only.as_str()));
    } else {
        assert!(paths.len() >= 16, "fixtures missing from {}", dir.display());
    }
    paths
        .into_iter()
        .map(|path| {
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            let (name, isa) = match stem.strip_suffix("_x86_64") {
                Some(name) => (name.to_string(), "x86_64"),
                None => (stem.strip_suffix("_arm64").expect("fixtures are named NAME_ISA.ir").to_string(), "arm64"),
            };
            let stdout = std::fs::read(dir.join(format!("{name}.stdout"))).unwrap();
            let status =
                std::fs::read_to_string(dir.join(format!("{name}.status"))).map_or(0, |s| s.trim().parse().unwrap());
            Fixture { path, stem, isa, stdout, status }
        })
        .collect()
}

/// Runs every fixture compiled for `format` as `options` say with
/// `run(fixture, binary)` (stdout and status, or why it did not run) and
/// reports every mismatch.
fn check_all(format: Format, options: &Options, run: impl Fn(&Fixture, Vec<u8>) -> Result<(Vec<u8>, i32), String>) {
    let all = fixtures();
    let mut failures = Vec::new();
    for fx in &all {
        let term = vbeam_native_ir_text::parse(&std::fs::read_to_string(&fx.path).unwrap()).unwrap();
        let binary = match compile_term_with(&&term, None, Some(format), options) {
            Ok(c) => c.executable,
            Err(e) => {
                failures.push(format!("{}: compile error {e}", fx.stem));
                continue;
            }
        };
        match run(fx, binary) {
            Ok((stdout, status)) if stdout == fx.stdout && status == fx.status => {}
            Ok((stdout, status)) => failures.push(format!(
                "{}: status {status} (want {})\n  stdout: {:?}\n  want:   {:?}",
                fx.stem,
                fx.status,
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&fx.stdout)
            )),
            Err(e) => failures.push(format!("{}: {e}", fx.stem)),
        }
    }
    assert!(failures.is_empty(), "{} of {} fixtures failed:\n{}", failures.len(), all.len(), failures.join("\n"));
}

#[test]
fn every_fixture_runs_as_elf() {
    run_as_elf(&Options::default(), "optimized");
}

#[test]
fn every_fixture_runs_as_elf_unoptimized() {
    run_as_elf(&Options { opt_level: 0, ..Options::default() }, "o0");
}

/// Runs every fixture as ELF, the executables written to a directory of
/// their own (`name`).
fn run_as_elf(options: &Options, name: &str) {
    let work = std::env::temp_dir().join(format!("vbeam_fixtures_{name}_{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    check_all(Format::Elf64, options, |fx, binary| {
        let exe = work.join(&fx.stem);
        common::write_executable(&exe, &binary);
        // The two ELF tests write and run executables at once: retried
        // while another thread's fork holds a file open.
        let out = common::when_not_busy(|| match fx.isa {
            "arm64" => Command::new("qemu-aarch64").arg(&exe).output(),
            _ => Command::new(&exe).output(),
        });
        Ok((out.stdout, out.status.code().unwrap_or(-1)))
    });
}

/// The smallest slide XNU gives an arm64 image (16 KiB; four x86_64 pages).
const ONE_PAGE: u64 = 0x4000;

#[test]
fn every_fixture_runs_as_macho() {
    check_all(Format::Macho, &Options::default(), |_, binary| {
        let options = macho::Options { slide: ONE_PAGE, ..macho::Options::default() };
        let run = macho::run(&binary, &options).map_err(|e| format!("refused: {e}"))?;
        match run.outcome {
            macho::Outcome::Exited(status) => Ok((run.stdout, status)),
            macho::Outcome::Fault(why) => Err(format!("fault: {why}")),
        }
    });
}
