//! Runs generated programs through the backend and the interpreter and
//! compares stdout and exit status.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use vbeam_native_core::compile_module;
use vbeam_native_core::ir::Isa;

use crate::gen::{generate, Config};
use crate::{interp, ir_text};

/// Steps a reference run may take before the program counts as runaway.
pub const MAX_STEPS: u64 = 20_000_000;
const RUN_TIMEOUT: Duration = Duration::from_secs(20);
const ETXTBSY: i32 = 26;

/// One program's result: `None` when both agree.
pub fn check(target: Isa, seed: u64, cfg: &Config, work: &Path) -> Option<String> {
    let module = generate(target, seed, cfg);
    let save = |why: &str| {
        let path = work.join(format!("fail_{}_{seed}.ir", target.name()));
        let _ = std::fs::write(&path, ir_text::to_text(&module));
        Some(format!("{} seed {seed}: {why} (saved {})", target.name(), path.display()))
    };
    let expected = match interp::run(&module, MAX_STEPS) {
        Ok(o) => o,
        Err(e) => return save(&format!("the interpreter failed: {e:?}")),
    };
    let binary = match compile_module(&module) {
        Ok(b) => b,
        Err(e) => return save(&format!("compile error: {e}")),
    };
    let exe = work.join(format!("prog_{}_{seed}", target.name()));
    if let Err(e) = write_executable(&exe, &binary) {
        return save(&format!("cannot write the executable: {e}"));
    }
    let got = match run(&exe, target) {
        Ok(g) => g,
        Err(e) => return save(&e),
    };
    let _ = std::fs::remove_file(&exe);
    if got.0 != expected.stdout || got.1 != expected.exit_status {
        return save(&format!(
            "expected status {} stdout {:?}, got status {} stdout {:?}",
            expected.exit_status,
            String::from_utf8_lossy(&expected.stdout),
            got.1,
            String::from_utf8_lossy(&got.0)
        ));
    }
    None
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

/// Checks `count` programs per target from `first_seed`, on two threads;
/// returns the failure descriptions and the number of programs run.
pub fn run_many(targets: &[Isa], first_seed: u64, count: u64, cfg: &Config, work: &Path) -> (Vec<String>, u64) {
    std::fs::create_dir_all(work).expect("a work directory");
    let jobs: Vec<(Isa, u64)> =
        targets.iter().flat_map(|t| (first_seed..first_seed + count).map(move |s| (*t, s))).collect();
    let total = jobs.len() as u64;
    let (left, right) = jobs.split_at(jobs.len() / 2);
    let failures = std::thread::scope(|scope| {
        let halves: Vec<_> = [left, right]
            .into_iter()
            .map(|half| {
                scope.spawn(move || half.iter().filter_map(|(t, s)| check(*t, *s, cfg, work)).collect::<Vec<_>>())
            })
            .collect();
        halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    (failures, total)
}

/// A scratch directory for one run.
pub fn work_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("vbeam_{name}_{}", std::process::id()))
}
