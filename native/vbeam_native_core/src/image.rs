//! The linked program as the file writers see it: where each section goes
//! (`Placement`, chosen by the format's writer from the `Sizes`), the
//! bytes of each section with every address final, and the symbols. The
//! linker (`link`) fills it, the writers (`format`) read it: neither
//! imports the other's types.

use crate::target::Target;

/// Where a writer puts the text and the data, in memory and in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub text_addr: u64,
    pub text_offset: u64,
    pub rodata_addr: u64,
    pub rodata_offset: u64,
    pub data_addr: u64,
    pub data_offset: u64,
}

/// The sizes a writer lays its sections out from.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub text: u64,
    /// Read-only data, and its alignment (a power of two).
    pub rodata: u64,
    pub rodata_align: u64,
    /// Initialised data bytes.
    pub data: u64,
    /// Data and bss together, in memory.
    pub data_in_memory: u64,
    /// The data section's alignment (a power of two, at least 16).
    pub data_align: u64,
    /// Whether there are read-only, initialised and zero-filled entries
    /// (each kind has its section, even when its entries are empty).
    pub read_only_entries: bool,
    pub initialised_entries: bool,
    pub zero_filled_entries: bool,
}

/// The section an entry is placed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// Constant, with the code.
    ReadOnly,
    /// Initialised, writable.
    Data,
    /// Zero-filled, writable.
    Bss,
}

/// A function's place in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionSymbol {
    pub name: String,
    /// Offset of the first instruction from the start of the text.
    pub offset: u32,
    pub size: u32,
    pub global: bool,
}

/// A data or bss entry's place in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedData {
    pub name: String,
    pub addr: u64,
    pub size: u64,
    pub section: Section,
}

/// The linked program, every address final: what a writer puts in a file.
#[derive(Debug)]
pub struct Image {
    pub target: Target,
    pub placement: Placement,
    pub text: Vec<u8>,
    /// The read-only data, from `placement.rodata_addr`.
    pub rodata: Vec<u8>,
    /// The initialised data, from `placement.data_addr`.
    pub data: Vec<u8>,
    /// Zero-filled bytes after `data`.
    pub bss_size: u64,
    pub functions: Vec<FunctionSymbol>,
    pub data_symbols: Vec<PlacedData>,
    /// Address of the process entry point.
    pub entry: u64,
    /// The sizes `placement` was computed from.
    pub sizes: Sizes,
    /// Addresses where an absolute address is stored, in ascending order:
    /// what a loader moving the image must adjust.
    pub absolute_pointers: Vec<u64>,
    /// Sections no loader reads, by name: the debug information of `-g`
    /// (`.debug_info`, …), empty without it.
    pub debug_sections: Vec<(&'static str, Vec<u8>)>,
}

impl Image {
    pub fn text_addr(&self) -> u64 {
        self.placement.text_addr
    }
    pub fn function_addr(&self, f: &FunctionSymbol) -> u64 {
        self.placement.text_addr + f.offset as u64
    }
    /// The bytes of the read-only entry `name`.
    pub fn read_only_bytes_mut(&mut self, name: &str) -> Option<&mut [u8]> {
        let entry = self.data_symbols.iter().find(|d| d.name == name && d.section == Section::ReadOnly)?;
        let at = (entry.addr - self.placement.rodata_addr) as usize;
        Some(&mut self.rodata[at..at + entry.size as usize])
    }
}
