//! What a program says when the processor stops it: a fault (bad memory
//! access, stack overflow, illegal instruction, arithmetic trap) reported
//! as a V panic on stderr naming the fault, the function it happened in
//! and the chain of its callers, then exit with status 128 + the signal
//! number, as V's own handler does.
//!
//! The OS layer installs the handler (on an alternate stack, so a stack
//! overflow can still be reported) and calls `REPORT` with the machine
//! state it reads from the system's signal frame. Function names come from
//! a table the linker writes (`FUNCTION_TABLE`); callers from the chain of
//! frame records every function keeps: the frame pointer (rbp / x29)
//! points at the caller's frame pointer, with the return address after it.
//!
//! UEFI catches no fault: there the prologues find a stack overflow before
//! it happens (see `Lowering::checks_stack_limit`) and call
//! `STACK_OVERFLOW`, which reports it the same way, with a panic's status.
//!
//! The table, in read-only data beside the code (so it needs no
//! relocation wherever the image is loaded):
//! - `i64` the code's start minus the table's address;
//! - `u64` the number of entries;
//! - per function, by ascending address, `ENTRY_SIZE` bytes of `u32`s: its
//!   offset in the code, its size, the offset of its first instruction
//!   after which its frame pointer is set (`ready`), its name as an
//!   offset from the table's start and a length, and 1 for the runtime's
//!   routines (0 for the program's functions);
//! - the names.

use super::{text, FORMAT_INT, STDERR};
use crate::image::FunctionSymbol;
use crate::ir::{BinOp, Cond, Isa, Reg, Src};
use crate::os::{self, uefi, Builder, Fault, FAULT_REPORT as REPORT, STACK_OVERFLOW};
/// `write_hex(value)`: "0x" and the hexadecimal digits on stderr.
const WRITE_HEX: &str = "__vbeam_fault_write_hex";
/// `callers(ra, frame, sp, from, to) -> count`: see `callers`.
const CALLERS: &str = "__vbeam_fault_callers";
/// `find(offset) -> entry`: the table entry of the function holding code
/// offset `offset`, or 0.
const FIND: &str = "__vbeam_fault_find";
/// `caller_chain(ra, frame, sp)`: the "called from" lines of a report,
/// from the return address `ra` and the frame record at `frame` on (see
/// `callers`), the middle of a long chain left out.
const CALLER_CHAIN: &str = "__vbeam_fault_caller_chain";
/// `panic_place()`: ends a runtime panic's first line with " in F" and a
/// newline, then F's callers, F being the innermost function of the
/// program (not of the runtime) on the stack.
pub const PANIC_PLACE: &str = "__vbeam_fault_panic_place";
pub const FUNCTION_TABLE: &str = "__vbeam_function_table";
/// Room for a 64-bit number's digits.
const DIGITS: &str = "__vbeam_fault_digits";
const DIGITS_SIZE: i64 = 24;
/// The signal being reported, 0 before: a fault while reporting one (a
/// frame chain gone wrong) ends the process at once.
const REPORTING: &str = "__vbeam_fault_reporting";
pub const BSS: &[(&str, u64)] = &[(DIGITS, DIGITS_SIZE as u64), (REPORTING, 8)];

const HEADER_SIZE: usize = 16;
const ENTRY_SIZE: usize = 24;
const START: i32 = 0;
const SIZE: i32 = 4;
const READY: i32 = 8;
const NAME_AT: i32 = 12;
const NAME_LEN: i32 = 16;
const RUNTIME: i32 = 20;

/// A fault address this close to the stack pointer is the stack running
/// into its guard: larger frames than this are not expected.
const STACK_REACH: i64 = 64 << 10;
/// Frame records are followed only within this distance above the stack
/// pointer and at 8-byte alignment: a frame pointer outside is not one.
const STACK_LIMIT: i64 = 1 << 32;
/// Of a longer chain of callers, the innermost and outermost printed.
const FIRST_CALLERS: i64 = 16;
const LAST_CALLERS: i64 = 4;

/// A function as the table records it.
pub struct TableEntry<'a> {
    pub symbol: &'a FunctionSymbol,
    /// Offset of the first instruction after which the frame pointer is
    /// the function's own.
    pub ready: u32,
    /// Whether it is one of the runtime's routines.
    pub runtime: bool,
}

/// The table's size for functions of these names.
pub fn table_size<'a>(names: impl Iterator<Item = &'a str>) -> u64 {
    names.map(|n| (ENTRY_SIZE + n.len()) as u64).sum::<u64>() + HEADER_SIZE as u64
}

/// The table's bytes; `text_from_table` is the code's start address minus
/// the table's.
pub fn table_bytes(entries: &[TableEntry], text_from_table: i64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_SIZE + entries.len() * ENTRY_SIZE);
    bytes.extend_from_slice(&text_from_table.to_le_bytes());
    bytes.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    let mut name_at = HEADER_SIZE + entries.len() * ENTRY_SIZE;
    for e in entries {
        let s = e.symbol;
        for field in [s.offset, s.size, e.ready, name_at as u32, s.name.len() as u32, u32::from(e.runtime)] {
            bytes.extend_from_slice(&field.to_le_bytes());
        }
        name_at += s.name.len();
    }
    for e in entries {
        bytes.extend_from_slice(e.symbol.name.as_bytes());
    }
    bytes
}

/// Builds the routine `name`; false if it is not one of these.
pub fn routine(b: &mut Builder, name: &str) -> bool {
    match name {
        REPORT => report(b),
        STACK_OVERFLOW => stack_overflow(b),
        WRITE_HEX => write_hex(b),
        FIND => find(b),
        CALLERS => callers(b),
        CALLER_CHAIN => caller_chain(b),
        PANIC_PLACE => panic_place(b),
        _ => return false,
    }
    true
}

fn write_text(b: &mut Builder, name: &str) {
    let (name, len) = text(name);
    b.write_data(STDERR, name, len);
}

/// Writes " in NAME" for the function of table entry `entry`, or
/// " (pc 0x…)" when `pc` is in none.
fn write_place(b: &mut Builder, table: Reg, entry: Reg, pc: Reg) {
    let (unknown, done) = (b.label(), b.label());
    b.cmp(entry, Src::Imm(0));
    b.jcc(Cond::Eq, unknown);
    write_text(b, "__vbeam_msg_fault_in");
    write_name(b, table, entry);
    b.jmp(done);
    b.bind(unknown);
    write_text(b, "__vbeam_msg_fault_pc");
    b.call_void(WRITE_HEX, &[Src::Reg(pc)]);
    write_text(b, "__vbeam_msg_fault_pc_end");
    b.bind(done);
}

fn write_name(b: &mut Builder, table: Reg, entry: Reg) {
    let at = b.load_u32(entry, NAME_AT);
    let len = b.load_u32(entry, NAME_LEN);
    let name = b.op(BinOp::Add, table, Src::Reg(at));
    b.write(STDERR, Src::Reg(name), Src::Reg(len));
}

fn report(b: &mut Builder) {
    let [signal, address, pc, sp, fp, lr] = b.params();
    let reporting = b.lea(REPORTING);
    let earlier = b.load(reporting, 0);
    let first = b.label();
    b.cmp(earlier, Src::Imm(0));
    b.jcc(Cond::Eq, first);
    let status = b.op(BinOp::Add, earlier, Src::Imm(128));
    b.exit(Src::Reg(status));
    b.bind(first);
    b.store(reporting, 0, Src::Reg(signal));
    let table = b.lea(FUNCTION_TABLE);
    let text_from_table = b.load(table, 0);
    let text = b.op(BinOp::Add, table, Src::Reg(text_from_table));

    // "V panic: <fault>"
    write_text(b, "__vbeam_msg_panic");
    let told = b.label();
    for &(fault, number) in os::fault_signals(b.target) {
        let next = b.label();
        b.cmp(signal, Src::Imm(number));
        b.jcc(Cond::Ne, next);
        if matches!(fault, Fault::Memory | Fault::Bus) {
            // Near the stack pointer: the stack ran into its guard.
            let other = b.label();
            let distance = b.op(BinOp::Sub, address, Src::Reg(sp));
            b.bin(BinOp::Add, distance, distance, Src::Imm(STACK_REACH));
            b.cmp(distance, Src::Imm(2 * STACK_REACH));
            b.jcc(Cond::Geu, other);
            write_text(b, "__vbeam_msg_stack_overflow");
            b.jmp(told);
            b.bind(other);
        }
        write_text(b, fault_text(fault));
        if matches!(fault, Fault::Memory | Fault::Bus) {
            write_text(b, "__vbeam_msg_fault_address");
            b.call_void(WRITE_HEX, &[Src::Reg(address)]);
        }
        b.jmp(told);
        b.bind(next);
    }
    write_text(b, "__vbeam_msg_fault_signal");
    write_decimal(b, signal);
    b.bind(told);

    // " in f" (or " at 0x…")
    let offset = b.op(BinOp::Sub, pc, Src::Reg(text));
    let entry = b.call(FIND, &[Src::Reg(offset)]);
    write_place(b, table, entry, pc);
    write_text(b, "__vbeam_newline");

    // The first caller: from the frame record once the function has set
    // its frame pointer; before that (and outside any function) the
    // return address is where the call left it and the frame pointer is
    // still the caller's.
    let (ra, frame) = (b.vreg(), b.vreg());
    let (at_entry, first_known, no_record) = (b.label(), b.label(), b.label());
    b.mov(frame, fp);
    b.cmp(entry, Src::Imm(0));
    b.jcc(Cond::Eq, at_entry);
    let start = b.load_u32(entry, START);
    let into = b.op(BinOp::Sub, offset, Src::Reg(start));
    let ready = b.load_u32(entry, READY);
    b.cmp(into, Src::Reg(ready));
    b.jcc(Cond::Ltu, at_entry);
    jump_unless_record(b, fp, sp, no_record);
    b.load_into(ra, fp, 8);
    b.load_into(frame, fp, 0);
    b.jmp(first_known);
    // No caller can be told.
    b.bind(no_record);
    b.mov_imm(ra, 0);
    b.jmp(first_known);
    b.bind(at_entry);
    match b.target.isa {
        Isa::X86_64 => b.load_into(ra, sp, 0),
        Isa::Arm64 => b.mov(ra, lr),
    }
    b.bind(first_known);
    b.call_void(CALLER_CHAIN, &[Src::Reg(ra), Src::Reg(frame), Src::Reg(sp)]);
    let status = b.op(BinOp::Add, signal, Src::Imm(128));
    b.exit(Src::Reg(status));
}

/// `stack_overflow()`, called from the prologue of a function f whose
/// frame would pass the stack limit, once f's frame record is made (UEFI:
/// see `Lowering::checks_stack_limit`): "V panic: stack overflow in f"
/// and f's callers, as a fault's report, then the exit status of a panic.
fn stack_overflow(b: &mut Builder) {
    // The reserve below the limit opened to the report: no function
    // checks the limit any more.
    let limit = b.lea(uefi::STACK_LIMIT);
    b.store(limit, 0, Src::Imm(0));
    let table = b.lea(FUNCTION_TABLE);
    let text_from_table = b.load(table, 0);
    let text = b.op(BinOp::Add, table, Src::Reg(text_from_table));
    write_text(b, "__vbeam_msg_panic");
    write_text(b, "__vbeam_msg_stack_overflow");
    // This routine's record holds f's frame pointer and the return address
    // after the call in f, which may be f's last instruction.
    let own = b.frame_pointer();
    let return_address = b.load(own, 8);
    let offset = b.op(BinOp::Sub, return_address, Src::Reg(text));
    b.bin(BinOp::Sub, offset, offset, Src::Imm(1));
    let entry = b.call(FIND, &[Src::Reg(offset)]);
    write_place(b, table, entry, return_address);
    write_text(b, "__vbeam_newline");
    let fp = b.load(own, 0);
    let ra = b.load(fp, 8);
    let frame = b.load(fp, 0);
    b.call_void(CALLER_CHAIN, &[Src::Reg(ra), Src::Reg(frame), Src::Reg(own)]);
    b.exit(Src::Imm(1));
}

fn caller_chain(b: &mut Builder) {
    let [ra, frame, sp] = b.params();
    // Counted, then printed.
    let walk =
        |b: &mut Builder, from: Src, to: Src| b.call(CALLERS, &[Src::Reg(ra), Src::Reg(frame), Src::Reg(sp), from, to]);
    let all = walk(b, Src::Imm(0), Src::Imm(0));
    let (short, done) = (b.label(), b.label());
    b.cmp(all, Src::Imm(FIRST_CALLERS + LAST_CALLERS));
    b.jcc(Cond::Le, short);
    walk(b, Src::Imm(0), Src::Imm(FIRST_CALLERS));
    write_text(b, "__vbeam_msg_more_callers");
    let hidden = b.op(BinOp::Sub, all, Src::Imm(FIRST_CALLERS + LAST_CALLERS));
    write_decimal(b, hidden);
    write_text(b, "__vbeam_msg_more_callers_end");
    let last = b.op(BinOp::Sub, all, Src::Imm(LAST_CALLERS));
    walk(b, Src::Reg(last), Src::Reg(all));
    b.jmp(done);
    b.bind(short);
    walk(b, Src::Imm(0), Src::Reg(all));
    b.bind(done);
    b.ret_void();
}

fn panic_place(b: &mut Builder) {
    let table = b.lea(FUNCTION_TABLE);
    let text_from_table = b.load(table, 0);
    let text = b.op(BinOp::Add, table, Src::Reg(text_from_table));
    // Up the frame records from this routine's own (whose frames are all
    // above it), past the runtime's routines, to the program's function.
    let frame = b.frame_pointer();
    let bottom = b.vreg();
    b.mov(bottom, frame);
    let ra = b.vreg();
    let (up, unknown, done) = (b.label(), b.label(), b.label());
    b.bind(up);
    jump_unless_record(b, frame, bottom, unknown);
    b.load_into(ra, frame, 8);
    b.load_into(frame, frame, 0);
    let offset = b.op(BinOp::Sub, ra, Src::Reg(text));
    b.bin(BinOp::Sub, offset, offset, Src::Imm(1));
    let entry = b.call(FIND, &[Src::Reg(offset)]);
    b.cmp(entry, Src::Imm(0));
    b.jcc(Cond::Eq, unknown);
    let runtime = b.load_u32(entry, RUNTIME);
    b.cmp(runtime, Src::Imm(0));
    b.jcc(Cond::Ne, up);
    write_text(b, "__vbeam_msg_fault_in");
    write_name(b, table, entry);
    write_text(b, "__vbeam_newline");
    jump_unless_record(b, frame, bottom, done);
    let caller_ra = b.load(frame, 8);
    let caller_frame = b.load(frame, 0);
    b.call_void(CALLER_CHAIN, &[Src::Reg(caller_ra), Src::Reg(caller_frame), Src::Reg(bottom)]);
    b.jmp(done);
    b.bind(unknown);
    write_text(b, "__vbeam_newline");
    b.bind(done);
    b.ret_void();
}

/// `callers(ra, frame, sp, from, to) -> count`: follows the callers,
/// innermost first, while the return address is in a function and the
/// frame records go up the stack above `sp`, printing "  called from g"
/// for those numbered `from..to`.
fn callers(b: &mut Builder) {
    let [ra, frame, sp, from, to] = b.params();
    let table = b.lea(FUNCTION_TABLE);
    let text_from_table = b.load(table, 0);
    let text = b.op(BinOp::Add, table, Src::Reg(text_from_table));
    let count = b.vreg();
    b.mov_imm(count, 0);
    let (walk, hidden, not_up, done) = (b.label(), b.label(), b.label(), b.label());
    b.bind(walk);
    let call_offset = b.op(BinOp::Sub, ra, Src::Reg(text));
    // The call is the instruction before the return address, which may
    // be the next function's first when the call never returns.
    b.bin(BinOp::Sub, call_offset, call_offset, Src::Imm(1));
    let caller = b.call(FIND, &[Src::Reg(call_offset)]);
    b.cmp(caller, Src::Imm(0));
    b.jcc(Cond::Eq, done);
    b.cmp(count, Src::Reg(from));
    b.jcc(Cond::Lt, hidden);
    b.cmp(count, Src::Reg(to));
    b.jcc(Cond::Ge, hidden);
    write_text(b, "__vbeam_msg_called_from");
    write_name(b, table, caller);
    write_text(b, "__vbeam_newline");
    b.bind(hidden);
    b.bin(BinOp::Add, count, count, Src::Imm(1));
    b.cmp(frame, Src::Imm(0));
    b.jcc(Cond::Eq, done);
    jump_unless_record(b, frame, sp, done);
    b.load_into(ra, frame, 8);
    let outer = b.load(frame, 0);
    b.cmp(outer, Src::Reg(frame));
    b.jcc(Cond::Leu, not_up);
    b.mov(frame, outer);
    b.jmp(walk);
    // A frame pointer that does not go up the stack ends the chain, unless
    // it is the outermost frame's 0.
    b.bind(not_up);
    b.cmp(outer, Src::Imm(0));
    b.jcc(Cond::Ne, done);
    b.mov(frame, outer);
    b.jmp(walk);
    b.bind(done);
    b.ret(Src::Reg(count));
}

/// Jumps to `not_one` unless `frame` may be a frame record: aligned, and
/// above the stack pointer `sp` within `STACK_LIMIT`.
fn jump_unless_record(b: &mut Builder, frame: Reg, sp: Reg, not_one: crate::ir::Label) {
    let above = b.op(BinOp::Sub, frame, Src::Reg(sp));
    b.cmp(above, Src::Imm(STACK_LIMIT));
    b.jcc(Cond::Geu, not_one);
    let misaligned = b.op(BinOp::And, frame, Src::Imm(7));
    b.cmp(misaligned, Src::Imm(0));
    b.jcc(Cond::Ne, not_one);
}

fn write_decimal(b: &mut Builder, value: Reg) {
    let digits = b.lea(DIGITS);
    let end = b.op(BinOp::Add, digits, Src::Imm(DIGITS_SIZE));
    let start = b.call(FORMAT_INT, &[Src::Reg(value), Src::Reg(end)]);
    let len = b.op(BinOp::Sub, end, Src::Reg(start));
    b.write(STDERR, Src::Reg(start), Src::Reg(len));
}

fn fault_text(fault: Fault) -> &'static str {
    match fault {
        Fault::Memory => "__vbeam_msg_segfault",
        Fault::Bus => "__vbeam_msg_bus_error",
        Fault::Instruction => "__vbeam_msg_illegal",
        Fault::Arithmetic => "__vbeam_msg_arithmetic",
    }
}

/// `find(offset)`: binary search for the last function starting at or
/// before `offset` (unsigned), then a check that it reaches it.
fn find(b: &mut Builder) {
    let [offset] = b.params();
    let table = b.lea(FUNCTION_TABLE);
    let count = b.load(table, 8);
    let (low, high) = (b.vreg(), b.vreg());
    b.mov_imm(low, 0);
    b.mov(high, count);
    let (none, halve, upper, found) = (b.label(), b.label(), b.label(), b.label());
    b.cmp(count, Src::Imm(0));
    b.jcc(Cond::Eq, none);
    // Entries low..high hold the answer, if any: the first starts at or
    // before offset once low is 0 and it is checked below.
    b.bind(halve);
    let width = b.op(BinOp::Sub, high, Src::Reg(low));
    b.cmp(width, Src::Imm(1));
    b.jcc(Cond::Le, found);
    let middle = b.op(BinOp::Add, low, Src::Reg(high));
    b.bin(BinOp::Shr, middle, middle, Src::Imm(1));
    let entry = entry_at(b, table, middle);
    let start = b.load_u32(entry, START);
    b.cmp(start, Src::Reg(offset));
    b.jcc(Cond::Gtu, upper);
    b.mov(low, middle);
    b.jmp(halve);
    b.bind(upper);
    b.mov(high, middle);
    b.jmp(halve);
    b.bind(found);
    let entry = entry_at(b, table, low);
    let start = b.load_u32(entry, START);
    let into = b.op(BinOp::Sub, offset, Src::Reg(start));
    b.cmp(offset, Src::Reg(start));
    b.jcc(Cond::Ltu, none);
    let size = b.load_u32(entry, SIZE);
    b.cmp(into, Src::Reg(size));
    b.jcc(Cond::Geu, none);
    b.ret(Src::Reg(entry));
    b.bind(none);
    b.ret(Src::Imm(0));
}

/// The address of entry `index`.
fn entry_at(b: &mut Builder, table: Reg, index: Reg) -> Reg {
    let at = b.op(BinOp::Mul, index, Src::Imm(ENTRY_SIZE as i64));
    b.bin(BinOp::Add, at, at, Src::Reg(table));
    b.bin(BinOp::Add, at, at, Src::Imm(HEADER_SIZE as i64));
    at
}

/// `write_hex(value)`: "0x" then the digits, without leading zeros.
fn write_hex(b: &mut Builder) {
    let [value] = b.params();
    let digits = b.lea(DIGITS);
    let end = b.op(BinOp::Add, digits, Src::Imm(DIGITS_SIZE));
    let cursor = b.vreg();
    b.mov(cursor, end);
    let (top, letter, stored) = (b.label(), b.label(), b.label());
    b.bind(top);
    let digit = b.op(BinOp::And, value, Src::Imm(15));
    b.cmp(digit, Src::Imm(10));
    b.jcc(Cond::Ge, letter);
    b.bin(BinOp::Add, digit, digit, Src::Imm(b'0' as i64));
    b.jmp(stored);
    b.bind(letter);
    b.bin(BinOp::Add, digit, digit, Src::Imm(b'a' as i64 - 10));
    b.bind(stored);
    b.bin(BinOp::Sub, cursor, cursor, Src::Imm(1));
    b.store_byte(cursor, 0, Src::Reg(digit));
    b.bin(BinOp::Shr, value, value, Src::Imm(4));
    b.cmp(value, Src::Imm(0));
    b.jcc(Cond::Ne, top);
    b.bin(BinOp::Sub, cursor, cursor, Src::Imm(2));
    b.store_byte(cursor, 0, Src::Imm(b'0' as i64));
    b.store_byte(cursor, 1, Src::Imm(b'x' as i64));
    let len = b.op(BinOp::Sub, end, Src::Reg(cursor));
    b.write(STDERR, Src::Reg(cursor), Src::Reg(len));
    b.ret_void();
}
