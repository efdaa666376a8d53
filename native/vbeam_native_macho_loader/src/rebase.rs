//! `LC_DYLD_INFO_ONLY` fixups: decoding the rebase opcodes into the
//! addresses dyld slides, with dyld's checks on each one, and making sure
//! the bind opcodes bind nothing (this loader provides no imports).

use crate::error::{malformed, unsupported, LoadError};
use crate::macho::{Blob, MachO};
use crate::reader::Cursor;

/// Rebases and binds are pointer-sized in a 64-bit image.
const POINTER_SIZE: u64 = 8;

const OPCODE_MASK: u8 = 0xf0;
const IMMEDIATE_MASK: u8 = 0x0f;

const REBASE_OPCODE_DONE: u8 = 0x00;
const REBASE_OPCODE_SET_TYPE_IMM: u8 = 0x10;
const REBASE_OPCODE_SET_SEGMENT_AND_OFFSET_ULEB: u8 = 0x20;
const REBASE_OPCODE_ADD_ADDR_ULEB: u8 = 0x30;
const REBASE_OPCODE_ADD_ADDR_IMM_SCALED: u8 = 0x40;
const REBASE_OPCODE_DO_REBASE_IMM_TIMES: u8 = 0x50;
const REBASE_OPCODE_DO_REBASE_ULEB_TIMES: u8 = 0x60;
const REBASE_OPCODE_DO_REBASE_ADD_ADDR_ULEB: u8 = 0x70;
const REBASE_OPCODE_DO_REBASE_ULEB_TIMES_SKIPPING_ULEB: u8 = 0x80;

const REBASE_TYPE_POINTER: u8 = 1;
const REBASE_TYPE_TEXT_ABSOLUTE32: u8 = 2;
const REBASE_TYPE_TEXT_PCREL32: u8 = 3;

/// A bound on the rebases of one image, far above any real program's, so
/// that looping opcodes cannot exhaust memory.
const MAX_REBASES: usize = 1 << 24;

/// dyld tolerates this much padding after `REBASE_OPCODE_DONE`.
const MAX_REBASE_PADDING: usize = 8;

const BIND_OPCODE_DONE: u8 = 0x00;
const BIND_OPCODE_SET_DYLIB_ORDINAL_IMM: u8 = 0x10;
const BIND_OPCODE_SET_DYLIB_ORDINAL_ULEB: u8 = 0x20;
const BIND_OPCODE_SET_DYLIB_SPECIAL_IMM: u8 = 0x30;
const BIND_OPCODE_SET_SYMBOL_TRAILING_FLAGS_IMM: u8 = 0x40;
const BIND_OPCODE_SET_TYPE_IMM: u8 = 0x50;
const BIND_OPCODE_SET_ADDEND_SLEB: u8 = 0x60;
const BIND_OPCODE_SET_SEGMENT_AND_OFFSET_ULEB: u8 = 0x70;
const BIND_OPCODE_ADD_ADDR_ULEB: u8 = 0x80;
const BIND_OPCODE_DO_BIND: u8 = 0x90;
const BIND_OPCODE_DO_BIND_ADD_ADDR_ULEB: u8 = 0xa0;
const BIND_OPCODE_DO_BIND_ADD_ADDR_IMM_SCALED: u8 = 0xb0;
const BIND_OPCODE_DO_BIND_ULEB_TIMES_SKIPPING_ULEB: u8 = 0xc0;
const BIND_OPCODE_THREADED: u8 = 0xd0;

/// The decoder's state between opcodes.
struct RebaseState<'m> {
    image: &'m MachO<'m>,
    kind: u8,
    segment: Option<usize>,
    offset: u64,
    /// Unslid addresses of the pointers to slide.
    out: Vec<u64>,
    /// More rebases than writable pointer slots means the opcodes loop.
    max_rebases: usize,
}

impl RebaseState<'_> {
    /// Records one rebase at the current position after dyld's checks
    /// (`invalidRebaseState`), then steps past the pointer plus `skip`.
    fn rebase(&mut self, opcode: &str, skip: u64) -> Result<(), LoadError> {
        let index = self
            .segment
            .ok_or_else(|| malformed!("{opcode} missing preceding REBASE_OPCODE_SET_SEGMENT_AND_OFFSET_ULEB"))?;
        let segs = &self.image.segments;
        // The last segment is __LINKEDIT (checked by validate.rs): no fixups there.
        if index + 1 >= segs.len() {
            return Err(malformed!("{opcode} segment index {index} too large"));
        }
        let seg = &segs[index];
        if self.offset > seg.vmsize.saturating_sub(POINTER_SIZE) || seg.vmsize < POINTER_SIZE {
            return Err(malformed!(
                "{opcode} segment offset 0x{:x} beyond segment {:?} size (0x{:x})",
                self.offset,
                seg.name,
                seg.vmsize
            ));
        }
        match self.kind {
            REBASE_TYPE_POINTER => {}
            REBASE_TYPE_TEXT_ABSOLUTE32 | REBASE_TYPE_TEXT_PCREL32 => {
                return Err(unsupported!("{opcode}: text relocations (rebase type {})", self.kind))
            }
            other => return Err(malformed!("{opcode} unknown rebase type {other}")),
        }
        if !seg.writable() {
            return Err(malformed!("{opcode} pointer rebase is in non-writable segment {:?}", seg.name));
        }
        if seg.executable() {
            return Err(malformed!("{opcode} pointer rebase is in executable segment {:?}", seg.name));
        }
        if self.out.len() >= self.max_rebases {
            return Err(malformed!("{opcode}: more rebases than pointers fit in the writable segments"));
        }
        self.out.push(seg.vmaddr + self.offset);
        self.offset = self.offset.wrapping_add(POINTER_SIZE).wrapping_add(skip);
        Ok(())
    }

    /// Rebases `count` consecutive pointers, each followed by `skip` bytes.
    /// Stops at the first bad one, so a huge count cannot run away.
    fn rebase_times(&mut self, opcode: &str, count: u64, skip: u64) -> Result<(), LoadError> {
        for _ in 0..count {
            self.rebase(opcode, skip)?;
        }
        Ok(())
    }
}

fn truncated(what: &str) -> LoadError {
    malformed!("{what} opcodes end in the middle of an operand")
}

/// The unslid addresses of every pointer the rebase opcodes slide.
pub(crate) fn rebase_addresses(image: &MachO) -> Result<Vec<u64>, LoadError> {
    let Some(info) = image.dyld_info else { return Ok(Vec::new()) };
    let bytes = stream(image, info.rebase, "rebase")?;
    let writable_bytes =
        image.segments.iter().filter(|s| s.writable()).fold(0u64, |sum, s| sum.saturating_add(s.vmsize));
    let max_rebases = usize::try_from(writable_bytes / POINTER_SIZE).unwrap_or(usize::MAX).min(MAX_REBASES);
    let mut state = RebaseState { image, kind: 0, segment: None, offset: 0, out: Vec::new(), max_rebases };
    let mut c = Cursor::new(bytes);
    let uleb = |c: &mut Cursor| c.uleb128().ok_or_else(|| truncated("rebase"));
    while let Some(byte) = c.byte() {
        let immediate = byte & IMMEDIATE_MASK;
        match byte & OPCODE_MASK {
            REBASE_OPCODE_DONE => {
                if c.remaining() > MAX_REBASE_PADDING {
                    return Err(malformed!(
                        "rebase opcodes terminated early at offset {} of {}",
                        c.position(),
                        bytes.len()
                    ));
                }
                break;
            }
            REBASE_OPCODE_SET_TYPE_IMM => state.kind = immediate,
            REBASE_OPCODE_SET_SEGMENT_AND_OFFSET_ULEB => {
                state.segment = Some(usize::from(immediate));
                state.offset = uleb(&mut c)?;
            }
            REBASE_OPCODE_ADD_ADDR_ULEB => state.offset = state.offset.wrapping_add(uleb(&mut c)?),
            REBASE_OPCODE_ADD_ADDR_IMM_SCALED => {
                state.offset = state.offset.wrapping_add(u64::from(immediate) * POINTER_SIZE)
            }
            REBASE_OPCODE_DO_REBASE_IMM_TIMES => {
                state.rebase_times("REBASE_OPCODE_DO_REBASE_IMM_TIMES", u64::from(immediate), 0)?
            }
            REBASE_OPCODE_DO_REBASE_ULEB_TIMES => {
                let count = uleb(&mut c)?;
                state.rebase_times("REBASE_OPCODE_DO_REBASE_ULEB_TIMES", count, 0)?;
            }
            REBASE_OPCODE_DO_REBASE_ADD_ADDR_ULEB => {
                let skip = uleb(&mut c)?;
                state.rebase("REBASE_OPCODE_DO_REBASE_ADD_ADDR_ULEB", skip)?;
            }
            REBASE_OPCODE_DO_REBASE_ULEB_TIMES_SKIPPING_ULEB => {
                let count = uleb(&mut c)?;
                let skip = uleb(&mut c)?;
                state.rebase_times("REBASE_OPCODE_DO_REBASE_ULEB_TIMES_SKIPPING_ULEB", count, skip)?;
            }
            other => return Err(malformed!("unknown rebase opcode 0x{other:02x} at offset {}", c.position() - 1)),
        }
    }
    Ok(state.out)
}

/// The opcode bytes of `blob` (validate.rs has checked they lie in `__LINKEDIT`).
fn stream<'a>(image: &MachO<'a>, blob: Blob, what: &str) -> Result<&'a [u8], LoadError> {
    blob.bytes(image.data).ok_or_else(|| malformed!("{what} opcodes lie outside the file"))
}

/// Refuses an image whose bind, weak-bind or lazy-bind opcodes bind a
/// symbol: nothing can be imported here.
pub(crate) fn check_no_binds(image: &MachO) -> Result<(), LoadError> {
    let Some(info) = image.dyld_info else { return Ok(()) };
    for (what, blob, lazy) in
        [("bind", info.bind, false), ("weak bind", info.weak_bind, false), ("lazy bind", info.lazy_bind, true)]
    {
        scan_binds(stream(image, blob, what)?, what, lazy)?;
    }
    Ok(())
}

fn scan_binds(bytes: &[u8], what: &str, lazy: bool) -> Result<(), LoadError> {
    let mut c = Cursor::new(bytes);
    let mut symbol = String::new();
    let mut ordinal: i64 = 0;
    let uleb = |c: &mut Cursor| c.uleb128().ok_or_else(|| truncated(what));
    while let Some(byte) = c.byte() {
        let immediate = byte & IMMEDIATE_MASK;
        match byte & OPCODE_MASK {
            // Lazy-bind entries are each terminated by DONE.
            BIND_OPCODE_DONE if lazy => {}
            BIND_OPCODE_DONE => break,
            BIND_OPCODE_SET_DYLIB_ORDINAL_IMM => ordinal = i64::from(immediate),
            BIND_OPCODE_SET_DYLIB_ORDINAL_ULEB => ordinal = uleb(&mut c)? as i64,
            // Special ordinals are small negative numbers: sign-extend the
            // 4-bit immediate by filling the high nibble.
            BIND_OPCODE_SET_DYLIB_SPECIAL_IMM => {
                ordinal = if immediate == 0 { 0 } else { i64::from((immediate | OPCODE_MASK) as i8) }
            }
            BIND_OPCODE_SET_SYMBOL_TRAILING_FLAGS_IMM => {
                symbol = c.c_string().ok_or_else(|| malformed!("{what} opcodes: unterminated symbol name"))?
            }
            BIND_OPCODE_SET_TYPE_IMM => {}
            BIND_OPCODE_SET_ADDEND_SLEB => {
                c.sleb128().ok_or_else(|| truncated(what))?;
            }
            BIND_OPCODE_SET_SEGMENT_AND_OFFSET_ULEB | BIND_OPCODE_ADD_ADDR_ULEB => {
                uleb(&mut c)?;
            }
            BIND_OPCODE_DO_BIND
            | BIND_OPCODE_DO_BIND_ADD_ADDR_ULEB
            | BIND_OPCODE_DO_BIND_ADD_ADDR_IMM_SCALED
            | BIND_OPCODE_DO_BIND_ULEB_TIMES_SKIPPING_ULEB
            | BIND_OPCODE_THREADED => {
                return Err(unsupported!(
                "{what} opcodes bind symbol {symbol:?} from library ordinal {ordinal}: imports are not provided here"
            ))
            }
            other => return Err(malformed!("unknown {what} opcode 0x{other:02x} at offset {}", c.position() - 1)),
        }
    }
    Ok(())
}
