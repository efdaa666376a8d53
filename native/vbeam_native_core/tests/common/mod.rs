//! What the test programs share. Each uses some of it.
#![allow(dead_code)]

use std::io::{ErrorKind, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use vbeam_native_core::ir::Isa;

/// Writes `binary` at `path` as an executable (mode 0755).
pub fn write_executable(path: &Path, binary: &[u8]) {
    std::fs::write(path, binary).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The command that runs the ELF executable `exe` for `isa`: natively on
/// x86_64, under qemu-aarch64 on arm64.
pub fn command(isa: Isa, exe: &Path) -> Command {
    match isa {
        Isa::X86_64 => Command::new(exe),
        Isa::Arm64 => {
            let mut c = Command::new("qemu-aarch64");
            c.arg(exe);
            c
        }
    }
}

/// `start()` (running an executable a test just wrote), tried again while
/// the file is "busy": another test thread that forked while the file was
/// open for writing holds the descriptor in its child until that child
/// execs, a few milliseconds.
pub fn when_not_busy<T>(mut start: impl FnMut() -> Result<T>) -> T {
    const TRIES: usize = 200;
    for _ in 1..TRIES {
        match start() {
            Err(e) if e.kind() == ErrorKind::ExecutableFileBusy => std::thread::sleep(Duration::from_millis(10)),
            started => return started.expect("the program starts"),
        }
    }
    start().expect("the program starts")
}
