//! What the test programs share. Each uses some of it.
#![allow(dead_code)]

use std::io::{ErrorKind, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
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

/// The text of a module for `isa` in `format` holding `functions` (the
/// text of function maps) and the `data` and `bss` entries.
pub fn module_text(isa: &str, format: &str, functions: &str, data: &str, bss: &str) -> String {
    format!(
        "#{{target => {isa}, format => {format}, functions => [{functions}], data => [{data}], bss => [{bss}], \
         imports => []}}."
    )
}

/// The text of a function map `main` of `locals` vregs running `body`.
pub fn main_function(locals: u32, body: &str) -> String {
    format!(
        "#{{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => {locals}, body => [{body}]}}"
    )
}

/// `text` with `A0`, `A1` standing for `isa`'s first two argument
/// registers and `RET` for its result register.
pub fn with_registers(isa: &str, text: &str) -> String {
    let (a0, a1, ret) = match isa {
        "x86_64" => ("rdi", "rsi", "rax"),
        _ => ("x0", "x1", "x0"),
    };
    text.replace("A0", &format!("{{preg, {a0}}}"))
        .replace("A1", &format!("{{preg, {a1}}}"))
        .replace("RET", &format!("{{preg, {ret}}}"))
}

/// The repository's `test/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures")
}

/// The `.ir` files in `dir`, sorted.
pub fn ir_files(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ir"))
        .collect();
    paths.sort();
    paths
}
