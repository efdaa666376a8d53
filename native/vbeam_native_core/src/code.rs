//! The buffer machine code is emitted into: bytes, bound labels and the
//! fixups that the function (local labels) or the linker (symbols) patches.

use std::collections::HashMap;

/// What a fixup refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelocTarget {
    /// A label local to the function being emitted.
    Label(u32),
    /// A function of the linked program (user function, runtime routine or
    /// stub), by its index in the link's symbol table.
    Function(u32),
    /// A data or bss entry, by its index in the link's data table.
    Data(u32),
    /// A function or data entry by name, as index in the buffer's
    /// `symbols`: a function is lowered before the program's symbol tables
    /// exist, and its references are resolved when functions are joined.
    Symbol(u32),
}

pub use crate::ir::Symbol;

/// How a fixup field is computed and written. `S` is the target's address,
/// `P` the address of the fixup field, `A` the addend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelocKind {
    /// x86_64: 32-bit `S + A - (P + 4)`, for jmp/jcc/call rel32 and
    /// RIP-relative operands whose displacement ends the instruction.
    X86Rel32,
    /// arm64 B/BL: imm26 = (S - P) / 4.
    Arm64Branch26,
    /// arm64 B.cond/CBZ/CBNZ: imm19 = (S - P) / 4, bits 5..24.
    Arm64Branch19,
    /// arm64 ADRP: page delta (S >> 12) - (P >> 12) in immhi:immlo.
    Arm64AdrpPage21,
    /// arm64 ADD (immediate): the low 12 bits of S in imm12.
    Arm64AddLo12,
    /// arm64 64-bit LDR (unsigned offset): the low 12 bits of S, a
    /// multiple of 8, scaled in imm12.
    Arm64Load64Lo12,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixup {
    /// Byte offset of the instruction (arm64) or of the 32-bit field (x86) in
    /// the buffer.
    pub offset: u32,
    pub kind: RelocKind,
    pub target: RelocTarget,
    pub addend: i64,
}

#[derive(Default, Debug, Clone)]
pub struct CodeBuffer {
    pub bytes: Vec<u8>,
    /// Where a function's frame pointer starts pointing at its own frame
    /// record: the code before runs with the caller's (`runtime::faults`).
    pub frame_ready: u32,
    /// Conditional branches to local labels reach any distance (arm64:
    /// `b.<inverse>` over a `b`), for a function whose code outgrows their
    /// reach.
    pub long_branches: bool,
    /// Offset of each bound local label.
    labels: Vec<Option<u32>>,
    pub fixups: Vec<Fixup>,
    /// The names `RelocTarget::Symbol` fixups refer to, each once.
    pub symbols: Vec<Symbol>,
    function_symbols: HashMap<String, u32>,
    data_symbols: HashMap<String, u32>,
    /// The assembly text of the code as it is emitted, when a listing
    /// (`-S`) is asked for.
    pub listing: Option<Box<Listing>>,
    /// Where the code of each IR instruction starts (its offset, then the
    /// instruction's index or `NO_INSTRUCTION`), when debug information
    /// (`-g`) is asked for.
    pub ir_starts: Option<Vec<(u32, u32)>>,
    /// With `-g`: where the code of each IR instruction starts and where
    /// the instruction comes from (`Function::sources`), for the line
    /// table; and the places its `loc` instructions name.
    pub lines: Vec<(u32, u32)>,
    pub locs: Vec<crate::ir::SourceLoc>,
    /// The bytes between the stack pointer at the call and the frame
    /// record, once the frame is made (arm64's frame record is at the
    /// frame's bottom): for the debug information's call frames.
    pub frame_size: u32,
}

/// `CodeBuffer::ir_starts`' index of code that is no IR instruction's.
pub const NO_INSTRUCTION: u32 = u32::MAX;

/// One function's code as assembly text (`-S`), written as the code is
/// emitted: an instruction's text as it is encoded, a label's as it is
/// bound.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Makes the function's label names unique in the listing: `.L{n}`.
    label_prefix: String,
    /// Names of the IR's labels; the lowering's own labels come after.
    ir_labels: Vec<String>,
    pub text: String,
    /// Where the lowering of each IR instruction starts: the offset in
    /// `text` and the instruction's index, in order; no index for code
    /// the lowering adds of its own (the division-by-zero exit).
    pub ir_starts: Vec<(usize, Option<u32>)>,
}

impl Listing {
    /// The listing of function number `number` (in its listing) whose IR
    /// labels are `ir_labels`.
    pub fn new(number: usize, ir_labels: Vec<String>) -> Listing {
        Listing { label_prefix: format!(".L{number}"), ir_labels, text: String::new(), ir_starts: Vec::new() }
    }
    /// The same function's listing, empty.
    pub fn restarted(&self) -> Listing {
        Listing { text: String::new(), ir_starts: Vec::new(), ..self.clone() }
    }
    /// The assembler's name of local label `label`: `.L3.loop` for the
    /// IR's label `loop` in function 3, `.L3_12` for the lowering's own.
    pub fn label(&self, label: u32) -> String {
        match self.ir_labels.get(label as usize) {
            Some(name) => symbol_text(&format!("{}.{name}", self.label_prefix)),
            None => format!("{}_{label}", self.label_prefix),
        }
    }
}

/// A symbol name as the assembler reads it: quoted unless it is made of
/// letters, digits, `_`, `.` and `$` only (and starts with no digit).
pub fn symbol_text(name: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_.$".contains(c);
    if name.chars().all(plain) && !name.starts_with(|c: char| c.is_ascii_digit()) && !name.is_empty() {
        return name.to_string();
    }
    let mut quoted = String::from('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted + "\""
}

impl CodeBuffer {
    pub fn new() -> CodeBuffer {
        CodeBuffer::default()
    }
    /// An empty buffer with room for `bytes` bytes of code.
    pub fn with_capacity(bytes: usize) -> CodeBuffer {
        CodeBuffer { bytes: Vec::with_capacity(bytes), ..CodeBuffer::default() }
    }
    pub fn offset(&self) -> u32 {
        self.bytes.len() as u32
    }
    pub fn put1(&mut self, b: u8) {
        self.bytes.push(b);
    }
    pub fn put4(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    pub fn put8(&mut self, v: u64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    pub fn put_bytes(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(b);
    }
    /// Records a fixup at `offset` (see `Fixup::offset`).
    pub fn fixup(&mut self, offset: u32, kind: RelocKind, target: RelocTarget) {
        self.fixups.push(Fixup { offset, kind, target, addend: 0 });
    }
    /// The fixup target for function `name`.
    pub fn function_symbol(&mut self, name: &str) -> RelocTarget {
        Self::intern(&mut self.symbols, &mut self.function_symbols, name, Symbol::Function)
    }
    /// The fixup target for `symbol`.
    pub fn symbol(&mut self, symbol: &Symbol) -> RelocTarget {
        match symbol {
            Symbol::Function(name) => self.function_symbol(name),
            Symbol::Data(name) => self.data_symbol(name),
        }
    }
    /// The fixup target for data or bss entry `name`.
    pub fn data_symbol(&mut self, name: &str) -> RelocTarget {
        Self::intern(&mut self.symbols, &mut self.data_symbols, name, Symbol::Data)
    }
    fn intern(
        symbols: &mut Vec<Symbol>,
        index: &mut HashMap<String, u32>,
        name: &str,
        symbol: fn(String) -> Symbol,
    ) -> RelocTarget {
        if let Some(&i) = index.get(name) {
            return RelocTarget::Symbol(i);
        }
        let i = symbols.len() as u32;
        symbols.push(symbol(name.to_string()));
        index.insert(name.to_string(), i);
        RelocTarget::Symbol(i)
    }
    /// Adds a machine instruction to the listing, if one is kept: `text`
    /// prints it, given the listing and the names of `symbols`.
    #[inline]
    pub fn list(&mut self, text: impl FnOnce(&Listing, &[Symbol], bool) -> String) {
        if let Some(listing) = &mut self.listing {
            let line = text(listing, &self.symbols, self.long_branches);
            listing.text.push('\t');
            listing.text.push_str(&line);
            listing.text.push('\n');
        }
    }
    /// Marks where the code of IR instruction `index` (None: of no IR
    /// instruction) starts, if a listing or debug information is kept.
    #[inline]
    pub fn list_ir(&mut self, index: Option<usize>) {
        if let Some(listing) = &mut self.listing {
            listing.ir_starts.push((listing.text.len(), index.map(|i| i as u32)));
        }
        if let Some(starts) = &mut self.ir_starts {
            starts.push((self.bytes.len() as u32, index.map_or(NO_INSTRUCTION, |i| i as u32)));
        }
    }
    /// Binds a local label to the current offset.
    pub fn bind_label(&mut self, label: u32) {
        if let Some(listing) = &mut self.listing {
            let line = format!("{}:\n", listing.label(label));
            listing.text.push_str(&line);
        }
        let i = label as usize;
        if self.labels.len() <= i {
            self.labels.resize(i + 1, None);
        }
        self.labels[i] = Some(self.offset());
    }
    pub fn label_offset(&self, label: u32) -> Option<u32> {
        self.labels.get(label as usize).copied().flatten()
    }
    /// Patches every fixup to a local label in place and drops it; the
    /// others stay for the linker. Fails with the first unbound label.
    pub fn resolve_labels(&mut self) -> Result<(), u32> {
        let fixups = std::mem::take(&mut self.fixups);
        for f in fixups {
            match f.target {
                RelocTarget::Label(l) => {
                    let target = self.label_offset(l).ok_or(l)?;
                    apply(&mut self.bytes, f.offset as usize, f.kind, f.offset as u64, target as u64 + f.addend as u64)
                        .map_err(|_| l)?;
                }
                _ => self.fixups.push(f),
            }
        }
        Ok(())
    }
}

/// A fixup that cannot be encoded (target out of range or misaligned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfRange;

/// Writes the fixup field at `bytes[at..]` for a field at address `p`
/// pointing to address `s` (both in the same address space).
pub fn apply(bytes: &mut [u8], at: usize, kind: RelocKind, p: u64, s: u64) -> Result<(), OutOfRange> {
    let delta = s.wrapping_sub(p) as i64;
    let read32 = |b: &[u8]| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let word = match kind {
        RelocKind::X86Rel32 => {
            let v = delta - 4;
            i32::try_from(v).map_err(|_| OutOfRange)? as u32
        }
        RelocKind::Arm64Branch26 => {
            if delta % 4 != 0 || !(-(1 << 27)..(1 << 27)).contains(&delta) {
                return Err(OutOfRange);
            }
            (read32(bytes) & !0x03ff_ffff) | ((delta >> 2) as u32 & 0x03ff_ffff)
        }
        RelocKind::Arm64Branch19 => {
            if delta % 4 != 0 || !(-(1 << 20)..(1 << 20)).contains(&delta) {
                return Err(OutOfRange);
            }
            (read32(bytes) & !(0x7ffff << 5)) | (((delta >> 2) as u32 & 0x7ffff) << 5)
        }
        RelocKind::Arm64AdrpPage21 => {
            let pages = (s >> 12) as i64 - (p >> 12) as i64;
            if !(-(1 << 20)..(1 << 20)).contains(&pages) {
                return Err(OutOfRange);
            }
            let imm = pages as u32 & 0x1f_ffff;
            let (lo, hi) = (imm & 3, imm >> 2);
            (read32(bytes) & !(3 << 29 | 0x7ffff << 5)) | lo << 29 | hi << 5
        }
        RelocKind::Arm64AddLo12 => (read32(bytes) & !(0xfff << 10)) | ((s & 0xfff) as u32) << 10,
        RelocKind::Arm64Load64Lo12 => {
            if !s.is_multiple_of(8) {
                return Err(OutOfRange);
            }
            (read32(bytes) & !(0xfff << 10)) | ((s & 0xfff) as u32 >> 3) << 10
        }
    };
    bytes[at..at + 4].copy_from_slice(&word.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_takes_the_low_twelve_bits_scaled_by_eight() {
        // ldr x16, [x16], then as `ldr x16, [x16, #1656]` (llvm-mc).
        let mut word = 0xf940_0210u32.to_le_bytes();
        assert_eq!(apply(&mut word, 0, RelocKind::Arm64Load64Lo12, 0x1000, 0x1234_5678), Ok(()));
        assert_eq!(word, [0x10, 0x3e, 0x43, 0xf9]);
        assert_eq!(apply(&mut word, 0, RelocKind::Arm64Load64Lo12, 0x1000, 0x1234_5674), Err(OutOfRange));
    }
}
