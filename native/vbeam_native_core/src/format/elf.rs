//! Static ELF64 executables for Linux, x86_64 and AArch64: two loadable
//! segments (code and read-only data, read+execute, including the headers;
//! data+bss, read+write), a non-executable stack, and section headers with a symbol
//! table so `objdump -d`, `gdb` and `perf` name every function; with `-g`,
//! the DWARF sections after the symbol table, loaded by no one.

use super::bytes::{ByteWriter, StringTable};
use super::Writer;
use crate::image::{Image, Placement, Section, Sizes};
use crate::ir::Isa;
use crate::target::Target;

const BASE_ADDR: u64 = 0x40_0000;
/// Segment alignment: 4 KiB pages on x86_64; 64 KiB on AArch64 so kernels
/// with any page size load the file.
fn page_size(isa: Isa) -> u64 {
    match isa {
        Isa::X86_64 => 0x1000,
        Isa::Arm64 => 0x1_0000,
    }
}

/// Segments' alignment: a page, or the data's alignment if larger.
fn segment_align(isa: Isa, sizes: &Sizes) -> u64 {
    page_size(isa).max(sizes.data_align)
}

const EHDR_SIZE: u64 = 64;
const PHDR_SIZE: u64 = 56;
const SHDR_SIZE: u64 = 64;
const SYM_SIZE: u64 = 24;
const TEXT_ALIGN: u64 = 16;

const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const EV_CURRENT: u8 = 1;
const ELFOSABI_SYSV: u8 = 0;
const ET_EXEC: u16 = 2;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

const PT_LOAD: u32 = 1;
const PT_GNU_STACK: u32 = 0x6474_e551;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_NOBITS: u32 = 8;
const SHF_WRITE: u64 = 1;
const SHF_ALLOC: u64 = 2;
const SHF_EXECINSTR: u64 = 4;

const STB_LOCAL: u8 = 0;
const STB_GLOBAL: u8 = 1;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;

/// Section indices, in the order the headers are written.
const SHN_TEXT: u16 = 1;
const SHN_RODATA: u16 = 2;
const SHN_DATA: u16 = 3;
const SHN_BSS: u16 = 4;
const SHN_STRTAB: u32 = 6;
const SHN_SHSTRTAB: u16 = 7;
const SECTION_COUNT: u16 = 8;
const SHSTRTAB: &[u8] = b"\0.text\0.rodata\0.data\0.bss\0.symtab\0.strtab\0.shstrtab\0";
/// Offsets of each name in `SHSTRTAB`.
const NAME_TEXT: u32 = 1;
const NAME_RODATA: u32 = 7;
const NAME_DATA: u32 = 15;
const NAME_BSS: u32 = 21;
const NAME_SYMTAB: u32 = 26;
const NAME_STRTAB: u32 = 34;
const NAME_SHSTRTAB: u32 = 42;

/// A symbol (`Elf64_Sym`).
struct Symbol {
    name: u32,
    info: u8,
    section: u16,
    value: u64,
    size: u64,
}

impl Symbol {
    fn write(&self, o: &mut ByteWriter) {
        o.u32(self.name);
        o.u8(self.info);
        o.u8(0);
        o.u16(self.section);
        o.u64(self.value);
        o.u64(self.size);
    }
}

/// A program header (`Elf64_Phdr`): one segment, loaded where it is
/// linked (physical address = virtual address).
struct ProgramHeader {
    kind: u32,
    flags: u32,
    offset: u64,
    addr: u64,
    file_size: u64,
    memory_size: u64,
    align: u64,
}

impl ProgramHeader {
    fn write(&self, o: &mut ByteWriter) {
        o.u32(self.kind);
        o.u32(self.flags);
        o.u64(self.offset);
        o.u64(self.addr);
        o.u64(self.addr);
        o.u64(self.file_size);
        o.u64(self.memory_size);
        o.u64(self.align);
    }
}

/// A section header (`Elf64_Shdr`); the default is the null section.
#[derive(Default)]
struct SectionHeader {
    name: u32,
    kind: u32,
    flags: u64,
    addr: u64,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
    entry_size: u64,
}

impl SectionHeader {
    fn write(&self, o: &mut ByteWriter) {
        o.u32(self.name);
        o.u32(self.kind);
        o.u64(self.flags);
        o.u64(self.addr);
        o.u64(self.offset);
        o.u64(self.size);
        o.u32(self.link);
        o.u32(self.info);
        o.u64(self.align);
        o.u64(self.entry_size);
    }
}

/// The ELF writer.
pub struct Elf;

const PHNUM: u64 = 3;

impl Writer for Elf {
    fn place(&self, target: Target, sizes: &Sizes) -> Placement {
        let page = segment_align(target.isa, sizes);
        let text_offset = (EHDR_SIZE + PHNUM * PHDR_SIZE).next_multiple_of(TEXT_ALIGN);
        // Read-only data follows the code, in the same segment.
        let rodata_offset = (text_offset + sizes.text).next_multiple_of(sizes.rodata_align);
        let text_segment_end = rodata_offset + sizes.rodata;
        // The data segment follows in the file at its strictest alignment,
        // and in memory on the next page with the same offset within the
        // page, as the loader requires.
        let data_offset = text_segment_end.next_multiple_of(sizes.data_align);
        let data_addr = BASE_ADDR + data_offset.next_multiple_of(page) + data_offset % page;
        Placement {
            text_addr: BASE_ADDR + text_offset,
            text_offset,
            rodata_addr: BASE_ADDR + rodata_offset,
            rodata_offset,
            data_addr,
            data_offset,
        }
    }

    fn write(&self, image: &Image) -> Vec<u8> {
        write(image)
    }

    /// The image is loaded at the address it is linked at.
    fn max_data_align(&self, _: Target) -> u64 {
        u64::MAX
    }
}

fn write(image: &Image) -> Vec<u8> {
    let Placement {
        text_addr,
        text_offset: text_off,
        rodata_addr,
        rodata_offset: rodata_off,
        data_addr: data_start,
        data_offset: data_off,
    } = image.placement;
    let page = segment_align(image.target.isa, &image.sizes);
    let text_end = rodata_off + image.rodata.len() as u64;
    let data_file_size = image.data.len() as u64;
    let data_mem_size = data_file_size + image.bss_size;
    // Symbol table: locals first, as ELF requires.
    let mut strtab = StringTable::starting_with(&[0]);
    let mut locals = Vec::new();
    let mut globals = Vec::new();
    for f in &image.functions {
        let sym = Symbol {
            name: strtab.add("", &f.name),
            info: (if f.global { STB_GLOBAL } else { STB_LOCAL }) << 4 | STT_FUNC,
            section: SHN_TEXT,
            value: text_addr + f.offset as u64,
            size: f.size as u64,
        };
        if f.global {
            globals.push(sym)
        } else {
            locals.push(sym)
        }
    }
    for d in &image.data_symbols {
        locals.push(Symbol {
            name: strtab.add("", &d.name),
            info: STB_LOCAL << 4 | STT_OBJECT,
            section: match d.section {
                Section::ReadOnly => SHN_RODATA,
                Section::Data => SHN_DATA,
                Section::Bss => SHN_BSS,
            },
            value: d.addr,
            size: d.size,
        });
    }
    let first_global = 1 + locals.len() as u32;
    // The debug sections' names follow the others'.
    let mut shstrtab = SHSTRTAB.to_vec();
    let mut debug_names = Vec::with_capacity(image.debug_sections.len());
    for (name, _) in &image.debug_sections {
        debug_names.push(shstrtab.len() as u32);
        shstrtab.extend_from_slice(name.as_bytes());
        shstrtab.push(0);
    }
    let section_count = SECTION_COUNT + image.debug_sections.len() as u16;

    let data_end = data_off + data_file_size;
    let symtab_off = data_end.next_multiple_of(8);
    let symtab_size = SYM_SIZE * (1 + locals.len() + globals.len()) as u64;
    let strtab_off = symtab_off + symtab_size;
    let shstrtab_off = strtab_off + strtab.size();
    let mut debug_offsets = Vec::with_capacity(image.debug_sections.len());
    let mut debug_end = shstrtab_off + shstrtab.len() as u64;
    for (_, bytes) in &image.debug_sections {
        debug_offsets.push(debug_end);
        debug_end += bytes.len() as u64;
    }
    let shoff = debug_end.next_multiple_of(8);

    let mut o = ByteWriter::with_capacity(shoff + SHDR_SIZE * section_count as u64);
    // ELF header.
    o.bytes(b"\x7fELF");
    o.u8(ELFCLASS64);
    o.u8(ELFDATA2LSB);
    o.u8(EV_CURRENT);
    o.u8(ELFOSABI_SYSV);
    o.pad_to(16);
    o.u16(ET_EXEC);
    o.u16(match image.target.isa {
        Isa::X86_64 => EM_X86_64,
        Isa::Arm64 => EM_AARCH64,
    });
    o.u32(EV_CURRENT as u32);
    o.u64(image.entry);
    o.u64(EHDR_SIZE);
    o.u64(shoff);
    o.u32(0);
    o.u16(EHDR_SIZE as u16);
    o.u16(PHDR_SIZE as u16);
    o.u16(PHNUM as u16);
    o.u16(SHDR_SIZE as u16);
    o.u16(section_count);
    o.u16(SHN_SHSTRTAB);
    // Program headers: code (with the headers), data + bss, stack.
    let segments = [
        ProgramHeader {
            kind: PT_LOAD,
            flags: PF_R | PF_X,
            offset: 0,
            addr: BASE_ADDR,
            file_size: text_end,
            memory_size: text_end,
            align: page,
        },
        ProgramHeader {
            kind: PT_LOAD,
            flags: PF_R | PF_W,
            offset: data_off,
            addr: data_start,
            file_size: data_file_size,
            memory_size: data_mem_size.max(1),
            align: page,
        },
        ProgramHeader {
            kind: PT_GNU_STACK,
            flags: PF_R | PF_W,
            offset: 0,
            addr: 0,
            file_size: 0,
            memory_size: 0,
            align: 16,
        },
    ];
    for segment in &segments {
        segment.write(&mut o);
    }
    // Contents.
    o.pad_to(text_off);
    o.bytes(&image.text);
    o.pad_to(rodata_off);
    o.bytes(&image.rodata);
    o.pad_to(data_off);
    o.bytes(&image.data);
    o.pad_to(symtab_off);
    o.bytes(&[0; SYM_SIZE as usize]);
    for s in locals.iter().chain(&globals) {
        s.write(&mut o);
    }
    o.bytes(strtab.bytes());
    o.bytes(&shstrtab);
    for (_, bytes) in &image.debug_sections {
        o.bytes(bytes);
    }
    o.pad_to(shoff);
    let sections = [
        SectionHeader::default(),
        SectionHeader {
            name: NAME_TEXT,
            kind: SHT_PROGBITS,
            flags: SHF_ALLOC | SHF_EXECINSTR,
            addr: text_addr,
            offset: text_off,
            size: image.text.len() as u64,
            align: TEXT_ALIGN,
            ..SectionHeader::default()
        },
        SectionHeader {
            name: NAME_RODATA,
            kind: SHT_PROGBITS,
            flags: SHF_ALLOC,
            addr: rodata_addr,
            offset: rodata_off,
            size: image.rodata.len() as u64,
            align: image.sizes.rodata_align,
            ..SectionHeader::default()
        },
        SectionHeader {
            name: NAME_DATA,
            kind: SHT_PROGBITS,
            flags: SHF_ALLOC | SHF_WRITE,
            addr: data_start,
            offset: data_off,
            size: data_file_size,
            align: 16,
            ..SectionHeader::default()
        },
        SectionHeader {
            name: NAME_BSS,
            kind: SHT_NOBITS,
            flags: SHF_ALLOC | SHF_WRITE,
            addr: data_start + data_file_size,
            offset: data_end,
            size: data_mem_size - data_file_size,
            align: 16,
            ..SectionHeader::default()
        },
        SectionHeader {
            name: NAME_SYMTAB,
            kind: SHT_SYMTAB,
            offset: symtab_off,
            size: symtab_size,
            link: SHN_STRTAB,
            info: first_global,
            align: 8,
            entry_size: SYM_SIZE,
            ..SectionHeader::default()
        },
        SectionHeader {
            name: NAME_STRTAB,
            kind: SHT_STRTAB,
            offset: strtab_off,
            size: strtab.size(),
            align: 1,
            ..SectionHeader::default()
        },
        SectionHeader {
            name: NAME_SHSTRTAB,
            kind: SHT_STRTAB,
            offset: shstrtab_off,
            size: shstrtab.len() as u64,
            align: 1,
            ..SectionHeader::default()
        },
    ];
    for section in &sections {
        section.write(&mut o);
    }
    for ((name, bytes), offset) in debug_names.iter().zip(&image.debug_sections).zip(debug_offsets) {
        let header = SectionHeader {
            name: *name,
            kind: SHT_PROGBITS,
            offset,
            size: bytes.1.len() as u64,
            align: 1,
            ..SectionHeader::default()
        };
        header.write(&mut o);
    }
    o.into_bytes()
}
