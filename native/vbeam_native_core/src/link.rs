//! The internal linker: lays out code, data and bss for the chosen file
//! format, patches every fixup the code generator left, and hands the
//! finished sections to the format's writer.

use crate::code::{self, Fixup, RelocTarget};
use crate::elf;
use crate::error::CompileError;
use crate::ir::{Format, Target};

/// A function's place in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionSymbol {
    pub name: String,
    /// Offset of the first instruction from the start of the text.
    pub offset: u32,
    pub size: u32,
    /// Exported functions become global symbols.
    pub global: bool,
}

/// A data or bss entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSymbol {
    pub name: String,
    pub align: u64,
    /// The initial bytes, or `None` for a zero-filled (bss) entry of `size`.
    pub bytes: Option<Vec<u8>>,
    pub size: u64,
}

/// Everything the code generator produced for one program.
#[derive(Clone, Debug)]
pub struct LinkInput {
    pub target: Target,
    pub format: Format,
    /// The machine code of every function, concatenated.
    pub text: Vec<u8>,
    /// Fixups against `RelocTarget::Function` (an index into `functions`)
    /// and `RelocTarget::Data` (an index into `data`); offsets are relative
    /// to the start of `text`.
    pub fixups: Vec<Fixup>,
    pub functions: Vec<FunctionSymbol>,
    pub data: Vec<DataSymbol>,
    /// Index into `functions` of the process entry point.
    pub entry: u32,
}

/// Where the linker put everything, in the process's address space.
#[derive(Clone, Debug)]
pub struct Layout {
    pub text_addr: u64,
    /// Address of each entry of `LinkInput::data`.
    pub data_addrs: Vec<u64>,
    /// Start of the writable segment (the first data or bss entry).
    pub data_start: u64,
    /// Bytes of initialised data from `data_start` (bss follows).
    pub data_file_size: u64,
    /// Bytes of the writable segment in memory, bss included.
    pub data_mem_size: u64,
}

impl Layout {
    pub fn function_addr(&self, input: &LinkInput, index: u32) -> u64 {
        self.text_addr + input.functions[index as usize].offset as u64
    }
}

/// Lays out the writable segment: initialised entries first (they occupy
/// file bytes), then zero-filled ones, each at its alignment, starting at
/// `data_start`. Returns the addresses by input index and the two sizes.
pub fn layout_data(data: &[DataSymbol], data_start: u64) -> (Vec<u64>, u64, u64) {
    let mut addrs = vec![0; data.len()];
    let mut at = data_start;
    let mut place = |i: usize, d: &DataSymbol| {
        at = at.next_multiple_of(d.align.max(1));
        addrs[i] = at;
        at += d.size;
        at
    };
    let mut file_end = data_start;
    for (i, d) in data.iter().enumerate().filter(|(_, d)| d.bytes.is_some()) {
        file_end = place(i, d);
    }
    let mut mem_end = file_end;
    for (i, d) in data.iter().enumerate().filter(|(_, d)| d.bytes.is_none()) {
        mem_end = place(i, d);
    }
    (addrs, file_end - data_start, mem_end - data_start)
}

/// The largest alignment any data entry asks for (at least 16).
pub fn max_data_align(data: &[DataSymbol]) -> u64 {
    data.iter().map(|d| d.align).max().unwrap_or(1).max(16)
}

/// Patches every fixup of `text` (placed at `layout.text_addr`).
pub fn apply_fixups(input: &LinkInput, layout: &Layout, text: &mut [u8]) -> Result<(), CompileError> {
    for f in &input.fixups {
        let target = match f.target {
            RelocTarget::Function(i) => layout.function_addr(input, i),
            RelocTarget::Data(i) => layout.data_addrs[i as usize],
            RelocTarget::Label(_) | RelocTarget::Symbol(_) => {
                unreachable!("labels are resolved per function, symbols when functions are joined")
            }
        };
        let p = layout.text_addr + f.offset as u64;
        code::apply(text, f.offset as usize, f.kind, p, target.wrapping_add(f.addend as u64)).map_err(|_| {
            CompileError::TooLarge(format!(
                "a reference from offset {:#x} of the code cannot reach {target:#x}",
                f.offset
            ))
        })?;
    }
    Ok(())
}

/// Links the program and writes the executable file image.
pub fn link(input: LinkInput) -> Result<Vec<u8>, CompileError> {
    match input.format {
        Format::Elf64 => elf::write(input),
        Format::Macho | Format::Pe => Err(CompileError::Unsupported {
            target: input.target.name(),
            format: input.format.name(),
            reason: "this file format is not written yet".into(),
        }),
    }
}
