//! The differential test CI runs: VBEAM_DIFFTEST_COUNT programs per target
//! and format (default 200: CI's time of 300 before the generator widened)
//! with the data types, and as many integer-only ones, as Linux ELF and as
//! Mach-O (run in the test loader).

use vbeam_native_core::ir::{Format, Isa};
use vbeam_native_testkit::difftest::{run_many, work_dir};
use vbeam_native_testkit::gen::Config;

fn count() -> u64 {
    std::env::var("VBEAM_DIFFTEST_COUNT").ok().and_then(|c| c.parse().ok()).unwrap_or(200)
}

#[test]
fn generated_programs_agree_with_the_interpreter() {
    let targets = [Isa::X86_64, Isa::Arm64];
    let formats = [Format::Elf64, Format::Macho];
    let plain = Config { data_types: false, ..Config::default() };
    let plain = run_many(&targets, &formats, 1, count(), &plain, &work_dir("difftest_int"));
    let data = run_many(&targets, &formats, 1_000_000, count(), &Config::default(), &work_dir("difftest_data"));
    let failures = [plain.failures, data.failures].concat();
    let total = plain.total + data.total;
    println!("difftest: {} passed, {} failed", total - failures.len() as u64, failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Modules this large are compiled on several threads: the result must
/// still agree with the interpreter, and not depend on the split.
#[test]
fn large_modules_compiled_in_parallel_agree_with_the_interpreter() {
    let cfg = Config { functions: 200, ..Config::default() };
    for target in [Isa::X86_64, Isa::Arm64] {
        let module = vbeam_native_testkit::gen::generate(target, 7, &cfg);
        let instructions: usize = module.functions.iter().map(|f| f.body.len()).sum();
        assert!(instructions > 20_000, "only {instructions} instructions: too small to compile in parallel");
    }
    let work = work_dir("difftest_large");
    std::fs::create_dir_all(&work).unwrap();
    let failures: Vec<String> = [Isa::X86_64, Isa::Arm64]
        .into_iter()
        .filter_map(|target| vbeam_native_testkit::difftest::check(target, Format::Elf64, 7, &cfg, &work))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
