//! Runs generated programs through the backend and the interpreter and
//! compares stdout and exit status; each program is compiled twice, with
//! the optimizing layer off (`-O0`) and on, and both must agree with the
//! interpreter.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use vbeam_native_core::compile::{compile_module_with, Options};
use vbeam_native_core::ir::{Format, Isa, Module};
use vbeam_native_macho_loader as macho;

use crate::coverage::{Coverage, Feature};
use crate::gen::{generate, Config};
use crate::{interp, ir_text, uefi};

/// Steps a reference run may take before the program counts as runaway.
pub const MAX_STEPS: u64 = 20_000_000;
const RUN_TIMEOUT: Duration = Duration::from_secs(20);
/// A firmware boot under emulation, start to end.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// Machine instructions an emulated run may take: far more than any
/// program within `MAX_STEPS` needs.
const MAX_MACHINE_INSTRUCTIONS: u64 = 50 * MAX_STEPS;
const ETXTBSY: i32 = 26;

/// One program's result: `None` when both agree.
pub fn check(target: Isa, format: Format, seed: u64, cfg: &Config, work: &Path) -> Option<String> {
    check_reaching(target, format, seed, cfg, work).0
}

/// One program's result, and what its reference run reached.
fn check_reaching(
    target: Isa,
    format: Format,
    seed: u64,
    cfg: &Config,
    work: &Path,
) -> (Option<String>, BTreeSet<Feature>) {
    let mut module = generate(target, seed, cfg);
    module.format = format;
    check_module_reaching(&module, &format!("seed {seed}"), work)
}

/// One module's result, `label`led in the report: `None` when the
/// executable and the interpreter agree.
pub fn check_module(module: &Module, label: &str, work: &Path) -> Option<String> {
    check_module_reaching(module, label, work).0
}

fn check_module_reaching(module: &Module, label: &str, work: &Path) -> (Option<String>, BTreeSet<Feature>) {
    match interp::run(module, MAX_STEPS) {
        Ok(expected) => {
            let failure = compare(module, label, work, Ok(&expected));
            (failure, expected.reached)
        }
        Err(e) => (compare(module, label, work, Err(e)), BTreeSet::new()),
    }
}

/// The optimization levels every program is compiled at.
const OPT_LEVELS: [u8; 2] = [0, 1];

/// Compiles and runs `module` at each optimization level and compares with
/// its reference run.
fn compare(
    module: &Module,
    label: &str,
    work: &Path,
    expected: Result<&interp::Outcome, interp::InterpError>,
) -> Option<String> {
    let (target, format) = (module.isa, module.format);
    let name = format!("{}_{}_{}", target.name(), format.name(), label.replace(' ', "_"));
    let save = |why: &str| {
        let path = work.join(format!("fail_{name}.ir"));
        let _ = std::fs::write(&path, ir_text::to_text(module));
        Some(format!("{} {} {label}: {why} (saved {})", target.name(), format.name(), path.display()))
    };
    let expected = match expected {
        Ok(o) => o,
        Err(e) => return save(&format!("the interpreter failed: {e:?}")),
    };
    OPT_LEVELS.iter().find_map(|&opt_level| {
        let options = Options { opt_level, ..Options::default() };
        compare_at(module, &format!("{name}_O{opt_level}"), work, expected, &options)
            .and_then(|why| save(&format!("-O{opt_level}: {why}")))
    })
}

/// Compiles and runs `module` as `options` say: what is wrong, if anything.
fn compare_at(
    module: &Module,
    name: &str,
    work: &Path,
    expected: &interp::Outcome,
    options: &Options,
) -> Option<String> {
    let (target, format) = (module.isa, module.format);
    let binary = match compile_module_with(module, options) {
        Ok(c) => c.executable,
        Err(e) => return Some(format!("compile error: {e}")),
    };
    if format == Format::Pe {
        return boot_uefi(target, &binary, expected, &work.join(name)).err();
    }
    let got = match format {
        Format::Macho => run_macho(&binary),
        _ => {
            let exe = work.join(format!("prog_{name}"));
            if let Err(e) = write_executable(&exe, &binary) {
                return Some(format!("cannot write the executable: {e}"));
            }
            let got = run(&exe, target);
            let _ = std::fs::remove_file(&exe);
            got
        }
    };
    let got = match got {
        Ok(g) => g,
        Err(e) => return Some(e),
    };
    if got.0 != expected.stdout || got.1 != expected.exit_status {
        return Some(format!(
            "expected status {} stdout {:?}, got status {} stdout {:?}",
            expected.exit_status,
            String::from_utf8_lossy(&expected.stdout),
            got.1,
            String::from_utf8_lossy(&got.0)
        ));
    }
    None
}

/// Boots an EFI application and checks its console and status against
/// the reference run's (the console shows both streams).
fn boot_uefi(target: Isa, binary: &[u8], expected: &interp::Outcome, work: &Path) -> Result<(), String> {
    std::fs::create_dir_all(work).map_err(|e| e.to_string())?;
    let boot = uefi::boot(target, binary, work, BOOT_TIMEOUT);
    let _ = std::fs::remove_dir_all(work);
    let boot = boot?;
    uefi::check_console(&boot.console)?;
    let want = uefi::console_text(&expected.console);
    if boot.console != want || boot.status != expected.exit_status as u64 {
        return Err(format!(
            "expected status {} console {:?}, got status {} console {:?}",
            expected.exit_status,
            String::from_utf8_lossy(&want),
            boot.status,
            String::from_utf8_lossy(&boot.console)
        ));
    }
    Ok(())
}

/// Runs a Mach-O executable in the test loader (XNU and dyld emulated):
/// (stdout, exit status).
fn run_macho(binary: &[u8]) -> Result<(Vec<u8>, i32), String> {
    let options = macho::Options { instruction_limit: Some(MAX_MACHINE_INSTRUCTIONS), ..macho::Options::default() };
    let run = macho::run(binary, &options).map_err(|e| format!("refused by the loader: {e}"))?;
    match run.outcome {
        macho::Outcome::Exited(status) => Ok((run.stdout, status)),
        macho::Outcome::Fault(why) => Err(format!("fault: {why}")),
    }
}

fn write_executable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

/// Runs an executable with a time limit: (stdout, exit status).
fn run(exe: &Path, target: Isa) -> Result<(Vec<u8>, i32), String> {
    let mut cmd = match target {
        Isa::X86_64 => Command::new(exe),
        Isa::Arm64 => {
            let mut c = Command::new("qemu-aarch64");
            c.arg(exe);
            c
        }
    };
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    // Another thread's fork may briefly hold the just-written file open
    // (ETXTBSY) until its child execs: try again shortly.
    let mut tries = 0;
    let mut child = loop {
        match cmd.spawn() {
            Ok(c) => break c,
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(format!("cannot run: {e}")),
        }
    };
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut s = stdout;
        let _ = std::io::Read::read_to_end(&mut s, &mut buf);
        buf
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if start.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            return Err("timed out".into());
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let out = reader.join().unwrap();
    match status.code() {
        Some(code) => Ok((out, code)),
        None => Err(format!("killed by a signal ({status})")),
    }
}

/// What `run_many` found.
pub struct Summary {
    pub failures: Vec<String>,
    /// Programs run.
    pub total: u64,
    /// What their reference runs reached.
    pub coverage: Coverage,
}

/// Checks `count` programs per target and format from `first_seed`, on two
/// threads.
pub fn run_many(
    targets: &[Isa],
    formats: &[Format],
    first_seed: u64,
    count: u64,
    cfg: &Config,
    work: &Path,
) -> Summary {
    std::fs::create_dir_all(work).expect("a work directory");
    let jobs: Vec<(Isa, Format, u64)> = targets
        .iter()
        .flat_map(|t| formats.iter().map(move |f| (*t, *f)))
        .flat_map(|(t, f)| (first_seed..first_seed + count).map(move |s| (t, f, s)))
        .collect();
    let total = jobs.len() as u64;
    let (left, right) = jobs.split_at(jobs.len() / 2);
    let halves: Vec<(Vec<String>, Coverage)> = std::thread::scope(|scope| {
        let halves: Vec<_> = [left, right]
            .into_iter()
            .map(|half| {
                scope.spawn(move || {
                    let (mut failures, mut coverage) = (Vec::new(), Coverage::default());
                    for (t, f, s) in half {
                        let (failure, reached) = check_reaching(*t, *f, *s, cfg, work);
                        failures.extend(failure);
                        coverage.add(reached);
                    }
                    (failures, coverage)
                })
            })
            .collect();
        halves.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut summary = Summary { failures: Vec::new(), total, coverage: Coverage::default() };
    for (failures, coverage) in halves {
        summary.failures.extend(failures);
        summary.coverage.merge(&coverage);
    }
    summary
}

/// A scratch directory for one run.
pub fn work_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("vbeam_{name}_{}", std::process::id()))
}
