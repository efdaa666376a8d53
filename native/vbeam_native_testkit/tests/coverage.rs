//! The generator reaches what it aims at: across a few hundred programs'
//! reference runs, every `coverage::Feature` happens in some program (the
//! same seeds as CI's differential test, so CI runs them on the machine).

use vbeam_native_core::ir::Isa;
use vbeam_native_testkit::coverage::Coverage;
use vbeam_native_testkit::difftest::MAX_STEPS;
use vbeam_native_testkit::gen::{generate, Config};
use vbeam_native_testkit::interp;

const PROGRAMS: u64 = 150;

#[test]
fn generated_programs_reach_every_feature() {
    let plain = Config { data_types: false, ..Config::default() };
    let mut coverage = Coverage::default();
    for (cfg, first_seed) in [(plain, 1), (Config::default(), 1_000_000)] {
        for target in [Isa::X86_64, Isa::Arm64] {
            for seed in first_seed..first_seed + PROGRAMS {
                let module = generate(target, seed, &cfg);
                let outcome = interp::run(&module, MAX_STEPS)
                    .unwrap_or_else(|e| panic!("{} seed {seed}: the interpreter failed: {e:?}", target.name()));
                coverage.add(outcome.reached);
            }
        }
    }
    print!("{}", coverage.summary());
    assert!(coverage.missing().is_empty(), "never reached: {:?}", coverage.missing());
}
