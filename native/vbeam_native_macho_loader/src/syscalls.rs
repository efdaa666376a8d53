//! The BSD system calls a standalone program makes, served as XNU serves
//! them (`bsd/kern/syscalls.master`, `kern_mman.c`, `sys_generic.c`).
//! Register conventions are the CPU's business (`abi.rs`); this module sees
//! a number, six arguments and the emulator's memory.

use unicorn_engine::{Prot, Unicorn};

use crate::macho::consts::{VM_PROT_ALL, VM_PROT_EXECUTE, VM_PROT_READ, VM_PROT_WRITE};
use crate::memory::Kind;
use crate::process::Process;
use crate::signals;
use crate::Stdin;
use std::io::{Read, Write};

/// BSD system call numbers (`syscalls.master`).
pub(crate) const SYS_EXIT: u64 = 1;
const SYS_READ: u64 = 3;
const SYS_WRITE: u64 = 4;
const SYS_OPEN: u64 = 5;
const SYS_CLOSE: u64 = 6;
const SYS_GETPID: u64 = 20;
const SYS_SIGACTION: u64 = 46;
const SYS_SIGALTSTACK: u64 = 53;
const SYS_MUNMAP: u64 = 73;
const SYS_SELECT: u64 = 93;
const SYS_GETTIMEOFDAY: u64 = 116;
const SYS_SIGRETURN: u64 = 184;
const SYS_MMAP: u64 = 197;
const SYS_GETENTROPY: u64 = 500;

/// `<sys/errno.h>` values this module returns.
pub(crate) mod errno {
    pub const EPERM: u32 = 1;
    pub const EIO: u32 = 5;
    pub const EBADF: u32 = 9;
    pub const ENOMEM: u32 = 12;
    pub const EFAULT: u32 = 14;
    pub const EINVAL: u32 = 22;
}
use errno::*;

const STDIN: i32 = 0;
const STDOUT: i32 = 1;
const STDERR: i32 = 2;

/// `read`/`write` refuse byte counts above `INT_MAX`.
const MAX_IO_SIZE: u64 = i32::MAX as u64;
/// `getentropy` hands out at most this many bytes per call.
const MAX_ENTROPY: u64 = 256;
/// The process id `getpid` reports.
const PID: u64 = 4242;

const MAP_FIXED: u32 = 0x10;
const MAP_ANON: u32 = 0x1000;
/// Every flag XNU's `mmap` accepts; anything else is `EINVAL`.
const MAP_KNOWN_FLAGS: u32 = 0x0001 // MAP_SHARED
    | 0x0002 // MAP_PRIVATE
    | MAP_FIXED
    | 0x0020 // MAP_RENAME
    | 0x0040 // MAP_NORESERVE
    | 0x0080 // MAP_RESERVED0080
    | 0x0100 // MAP_NOEXTEND
    | 0x0200 // MAP_HASSEMAPHORE
    | 0x0400 // MAP_NOCACHE
    | 0x0800 // MAP_JIT
    | MAP_ANON
    | 0x2000 // MAP_RESILIENT_CODESIGN
    | 0x4000 // MAP_RESILIENT_MEDIA
    | 0x8000 // MAP_32BIT
    | 0x2_0000 // MAP_TRANSLATED_ALLOW_EXECUTE
    | 0x4_0000 // MAP_UNIX03
    | 0x8_0000; // MAP_TPRO

/// How a system call ends.
#[derive(Debug)]
pub(crate) enum Completion {
    /// Success: the value for the result register, carry clear.
    Value(u64),
    /// Failure: a positive errno in the result register, carry set.
    Error(u32),
    /// `exit(status)`: the process ends.
    Exit(i32),
    /// `sigreturn`: the registers hold a restored context; no result is
    /// written and execution continues at this address.
    ResumeAt(u64),
    /// The kernel kills the process (e.g. SIGSYS for an unknown call).
    Kill(String),
}

/// Serves BSD system call `number` with `args`.
pub(crate) fn dispatch(uc: &mut Unicorn<'_, Process>, number: u64, args: [u64; 6]) -> Completion {
    // File descriptors, protections and flags are C ints: the low 32 bits.
    let int = |i: usize| args[i] as u32;
    match number {
        SYS_EXIT => Completion::Exit(int(0) as i32),
        SYS_READ => read(uc, int(0) as i32, args[1], args[2]),
        SYS_WRITE => write(uc, int(0) as i32, args[1], args[2]),
        SYS_GETPID => Completion::Value(PID),
        SYS_MUNMAP => munmap(uc, args[0], args[1]),
        SYS_MMAP => mmap(uc, args[0], args[1], int(2), int(3), int(4) as i32),
        SYS_GETENTROPY => getentropy(uc, args[0], args[1]),
        SYS_OPEN => open(uc, args[0], int(1)),
        SYS_CLOSE => close(uc, int(0) as i32),
        SYS_SELECT => select(uc, int(0), args[1..4].iter().all(|p| *p == 0), args[4]),
        SYS_GETTIMEOFDAY => gettimeofday(uc, args[0]),
        SYS_SIGACTION => signals::sigaction(uc, int(0), args[1], args[2]),
        SYS_SIGALTSTACK => signals::sigaltstack(uc, args[0], args[1]),
        SYS_SIGRETURN => signals::sigreturn(uc, args[0], int(1), args[2]),
        other => Completion::Kill(format!("unknown system call {other} (SIGSYS)")),
    }
}

fn read(uc: &mut Unicorn<'_, Process>, fd: i32, buf: u64, len: u64) -> Completion {
    if fd != STDIN {
        return read_file(uc, fd, buf, len);
    }
    if len > MAX_IO_SIZE {
        return Completion::Error(EINVAL);
    }
    let process = uc.get_data();
    if !process.memory.accessible(buf, len, VM_PROT_WRITE) {
        return Completion::Error(EFAULT);
    }
    let bytes = match &process.stdin {
        Stdin::Bytes(all) => {
            let start = process.stdin_pos;
            all[start..start + (len as usize).min(all.len() - start)].to_vec()
        }
        Stdin::Inherit => {
            let mut chunk = vec![0; len as usize];
            match std::io::stdin().read(&mut chunk) {
                Ok(n) => chunk.truncate(n),
                Err(_) => return Completion::Error(EIO),
            }
            chunk
        }
    };
    if uc.mem_write(buf, &bytes).is_err() {
        return Completion::Error(EFAULT);
    }
    uc.get_data_mut().stdin_pos += bytes.len();
    Completion::Value(bytes.len() as u64)
}

fn write(uc: &mut Unicorn<'_, Process>, fd: i32, buf: u64, len: u64) -> Completion {
    if len > MAX_IO_SIZE {
        return Completion::Error(EINVAL);
    }
    if !uc.get_data().memory.accessible(buf, len, VM_PROT_READ) {
        return Completion::Error(EFAULT);
    }
    let Ok(bytes) = uc.mem_read_as_vec(buf, len as usize) else { return Completion::Error(EFAULT) };
    let process = uc.get_data_mut();
    if fd != STDOUT && fd != STDERR {
        let Some(file) = process.files.get_mut(&fd) else { return Completion::Error(EBADF) };
        return match file.write(&bytes) {
            Ok(n) => Completion::Value(n as u64),
            Err(e) => Completion::Error(errno_of(&e)),
        };
    }
    let sink = if fd == STDOUT { &mut process.stdout } else { &mut process.stderr };
    sink.extend_from_slice(&bytes);
    Completion::Value(len)
}

/// Only anonymous memory: there are no files to map.
fn mmap(uc: &mut Unicorn<'_, Process>, addr: u64, len: u64, prot: u32, flags: u32, fd: i32) -> Completion {
    if flags & !MAP_KNOWN_FLAGS != 0 {
        return Completion::Error(EINVAL);
    }
    if flags & MAP_ANON == 0 {
        // A file mapping: the standard streams are pipes here (EINVAL),
        // anything else is not an open descriptor.
        let is_stream = matches!(fd, STDIN | STDOUT | STDERR);
        return Completion::Error(if is_stream { EINVAL } else { EBADF });
    }
    // With MAP_ANON, fd is -1 or a VM tag (VM_MAKE_TAG: bits 24..31).
    const VM_TAG_MASK: u32 = 0xff00_0000;
    if fd != -1 && (fd as u32) & !VM_TAG_MASK != 0 {
        return Completion::Error(EINVAL);
    }
    let mut prot = prot & VM_PROT_ALL;
    // Write or execute access implies read (XNU radar 3777787).
    if prot & (VM_PROT_WRITE | VM_PROT_EXECUTE) != 0 {
        prot |= VM_PROT_READ;
    }
    if len == 0 {
        // XNU returns success without mapping anything, and the result
        // register still holds 0.
        return Completion::Value(0);
    }
    let memory = &uc.get_data().memory;
    let page = memory.page_size();
    let Some(size) = memory.round_up(len) else { return Completion::Error(EINVAL) };
    if !memory.can_allocate(size) {
        return Completion::Error(ENOMEM);
    }
    let start = if flags & MAP_FIXED != 0 {
        if !addr.is_multiple_of(page) {
            return Completion::Error(EINVAL);
        }
        match memory.region_at(addr) {
            Some(r) if r.kind == Kind::PageZero => return Completion::Error(ENOMEM),
            _ if addr.checked_add(size).is_none() => return Completion::Error(EINVAL),
            _ => {}
        }
        // MAP_FIXED replaces whatever was mapped there.
        if let Err(e) = unmap(uc, addr, addr + size) {
            return e;
        }
        if !uc.get_data().memory.is_free(addr, size) {
            return Completion::Error(ENOMEM);
        }
        addr
    } else {
        match memory.find_arena(size) {
            Some(start) => start,
            None => return Completion::Error(ENOMEM),
        }
    };
    if let Err(e) = uc.mem_map(start, size, Prot(prot)) {
        return Completion::Kill(format!("emulator could not map 0x{size:x} bytes at 0x{start:x}: {e:?}"));
    }
    uc.get_data_mut().memory.insert(start, size, prot, Kind::Anonymous);
    Completion::Value(start)
}

fn munmap(uc: &mut Unicorn<'_, Process>, addr: u64, len: u64) -> Completion {
    let memory = &uc.get_data().memory;
    if !addr.is_multiple_of(memory.page_size()) || len == 0 {
        return Completion::Error(EINVAL);
    }
    let Some(end) = memory.round_up(len).and_then(|size| addr.checked_add(size)) else {
        return Completion::Error(EINVAL);
    };
    match unmap(uc, addr, end) {
        Ok(()) => Completion::Value(0),
        Err(e) => e,
    }
}

/// Removes `[start, end)` from the address space and the emulator.
fn unmap(uc: &mut Unicorn<'_, Process>, start: u64, end: u64) -> Result<(), Completion> {
    for (from, to) in uc.get_data_mut().memory.remove(start, end) {
        uc.mem_unmap(from, to - from)
            .map_err(|e| Completion::Kill(format!("emulator could not unmap [0x{from:x}, 0x{to:x}): {e:?}")))?;
    }
    Ok(())
}

/// A file's bytes, for a descriptor `open` gave.
fn read_file(uc: &mut Unicorn<'_, Process>, fd: i32, buf: u64, len: u64) -> Completion {
    if len > MAX_IO_SIZE {
        return Completion::Error(EINVAL);
    }
    if !uc.get_data().memory.accessible(buf, len, VM_PROT_WRITE) {
        return Completion::Error(EFAULT);
    }
    let Some(file) = uc.get_data_mut().files.get_mut(&fd) else { return Completion::Error(EBADF) };
    let mut chunk = vec![0; len as usize];
    let n = match file.read(&mut chunk) {
        Ok(n) => n,
        Err(e) => return Completion::Error(errno_of(&e)),
    };
    match uc.mem_write(buf, &chunk[..n]) {
        Ok(()) => Completion::Value(n as u64),
        Err(_) => Completion::Error(EFAULT),
    }
}

/// The longest path `open` reads (`MAXPATHLEN`).
const MAX_PATH: usize = 1024;
const O_ACCMODE: u32 = 0x3;
const O_WRONLY: u32 = 0x1;
const O_RDWR: u32 = 0x2;
const O_APPEND: u32 = 0x8;
const O_CREAT: u32 = 0x200;
const O_TRUNC: u32 = 0x400;

/// `open(path, flags, mode)` of a host file (the host's permissions).
fn open(uc: &mut Unicorn<'_, Process>, path: u64, flags: u32) -> Completion {
    let mut name = Vec::new();
    for at in path..path + MAX_PATH as u64 {
        let mut byte = [0u8];
        if !uc.get_data().memory.accessible(at, 1, VM_PROT_READ) || uc.mem_read(at, &mut byte).is_err() {
            return Completion::Error(EFAULT);
        }
        if byte[0] == 0 {
            break;
        }
        name.push(byte[0]);
    }
    let mode = flags & O_ACCMODE;
    let mut options = std::fs::OpenOptions::new();
    options
        .read(mode != O_WRONLY)
        .write(mode == O_WRONLY || mode == O_RDWR)
        .append(flags & O_APPEND != 0)
        .create(flags & O_CREAT != 0)
        .truncate(flags & O_TRUNC != 0);
    use std::os::unix::ffi::OsStrExt;
    match options.open(std::ffi::OsStr::from_bytes(&name)) {
        Ok(file) => {
            let process = uc.get_data_mut();
            let fd = process.next_fd;
            process.next_fd += 1;
            process.files.insert(fd, file);
            Completion::Value(fd as u64)
        }
        Err(e) => Completion::Error(errno_of(&e)),
    }
}

fn close(uc: &mut Unicorn<'_, Process>, fd: i32) -> Completion {
    match uc.get_data_mut().files.remove(&fd) {
        Some(_) => Completion::Value(0),
        None => Completion::Error(EBADF),
    }
}

/// The host's errno for a failed file operation (the small numbers are
/// the same on Linux and XNU).
fn errno_of(e: &std::io::Error) -> u32 {
    e.raw_os_error().map_or(EIO, |n| n as u32)
}

/// `select(0, NULL, NULL, NULL, &timeout)`: a sleep, as programs without
/// `nanosleep` use it; descriptors are not watched here.
fn select(uc: &mut Unicorn<'_, Process>, descriptors: u32, no_sets: bool, timeout: u64) -> Completion {
    if descriptors != 0 || !no_sets {
        return Completion::Error(EINVAL);
    }
    let mut time = [0u8; 16];
    if !uc.get_data().memory.accessible(timeout, 16, VM_PROT_READ) || uc.mem_read(timeout, &mut time).is_err() {
        return Completion::Error(EFAULT);
    }
    let seconds = u64::from_le_bytes(time[..8].try_into().expect("8 bytes"));
    let micros = u32::from_le_bytes(time[8..12].try_into().expect("4 bytes"));
    std::thread::sleep(std::time::Duration::from_secs(seconds) + std::time::Duration::from_micros(micros as u64));
    Completion::Value(0)
}

/// `gettimeofday(&tv, NULL)`: the host's time, `{seconds, microseconds}`.
fn gettimeofday(uc: &mut Unicorn<'_, Process>, tv: u64) -> Completion {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut time = [0u8; 16];
    time[..8].copy_from_slice(&now.as_secs().to_le_bytes());
    time[8..12].copy_from_slice(&now.subsec_micros().to_le_bytes());
    if !uc.get_data().memory.accessible(tv, 16, VM_PROT_WRITE) || uc.mem_write(tv, &time).is_err() {
        return Completion::Error(EFAULT);
    }
    Completion::Value(0)
}

fn getentropy(uc: &mut Unicorn<'_, Process>, buf: u64, len: u64) -> Completion {
    if len > MAX_ENTROPY {
        return Completion::Error(EINVAL);
    }
    if !uc.get_data().memory.accessible(buf, len, VM_PROT_WRITE) {
        return Completion::Error(EFAULT);
    }
    let process = uc.get_data_mut();
    let bytes: Vec<u8> =
        (0..len.div_ceil(8)).flat_map(|_| process.random_u64().to_le_bytes()).take(len as usize).collect();
    match uc.mem_write(buf, &bytes) {
        Ok(()) => Completion::Value(0),
        Err(_) => Completion::Error(EFAULT),
    }
}
