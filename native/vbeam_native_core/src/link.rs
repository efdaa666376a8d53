//! The linker: joins the functions' code into one text section, lays out
//! data and bss, asks the format's writer where the sections go, and
//! patches every reference: the result is the `Image` a writer puts in a
//! file (`format::write`).

use std::collections::HashMap;

use crate::code::{self, CodeBuffer, Fixup, RelocTarget};
use crate::error::CompileError;
use crate::format;
use crate::image::{FunctionSymbol, Image, PlacedData, Section, Sizes};
use crate::ir::{DataRef, Isa, Symbol};
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
    /// The absolute addresses the bytes hold (never in read-only data: the
    /// formats relocate only writable memory).
    pub refs: Vec<DataRef>,
    /// Constant bytes the program never writes: the backend's texts and
    /// string literals' bytes, kept apart from what it writes.
    pub read_only: bool,
}

impl DataSymbol {
    fn section(&self) -> Section {
        match (&self.bytes, self.read_only) {
            (None, _) => Section::Bss,
            (Some(_), true) => Section::ReadOnly,
            (Some(_), false) => Section::Data,
        }
    }
}

/// Links `functions` (the entry point is number `entry`) and `data` into
/// an image for `target`, every address final.
pub fn link(
    target: Target,
    functions: Vec<FunctionCode>,
    data: Vec<DataSymbol>,
    entry: usize,
) -> Result<Image, CompileError> {
    let writer = format::writer(target);
    let names = Names::new(&functions, &data);
    let (mut text, fixups, symbols) = join(target.isa, &functions, &names);
    let align_of = |read_only: bool| {
        let aligns = data.iter().filter(|d| d.read_only == read_only).map(|d| d.align);
        aligns.max().unwrap_or(1).max(MIN_DATA_ALIGN)
    };
    let (data_align, rodata_align) = (align_of(false), align_of(true));
    let layout = layout_data(&data, data_align);
    let has = |section| data.iter().any(|d| d.section() == section);
    let sizes = Sizes {
        text: text.len() as u64,
        rodata: layout.rodata_size,
        rodata_align,
        data: layout.data_size,
        data_in_memory: layout.data_in_memory,
        data_align,
        read_only_entries: has(Section::ReadOnly),
        initialised_entries: has(Section::Data),
        zero_filled_entries: has(Section::Bss),
    };
    let placement = writer.place(target, &sizes);
    let base = |section| match section {
        Section::ReadOnly => placement.rodata_addr,
        Section::Data | Section::Bss => placement.data_addr,
    };
    let data_addrs: Vec<u64> = data.iter().zip(&layout.offsets).map(|(d, o)| base(d.section()) + o).collect();
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
            let from = symbols.iter().rev().find(|s| s.offset <= f.offset).map_or("", |s| s.name.as_str());
            let target = match f.target {
                RelocTarget::Function(i) => format!("function {}", symbols[i as usize].name),
                RelocTarget::Data(i) => format!("entry {}", data[i as usize].name),
                RelocTarget::Label(_) | RelocTarget::Symbol(_) => unreachable!("resolved above"),
            };
            CompileError::TooLarge(format!("{from} refers to {target}, beyond the reach of its instruction"))
        })?;
    }
    let mut initialised = vec![0u8; layout.data_size as usize];
    let mut rodata = vec![0u8; layout.rodata_size as usize];
    let mut absolute_pointers = Vec::new();
    for (d, offset) in data.iter().zip(&layout.offsets) {
        let Some(bytes) = &d.bytes else { continue };
        let at = *offset as usize;
        if d.read_only {
            debug_assert!(d.refs.is_empty(), "read-only data holds no addresses");
            rodata[at..at + bytes.len()].copy_from_slice(bytes);
            continue;
        }
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
        .map(|(d, addr)| PlacedData { section: d.section(), name: d.name, addr, size: d.size })
        .collect();
    Ok(Image {
        target,
        entry: function_addr(entry as u32),
        placement,
        text,
        rodata,
        data: initialised,
        bss_size: layout.data_in_memory - layout.data_size,
        functions: symbols,
        data_symbols,
        sizes,
        absolute_pointers,
        debug_sections: Vec::new(),
    })
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

/// Where data entries go: each entry's offset from its section's start,
/// and the sections' sizes.
struct DataLayout {
    offsets: Vec<u64>,
    rodata_size: u64,
    /// Initialised writable bytes (padding included).
    data_size: u64,
    /// The writable section in memory, bss included.
    data_in_memory: u64,
}

/// Lays out the read-only entries, then the writable section:
/// initialised entries first (they occupy file bytes), then zero-filled
/// ones from the section alignment `align` on, each entry at its own
/// alignment.
fn layout_data(data: &[DataSymbol], align: u64) -> DataLayout {
    let mut offsets = vec![0; data.len()];
    let mut place_all = |section: Section, mut at: u64| {
        for (i, d) in data.iter().enumerate().filter(|(_, d)| d.section() == section) {
            at = at.next_multiple_of(d.align.max(1));
            offsets[i] = at;
            at += d.size;
        }
        at
    };
    let rodata_size = place_all(Section::ReadOnly, 0);
    let mut data_size = place_all(Section::Data, 0);
    // The zero-filled section starts aligned, like the initialised one.
    if data.iter().any(|d| d.section() == Section::Bss) {
        data_size = data_size.next_multiple_of(align);
    }
    let data_in_memory = place_all(Section::Bss, data_size);
    DataLayout { offsets, rodata_size, data_size, data_in_memory }
}
