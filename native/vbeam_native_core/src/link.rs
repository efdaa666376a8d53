//! The internal linker: lays out code, data and bss for the chosen file
//! format, patches every fixup the code generator left, and hands the
//! finished sections to the format's writer.

use crate::code::Fixup;
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

/// Links the program and writes the executable file image.
pub fn link(input: &LinkInput) -> Result<Vec<u8>, CompileError> {
    let _ = input;
    unimplemented!("linker not written yet")
}
