//! Building test executables with LLVM's assembler and linker, and editing
//! their load commands to make invalid variants.
//!
//! The tools must be installed (scripts/setup.sh installs Debian's `llvm`
//! and `lld`): a missing tool fails the test, it never skips it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    X86_64,
    Arm64,
}

impl Isa {
    pub const ALL: [Isa; 2] = [Isa::X86_64, Isa::Arm64];

    fn triple(self) -> &'static str {
        match self {
            Isa::X86_64 => "x86_64-apple-macos12",
            Isa::Arm64 => "arm64-apple-macos12",
        }
    }

    fn ld_arch(self) -> &'static str {
        match self {
            Isa::X86_64 => "x86_64",
            Isa::Arm64 => "arm64",
        }
    }
}

/// Whether lld signs the output (`-adhoc_codesign` / `-no_adhoc_codesign`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    AdHoc,
    Unsigned,
}

/// A text stub of libSystem: enough for ld64.lld to link against it.
const LIBSYSTEM_TBD: &str = "--- !tapi-tbd
tbd-version: 4
targets: [ x86_64-macos, arm64-macos ]
install-name: '/usr/lib/libSystem.B.dylib'
current-version: 1311
exports:
  - targets: [ x86_64-macos, arm64-macos ]
    symbols: [ dyld_stub_binder, _imported_function ]
...
";

/// Finds `name` on PATH, as a versioned Debian alternative (`name-14`), or
/// under /usr/lib/llvm-*/bin; panics (failing the test) if it is missing.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        let mut llvm: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("llvm-")))
            .map(|p| p.join("bin"))
            .collect();
        llvm.sort();
        dirs.extend(llvm.into_iter().rev());
    }
    for dir in &dirs {
        let exact = dir.join(name);
        if exact.is_file() {
            return exact;
        }
    }
    for dir in &dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let prefix = format!("{name}-");
        let mut versioned: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.strip_prefix(&prefix).is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
                })
            })
            .collect();
        versioned.sort();
        if let Some(found) = versioned.pop() {
            return found;
        }
    }
    panic!("{name} not found on PATH or in /usr/lib/llvm-*/bin: install Debian's llvm and lld (scripts/setup.sh does)");
}

fn scratch_dir(label: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("macho-loader").join(format!("{label}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

fn run_tool(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

/// Assembles `asm` and links it into a macOS executable with entry `_main`.
pub fn build(isa: Isa, signing: Signing, label: &str, asm: &str) -> Vec<u8> {
    let dir = scratch_dir(label);
    let (src, obj, tbd, exe) = (dir.join("prog.s"), dir.join("prog.o"), dir.join("libSystem.tbd"), dir.join(label));
    std::fs::write(&src, asm).unwrap();
    std::fs::write(&tbd, LIBSYSTEM_TBD).unwrap();
    run_tool(
        Command::new(tool("llvm-mc"))
            .arg(format!("-triple={}", isa.triple()))
            .arg("-filetype=obj")
            .arg(&src)
            .arg("-o")
            .arg(&obj),
    );
    let sign = match signing {
        Signing::AdHoc => "-adhoc_codesign",
        Signing::Unsigned => "-no_adhoc_codesign",
    };
    run_tool(
        Command::new(tool("ld64.lld"))
            .args(["-arch", isa.ld_arch(), "-platform_version", "macos", "12.0", "12.0", "-e", "_main", sign, "-o"])
            .arg(&exe)
            .arg(&obj)
            .arg(&tbd),
    );
    std::fs::read(&exe).unwrap()
}

pub fn u32_at(data: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(data[off..off + 4].try_into().unwrap())
}

pub fn u64_at(data: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(data[off..off + 8].try_into().unwrap())
}

pub fn put_u32(data: &mut [u8], off: usize, v: u32) {
    data[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn put_u64(data: &mut [u8], off: usize, v: u64) {
    data[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

pub fn be_u32_at(data: &[u8], off: usize) -> u32 {
    u32::from_be_bytes(data[off..off + 4].try_into().unwrap())
}

pub fn put_be_u32(data: &mut [u8], off: usize, v: u32) {
    data[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

pub fn put_be_u64(data: &mut [u8], off: usize, v: u64) {
    data[off..off + 8].copy_from_slice(&v.to_be_bytes());
}

pub const LC_SEGMENT_64: u32 = 0x19;
pub const LC_SYMTAB: u32 = 0x2;
pub const LC_LOAD_DYLIB: u32 = 0xc;
pub const LC_LOAD_DYLINKER: u32 = 0xe;
pub const LC_BUILD_VERSION: u32 = 0x32;
pub const LC_DYLD_CHAINED_FIXUPS: u32 = 0x8000_0034;
pub const LC_UUID: u32 = 0x1b;
pub const LC_CODE_SIGNATURE: u32 = 0x1d;
pub const LC_DATA_IN_CODE: u32 = 0x29;
pub const LC_DYLD_INFO_ONLY: u32 = 0x8000_0022;
pub const LC_MAIN: u32 = 0x8000_0028;
const HEADER_SIZE: usize = 32;
const NCMDS: usize = 16;
const SIZEOFCMDS: usize = 20;

/// A load command's place: (offset, cmd, cmdsize).
pub fn commands(data: &[u8]) -> Vec<(usize, u32, usize)> {
    let mut off = HEADER_SIZE;
    (0..u32_at(data, NCMDS))
        .map(|_| {
            let (cmd, size) = (u32_at(data, off), u32_at(data, off + 4) as usize);
            let entry = (off, cmd, size);
            off += size;
            entry
        })
        .collect()
}

pub fn find_command(data: &[u8], cmd: u32) -> (usize, usize) {
    commands(data).into_iter().find(|c| c.1 == cmd).map(|(o, _, s)| (o, s)).expect("command present")
}

/// Overwrites a command's `cmd` field.
pub fn retag_command(data: &mut [u8], cmd: u32, new_cmd: u32) {
    let (off, _) = find_command(data, cmd);
    put_u32(data, off, new_cmd);
}

/// Deletes a command: later commands move up, the freed tail is zeroed,
/// ncmds and sizeofcmds shrink.
pub fn delete_command(data: &mut [u8], cmd: u32) {
    let (off, size) = find_command(data, cmd);
    let end = HEADER_SIZE + u32_at(data, SIZEOFCMDS) as usize;
    data.copy_within(off + size..end, off);
    data[end - size..end].fill(0);
    put_u32(data, NCMDS, u32_at(data, NCMDS) - 1);
    put_u32(data, SIZEOFCMDS, (end - HEADER_SIZE - size) as u32);
}

/// Makes command `cmd` swallow the command after it: its cmdsize grows and
/// ncmds shrinks, so the file stays walkable but `cmd` has the wrong size.
pub fn swallow_next_command(data: &mut [u8], cmd: u32) {
    let cmds = commands(data);
    let i = cmds.iter().position(|c| c.1 == cmd).expect("command present");
    let (off, _, size) = cmds[i];
    let next_size = cmds[i + 1].2;
    put_u32(data, off + 4, (size + next_size) as u32);
    put_u32(data, NCMDS, u32_at(data, NCMDS) - 1);
}

/// Swaps the order of the `n`-th and `n+1`-th segment commands.
pub fn swap_segment_commands(data: &mut [u8], n: usize) {
    let segs: Vec<_> = commands(data).into_iter().filter(|c| c.1 == LC_SEGMENT_64).collect();
    let ((a_off, _, a_size), (b_off, _, b_size)) = (segs[n], segs[n + 1]);
    assert_eq!(a_off + a_size, b_off, "adjacent segment commands");
    let a = data[a_off..a_off + a_size].to_vec();
    let b = data[b_off..b_off + b_size].to_vec();
    data[a_off..a_off + b_size].copy_from_slice(&b);
    data[a_off + b_size..a_off + b_size + a_size].copy_from_slice(&a);
}

/// The file range of the rebase opcodes (`LC_DYLD_INFO_ONLY`).
pub fn rebase_range(data: &[u8]) -> std::ops::Range<usize> {
    let (off, _) = find_command(data, LC_DYLD_INFO_ONLY);
    let start = u32_at(data, off + 8) as usize;
    start..start + u32_at(data, off + 12) as usize
}

/// The file offset of the first byte of section `__text`.
pub fn text_section_offset(data: &[u8]) -> usize {
    for (off, cmd, _) in commands(data) {
        if cmd != LC_SEGMENT_64 {
            continue;
        }
        let nsects = u32_at(data, off + 64) as usize;
        for i in 0..nsects {
            let sect = off + 72 + i * 80;
            if &data[sect..sect + 7] == b"__text\0" {
                return u32_at(data, sect + 48) as usize;
            }
        }
    }
    panic!("no __text section");
}

/// The file offset of the `LC_SEGMENT_64` command named `name`.
pub fn segment_command(data: &[u8], name: &str) -> usize {
    commands(data)
        .into_iter()
        .filter(|c| c.1 == LC_SEGMENT_64)
        .map(|c| c.0)
        .find(|&off| data[off + 8..off + 24].split(|&b| b == 0).next() == Some(name.as_bytes()))
        .unwrap_or_else(|| panic!("no segment {name}"))
}

/// Offsets inside `segment_command_64`.
pub const SEG_VMADDR: usize = 24;
pub const SEG_VMSIZE: usize = 32;
pub const SEG_FILEOFF: usize = 40;
pub const SEG_MAXPROT: usize = 56;
pub const SEG_INITPROT: usize = 60;
pub const SEG_NSECTS: usize = 64;
/// The first section's `size` field, from the segment command.
pub const SEG_FIRST_SECTION_SIZE: usize = 72 + 40;

/// The file offsets of the code signature and of its CodeDirectory.
pub fn code_directory(data: &[u8]) -> (usize, usize) {
    let (cmd, _) = find_command(data, LC_CODE_SIGNATURE);
    let sig = u32_at(data, cmd + 8) as usize;
    let count = be_u32_at(data, sig + 8) as usize;
    let cd = (0..count)
        .map(|i| sig + 12 + i * 8)
        .find(|&entry| be_u32_at(data, entry) == 0)
        .map(|entry| sig + be_u32_at(data, entry + 4) as usize)
        .expect("CodeDirectory slot");
    (sig, cd)
}

/// Offsets inside a CodeDirectory (big-endian fields).
pub const CD_LENGTH: usize = 4;
pub const CD_FLAGS: usize = 12;
pub const CD_IDENT_OFFSET: usize = 20;
pub const CD_N_CODE_SLOTS: usize = 28;
pub const CD_CODE_LIMIT: usize = 32;
pub const CD_HASH_TYPE: usize = 37;
pub const CD_PAGE_SIZE: usize = 39;
pub const CD_EXEC_SEG_LIMIT: usize = 72;
pub const CD_EXEC_SEG_FLAGS: usize = 80;
