//! `difftest [--target x86_64|arm64|both] [--format elf64|macho|pe|both]
//! [--count N] [--seed S] [--plain] [--functions F] [--statements K]
//! [--keep-dir D]`: generates N programs per target and format from seed S,
//! runs each through the backend and the reference interpreter, and prints
//! every disagreement, how many programs reached each feature the
//! generator aims at (`coverage::Feature`), and a summary line.

use vbeam_native_core::ir::{Format, Isa};
use vbeam_native_testkit::difftest::{run_many, work_dir};
use vbeam_native_testkit::gen::Config;

fn main() {
    let mut targets = vec![Isa::X86_64, Isa::Arm64];
    let mut formats = vec![Format::Elf64];
    let (mut count, mut seed) = (100u64, 1u64);
    let mut cfg = Config::default();
    let mut work = work_dir("difftest");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--target" => {
                targets = match value().as_str() {
                    "both" => vec![Isa::X86_64, Isa::Arm64],
                    t => vec![Isa::from_name(t).expect("x86_64, arm64 or both")],
                }
            }
            "--format" => {
                formats = match value().as_str() {
                    "both" => vec![Format::Elf64, Format::Macho],
                    f => vec![Format::from_name(f).expect("elf64, macho, pe or both")],
                }
            }
            "--count" => count = value().parse().expect("a number"),
            "--seed" => seed = value().parse().expect("a number"),
            "--functions" => cfg.functions = value().parse().expect("a number"),
            "--statements" => cfg.statements = value().parse().expect("a number"),
            "--plain" => cfg.data_types = false,
            "--keep-dir" => work = value().into(),
            other => panic!("unknown option {other}"),
        }
    }
    let summary = run_many(&targets, &formats, seed, count, &cfg, &work);
    for f in &summary.failures {
        println!("{f}");
    }
    print!("{}", summary.coverage.summary());
    let failed = summary.failures.len() as u64;
    println!("difftest: {} passed, {} failed", summary.total - failed, failed);
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
