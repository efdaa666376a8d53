//! Debug information (`-g`): the DWARF a debugger reads to name the
//! source line of an address and to unwind a frame, for ELF executables.
//!
//! - One compile unit for the module's text, a subprogram for every
//!   function (the runtime's marked artificial) with its address range.
//! - A line table mapping the code of each instruction to where the
//!   instruction it comes from is in the text (`Function::sources`): the
//!   prologue belongs to the function's first line, and the first
//!   instruction's code is marked as the end of the prologue.
//! - Call frame information (`.debug_frame`) for every function with a
//!   frame record: x86_64 `push rbp; mov rbp, rsp` (the canonical frame
//!   address rbp + 16 once the frame pointer is set); arm64 the record at
//!   the frame's bottom (x29 + the frame's size). Within a prologue that
//!   moves the stack pointer more than once (arm64's, or a probed frame),
//!   the entry's rule holds until the frame pointer is set.

use std::collections::HashMap;

use gimli::write::{
    Address, AttributeValue, CallFrameInstruction, CommonInformationEntry, DwarfUnit, EndianVec, FileId,
    FrameDescriptionEntry, FrameTable, LineProgram, LineString, Sections,
};
use gimli::{Encoding, Format, LineEncoding, LittleEndian, Register};

use crate::image::Image;
use crate::ir::{Isa, SourceLoc, LOC_PLACE, NO_SOURCE};

/// The line and column (1-based) of each byte offset of the module's text;
/// none for a module without text.
pub type Positions<'a> = &'a dyn Fn(&[usize]) -> Vec<(usize, usize)>;

/// What the debug information says of one function of the image (the
/// functions of `Image::functions`, in the same order).
pub struct DebugFunction {
    /// Rows of the line table: an offset in the function's code and the
    /// place of the instruction whose code starts there (`Function::sources`).
    pub lines: Vec<(u32, u32)>,
    /// The places its `loc` instructions name.
    pub locs: Vec<SourceLoc>,
    /// Whether it keeps a frame record, set `frame_ready` bytes in, with
    /// the caller's stack pointer `frame_size` bytes above it on arm64.
    pub framed: bool,
    pub frame_ready: u32,
    pub frame_size: u32,
    /// One of the runtime's routines.
    pub runtime: bool,
}

/// The DWARF sections of `image`, whose text is named `source_name`;
/// `positions` gives the line and column of byte offsets of the text.
pub fn sections(
    image: &Image,
    functions: &[DebugFunction],
    source_name: &str,
    positions: Positions,
) -> Vec<(&'static str, Vec<u8>)> {
    let encoding = Encoding { format: Format::Dwarf32, version: 4, address_size: 8 };
    let mut dwarf = DwarfUnit::new(encoding);
    let comp_dir = std::env::current_dir().map(|d| d.to_string_lossy().into_owned()).unwrap_or_default();
    let mut program = LineProgram::new(
        encoding,
        LineEncoding::default(),
        LineString::String(comp_dir.clone().into_bytes()),
        LineString::String(source_name.as_bytes().to_vec()),
        None,
    );
    let mut files = Files { ids: HashMap::new() };
    let file = files.id(&mut program, source_name);
    let places = Places::of(functions, positions);
    let first_lines: Vec<Option<(FileId, u64)>> = functions
        .iter()
        .zip(&image.functions)
        .map(|(f, symbol)| {
            let place = |at: u32| match at {
                NO_SOURCE => None,
                at if at >= LOC_PLACE => {
                    let loc = &f.locs[(at - LOC_PLACE) as usize];
                    Some((files.id(&mut program, &loc.file), u64::from(loc.line), u64::from(loc.column)))
                }
                at => places.get(at).map(|(line, column)| (file, line, column)),
            };
            let rows = rows(f, place);
            add_sequence(&mut program, &rows, image.function_addr(symbol), symbol.size)
        })
        .collect();
    dwarf.unit.line_program = program;

    let root = dwarf.unit.root();
    let unit = dwarf.unit.get_mut(root);
    unit.set(gimli::DW_AT_producer, AttributeValue::String(b"vbeam_native".to_vec()));
    unit.set(gimli::DW_AT_language, AttributeValue::Language(gimli::DW_LANG_Mips_Assembler));
    unit.set(gimli::DW_AT_name, AttributeValue::String(source_name.as_bytes().to_vec()));
    unit.set(gimli::DW_AT_comp_dir, AttributeValue::String(comp_dir.into_bytes()));
    unit.set(gimli::DW_AT_low_pc, AttributeValue::Address(Address::Constant(image.text_addr())));
    unit.set(gimli::DW_AT_high_pc, AttributeValue::Udata(image.text.len() as u64));
    for ((f, symbol), first_line) in functions.iter().zip(&image.functions).zip(first_lines) {
        let id = dwarf.unit.add(root, gimli::DW_TAG_subprogram);
        let name = dwarf.strings.add(symbol.name.as_bytes());
        let sub = dwarf.unit.get_mut(id);
        sub.set(gimli::DW_AT_name, AttributeValue::StringRef(name));
        sub.set(gimli::DW_AT_low_pc, AttributeValue::Address(Address::Constant(image.function_addr(symbol))));
        sub.set(gimli::DW_AT_high_pc, AttributeValue::Udata(u64::from(symbol.size)));
        if symbol.global {
            sub.set(gimli::DW_AT_external, AttributeValue::Flag(true));
        }
        if f.runtime {
            sub.set(gimli::DW_AT_artificial, AttributeValue::Flag(true));
        }
        if let Some((file, line)) = first_line {
            sub.set(gimli::DW_AT_decl_file, AttributeValue::FileIndex(Some(file)));
            sub.set(gimli::DW_AT_decl_line, AttributeValue::Udata(line));
        }
    }

    let mut sections = Sections::new(EndianVec::new(LittleEndian));
    dwarf.write(&mut sections).expect("the unit is complete");
    frames(image, functions).write_debug_frame(&mut sections.debug_frame).expect("the entries are complete");
    let mut out = Vec::new();
    sections
        .for_each(|id, data| {
            if !data.slice().is_empty() {
                out.push((id.name(), data.slice().to_vec()));
            }
            Ok::<(), ()>(())
        })
        .expect("nothing fails");
    out
}

/// The line and column of every place the functions' rows name.
struct Places {
    offsets: Vec<u32>,
    positions: Vec<(usize, usize)>,
}

impl Places {
    fn of(functions: &[DebugFunction], positions: Positions) -> Places {
        let mut offsets: Vec<u32> =
            functions.iter().flat_map(|f| f.lines.iter().map(|&(_, at)| at)).filter(|&at| at < LOC_PLACE).collect();
        offsets.sort_unstable();
        offsets.dedup();
        let wide: Vec<usize> = offsets.iter().map(|&at| at as usize).collect();
        let positions = positions(&wide);
        Places { offsets, positions }
    }
    fn get(&self, at: u32) -> Option<(u64, u64)> {
        let k = self.offsets.binary_search(&at).ok()?;
        self.positions.get(k).map(|&(line, column)| (line as u64, column as u64))
    }
}

/// The files of the line table, each added once: the module's text, and
/// those `loc` instructions name.
struct Files {
    ids: HashMap<String, FileId>,
}

impl Files {
    fn id(&mut self, program: &mut LineProgram, name: &str) -> FileId {
        *self.ids.entry(name.to_string()).or_insert_with(|| {
            let directory = program.default_directory();
            program.add_file(LineString::String(name.as_bytes().to_vec()), directory, None)
        })
    }
}

/// A row of the line table: a code offset, and its file, line and column.
type Row = (u32, (FileId, u64, u64));

/// The function's rows: the last place named at each offset (an
/// instruction with no code shares its offset with the next), where the
/// place changes.
fn rows(f: &DebugFunction, mut place: impl FnMut(u32) -> Option<(FileId, u64, u64)>) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for &(offset, at) in &f.lines {
        let Some(place) = place(at) else { continue };
        match rows.last_mut() {
            Some(last) if last.0 == offset => last.1 = place,
            Some(last) if last.1 == place => {}
            _ => rows.push((offset, place)),
        }
    }
    rows
}

/// The function's rows as a sequence of the line table; its first file
/// and line.
fn add_sequence(program: &mut LineProgram, rows: &[Row], addr: u64, size: u32) -> Option<(FileId, u64)> {
    let &(body_start, first) = rows.first()?;
    program.begin_sequence(Some(Address::Constant(addr)));
    if body_start > 0 {
        // The prologue.
        let row = program.row();
        row.address_offset = 0;
        (row.file, row.line, row.column) = first;
        program.generate_row();
    }
    for (k, &(offset, place)) in rows.iter().enumerate() {
        let row = program.row();
        row.address_offset = u64::from(offset);
        (row.file, row.line, row.column) = place;
        row.prologue_end = k == 0;
        program.generate_row();
    }
    program.end_sequence(u64::from(size));
    Some((first.0, first.1))
}

/// The call frame information of every function with a frame record.
fn frames(image: &Image, functions: &[DebugFunction]) -> FrameTable {
    let isa = image.target.isa;
    let encoding = Encoding { format: Format::Dwarf32, version: 1, address_size: 8 };
    let (sp, fp, ra, code_align) = match isa {
        Isa::X86_64 => (gimli::X86_64::RSP, gimli::X86_64::RBP, gimli::X86_64::RA, 1),
        Isa::Arm64 => (gimli::AArch64::SP, gimli::AArch64::X29, gimli::AArch64::X30, 4),
    };
    let mut cie = CommonInformationEntry::new(encoding, code_align, -8, ra);
    // At the entry: x86_64's call pushed the return address; arm64's is in
    // the link register.
    match isa {
        Isa::X86_64 => {
            cie.add_instruction(CallFrameInstruction::Cfa(sp, 8));
            cie.add_instruction(CallFrameInstruction::Offset(ra, -8));
        }
        Isa::Arm64 => cie.add_instruction(CallFrameInstruction::Cfa(sp, 0)),
    }
    let mut table = FrameTable::default();
    let cie = table.add_cie(cie);
    for (f, symbol) in functions.iter().zip(&image.functions) {
        if !f.framed {
            continue;
        }
        let mut fde = FrameDescriptionEntry::new(Address::Constant(image.function_addr(symbol)), symbol.size);
        for (offset, instruction) in frame_rules(isa, f, fp, ra) {
            fde.add_instruction(offset, instruction);
        }
        table.add_fde(cie, fde);
    }
    table
}

/// The rules of a framed function's prologue, by code offset.
fn frame_rules(isa: Isa, f: &DebugFunction, fp: Register, ra: Register) -> Vec<(u32, CallFrameInstruction)> {
    match isa {
        // `push rbp` is the first instruction, one byte.
        Isa::X86_64 => vec![
            (1, CallFrameInstruction::CfaOffset(16)),
            (1, CallFrameInstruction::Offset(fp, -16)),
            (f.frame_ready, CallFrameInstruction::CfaRegister(fp)),
        ],
        Isa::Arm64 => {
            let size = f.frame_size as i32;
            vec![
                (f.frame_ready, CallFrameInstruction::Cfa(fp, size)),
                (f.frame_ready, CallFrameInstruction::Offset(fp, -size)),
                (f.frame_ready, CallFrameInstruction::Offset(ra, 8 - size)),
            ]
        }
    }
}
