//! A test loader for macOS executables: it checks an x86_64 or arm64 Mach-O
//! image as XNU's exec and dyld would (refusing what they refuse), then does
//! what they do for a program without imports — maps the slid segments with
//! their protections, applies the rebases, lays out `argc/argv/envp/apple`
//! on the stack and calls `main` — and runs it on the unicorn CPU emulator,
//! serving BSD system calls as XNU does.
//!
//! Written from Apple's published sources (xnu `mach_loader.c`,
//! `ubc_subr.c`, `cs_blobs.h`, `kern_mman.c`, `kern_sig.c`, `unix_signal.c`;
//! dyld `MachOFile.cpp`,
//! `MachOAnalyzer.cpp`, `Header.cpp`, `Policy.cpp`), not from any writer.
//!
//! Beyond its reach, and refused as [`LoadError::Unsupported`] rather than
//! run wrongly: imports (any bind), dylibs other than libSystem, chained
//! fixups, classic relocations, `LC_UNIXTHREAD`, fat and 32-bit files,
//! arm64e, signatures that are not ad-hoc. Signals are the faults' own
//! (SIGSEGV, SIGBUS, SIGILL, SIGFPE), delivered to handlers set with
//! `sigaction` as XNU's `sendsig` does. Not modelled: threads, other
//! signals, files, Mach traps, `mprotect`, libSystem itself (`main` returns
//! straight into `exit`), and page-by-page signature enforcement (a bad
//! page hash refuses the whole image up front).

mod abi;
pub mod codesign;
mod error;
mod macho;
mod memory;
mod process;
mod reader;
mod rebase;
mod sigframe;
mod signals;
mod stack;
mod syscalls;
mod validate;

pub use error::LoadError;

/// How to run an image.
#[derive(Debug, Clone)]
pub struct Options {
    /// The full argv, program name first (`argc` is its length).
    pub args: Vec<String>,
    /// `KEY=value` strings for `envp`.
    pub env: Vec<String>,
    /// What the program reads from fd 0.
    pub stdin: Stdin,
    /// ASLR slide added to every address: non-zero, page aligned (16 KiB on
    /// arm64), so an absolute pointer that was not rebased points into
    /// unmapped memory.
    pub slide: u64,
    /// The most anonymous memory `mmap` may hand out at once, in bytes.
    pub memory_limit: u64,
    /// Stop with a fault after this many instructions (`None`: no limit).
    /// Counting costs speed: unicorn then checks every instruction.
    pub instruction_limit: Option<u64>,
}

/// The default slide: 256 MiB, a multiple of every page size.
pub const DEFAULT_SLIDE: u64 = 0x1000_0000;
/// The default memory limit: 4 GiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 4 << 30;

impl Default for Options {
    fn default() -> Self {
        Options {
            args: vec!["a.out".to_string()],
            env: Vec::new(),
            stdin: Stdin::Bytes(Vec::new()),
            slide: DEFAULT_SLIDE,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            instruction_limit: None,
        }
    }
}

/// Where the program's fd 0 reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stdin {
    /// These bytes, then end of file.
    Bytes(Vec<u8>),
    /// This process's own stdin, read when the program reads (as a real
    /// process would: a program that never reads never waits for input).
    Inherit,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The process exited; the low 8 bits of the status, as the shell sees it.
    Exited(i32),
    /// The kernel would have killed it: a CPU exception or an unmapped or
    /// protected access that no handler caught, an unknown system call, or
    /// the instruction limit. Says what happened and where.
    Fault(String),
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub outcome: Outcome,
}

/// Every static check of [`run`], without running: the header and load
/// commands, segments, entry point, `__LINKEDIT` layout, fixups and the
/// code signature (required on arm64, verified when present on x86_64).
pub fn check(image: &[u8]) -> Result<(), LoadError> {
    checked(image).map(|_| ())
}

/// A checked image: its rebases and cdhash.
struct Checked<'a> {
    image: macho::MachO<'a>,
    rebases: Vec<u64>,
    cdhash: Option<[u8; codesign::CDHASH_LEN]>,
}

fn checked(data: &[u8]) -> Result<Checked<'_>, LoadError> {
    let image = macho::parse(data)?;
    validate::validate(&image)?;
    let rebases = rebase::rebase_addresses(&image)?;
    rebase::check_no_binds(&image)?;
    let cdhash = codesign::verify_image(&image)?;
    if cdhash.is_none() && image.arch == macho::Arch::Arm64 {
        return Err(LoadError::CodeSignature(
            "arm64 executables must be signed (ad-hoc is enough); no LC_CODE_SIGNATURE".into(),
        ));
    }
    Ok(Checked { image, rebases, cdhash })
}

/// Checks `image` like [`check`], then runs it to its end.
pub fn run(image: &[u8], opts: &Options) -> Result<Run, LoadError> {
    let checked = checked(image)?;
    process::execute(&checked.image, &checked.rebases, checked.cdhash, opts)
}
