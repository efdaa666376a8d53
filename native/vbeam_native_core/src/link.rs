//! The linker: joins the functions' code into one text section, lays out
//! data and bss, asks the format's writer where the sections go, patches
//! every reference, and hands the finished image to the writer.

use std::collections::HashMap;

use crate::code::{self, CodeBuffer, Fixup, RelocTarget};
use crate::error::CompileError;
use crate::format::{self, Placement};
use crate::ir::Isa;
use crate::ir::{DataRef, Symbol};
use crate::target::Target;

/// Functions start on this boundary (a cache-line fraction both ISAs like).
const FUNCTION_ALIGN: usize = 16;
/// The data section's start is aligned at least this much.
const MIN_DATA_ALIGN: u64 = 16;

/// One function's machine code, its references still by name.
#[derive(Debug)]
pub struct FunctionCode {
    pub name: String,
    /// Exported functions become global symbols.
    pub global: bool,
    pub code: CodeBuffer,
}

/// A data or bss entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSymbol {
    pub name: String,
    pub align: u64,
    /// The initial bytes, or `None` for a zero-filled (bss) entry of `size`.
    pub bytes: Option<Vec<u8>>,
    pub size: u64,
    /// The absolute addresses the bytes hold.
    pub refs: Vec<DataRef>,
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
    /// A bss entry: in memory only.
    pub zero_filled: bool,
}

/// The linked program, every address final: what a writer puts in a file.
#[derive(Debug)]
pub struct Image {
    pub target: Target,
    pub placement: Placement,
    pub text: Vec<u8>,
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
}

impl Image {
    pub fn text_addr(&self) -> u64 {
        self.placement.text_addr
    }
    pub fn function_addr(&self, f: &FunctionSymbol) -> u64 {
        self.placement.text_addr + f.offset as u64
    }
}

/// The sizes a writer lays its sections out from.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub text: u64,
    /// Initialised data bytes.
    pub data: u64,
    /// Data and bss together, in memory.
    pub data_in_memory: u64,
    /// The data section's alignment (a power of two, at least 16).
    pub data_align: u64,
    /// Whether there are initialised entries, and zero-filled ones (each
    /// kind has its section, even when its entries are empty).
    pub initialised_entries: bool,
    pub zero_filled_entries: bool,
}

/// Links `functions` (the entry point is number `entry`) and `data` into
/// an executable file for `target`.
pub fn link(
    target: Target,
    functions: Vec<FunctionCode>,
    data: Vec<DataSymbol>,
    entry: usize,
) -> Result<Vec<u8>, CompileError> {
    let writer = format::writer(target);
    let names = Names::new(&functions, &data);
    let (mut text, fixups, symbols) = join(target.isa, &functions, &names);
    let data_align = data.iter().map(|d| d.align).max().unwrap_or(1).max(MIN_DATA_ALIGN);
    let (offsets, data_size, data_in_memory) = layout_data(&data, data_align);
    let sizes = Sizes {
        text: text.len() as u64,
        data: data_size,
        data_in_memory,
        data_align,
        initialised_entries: data.iter().any(|d| d.bytes.is_some()),
        zero_filled_entries: data.iter().any(|d| d.bytes.is_none()),
    };
    let placement = writer.place(target, &sizes);
    let data_addrs: Vec<u64> = offsets.iter().map(|o| placement.data_addr + o).collect();
    let function_addr = |i: u32| placement.text_addr + symbols[i as usize].offset as u64;
    for f in &fixups {
        let to = match f.target {
            RelocTarget::Function(i) => function_addr(i),
            RelocTarget::Data(i) => data_addrs[i as usize],
            RelocTarget::Label(_) | RelocTarget::Symbol(_) => {
                unreachable!("labels are resolved per function, symbols when functions are joined")
            }
        };
        let at = placement.text_addr + f.offset as u64;
        code::apply(&mut text, f.offset as usize, f.kind, at, to.wrapping_add(f.addend as u64)).map_err(|_| {
            CompileError::TooLarge(format!("a reference from offset {:#x} of the code cannot reach {to:#x}", f.offset))
        })?;
    }
    let mut initialised = vec![0u8; data_size as usize];
    let mut absolute_pointers = Vec::new();
    for (d, offset) in data.iter().zip(&offsets) {
        let Some(bytes) = &d.bytes else { continue };
        let at = *offset as usize;
        initialised[at..at + bytes.len()].copy_from_slice(bytes);
        for r in &d.refs {
            let to = match names.resolve(&r.symbol) {
                RelocTarget::Function(i) => function_addr(i),
                RelocTarget::Data(i) => data_addrs[i as usize],
                _ => unreachable!("names resolve to functions and data"),
            };
            let field = at + r.offset as usize;
            initialised[field..field + 8].copy_from_slice(&to.wrapping_add(r.addend as u64).to_le_bytes());
            absolute_pointers.push(placement.data_addr + field as u64);
        }
    }
    let data_symbols = data
        .into_iter()
        .zip(data_addrs)
        .map(|(d, addr)| PlacedData { name: d.name, addr, size: d.size, zero_filled: d.bytes.is_none() })
        .collect();
    let image = Image {
        target,
        entry: function_addr(entry as u32),
        placement,
        text,
        data: initialised,
        bss_size: data_in_memory - data_size,
        functions: symbols,
        data_symbols,
        sizes,
        absolute_pointers,
    };
    let mut file = writer.write(&image);
    writer.finish(&image, &mut file);
    Ok(file)
}

/// The program's functions and data entries by name.
struct Names<'a> {
    functions: HashMap<&'a str, u32>,
    data: HashMap<&'a str, u32>,
}

impl<'a> Names<'a> {
    fn new(functions: &'a [FunctionCode], data: &'a [DataSymbol]) -> Names<'a> {
        Names {
            functions: functions.iter().enumerate().map(|(i, f)| (f.name.as_str(), i as u32)).collect(),
            data: data.iter().enumerate().map(|(i, d)| (d.name.as_str(), i as u32)).collect(),
        }
    }
    fn resolve(&self, symbol: &Symbol) -> RelocTarget {
        match symbol {
            Symbol::Function(name) => {
                RelocTarget::Function(*self.functions.get(name.as_str()).expect("calls resolved by validation"))
            }
            Symbol::Data(name) => {
                RelocTarget::Data(*self.data.get(name.as_str()).expect("data references checked by validation"))
            }
        }
    }
}

/// Concatenates the functions' code, each aligned, and turns their
/// references by name into indices into the function and data tables.
fn join(isa: Isa, functions: &[FunctionCode], names: &Names) -> (Vec<u8>, Vec<Fixup>, Vec<FunctionSymbol>) {
    let pad = match isa {
        Isa::X86_64 => 0xcc, // int3
        Isa::Arm64 => 0,     // udf #0
    };
    let mut text: Vec<u8> =
        Vec::with_capacity(functions.iter().map(|f| f.code.bytes.len() + FUNCTION_ALIGN).sum::<usize>());
    let mut fixups = Vec::with_capacity(functions.iter().map(|f| f.code.fixups.len()).sum::<usize>());
    let mut symbols = Vec::with_capacity(functions.len());
    for f in functions {
        text.resize(text.len().next_multiple_of(FUNCTION_ALIGN), pad);
        let offset = text.len() as u32;
        let targets: Vec<RelocTarget> = f.code.symbols.iter().map(|s| names.resolve(s)).collect();
        fixups.extend(f.code.fixups.iter().map(|fx| Fixup {
            offset: fx.offset + offset,
            target: match fx.target {
                RelocTarget::Symbol(k) => targets[k as usize],
                other => other,
            },
            ..*fx
        }));
        text.extend_from_slice(&f.code.bytes);
        symbols.push(FunctionSymbol {
            name: f.name.clone(),
            offset,
            size: f.code.bytes.len() as u32,
            global: f.global,
        });
    }
    (text, fixups, symbols)
}

/// Lays out the writable section: initialised entries first (they occupy
/// file bytes), then zero-filled ones from the section alignment `align`
/// on, each entry at its own alignment. Returns each entry's offset from
/// the section's start, the initialised size (padding included) and the
/// size in memory.
fn layout_data(data: &[DataSymbol], align: u64) -> (Vec<u64>, u64, u64) {
    let mut offsets = vec![0; data.len()];
    let mut at = 0u64;
    let mut file_end = 0;
    for zero_filled in [false, true] {
        if zero_filled && data.iter().any(|d| d.bytes.is_none()) {
            // The zero-filled section starts aligned, like the initialised one.
            at = at.next_multiple_of(align);
            file_end = at;
        }
        for (i, d) in data.iter().enumerate().filter(|(_, d)| d.bytes.is_none() == zero_filled) {
            at = at.next_multiple_of(d.align.max(1));
            offsets[i] = at;
            at += d.size;
        }
        if !zero_filled {
            file_end = at;
        }
    }
    (offsets, file_end, at)
}
