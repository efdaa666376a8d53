//! The PE32+ (UEFI) files the writer produces, read back by parsers that
//! are not ours: the `object` crate and `llvm-readobj`; the checksum
//! recomputed here from the format's definition.

use std::path::{Path, PathBuf};
use std::process::Command;

use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};
use object::{LittleEndian as LE, Object, ObjectSection, ObjectSymbol};
use vbeam_native_core::compile::START_SYMBOL;
use vbeam_native_core::compile_term;
use vbeam_native_core::ir::Format;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures").join(name)
}

fn compile(name: &str, isa: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(fixture(&format!("{name}_{isa}.ir"))).unwrap();
    compile_term(&&vbeam_native_ir_text::parse(&text).unwrap(), None, Some(Format::Pe)).unwrap()
}

fn function_names(name: &str, isa: &str) -> Vec<String> {
    let text = std::fs::read_to_string(fixture(&format!("{name}_{isa}.ir"))).unwrap();
    text.split("name => <<\"").skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
}

/// Addresses a DIR64 base relocation adjusts, as RVAs.
fn dir64_relocations(file: &PeFile64) -> Vec<u32> {
    let mut rvas = Vec::new();
    let directories = file.data_directories();
    if let Some(mut blocks) = directories.relocation_blocks(file.data(), &file.section_table()).unwrap() {
        while let Some(block) = blocks.next().unwrap() {
            for r in block {
                if r.typ == pe::IMAGE_REL_BASED_DIR64 {
                    rvas.push(r.virtual_address);
                } else {
                    assert_eq!(r.typ, pe::IMAGE_REL_BASED_ABSOLUTE, "only DIR64 and padding");
                }
            }
        }
    }
    rvas
}

#[test]
fn object_reads_headers_sections_relocations_and_symbols() {
    for isa in ["x86_64", "arm64"] {
        let bytes = compile("pointers", isa);
        let file = PeFile64::parse(&*bytes).unwrap();
        let nt = file.nt_headers();
        let machine = if isa == "x86_64" { pe::IMAGE_FILE_MACHINE_AMD64 } else { pe::IMAGE_FILE_MACHINE_ARM64 };
        assert_eq!(nt.file_header().machine.get(LE), machine);
        let optional = nt.optional_header();
        assert_eq!(optional.subsystem(), pe::IMAGE_SUBSYSTEM_EFI_APPLICATION, "{isa}");
        assert_eq!((optional.section_alignment(), optional.file_alignment()), (0x1000, 0x200));
        let image_base = optional.image_base();

        // Code r-x, read-only data (the runtime's texts and function
        // table) r--, data rw-, relocations read-only: never writable and
        // executable at once.
        let sections: Vec<(String, u32, u64, u64)> = file
            .section_table()
            .iter()
            .map(|s| {
                let name = String::from_utf8(s.raw_name().to_vec()).unwrap().trim_end_matches('\0').to_string();
                (name, s.characteristics.get(LE), s.virtual_address.get(LE) as u64, s.virtual_size.get(LE) as u64)
            })
            .collect();
        let names: Vec<&str> = sections.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(names, [".text", ".rdata", ".data", ".reloc"], "{isa}");
        for (name, flags, rva, _) in &sections {
            assert_eq!(rva % 0x1000, 0, "{isa}: {name} page aligned");
            let writable = flags & pe::IMAGE_SCN_MEM_WRITE != 0;
            let executable = flags & pe::IMAGE_SCN_MEM_EXECUTE != 0;
            assert!(!(writable && executable), "{isa}: {name} is W+X");
        }
        assert_ne!(sections[0].1 & pe::IMAGE_SCN_MEM_EXECUTE, 0);
        assert_eq!(sections[1].1 & (pe::IMAGE_SCN_MEM_WRITE | pe::IMAGE_SCN_MEM_EXECUTE), 0);
        assert_ne!(sections[2].1 & pe::IMAGE_SCN_MEM_WRITE, 0);

        // Every stored address has its relocation, and holds an address of
        // the image: three header and three table entries' data addresses,
        // two function addresses.
        let relocations = dir64_relocations(&file);
        assert_eq!(relocations.len(), 8, "{isa}");
        let data = &sections[2];
        let image_end = image_base + optional.size_of_image() as u64;
        let data_section = file.section_by_name(".data").unwrap();
        let contents = data_section.data().unwrap();
        for rva in &relocations {
            let rva = *rva as u64;
            assert!((data.2..data.2 + data.3).contains(&rva), "{isa}: relocation at {rva:#x} outside .data");
            let at = (rva - data.2) as usize;
            let stored = u64::from_le_bytes(contents[at..at + 8].try_into().unwrap());
            assert!((image_base..image_end).contains(&stored), "{isa}: {stored:#x} is not an address of the image");
        }

        // Symbols: every function, in .text; the entry point is the
        // start-up's.
        let symbols: Vec<(String, u64)> =
            file.symbols().map(|s| (s.name().unwrap().to_string(), s.address())).collect();
        for f in function_names("pointers", isa) {
            assert!(symbols.iter().any(|s| s.0 == f), "{isa}: no symbol {f} in {symbols:?}");
        }
        let start = symbols.iter().find(|s| s.0 == START_SYMBOL).expect("the entry point's symbol");
        assert_eq!(file.entry(), start.1, "{isa}: the entry point is {START_SYMBOL}");
        let text = file.section_by_name(".text").unwrap();
        assert!((text.address()..text.address() + text.size()).contains(&start.1));
    }
}

/// The PE checksum, computed here: 16-bit words summed with end-around
/// carry, the field itself skipped, plus the length.
#[test]
fn checksum_is_the_formats() {
    for isa in ["x86_64", "arm64"] {
        let bytes = compile("maps", isa);
        let pe_offset = u32::from_le_bytes(bytes[0x3c..0x40].try_into().unwrap()) as usize;
        let field = pe_offset + 4 + 20 + 64;
        let mut sum: u32 = 0;
        for (k, pair) in bytes.chunks(2).enumerate() {
            if k * 2 == field || k * 2 == field + 2 {
                continue;
            }
            sum += u16::from_le_bytes([pair[0], *pair.get(1).unwrap_or(&0)]) as u32;
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let want = (sum & 0xffff) + bytes.len() as u32;
        assert_eq!(u32::from_le_bytes(bytes[field..field + 4].try_into().unwrap()), want, "{isa}");
        assert_eq!(bytes, compile("maps", isa), "{isa}: deterministic");
    }
}

/// `llvm-readobj`'s view: an EFI application, its sections, one DIR64 base
/// relocation per stored address.
#[test]
fn llvm_readobj_reads_headers_sections_and_base_relocations() {
    for isa in ["x86_64", "arm64"] {
        let path = std::env::temp_dir().join(format!("vbeam_pe_{}_{isa}.efi", std::process::id()));
        std::fs::write(&path, compile("pointers", isa)).unwrap();
        let out = Command::new("llvm-readobj")
            .args(["--file-headers", "--sections", "--coff-basereloc"])
            .arg(&path)
            .output()
            .expect("llvm-readobj (package llvm)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        for expected in [
            "IMAGE_SUBSYSTEM_EFI_APPLICATION",
            "Magic: 0x20B",
            "Name: .text",
            "Name: .data",
            "Name: .reloc",
            "IMAGE_SCN_MEM_EXECUTE",
            "IMAGE_SCN_MEM_WRITE",
        ] {
            assert!(text.contains(expected), "{isa}: no `{expected}` in\n{text}");
        }
        assert_eq!(text.matches("Type: DIR64").count(), 8, "{isa}:\n{text}");
        // The disassembler names every function from the symbol table.
        let out = Command::new("llvm-objdump").arg("-d").arg(&path).output().expect("llvm-objdump");
        let listing = String::from_utf8(out.stdout).unwrap();
        for f in function_names("pointers", isa) {
            assert!(listing.contains(&format!("<{f}>:")), "{isa}: no <{f}> in the disassembly");
        }
        let _ = std::fs::remove_file(&path);
    }
}

/// The string literals' bytes and the runtime's texts are read-only data,
/// in a section of their own that is neither writable nor executable.
#[test]
fn read_only_data_has_its_own_section() {
    for isa in ["x86_64", "arm64"] {
        let bytes = compile("text", isa);
        let file = PeFile64::parse(&*bytes).unwrap();
        let rdata = file.section_table().iter().find(|s| s.raw_name() == b".rdata").expect("an .rdata section");
        let flags = rdata.characteristics.get(LE);
        assert_ne!(flags & pe::IMAGE_SCN_MEM_READ, 0, "{isa}");
        assert_eq!(flags & (pe::IMAGE_SCN_MEM_WRITE | pe::IMAGE_SCN_MEM_EXECUTE), 0, "{isa}");
        let section = file.section_by_name(".rdata").unwrap();
        let literal = file.symbols().find(|s| s.name().is_ok_and(|n| n.starts_with("__vbeam_lit"))).expect("a literal");
        assert!((section.address()..section.address() + section.size()).contains(&literal.address()), "{isa}");
    }
}
