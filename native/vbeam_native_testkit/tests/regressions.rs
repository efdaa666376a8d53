//! Every program differential testing ever got wrong, replayed: one
//! `TARGET SEED [plain]` per line of regressions/seeds.txt, as every
//! format that runs here.

use vbeam_native_core::ir::{Format, Isa};
use vbeam_native_testkit::difftest::{check, work_dir};
use vbeam_native_testkit::gen::Config;

#[test]
fn past_failures_stay_fixed() {
    let text = include_str!("regressions/seeds.txt");
    let work = work_dir("regressions");
    std::fs::create_dir_all(&work).unwrap();
    let mut failures = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let target = Isa::from_name(parts[0]).expect("a target");
        let seed: u64 = parts[1].parse().expect("a seed");
        let cfg = Config { data_types: parts.get(2) != Some(&"plain"), ..Config::default() };
        for format in [Format::Elf64, Format::Macho] {
            failures.extend(check(target, format, seed, &cfg, &work));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
