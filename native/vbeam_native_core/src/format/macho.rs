//! Mach-O executables for macOS 12 and later, x86_64 and arm64, as XNU
//! and dyld load them (`<mach-o/loader.h>`; the checks they make are
//! listed in the project's platform notes):
//!
//! - `__PAGEZERO`: the first 4 GiB, no access;
//! - `__TEXT` (r-x) from file offset 0: the header, the load commands,
//!   `__text` and, for read-only data, `__const`;
//! - `__DATA` (rw-), when the program has data: `__data` then `__bss`;
//! - `__LINKEDIT` (r--), last: rebase opcodes for every stored absolute
//!   address (the image slides), the symbol table, its strings, and the
//!   ad-hoc code signature, which ends the file.
//!
//! Segments are aligned to 16 KiB on arm64 (its page size) and 4 KiB on
//! x86_64, and map the file one to one up to `__LINKEDIT`. The entry point
//! is `LC_MAIN`'s: dyld calls it as `main(argc, argv, envp, apple)`.

use sha2::{Digest, Sha256};

use super::bytes::{ByteWriter, StringTable};
use super::codesign;
use super::Writer;
use crate::image::{Image, Placement, Section as Placed, Sizes};
use crate::ir::Isa;
use crate::target::Target;

/// The Mach-O writer.
pub struct MachO;

const MH_MAGIC_64: u32 = 0xfeed_facf;
const CPU_TYPE_X86_64: u32 = 0x0100_0007;
const CPU_SUBTYPE_X86_64_ALL: u32 = 3;
const CPU_TYPE_ARM64: u32 = 0x0100_000c;
const CPU_SUBTYPE_ARM64_ALL: u32 = 0;
const MH_EXECUTE: u32 = 2;
const MH_DSYM: u32 = 0xa;
const MH_NOUNDEFS: u32 = 0x1;
const MH_DYLDLINK: u32 = 0x4;
const MH_TWOLEVEL: u32 = 0x80;
const MH_PIE: u32 = 0x20_0000;

const LC_SEGMENT_64: u32 = 0x19;
const LC_SYMTAB: u32 = 0x2;
const LC_DYSYMTAB: u32 = 0xb;
const LC_LOAD_DYLIB: u32 = 0xc;
const LC_LOAD_DYLINKER: u32 = 0xe;
const LC_UUID: u32 = 0x1b;
const LC_CODE_SIGNATURE: u32 = 0x1d;
const LC_REQ_DYLD: u32 = 0x8000_0000;
const LC_DYLD_INFO_ONLY: u32 = 0x22 | LC_REQ_DYLD;
const LC_MAIN: u32 = 0x28 | LC_REQ_DYLD;
const LC_BUILD_VERSION: u32 = 0x32;

const HEADER_SIZE: u64 = 32;
const SEGMENT_SIZE: u64 = 72;
const SECTION_SIZE: u64 = 80;
const DYLD_INFO_SIZE: u64 = 48;
const SYMTAB_SIZE: u64 = 24;
const DYSYMTAB_SIZE: u64 = 80;
const UUID_SIZE: u64 = 24;
const BUILD_VERSION_SIZE: u64 = 24;
const MAIN_SIZE: u64 = 24;
const LINKEDIT_DATA_SIZE: u64 = 16;
const NLIST_SIZE: u64 = 16;

const DYLD_PATH: &str = "/usr/lib/dyld";
const LIBSYSTEM_PATH: &str = "/usr/lib/libSystem.B.dylib";
/// libSystem's version numbers as ld64 records them (X.Y.Z as X<<16|Y<<8|Z).
const LIBSYSTEM_CURRENT_VERSION: u32 = 1311 << 16;
const LIBSYSTEM_COMPATIBILITY_VERSION: u32 = 1 << 16;
/// `dylib.timestamp`: ld64 writes 2.
const DYLIB_TIMESTAMP: u32 = 2;

const PLATFORM_MACOS: u32 = 1;
/// macOS 12.0.0 as X<<16|Y<<8|Z: the oldest system the binaries target,
/// and the SDK whose rules dyld applies to them.
const MACOS_12: u32 = 12 << 16;

const VM_PROT_NONE: u32 = 0;
const VM_PROT_READ: u32 = 1;
const VM_PROT_WRITE: u32 = 2;
const VM_PROT_EXECUTE: u32 = 4;

const S_REGULAR: u32 = 0;
const S_ZEROFILL: u32 = 1;
const S_ATTR_PURE_INSTRUCTIONS: u32 = 0x8000_0000;
const S_ATTR_SOME_INSTRUCTIONS: u32 = 0x400;

const N_EXT: u8 = 0x1;
const N_SECT: u8 = 0xe;

const REBASE_TYPE_POINTER: u8 = 1;
const REBASE_OPCODE_DONE: u8 = 0x00;
const REBASE_OPCODE_SET_TYPE_IMM: u8 = 0x10;
const REBASE_OPCODE_SET_SEGMENT_AND_OFFSET_ULEB: u8 = 0x20;
const REBASE_OPCODE_DO_REBASE_IMM_TIMES: u8 = 0x50;

/// `__PAGEZERO`'s size: the kernel recognises a hard page zero by it.
const PAGE_ZERO_SIZE: u64 = 1 << 32;
/// `__TEXT`'s address, just above page zero.
const TEXT_ADDR: u64 = PAGE_ZERO_SIZE;
const TEXT_ALIGN: u64 = 16;
/// `__LINKEDIT` contents are pointer-aligned; the signature 16-aligned.
const LINKEDIT_ALIGN: u64 = 8;
const SIGNATURE_ALIGN: u64 = 16;

/// `__DATA`'s segment number (load-command order), for rebases.
const SEG_DATA: u8 = 2;

fn segment_align(isa: Isa) -> u64 {
    match isa {
        Isa::X86_64 => 0x1000,
        Isa::Arm64 => 0x4000,
    }
}

/// Where everything goes, computed alike by `place` and `write`.
struct Layout {
    page: u64,
    commands_size: u64,
    command_count: u32,
    text_offset: u64,
    /// `__TEXT,__const`, the read-only data, if any: its file offset.
    const_section: Option<u64>,
    text_segment_size: u64,
    /// `__DATA`'s sections: (has `__data`, has `__bss`); no segment if
    /// neither.
    data_sections: (bool, bool),
    data_offset: u64,
    data_file_size: u64,
    data_vm_size: u64,
    linkedit_offset: u64,
    linkedit_addr: u64,
}

impl Layout {
    fn new(target: Target, sizes: &Sizes) -> Layout {
        let page = segment_align(target.isa);
        let data_sections = (sizes.initialised_entries, sizes.zero_filled_entries);
        let section_count = data_sections.0 as u64 + data_sections.1 as u64;
        let has_data = section_count > 0;
        let text_sections = 1 + sizes.read_only_entries as u64;
        let segments = [
            SEGMENT_SIZE,
            SEGMENT_SIZE + SECTION_SIZE * text_sections,
            if has_data { SEGMENT_SIZE + SECTION_SIZE * section_count } else { 0 },
            SEGMENT_SIZE,
        ];
        let others = [
            DYLD_INFO_SIZE,
            SYMTAB_SIZE,
            DYSYMTAB_SIZE,
            path_command_size(DYLD_PATH, 12),
            UUID_SIZE,
            BUILD_VERSION_SIZE,
            MAIN_SIZE,
            path_command_size(LIBSYSTEM_PATH, 24),
            LINKEDIT_DATA_SIZE,
        ];
        let commands_size = segments.iter().chain(&others).sum::<u64>();
        let command_count = (3 + has_data as usize + others.len()) as u32;
        let text_offset = (HEADER_SIZE + commands_size).next_multiple_of(TEXT_ALIGN);
        let const_offset = (text_offset + sizes.text).next_multiple_of(sizes.rodata_align);
        let const_section = sizes.read_only_entries.then_some(const_offset);
        let text_segment_size = (const_offset + sizes.rodata).next_multiple_of(page);
        let data_offset = text_segment_size.next_multiple_of(sizes.data_align);
        let (data_file_size, data_vm_size) = if has_data {
            // A segment is never empty, even when its entries are.
            (sizes.data.next_multiple_of(page), sizes.data_in_memory.next_multiple_of(page).max(page))
        } else {
            (0, 0)
        };
        Layout {
            page,
            commands_size,
            command_count,
            text_offset,
            const_section,
            text_segment_size,
            data_sections,
            data_offset,
            data_file_size,
            data_vm_size,
            linkedit_offset: data_offset + data_file_size,
            linkedit_addr: TEXT_ADDR + data_offset + data_vm_size,
        }
    }
}

/// Size of a load command holding a path at `name_offset`, NUL-terminated
/// and padded to 8 bytes.
fn path_command_size(path: &str, name_offset: u64) -> u64 {
    (name_offset + path.len() as u64 + 1).next_multiple_of(8)
}

impl Writer for MachO {
    fn place(&self, target: Target, sizes: &Sizes) -> Placement {
        let l = Layout::new(target, sizes);
        // Without read-only data the (empty) section would start here.
        let rodata_offset = l.const_section.unwrap_or(l.text_offset + sizes.text);
        Placement {
            text_addr: TEXT_ADDR + l.text_offset,
            text_offset: l.text_offset,
            rodata_addr: TEXT_ADDR + rodata_offset,
            rodata_offset,
            data_addr: TEXT_ADDR + l.data_offset,
            data_offset: l.data_offset,
        }
    }

    fn write(&self, image: &Image) -> Vec<u8> {
        write(image)
    }

    /// XNU slides the image by whole pages.
    fn max_data_align(&self, target: Target) -> u64 {
        segment_align(target.isa)
    }

    /// The UUID, from the whole file, then the code signature over it.
    fn finish(&self, image: &Image, file: &mut [u8]) {
        let Some(at) = find_command(file, LC_UUID) else { unreachable!("the writer adds LC_UUID") };
        let uuid = content_uuid(file);
        file[at + 8..at + 24].copy_from_slice(&uuid);
        let l = Layout::new(image.target, &image.sizes);
        let signature = find_command(file, LC_CODE_SIGNATURE).expect("the writer adds LC_CODE_SIGNATURE");
        let offset = read_u32(file, signature + 8) as usize;
        codesign::sign(file, offset, &identifier(&uuid), 0, l.text_segment_size);
    }
}

/// The debug information of the executable `file` written from `image`,
/// as the DWARF file of its `.dSYM` bundle
/// (`Contents/Resources/DWARF/<name>`), which debuggers match to the
/// executable by `LC_UUID`: the executable's UUID, its `__TEXT` and
/// `__DATA` segments described but not held (their file offsets 0), and a
/// `__DWARF` segment of `image.debug_sections` after them.
pub fn dsym(image: &Image, file: &[u8]) -> Vec<u8> {
    let uuid_at = find_command(file, LC_UUID).expect("the writer adds LC_UUID");
    // The executable's segments that are loaded, their offsets cleared.
    let mut described = Vec::new();
    let mut segments_end = 0;
    let mut at = HEADER_SIZE as usize;
    for _ in 0..read_u32(file, 16) {
        let size = read_u32(file, at + 4) as usize;
        let name = &file[at + 8..at + 24];
        let described_segment =
            read_u32(file, at) == LC_SEGMENT_64 && [b"__TEXT", b"__DATA"].iter().any(|n| name.starts_with(*n));
        if described_segment {
            let mut command = file[at..at + size].to_vec();
            let read_u64 = |c: &[u8], k: usize| u64::from_le_bytes(c[k..k + 8].try_into().expect("8 bytes"));
            segments_end = segments_end.max(read_u64(&command, 24) + read_u64(&command, 32));
            command[40..56].fill(0); // fileoff, filesize
            for k in 0..read_u32(&command, 64) as usize {
                let section = SEGMENT_SIZE as usize + k * SECTION_SIZE as usize;
                command[section + 48..section + 52].fill(0); // offset
            }
            described.push(command);
        }
        at += size;
    }
    let sections = &image.debug_sections;
    let commands_size: u64 = UUID_SIZE
        + described.iter().map(|c| c.len() as u64).sum::<u64>()
        + SEGMENT_SIZE
        + SECTION_SIZE * sections.len() as u64;
    let dwarf_offset = (HEADER_SIZE + commands_size).next_multiple_of(16);
    let dwarf_size: u64 = sections.iter().map(|(_, bytes)| bytes.len() as u64).sum();
    let dwarf_addr = segments_end.next_multiple_of(segment_align(image.target.isa));
    let names: Vec<String> = sections.iter().map(|(name, _)| format!("__{}", name.trim_start_matches('.'))).collect();
    let mut offset = dwarf_offset;
    let dwarf = Segment {
        name: "__DWARF",
        addr: dwarf_addr,
        vm_size: dwarf_size.next_multiple_of(segment_align(image.target.isa)),
        offset: dwarf_offset,
        file_size: dwarf_size,
        prot: 0,
        sections: names
            .iter()
            .zip(sections)
            .map(|(name, (_, bytes))| {
                let section = Section {
                    name,
                    addr: dwarf_addr + offset - dwarf_offset,
                    size: bytes.len() as u64,
                    offset,
                    align_log2: 0,
                    flags: 0,
                };
                offset += bytes.len() as u64;
                section
            })
            .collect(),
    };

    let mut o = ByteWriter::with_capacity(dwarf_offset + dwarf_size);
    o.u32(MH_MAGIC_64);
    let (cpu, subtype) = cpu(image.target.isa);
    o.u32(cpu);
    o.u32(subtype);
    o.u32(MH_DSYM);
    o.u32(2 + described.len() as u32);
    o.u32(commands_size as u32);
    o.u32(0); // flags
    o.u32(0); // reserved
    o.bytes(&file[uuid_at..uuid_at + UUID_SIZE as usize]);
    for command in &described {
        o.bytes(command);
    }
    segment_command(&mut o, &dwarf);
    o.pad_to(dwarf_offset);
    for (_, bytes) in sections {
        o.bytes(bytes);
    }
    o.into_bytes()
}

/// The header's CPU type and subtype.
fn cpu(isa: Isa) -> (u32, u32) {
    match isa {
        Isa::X86_64 => (CPU_TYPE_X86_64, CPU_SUBTYPE_X86_64_ALL),
        Isa::Arm64 => (CPU_TYPE_ARM64, CPU_SUBTYPE_ARM64_ALL),
    }
}

/// The signature's identifier: the file has no name of its own here.
fn identifier(uuid: &[u8; 16]) -> String {
    let hex: String = uuid.iter().map(|b| format!("{b:02x}")).collect();
    format!("{IDENTIFIER_PREFIX}{hex}")
}
const IDENTIFIER_PREFIX: &str = "vbeam-";
const IDENTIFIER_LEN: usize = IDENTIFIER_PREFIX.len() + 32;

/// A UUID (RFC 9562 version 8, "custom") from the SHA-256 of the file as
/// written, so identical inputs give identical files.
fn content_uuid(file: &[u8]) -> [u8; 16] {
    let digest = Sha256::digest(file);
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(&digest[..16]);
    uuid[6] = (uuid[6] & 0x0f) | 0x80;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
    uuid
}

fn read_u32(file: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(file[at..at + 4].try_into().expect("4 bytes"))
}

/// The file offset of the first load command `cmd`.
fn find_command(file: &[u8], cmd: u32) -> Option<usize> {
    let count = read_u32(file, 16);
    let mut at = HEADER_SIZE as usize;
    for _ in 0..count {
        if read_u32(file, at) == cmd {
            return Some(at);
        }
        at += read_u32(file, at + 4) as usize;
    }
    None
}

struct Segment<'a> {
    name: &'a str,
    addr: u64,
    vm_size: u64,
    offset: u64,
    file_size: u64,
    prot: u32,
    sections: Vec<Section<'a>>,
}

struct Section<'a> {
    name: &'a str,
    addr: u64,
    size: u64,
    /// File offset; 0 for zero-fill.
    offset: u64,
    align_log2: u32,
    flags: u32,
}

fn segment_command(o: &mut ByteWriter, s: &Segment) {
    o.u32(LC_SEGMENT_64);
    o.u32((SEGMENT_SIZE + SECTION_SIZE * s.sections.len() as u64) as u32);
    o.name::<16>(s.name.as_bytes());
    o.u64(s.addr);
    o.u64(s.vm_size);
    o.u64(s.offset);
    o.u64(s.file_size);
    o.u32(s.prot); // maxprot
    o.u32(s.prot); // initprot
    o.u32(s.sections.len() as u32);
    o.u32(0); // flags
    for section in &s.sections {
        o.name::<16>(section.name.as_bytes());
        o.name::<16>(s.name.as_bytes());
        o.u64(section.addr);
        o.u64(section.size);
        o.u32(section.offset as u32);
        o.u32(section.align_log2);
        o.u32(0); // reloff
        o.u32(0); // nreloc
        o.u32(section.flags);
        o.u32(0); // reserved1
        o.u32(0); // reserved2
        o.u32(0); // reserved3
    }
}

fn path_command(o: &mut ByteWriter, cmd: u32, path: &str, fields: &[u32]) {
    let name_offset = 8 + 4 * (fields.len() as u64 + 1);
    let start = o.offset();
    o.u32(cmd);
    o.u32(path_command_size(path, name_offset) as u32);
    o.u32(name_offset as u32);
    for f in fields {
        o.u32(*f);
    }
    o.bytes(path.as_bytes());
    o.pad_to(start + path_command_size(path, name_offset));
}

fn uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Rebase opcodes sliding each absolute address stored at `pointers`
/// (addresses inside `__DATA`, which starts at `data_addr`).
fn rebase_opcodes(pointers: &[u64], data_addr: u64) -> Vec<u8> {
    let mut out = Vec::new();
    if !pointers.is_empty() {
        out.push(REBASE_OPCODE_SET_TYPE_IMM | REBASE_TYPE_POINTER);
        for p in pointers {
            out.push(REBASE_OPCODE_SET_SEGMENT_AND_OFFSET_ULEB | SEG_DATA);
            uleb(&mut out, p - data_addr);
            out.push(REBASE_OPCODE_DO_REBASE_IMM_TIMES | 1);
        }
    }
    out.push(REBASE_OPCODE_DONE);
    out
}

struct Symbol {
    name: u32,
    kind: u8,
    section: u8,
    value: u64,
}

fn write(image: &Image) -> Vec<u8> {
    let target = image.target;
    let l = Layout::new(target, &image.sizes);
    let data_addr = image.placement.data_addr;
    let (has_data, has_bss) = l.data_sections;

    // Sections are numbered from 1 across segments, in order.
    let text_section = 1u8;
    let const_section = text_section + l.const_section.is_some() as u8;
    let data_section = const_section + has_data as u8;
    let bss_section = data_section + has_bss as u8;

    // Symbols: locals, then external definitions sorted by name; C names
    // take a leading underscore on this platform.
    let mut strings = StringTable::starting_with(b" \0");
    let mut locals = Vec::new();
    let mut globals: Vec<(&str, Symbol)> = Vec::new();
    for f in &image.functions {
        let symbol = Symbol {
            name: strings.add("_", &f.name),
            kind: N_SECT,
            section: text_section,
            value: image.function_addr(f),
        };
        if f.global {
            globals.push((&f.name, Symbol { kind: N_SECT | N_EXT, ..symbol }));
        } else {
            locals.push(symbol);
        }
    }
    for d in &image.data_symbols {
        let section = match d.section {
            Placed::ReadOnly => const_section,
            Placed::Data => data_section,
            Placed::Bss => bss_section,
        };
        locals.push(Symbol { name: strings.add("_", &d.name), kind: N_SECT, section, value: d.addr });
    }
    globals.sort_by(|a, b| a.0.cmp(b.0));
    let symbols: Vec<Symbol> = locals.into_iter().chain(globals.into_iter().map(|(_, s)| s)).collect();
    let local_count = symbols.iter().filter(|s| s.kind & N_EXT == 0).count() as u32;
    let global_count = symbols.len() as u32 - local_count;

    // __LINKEDIT.
    let rebases = rebase_opcodes(&image.absolute_pointers, data_addr);
    let rebase_offset = l.linkedit_offset;
    let symbols_offset = (rebase_offset + rebases.len() as u64).next_multiple_of(LINKEDIT_ALIGN);
    let strings_offset = symbols_offset + NLIST_SIZE * symbols.len() as u64;
    strings.align(LINKEDIT_ALIGN);
    let signature_offset = (strings_offset + strings.size()).next_multiple_of(SIGNATURE_ALIGN);
    let signature_size = codesign::size(signature_offset as usize, IDENTIFIER_LEN) as u64;
    let file_size = signature_offset + signature_size;
    let linkedit_size = file_size - l.linkedit_offset;

    let mut segments = vec![
        Segment {
            name: "__PAGEZERO",
            addr: 0,
            vm_size: PAGE_ZERO_SIZE,
            offset: 0,
            file_size: 0,
            prot: VM_PROT_NONE,
            sections: Vec::new(),
        },
        Segment {
            name: "__TEXT",
            addr: TEXT_ADDR,
            vm_size: l.text_segment_size,
            offset: 0,
            file_size: l.text_segment_size,
            prot: VM_PROT_READ | VM_PROT_EXECUTE,
            sections: [Section {
                name: "__text",
                addr: image.text_addr(),
                size: image.text.len() as u64,
                offset: l.text_offset,
                align_log2: TEXT_ALIGN.trailing_zeros(),
                flags: S_REGULAR | S_ATTR_PURE_INSTRUCTIONS | S_ATTR_SOME_INSTRUCTIONS,
            }]
            .into_iter()
            .chain(l.const_section.map(|offset| Section {
                name: "__const",
                addr: image.placement.rodata_addr,
                size: image.rodata.len() as u64,
                offset,
                align_log2: image.sizes.rodata_align.trailing_zeros(),
                flags: S_REGULAR,
            }))
            .collect(),
        },
    ];
    if has_data || has_bss {
        let align_log2 = image.sizes.data_align.trailing_zeros();
        let mut sections = Vec::new();
        if has_data {
            let size = image.data.len() as u64;
            sections.push(Section {
                name: "__data",
                addr: data_addr,
                size,
                offset: l.data_offset,
                align_log2,
                flags: S_REGULAR,
            });
        }
        if has_bss {
            let addr = data_addr + image.data.len() as u64;
            let size = image.bss_size;
            sections.push(Section { name: "__bss", addr, size, offset: 0, align_log2, flags: S_ZEROFILL });
        }
        segments.push(Segment {
            name: "__DATA",
            addr: data_addr,
            vm_size: l.data_vm_size,
            offset: l.data_offset,
            file_size: l.data_file_size,
            prot: VM_PROT_READ | VM_PROT_WRITE,
            sections,
        });
    }
    segments.push(Segment {
        name: "__LINKEDIT",
        addr: l.linkedit_addr,
        vm_size: linkedit_size.next_multiple_of(l.page),
        offset: l.linkedit_offset,
        file_size: linkedit_size,
        prot: VM_PROT_READ,
        sections: Vec::new(),
    });

    let mut o = ByteWriter::with_capacity(file_size);
    o.u32(MH_MAGIC_64);
    let (cpu, subtype) = cpu(target.isa);
    o.u32(cpu);
    o.u32(subtype);
    o.u32(MH_EXECUTE);
    o.u32(l.command_count);
    o.u32(l.commands_size as u32);
    o.u32(MH_NOUNDEFS | MH_DYLDLINK | MH_TWOLEVEL | MH_PIE);
    o.u32(0); // reserved

    for s in &segments {
        segment_command(&mut o, s);
    }
    o.u32(LC_DYLD_INFO_ONLY);
    o.u32(DYLD_INFO_SIZE as u32);
    o.u32(rebase_offset as u32);
    o.u32(rebases.len() as u32);
    for _ in 0..8 {
        o.u32(0); // no binds, weak binds, lazy binds or exports
    }
    o.u32(LC_SYMTAB);
    o.u32(SYMTAB_SIZE as u32);
    o.u32(symbols_offset as u32);
    o.u32(symbols.len() as u32);
    o.u32(strings_offset as u32);
    o.u32(strings.size() as u32);
    o.u32(LC_DYSYMTAB);
    o.u32(DYSYMTAB_SIZE as u32);
    for field in [0, local_count, local_count, global_count, local_count + global_count, 0] {
        o.u32(field); // ilocalsym nlocalsym iextdefsym nextdefsym iundefsym nundefsym
    }
    for _ in 0..12 {
        o.u32(0); // no table of contents, modules, references, indirect symbols or relocations
    }
    path_command(&mut o, LC_LOAD_DYLINKER, DYLD_PATH, &[]);
    o.u32(LC_UUID);
    o.u32(UUID_SIZE as u32);
    o.bytes(&[0; 16]); // filled in by `finish`
    o.u32(LC_BUILD_VERSION);
    o.u32(BUILD_VERSION_SIZE as u32);
    o.u32(PLATFORM_MACOS);
    o.u32(MACOS_12); // minos
    o.u32(MACOS_12); // sdk
    o.u32(0); // ntools
    o.u32(LC_MAIN);
    o.u32(MAIN_SIZE as u32);
    o.u64(image.entry - TEXT_ADDR); // entryoff: __TEXT maps the file from offset 0
    o.u64(0); // stacksize: the default
    path_command(
        &mut o,
        LC_LOAD_DYLIB,
        LIBSYSTEM_PATH,
        &[DYLIB_TIMESTAMP, LIBSYSTEM_CURRENT_VERSION, LIBSYSTEM_COMPATIBILITY_VERSION],
    );
    o.u32(LC_CODE_SIGNATURE);
    o.u32(LINKEDIT_DATA_SIZE as u32);
    o.u32(signature_offset as u32);
    o.u32(signature_size as u32);
    debug_assert_eq!(o.offset(), HEADER_SIZE + l.commands_size);

    o.pad_to(l.text_offset);
    o.bytes(&image.text);
    if let Some(offset) = l.const_section {
        o.pad_to(offset);
        o.bytes(&image.rodata);
    }
    o.pad_to(l.data_offset);
    o.bytes(&image.data);
    o.pad_to(rebase_offset);
    o.bytes(&rebases);
    o.pad_to(symbols_offset);
    for s in &symbols {
        o.u32(s.name);
        o.u8(s.kind);
        o.u8(s.section);
        o.u16(0); // n_desc
        o.u64(s.value);
    }
    o.bytes(strings.bytes());
    o.pad_to(file_size); // the signature, computed by `finish`
    o.into_bytes()
}
