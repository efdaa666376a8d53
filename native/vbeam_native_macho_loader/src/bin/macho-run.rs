//! `macho-run [--memory-limit BYTES] FILE [ARGS…]`: runs a macOS executable
//! on the emulator with this process's stdin and environment, writes its stdout and stderr
//! to ours and exits with its status. A refused image exits 126, a fault 139.

use std::io::Write;
use std::process::ExitCode;

use vbeam_native_macho_loader::{run, Options, Outcome, Stdin};

/// What a shell reports for a command that cannot be executed.
const EXIT_REFUSED: u8 = 126;
/// What a shell reports for a process killed by SIGSEGV (128 + 11).
const EXIT_FAULT: u8 = 139;
/// Bad command line.
const EXIT_USAGE: u8 = 2;

const USAGE: &str = "usage: macho-run [--memory-limit BYTES] FILE [ARGS...]";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    let mut opts = Options::default();
    if args.peek().map(String::as_str) == Some("--memory-limit") {
        args.next();
        match args.next().and_then(|v| v.parse().ok()) {
            Some(limit) => opts.memory_limit = limit,
            None => {
                eprintln!("macho-run: --memory-limit needs a byte count\n{USAGE}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }
    let Some(file) = args.next() else {
        eprintln!("{USAGE}");
        return ExitCode::from(EXIT_USAGE);
    };
    let image = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("macho-run: {file}: {e}");
            return ExitCode::from(EXIT_REFUSED);
        }
    };
    opts.args = std::iter::once(file).chain(args).collect();
    // Like exec from a shell: the program inherits our environment.
    opts.env = std::env::vars_os().map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy())).collect();
    opts.stdin = Stdin::Inherit;
    let result = match run(&image, &opts) {
        Ok(result) => result,
        Err(e) => {
            eprintln!("macho-run: refused: {e}");
            return ExitCode::from(EXIT_REFUSED);
        }
    };
    // Output already produced is delivered even if the process then faulted.
    let _ = std::io::stdout().write_all(&result.stdout).and_then(|()| std::io::stdout().flush());
    let _ = std::io::stderr().write_all(&result.stderr);
    match result.outcome {
        Outcome::Exited(status) => ExitCode::from(status as u8),
        Outcome::Fault(what) => {
            eprintln!("macho-run: fault: {what}");
            ExitCode::from(EXIT_FAULT)
        }
    }
}
