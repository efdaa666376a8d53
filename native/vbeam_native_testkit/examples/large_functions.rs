//! Compile time and memory of one large function per shape
//! (`vbeam_native_testkit::shapes`) at 10K and 100K IR instructions, and
//! the ratio of the times (10 for linear growth), and the time the
//! warnings (`vbeam_native_core::warnings`) take at the largest size:
//! `cargo run --release -p vbeam_native_testkit --example large_functions
//! [-- --target x86_64|arm64|both] [--sizes 10000,100000]`.
//!
//! Each figure comes from a child process (this program with `--time` or
//! `--memory`) that builds the module, then
//! - compiles it five times and reports the best time; its C library keeps
//!   the memory a compile frees for the next (as the NIF's allocator does)
//!   instead of returning it to the system and faulting it in again;
//! - or resets the kernel's peak-RSS mark, compiles it once and reports the
//!   peak above what it held before compiling;
//! - or computes the module's warnings five times and reports the best
//!   time.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use vbeam_native_core::compile_module;
use vbeam_native_core::ir::{Isa, Module};
use vbeam_native_core::warnings::module_warnings;
use vbeam_native_testkit::shapes::{self, Shape};

const RUNS: usize = 5;
/// glibc's settings for the timing child: no allocation from, and no
/// memory returned to, the system between compiles.
const KEEP_FREED_MEMORY: &str = "glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, shape, target, size] = &args[..] {
        // A child's arguments, not the same count of options.
        if let Some(measure @ ("time" | "warnings" | "memory")) = mode.strip_prefix("--") {
            return child(measure, shape, target, size.parse().expect("a size"));
        }
    }
    let mut targets = vec![Isa::X86_64];
    let mut sizes = vec![10_000, 100_000];
    let mut rest = args.iter().skip(1);
    while let Some(a) = rest.next() {
        let value = rest.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--target" if value == "both" => targets = vec![Isa::X86_64, Isa::Arm64],
            "--target" => targets = vec![Isa::from_name(value).expect("x86_64, arm64 or both")],
            "--sizes" => sizes = value.split(',').map(|s| s.parse().expect("a size")).collect(),
            other => panic!("unknown option {other}"),
        }
    }
    let columns: Vec<String> = sizes.iter().map(|s| format!("{:>9}", format!("{}K", s / 1000))).collect();
    let largest = *sizes.last().unwrap();
    println!(
        "{:<16} {:<7} {}  ratio  warnings at {}K  peak memory (MiB) at {}",
        "shape",
        "target",
        columns.join(" "),
        largest / 1000,
        columns.iter().map(|c| c.trim()).collect::<Vec<_>>().join(" / ")
    );
    let exe = std::env::current_exe().expect("this program's path");
    for target in &targets {
        for shape in Shape::ALL {
            let measure = |what: &str, size: usize| measure(&exe, what, shape, *target, size);
            let times: Vec<f64> = sizes.iter().map(|&size| measure("time", size)).collect();
            let warnings = measure("warnings", largest);
            let memory: Vec<String> = sizes.iter().map(|&size| format!("{:.1}", measure("memory", size))).collect();
            println!(
                "{:<16} {:<7} {}  {:>5.1}  {:>11.1} ms  {}",
                shape.name(),
                target.name(),
                times.iter().map(|ms| format!("{ms:>6.1} ms")).collect::<Vec<_>>().join(" "),
                times.last().unwrap() / times[0],
                warnings,
                memory.join(" / ")
            );
        }
    }
}

/// Runs a child measuring `what` ("time", "warnings" or "memory") of one
/// module.
fn measure(exe: &Path, what: &str, shape: Shape, target: Isa, size: usize) -> f64 {
    let mut child = Command::new(exe);
    child.args([&format!("--{what}"), shape.name(), target.name(), &size.to_string()]);
    if what != "memory" {
        child.env("GLIBC_TUNABLES", KEEP_FREED_MEMORY);
    }
    let out = child.output().expect("the child runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().parse().expect("a figure")
}

/// Prints the best time in milliseconds of a compile or of the warnings,
/// or the peak memory of one compile in MiB.
fn child(measure: &str, shape: &str, target: &str, size: usize) {
    let shape = Shape::ALL.into_iter().find(|s| s.name() == shape).expect("a shape");
    let target = Isa::from_name(target).expect("a target");
    let module = shapes::module(target, shape, size);
    let compile = |module: &Module| {
        compile_module(module).unwrap_or_else(|e| panic!("{} at {size}: {e}", shape.name()));
    };
    let best_time = |run: &dyn Fn()| {
        let mut best = f64::INFINITY;
        for _ in 0..RUNS {
            let t = Instant::now();
            run();
            best = best.min(t.elapsed().as_secs_f64() * 1e3);
        }
        println!("{best}");
    };
    match measure {
        "time" => best_time(&|| compile(&module)),
        "warnings" => best_time(&|| {
            let warnings = module_warnings(&module).expect("labels defined once");
            assert!(warnings.is_empty(), "{} at {size}: {}", shape.name(), warnings[0]);
        }),
        "memory" => {
            // Writing 5 resets VmHWM to the current resident size (Linux 4.0+).
            std::fs::write("/proc/self/clear_refs", "5").expect("a resettable peak-RSS mark");
            let before = status_kib("VmRSS:");
            compile(&module);
            println!("{}", status_kib("VmHWM:").saturating_sub(before) as f64 / 1024.0);
        }
        other => panic!("unknown measure {other}"),
    }
}

/// A `/proc/self/status` figure in KiB.
fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key}"));
    line[key.len()..].trim().trim_end_matches("kB").trim().parse().expect("a number of KiB")
}
