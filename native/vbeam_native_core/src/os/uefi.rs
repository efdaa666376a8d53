//! UEFI: a program is an EFI application the firmware starts as
//! `efi_main(ImageHandle, SystemTable)` (Microsoft x64 convention on
//! x86_64, AAPCS64 on arm64). It has no kernel: its primitives call the
//! firmware's tables (UEFI specification, chapter 4 and 12.4), through
//! `Inst::CallFirmware`.
//!
//! - write: fd 1 to `ConOut`, fd 2 to `StdErr`, by `OutputString` in UCS-2:
//!   `\n` becomes CR LF; a byte above 0x7F that starts a UTF-8 sequence
//!   becomes `?` and the sequence's continuation bytes are dropped, so the
//!   console only ever receives 7-bit text;
//! - exit: `BootServices->Exit(ImageHandle, status)`, status 0 as
//!   `EFI_SUCCESS` and n (its low 8 bits, as a process's) as the error
//!   status n (`EFIERR(n)`: 1 Load Error, 2 Invalid Parameter, 3
//!   Unsupported, …), which the boot manager reports;
//! - pages: `BootServices->AllocatePages` of loader data, zeroed by
//!   `SetMem`; 0 when the firmware refuses.
//!
//! The start-up also turns off the watchdog the boot manager arms (five
//! minutes), so long programs are not reset, and gives the program a stack
//! of its own (`init`): the firmware's is small (128 KiB or more, the
//! specification says), and running past it resets the machine.

use super::Builder;
use super::{BUFFER, CLOCK_MS, EXIT, OUT_OF_MEMORY, PAGES, RANDOM, SLEEP, WRITE};
use crate::ir::{BinOp, Cond, Isa, Label, PReg, Reg, Src, Width};
use crate::regs::{arm64, x86};
use crate::target::Target;

/// `os_init() -> stack top`: what an application does first (see `init`).
pub const INIT: &str = "__vbeam_os_init";
/// Where the start-up keeps the firmware's two arguments.
pub const IMAGE_HANDLE: &str = "__vbeam_efi_image_handle";
pub const SYSTEM_TABLE: &str = "__vbeam_efi_system_table";
/// The UCS-2 text `write` hands to `OutputString`.
const TEXT: &str = "__vbeam_efi_text";
/// Characters converted per `OutputString` call (a CR LF may add one).
const TEXT_CHUNK: i64 = 254;
/// `AllocatePages` stores the address it allocated here.
const PAGES_ADDRESS: &str = "__vbeam_efi_pages_address";
/// The lowest address a function's frame may reach: every function's
/// prologue compares its frame's bottom with it (see
/// `Lowering::checks_stack_limit`). 0, below every frame, until the
/// program's stack exists, and again once the report of its overflow runs.
pub const STACK_LIMIT: &str = "__vbeam_efi_stack_limit";

/// The primitives' zero-filled entries: (name, size).
pub const BSS: &[(&str, u64)] =
    &[(IMAGE_HANDLE, 8), (SYSTEM_TABLE, 8), (TEXT, 2 * (TEXT_CHUNK as u64 + 2)), (PAGES_ADDRESS, 8), (STACK_LIMIT, 8)];

/// The program's stack: 8 MiB above the limit, as Linux gives a process
/// by default.
const STACK_SIZE: i64 = 8 << 20;
/// Below the limit, room for what runs on the program's stack beyond its
/// frames: the firmware's services and interrupt handlers, a prologue's
/// overshoot (`lower::STACK_LIMIT_OVERSHOOT`), and the overflow report.
pub(crate) const STACK_RESERVE: i64 = 64 << 10;

/// `EFI_SYSTEM_TABLE` fields.
const CON_OUT: i32 = 64;
const STD_ERR: i32 = 80;
const RUNTIME_SERVICES: i32 = 88;
const BOOT_SERVICES: i32 = 96;
/// `EFI_RUNTIME_SERVICES.GetTime(&EFI_TIME, NULL)`, and `EFI_TIME`'s fields.
const GET_TIME: i32 = 24;
const TIME_DAY: i32 = 3;
const TIME_HOUR: i32 = 4;
const TIME_MINUTE: i32 = 5;
const TIME_SECOND: i32 = 6;
const TIME_NANOSECOND: i32 = 8;
/// `EFI_BOOT_SERVICES.Stall(microseconds)`.
const STALL: i32 = 248;
/// `EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL.OutputString`.
const OUTPUT_STRING: i32 = 8;
/// `EFI_BOOT_SERVICES` functions.
const ALLOCATE_PAGES: i32 = 40;
const EXIT_SERVICE: i32 = 216;
const SET_WATCHDOG_TIMER: i32 = 256;
const SET_MEM: i32 = 360;

const ALLOCATE_ANY_PAGES: i64 = 0;
const EFI_LOADER_DATA: i64 = 2;
const EFI_PAGE_SHIFT: i64 = 12;
/// The high bit that makes a status an error.
const EFI_ERROR: i64 = i64::MIN;
const EBADF: i64 = 9;

/// The firmware's argument registers.
pub fn firmware_args(isa: Isa) -> &'static [PReg] {
    match isa {
        Isa::X86_64 => &[x86::RCX, x86::RDX, x86::R8, x86::R9],
        Isa::Arm64 => &[arm64::X0, arm64::X1, PReg(2), PReg(3), PReg(4), PReg(5), PReg(6), PReg(7)],
    }
}

/// Builds the primitive `name`; false if it is not one.
pub fn primitive(name: &str, b: &mut Builder) -> bool {
    match name {
        INIT => init(b),
        WRITE => write(b),
        EXIT => exit(b),
        PAGES => pages(b),
        SLEEP => {
            let [nanos] = b.params();
            let micros = b.op(BinOp::Sdiv, nanos, Src::Imm(1000));
            let stall = boot_service(b, STALL);
            b.call_firmware(stall, &[Src::Reg(micros)]);
            b.ret_void();
        }
        CLOCK_MS => clock_ms(b),
        RANDOM => {
            // No randomness without a protocol every firmware has: the
            // clock, to the nanosecond where the firmware keeps it.
            let ms = b.call(CLOCK_MS, &[]);
            let time = b.lea(BUFFER);
            let nanos = b.load_u32(time, TIME_NANOSECOND);
            let bits = b.op(BinOp::Mul, ms, Src::Imm(1_000_000));
            b.bin(BinOp::Add, bits, bits, Src::Reg(nanos));
            b.ret(Src::Reg(bits));
        }
        _ => return false,
    }
    true
}

/// A field of the table `table` points to.
fn field(b: &mut Builder, table: Reg, offset: i32) -> Reg {
    b.load(table, offset)
}

fn system_table(b: &mut Builder) -> Reg {
    let at = b.lea(SYSTEM_TABLE);
    b.load(at, 0)
}

fn boot_service(b: &mut Builder, offset: i32) -> Reg {
    let st = system_table(b);
    let services = field(b, st, BOOT_SERVICES);
    field(b, services, offset)
}

/// `init() -> stack top`: `SetWatchdogTimer(0, 0, 0, NULL)` (no
/// watchdog), then the program's stack, `STACK_RESERVE` and `STACK_SIZE`
/// of loader data (not zeroed, as a process's stack is not), its limit set;
/// out of memory when the firmware has not that much.
fn init(b: &mut Builder) {
    let set_watchdog = boot_service(b, SET_WATCHDOG_TIMER);
    b.call_firmware(set_watchdog, &[Src::Imm(0), Src::Imm(0), Src::Imm(0), Src::Imm(0)]);
    let pages = (STACK_RESERVE + STACK_SIZE) >> EFI_PAGE_SHIFT;
    let refused = b.label();
    let base = allocate_pages(b, Src::Imm(pages), refused);
    let limit = b.op(BinOp::Add, base, Src::Imm(STACK_RESERVE));
    let at = b.lea(STACK_LIMIT);
    b.store(at, 0, Src::Reg(limit));
    let top = b.op(BinOp::Add, limit, Src::Imm(STACK_SIZE));
    b.ret(Src::Reg(top));
    b.bind(refused);
    b.call_void(OUT_OF_MEMORY, &[]);
    b.trap();
}

/// `write(fd, ptr, len) -> len`, or −EBADF for another stream.
fn write(b: &mut Builder) {
    let [fd, ptr, len] = b.params();
    let (stdout, stream_known, bad) = (b.label(), b.label(), b.label());
    let st = system_table(b);
    let stream = b.vreg();
    b.cmp(fd, Src::Imm(1));
    b.jcc(Cond::Eq, stdout);
    b.cmp(fd, Src::Imm(2));
    b.jcc(Cond::Ne, bad);
    b.load_into(stream, st, STD_ERR);
    b.jmp(stream_known);
    b.bind(stdout);
    b.load_into(stream, st, CON_OUT);
    b.bind(stream_known);
    let output_string = field(b, stream, OUTPUT_STRING);
    let text = b.lea(TEXT);
    let (i, k) = (b.vreg(), b.vreg());
    b.mov_imm(i, 0);
    b.mov_imm(k, 0);
    let (next, flush, done, newline, ascii, put) = (b.label(), b.label(), b.label(), b.label(), b.label(), b.label());
    let character = b.vreg();
    b.bind(next);
    b.cmp(i, Src::Reg(len));
    b.jcc(Cond::Geu, done);
    b.cmp(k, Src::Imm(TEXT_CHUNK));
    b.jcc(Cond::Ge, flush);
    let at = b.op(BinOp::Add, ptr, Src::Reg(i));
    let byte = b.load_byte(at, 0);
    b.bin(BinOp::Add, i, i, Src::Imm(1));
    b.cmp(byte, Src::Imm(b'\n' as i64));
    b.jcc(Cond::Eq, newline);
    b.cmp(byte, Src::Imm(0x80));
    b.jcc(Cond::Lt, ascii);
    // 10xxxxxx continues a sequence whose first byte was written as '?'.
    let top = b.op(BinOp::And, byte, Src::Imm(0xc0));
    b.cmp(top, Src::Imm(0x80));
    b.jcc(Cond::Eq, next);
    b.mov_imm(character, b'?' as i64);
    b.jmp(put);
    b.bind(ascii);
    b.mov(character, byte);
    b.jmp(put);
    b.bind(newline);
    store_char(b, text, k, Src::Imm(b'\r' as i64));
    b.mov_imm(character, b'\n' as i64);
    b.bind(put);
    store_char(b, text, k, Src::Reg(character));
    b.jmp(next);
    // Hands the converted characters to the firmware, NUL-terminated.
    b.bind(flush);
    store_char(b, text, k, Src::Imm(0));
    b.call_firmware(output_string, &[Src::Reg(stream), Src::Reg(text)]);
    b.mov_imm(k, 0);
    b.jmp(next);
    b.bind(done);
    let nothing_left = b.label();
    b.cmp(k, Src::Imm(0));
    b.jcc(Cond::Eq, nothing_left);
    store_char(b, text, k, Src::Imm(0));
    b.call_firmware(output_string, &[Src::Reg(stream), Src::Reg(text)]);
    b.bind(nothing_left);
    b.ret(Src::Reg(len));
    b.bind(bad);
    b.ret(Src::Imm(-EBADF));
}

/// `text[k] = c` (UCS-2), then k += 1.
fn store_char(b: &mut Builder, text: Reg, k: Reg, c: Src) {
    let offset = b.op(BinOp::Shl, k, Src::Imm(1));
    let at = b.op(BinOp::Add, text, Src::Reg(offset));
    b.store_narrow(Width::W16, at, 0, c);
    b.bin(BinOp::Add, k, k, Src::Imm(1));
}

/// `clock_ms()`: the firmware's time of the month in milliseconds
/// (`GetTime` keeps the date: good for durations within a month).
fn clock_ms(b: &mut Builder) {
    let st = system_table(b);
    let services = field(b, st, RUNTIME_SERVICES);
    let get_time = field(b, services, GET_TIME);
    let time = b.lea(BUFFER);
    b.call_firmware(get_time, &[Src::Reg(time), Src::Imm(0)]);
    let total = b.vreg();
    b.mov_imm(total, 0);
    for (field, scale) in [(TIME_DAY, 24), (TIME_HOUR, 60), (TIME_MINUTE, 60), (TIME_SECOND, 1000)] {
        let v = b.load_byte(time, field);
        b.bin(BinOp::Add, total, total, Src::Reg(v));
        b.bin(BinOp::Mul, total, total, Src::Imm(scale));
    }
    let nanos = b.load_u32(time, TIME_NANOSECOND);
    let ms = b.op(BinOp::Sdiv, nanos, Src::Imm(1_000_000));
    b.bin(BinOp::Add, total, total, Src::Reg(ms));
    b.ret(Src::Reg(total));
}

/// `exit(status)`: `Exit(ImageHandle, status, 0, NULL)`.
fn exit(b: &mut Builder) {
    let [status] = b.params();
    let code = b.op(BinOp::And, status, Src::Imm(0xff));
    let success = b.label();
    b.cmp(code, Src::Imm(0));
    b.jcc(Cond::Eq, success);
    b.bin(BinOp::Or, code, code, Src::Imm(EFI_ERROR));
    b.bind(success);
    let exit = boot_service(b, EXIT_SERVICE);
    let at = b.lea(IMAGE_HANDLE);
    let image = b.load(at, 0);
    b.call_firmware(exit, &[Src::Reg(image), Src::Reg(code), Src::Imm(0), Src::Imm(0)]);
    b.trap();
}

/// `pages(bytes) -> address`: whole pages of loader data, zeroed; 0 when
/// the firmware has none.
fn pages(b: &mut Builder) {
    let [bytes] = b.params();
    let rounded = b.op(BinOp::Add, bytes, Src::Imm((1 << EFI_PAGE_SHIFT) - 1));
    let count = b.op(BinOp::Shr, rounded, Src::Imm(EFI_PAGE_SHIFT));
    let refused = b.label();
    let base = allocate_pages(b, Src::Reg(count), refused);
    let size = b.op(BinOp::Shl, count, Src::Imm(EFI_PAGE_SHIFT));
    let set_mem = boot_service(b, SET_MEM);
    b.call_firmware(set_mem, &[Src::Reg(base), Src::Reg(size), Src::Imm(0)]);
    b.ret(Src::Reg(base));
    b.bind(refused);
    b.ret(Src::Imm(0));
}

/// `AllocatePages` of `count` pages of loader data anywhere: the first
/// page's address, or a jump to `refused` when the firmware has not that
/// much.
fn allocate_pages(b: &mut Builder, count: Src, refused: Label) -> Reg {
    let allocate = boot_service(b, ALLOCATE_PAGES);
    let address = b.lea(PAGES_ADDRESS);
    let args = [Src::Imm(ALLOCATE_ANY_PAGES), Src::Imm(EFI_LOADER_DATA), count, Src::Reg(address)];
    let status = b.call_firmware(allocate, &args);
    b.cmp(status, Src::Imm(0));
    b.jcc(Cond::Ne, refused);
    b.load(address, 0)
}

/// The firmware's arguments to the entry point, and where the start-up
/// keeps them.
pub fn entry_arguments(target: Target) -> [(PReg, &'static str); 2] {
    let args = firmware_args(target.isa);
    [(args[0], IMAGE_HANDLE), (args[1], SYSTEM_TABLE)]
}
