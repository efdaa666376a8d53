//! PE32+ images for UEFI, x86_64 and arm64: EFI applications (subsystem
//! 10) as the firmware's loader takes them (PE/COFF specification; UEFI
//! specification 2.1.1):
//!
//! - `.text` (code, r-x), `.rdata` (read-only data, r--), `.data` (rw-:
//!   initialised data, then the bss as virtual size beyond the raw data),
//!   each 4 KiB aligned, so firmware that enforces W^X per section (AAVMF)
//!   can;
//! - `.reloc`, when the program stores addresses: a DIR64 base relocation
//!   for each, since the image is never loaded at its `ImageBase`;
//! - a COFF symbol table after the sections (not loaded), naming every
//!   function and data entry for debuggers and `llvm-objdump`;
//! - the optional header's checksum, computed over the finished file.

use super::bytes::{ByteWriter, StringTable};
use super::Writer;
use crate::image::{Image, Placement, Section as Placed, Sizes};
use crate::ir::Isa;
use crate::target::Target;

/// The PE writer.
pub struct Pe;

const IMAGE_BASE: u64 = 0x1_4000_0000;
const SECTION_ALIGN: u64 = 0x1000;
const FILE_ALIGN: u64 = 0x200;
const PAGE_SIZE: u64 = 0x1000;
/// What a PE image's 32-bit sizes allow, room left for code and headers.
const MAX_IMAGE_SIZE: u64 = 1 << 31;

const DOS_HEADER_SIZE: u64 = 64;
/// `e_lfanew`: where the PE signature is.
const PE_OFFSET: u64 = DOS_HEADER_SIZE;
const PE_SIGNATURE: &[u8; 4] = b"PE\0\0";
const COFF_HEADER_SIZE: u64 = 20;
const OPTIONAL_HEADER_SIZE: u64 = 240;
const SECTION_HEADER_SIZE: u64 = 40;
const SYMBOL_SIZE: u64 = 18;
/// Offset of `CheckSum` in the optional header.
const CHECKSUM_FIELD: u64 = 64;

const IMAGE_FILE_MACHINE_AMD64: u16 = 0x8664;
const IMAGE_FILE_MACHINE_ARM64: u16 = 0xaa64;
const IMAGE_FILE_EXECUTABLE_IMAGE: u16 = 0x2;
const IMAGE_FILE_LARGE_ADDRESS_AWARE: u16 = 0x20;
const PE32_PLUS_MAGIC: u16 = 0x20b;
const IMAGE_SUBSYSTEM_EFI_APPLICATION: u16 = 10;
const IMAGE_DLLCHARACTERISTICS_HIGH_ENTROPY_VA: u16 = 0x20;
const IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE: u16 = 0x40;
const IMAGE_DLLCHARACTERISTICS_NX_COMPAT: u16 = 0x100;
/// The Windows version fields the PE format asks for (as LLVM writes them).
const OS_VERSION: (u16, u16) = (6, 0);
const STACK_RESERVE: u64 = 0x10_0000;
const STACK_COMMIT: u64 = 0x1000;
const HEAP_RESERVE: u64 = 0x10_0000;
const HEAP_COMMIT: u64 = 0x1000;
const DATA_DIRECTORIES: usize = 16;
const IMAGE_DIRECTORY_ENTRY_BASERELOC: usize = 5;

const IMAGE_SCN_CNT_CODE: u32 = 0x20;
const IMAGE_SCN_CNT_INITIALIZED_DATA: u32 = 0x40;
const IMAGE_SCN_MEM_DISCARDABLE: u32 = 0x0200_0000;
const IMAGE_SCN_MEM_EXECUTE: u32 = 0x2000_0000;
const IMAGE_SCN_MEM_READ: u32 = 0x4000_0000;
const IMAGE_SCN_MEM_WRITE: u32 = 0x8000_0000;

const IMAGE_REL_BASED_ABSOLUTE: u16 = 0;
const IMAGE_REL_BASED_DIR64: u16 = 10;
const BASE_RELOCATION_BLOCK_HEADER: u64 = 8;

const IMAGE_SYM_DTYPE_FUNCTION: u16 = 0x20;
const IMAGE_SYM_CLASS_EXTERNAL: u8 = 2;
const IMAGE_SYM_CLASS_STATIC: u8 = 3;
/// Names up to this long are stored in the symbol itself.
const SHORT_NAME: usize = 8;

/// Where the sections go, computed alike by `place` and `write`.
struct Layout {
    sections: u64,
    headers_size: u64,
    text_rva: u64,
    text_raw_size: u64,
    /// `.rdata`, the read-only data, if any.
    has_rdata: bool,
    rdata_rva: u64,
    rdata_offset: u64,
    rdata_raw_size: u64,
    has_data: bool,
    data_rva: u64,
    data_offset: u64,
    data_raw_size: u64,
    /// The first address after `.data` (or `.text`), section-aligned.
    end_rva: u64,
}

impl Layout {
    /// `relocated`: whether there is a `.reloc` section.
    fn new(sizes: &Sizes, relocated: bool) -> Layout {
        let has_rdata = sizes.read_only_entries;
        let has_data = sizes.initialised_entries || sizes.zero_filled_entries;
        let sections = 1 + has_rdata as u64 + has_data as u64 + relocated as u64;
        let headers = PE_OFFSET + PE_SIGNATURE.len() as u64 + COFF_HEADER_SIZE + OPTIONAL_HEADER_SIZE;
        let headers_size = (headers + SECTION_HEADER_SIZE * sections).next_multiple_of(FILE_ALIGN);
        let text_rva = headers_size.next_multiple_of(SECTION_ALIGN);
        let text_raw_size = sizes.text.next_multiple_of(FILE_ALIGN);
        let rdata_rva = (text_rva + sizes.text).next_multiple_of(SECTION_ALIGN.max(sizes.rodata_align));
        let rdata_offset = headers_size + text_raw_size;
        let rdata_raw_size = if has_rdata { sizes.rodata.next_multiple_of(FILE_ALIGN) } else { 0 };
        let text_end = if has_rdata { rdata_rva + virtual_size(sizes.rodata) } else { text_rva + sizes.text };
        let data_rva = text_end.next_multiple_of(SECTION_ALIGN.max(sizes.data_align));
        let data_raw_size = sizes.data.next_multiple_of(FILE_ALIGN);
        let end_rva = if has_data { data_rva + virtual_size(sizes.data_in_memory) } else { text_end };
        Layout {
            sections,
            headers_size,
            text_rva,
            text_raw_size,
            has_rdata,
            rdata_rva,
            rdata_offset,
            rdata_raw_size,
            has_data,
            data_rva,
            data_offset: rdata_offset + rdata_raw_size,
            data_raw_size,
            end_rva: end_rva.next_multiple_of(SECTION_ALIGN),
        }
    }
}

impl Writer for Pe {
    fn place(&self, _: Target, sizes: &Sizes) -> Placement {
        // Whether `.reloc` exists changes only where the headers end, which
        // stays within the first file-aligned block.
        let l = Layout::new(sizes, true);
        debug_assert_eq!(l.headers_size, Layout::new(sizes, false).headers_size);
        Placement {
            text_addr: IMAGE_BASE + l.text_rva,
            text_offset: l.headers_size,
            rodata_addr: IMAGE_BASE + l.rdata_rva,
            rodata_offset: l.rdata_offset,
            data_addr: IMAGE_BASE + l.data_rva,
            data_offset: l.data_offset,
        }
    }

    fn write(&self, image: &Image) -> Vec<u8> {
        write(image)
    }

    /// The firmware loads the image at a page it allocates.
    fn max_data_align(&self, _: Target) -> u64 {
        PAGE_SIZE
    }

    /// Section sizes and `SizeOfImage` are 32-bit fields.
    fn max_data_size(&self) -> u64 {
        MAX_IMAGE_SIZE
    }

    fn finish(&self, _: &Image, file: &mut [u8]) {
        let field = (PE_OFFSET + PE_SIGNATURE.len() as u64 + COFF_HEADER_SIZE + CHECKSUM_FIELD) as usize;
        let sum = checksum(file, field);
        file[field..field + 4].copy_from_slice(&sum.to_le_bytes());
    }
}

/// A section's size in memory: never 0 (which would mean the raw size),
/// even when its entries are empty.
fn virtual_size(size: u64) -> u64 {
    size.max(1)
}

/// The PE checksum: the file's 16-bit little-endian words summed with the
/// carries folded back in, the checksum field counted as zero, plus the
/// file's length.
fn checksum(file: &[u8], field: usize) -> u32 {
    let mut sum: u64 = 0;
    for (k, word) in file.chunks(2).enumerate() {
        if (field..field + 4).contains(&(2 * k)) {
            continue;
        }
        sum += u16::from_le_bytes([word[0], *word.get(1).unwrap_or(&0)]) as u64;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    (sum as u32).wrapping_add(file.len() as u32)
}

/// The `.reloc` contents: one block per 4 KiB page holding stored
/// addresses, each address a DIR64 entry, blocks padded to 4 bytes.
fn base_relocations(addresses: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < addresses.len() {
        let page = (addresses[k] - IMAGE_BASE) & !(PAGE_SIZE - 1);
        let in_page = addresses[k..].iter().take_while(|a| (*a - IMAGE_BASE) & !(PAGE_SIZE - 1) == page).count();
        let padded = in_page.next_multiple_of(2);
        out.extend_from_slice(&(page as u32).to_le_bytes());
        out.extend_from_slice(&((BASE_RELOCATION_BLOCK_HEADER + 2 * padded as u64) as u32).to_le_bytes());
        for a in &addresses[k..k + in_page] {
            let entry = IMAGE_REL_BASED_DIR64 << 12 | ((a - IMAGE_BASE) & (PAGE_SIZE - 1)) as u16;
            out.extend_from_slice(&entry.to_le_bytes());
        }
        if padded > in_page {
            out.extend_from_slice(&IMAGE_REL_BASED_ABSOLUTE.to_le_bytes());
        }
        k += in_page;
    }
    out
}

struct Section {
    name: &'static [u8],
    virtual_size: u64,
    rva: u64,
    raw_size: u64,
    raw_offset: u64,
    characteristics: u32,
}

struct Symbol {
    name: String,
    value: u32,
    section: u16,
    kind: u16,
    class: u8,
}

fn write(image: &Image) -> Vec<u8> {
    let relocations = base_relocations(&image.absolute_pointers);
    let l = Layout::new(&image.sizes, !relocations.is_empty());
    let mut sections = vec![Section {
        name: b".text",
        virtual_size: image.text.len() as u64,
        rva: l.text_rva,
        raw_size: l.text_raw_size,
        raw_offset: l.headers_size,
        characteristics: IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_MEM_READ,
    }];
    if l.has_rdata {
        sections.push(Section {
            name: b".rdata",
            virtual_size: virtual_size(image.sizes.rodata),
            rva: l.rdata_rva,
            raw_size: l.rdata_raw_size,
            raw_offset: if l.rdata_raw_size > 0 { l.rdata_offset } else { 0 },
            characteristics: IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ,
        });
    }
    if l.has_data {
        sections.push(Section {
            name: b".data",
            virtual_size: virtual_size(image.sizes.data_in_memory),
            rva: l.data_rva,
            raw_size: l.data_raw_size,
            raw_offset: if l.data_raw_size > 0 { l.data_offset } else { 0 },
            characteristics: IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_WRITE,
        });
    }
    let reloc_offset = l.data_offset + l.data_raw_size;
    let reloc_raw_size = (relocations.len() as u64).next_multiple_of(FILE_ALIGN);
    if !relocations.is_empty() {
        sections.push(Section {
            name: b".reloc",
            virtual_size: relocations.len() as u64,
            rva: l.end_rva,
            raw_size: reloc_raw_size,
            raw_offset: reloc_offset,
            characteristics: IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_DISCARDABLE | IMAGE_SCN_MEM_READ,
        });
    }
    debug_assert_eq!(sections.len() as u64, l.sections);
    let image_size = sections.last().map_or(0, |s| s.rva + s.virtual_size).next_multiple_of(SECTION_ALIGN);

    // Symbols: functions in `.text` (1), data entries in `.rdata` or
    // `.data`, numbered in order.
    let mut symbols: Vec<Symbol> = image
        .functions
        .iter()
        .map(|f| Symbol {
            name: f.name.clone(),
            value: f.offset,
            section: 1,
            kind: IMAGE_SYM_DTYPE_FUNCTION,
            class: if f.global { IMAGE_SYM_CLASS_EXTERNAL } else { IMAGE_SYM_CLASS_STATIC },
        })
        .collect();
    let rdata_section = 1 + l.has_rdata as u16;
    let data_section = rdata_section + l.has_data as u16;
    symbols.extend(image.data_symbols.iter().map(|d| {
        let (section, base) = match d.section {
            Placed::ReadOnly => (rdata_section, image.placement.rodata_addr),
            Placed::Data | Placed::Bss => (data_section, image.placement.data_addr),
        };
        Symbol { name: d.name.clone(), value: (d.addr - base) as u32, section, kind: 0, class: IMAGE_SYM_CLASS_STATIC }
    }));
    let symbols_offset = reloc_offset + if relocations.is_empty() { 0 } else { reloc_raw_size };

    let mut o = ByteWriter::with_capacity(symbols_offset + SYMBOL_SIZE * symbols.len() as u64);
    // The DOS header: its magic and where the PE header is; no DOS stub.
    o.bytes(b"MZ");
    o.pad_to(0x3c);
    o.u32(PE_OFFSET as u32);
    o.pad_to(PE_OFFSET);
    o.bytes(PE_SIGNATURE);
    // COFF file header.
    o.u16(match image.target.isa {
        Isa::X86_64 => IMAGE_FILE_MACHINE_AMD64,
        Isa::Arm64 => IMAGE_FILE_MACHINE_ARM64,
    });
    o.u16(sections.len() as u16);
    o.u32(0); // TimeDateStamp: none, so identical inputs give identical files
    o.u32(symbols_offset as u32);
    o.u32(symbols.len() as u32);
    o.u16(OPTIONAL_HEADER_SIZE as u16);
    o.u16(IMAGE_FILE_EXECUTABLE_IMAGE | IMAGE_FILE_LARGE_ADDRESS_AWARE);
    // Optional header.
    let initialised: u64 = sections[1..].iter().map(|s| s.raw_size).sum();
    o.u16(PE32_PLUS_MAGIC);
    o.u8(0); // linker version
    o.u8(0);
    o.u32(l.text_raw_size as u32); // SizeOfCode
    o.u32(initialised as u32); // SizeOfInitializedData
    o.u32(0); // SizeOfUninitializedData: the bss is inside .data
    o.u32((image.entry - IMAGE_BASE) as u32); // AddressOfEntryPoint
    o.u32(l.text_rva as u32); // BaseOfCode
    o.u64(IMAGE_BASE);
    o.u32(SECTION_ALIGN as u32);
    o.u32(FILE_ALIGN as u32);
    for v in [OS_VERSION.0, OS_VERSION.1, 0, 0, OS_VERSION.0, OS_VERSION.1] {
        o.u16(v); // operating system, image and subsystem versions
    }
    o.u32(0); // Win32VersionValue
    o.u32(image_size as u32);
    o.u32(l.headers_size as u32);
    o.u32(0); // CheckSum: computed by `finish`
    o.u16(IMAGE_SUBSYSTEM_EFI_APPLICATION);
    o.u16(
        IMAGE_DLLCHARACTERISTICS_HIGH_ENTROPY_VA
            | IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE
            | IMAGE_DLLCHARACTERISTICS_NX_COMPAT,
    );
    o.u64(STACK_RESERVE);
    o.u64(STACK_COMMIT);
    o.u64(HEAP_RESERVE);
    o.u64(HEAP_COMMIT);
    o.u32(0); // LoaderFlags
    o.u32(DATA_DIRECTORIES as u32);
    for k in 0..DATA_DIRECTORIES {
        match sections.iter().find(|s| s.name == b".reloc").filter(|_| k == IMAGE_DIRECTORY_ENTRY_BASERELOC) {
            Some(reloc) => {
                o.u32(reloc.rva as u32);
                o.u32(reloc.virtual_size as u32);
            }
            None => o.u64(0),
        }
    }
    // Section headers.
    for s in &sections {
        o.name::<8>(s.name);
        o.u32(s.virtual_size as u32);
        o.u32(s.rva as u32);
        o.u32(s.raw_size as u32);
        o.u32(s.raw_offset as u32);
        o.u32(0); // PointerToRelocations
        o.u32(0); // PointerToLinenumbers
        o.u16(0); // NumberOfRelocations
        o.u16(0); // NumberOfLinenumbers
        o.u32(s.characteristics);
    }
    // Contents.
    o.pad_to(l.headers_size);
    o.bytes(&image.text);
    o.pad_to(l.rdata_offset);
    o.bytes(&image.rodata);
    o.pad_to(l.data_offset);
    o.bytes(&image.data);
    o.pad_to(reloc_offset);
    if !relocations.is_empty() {
        o.bytes(&relocations);
        o.pad_to(reloc_offset + reloc_raw_size);
    }
    // The COFF symbol table, then its string table (its size first,
    // which offsets count).
    let mut strings = StringTable::starting_with(&[]);
    for s in &symbols {
        if s.name.len() <= SHORT_NAME {
            o.name::<SHORT_NAME>(s.name.as_bytes());
        } else {
            o.u32(0);
            o.u32(4 + strings.add("", &s.name));
        }
        o.u32(s.value);
        o.u16(s.section);
        o.u16(s.kind);
        o.u8(s.class);
        o.u8(0); // NumberOfAuxSymbols
    }
    o.u32(4 + strings.size() as u32);
    o.bytes(strings.bytes());
    o.into_bytes()
}
