//! The differential test CI runs: VBEAM_DIFFTEST_COUNT programs per target
//! (default 300) with the data types, and as many integer-only ones.

use vbeam_native_core::ir::Target;
use vbeam_native_testkit::difftest::{run_many, work_dir};
use vbeam_native_testkit::gen::Config;

fn count() -> u64 {
    std::env::var("VBEAM_DIFFTEST_COUNT").ok().and_then(|c| c.parse().ok()).unwrap_or(300)
}

#[test]
fn generated_programs_agree_with_the_interpreter() {
    let targets = [Target::X86_64, Target::Arm64];
    let plain = Config { data_types: false, ..Config::default() };
    let (mut failures, total) = run_many(&targets, 1, count(), &plain, &work_dir("difftest_int"));
    let (more, total2) = run_many(&targets, 1_000_000, count(), &Config::default(), &work_dir("difftest_data"));
    failures.extend(more);
    println!("difftest: {} passed, {} failed", total + total2 - failures.len() as u64, failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
