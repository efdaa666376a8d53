//! The listing (`-S`) is the code the backend wrote: for every fixture,
//! on both ISAs, optimized and at `-O0`, the listing assembled by
//! `llvm-mc` (which must be on PATH: CI installs it), its references to the
//! data resolved at the executable's addresses, is byte for byte the
//! executable's `.text`. Asking for the listing does not change the
//! executable.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use object::read::elf::ElfFile64;
use object::{Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SymbolSection};
use vbeam_native_core::compile::{compile_term_with, Options};
use vbeam_native_core::ir::{Format, Isa};
use vbeam_native_core::listing;

fn fixtures() -> Vec<std::path::PathBuf> {
    let dir = common::fixtures_dir();
    let paths = common::ir_files(&dir);
    assert!(paths.len() >= 16, "fixtures missing from {}", dir.display());
    paths
}

/// The `.text` of an ELF file: its bytes and address.
fn text_section<'a>(elf: &ElfFile64<'a>) -> (&'a [u8], u64) {
    let text = elf.section_by_name(".text").expect("a .text section");
    (text.data().unwrap(), text.address())
}

/// The object file's code placed at `at`, its references to symbols it
/// does not define resolved to the addresses `symbols` gives them.
fn linked(object: &ElfFile64, at: u64, symbols: &HashMap<String, u64>) -> Result<Vec<u8>, String> {
    let section = object.section_by_name(".text").unwrap();
    let mut code = section.data().unwrap().to_vec();
    for (offset, reloc) in section.relocations() {
        let RelocationTarget::Symbol(k) = reloc.target() else { return Err("a relocation to no symbol".into()) };
        let symbol = object.symbol_by_index(k).unwrap();
        let s = match symbol.section() {
            SymbolSection::Undefined => {
                let name = symbol.name().unwrap();
                *symbols.get(name).ok_or_else(|| format!("the listing names {name:?}, the executable does not"))?
            }
            _ => at + symbol.address(),
        };
        let (s, p) = (s.wrapping_add(reloc.addend() as u64), at + offset);
        let RelocationFlags::Elf { r_type } = reloc.flags() else { unreachable!("an ELF object") };
        let field = offset as usize;
        let word = u32::from_le_bytes(code[field..field + 4].try_into().unwrap());
        let patched = match r_type {
            object::elf::R_X86_64_PC32 | object::elf::R_X86_64_PLT32 => s.wrapping_sub(p) as u32,
            object::elf::R_AARCH64_ADR_PREL_PG_HI21 => {
                let pages = ((s >> 12).wrapping_sub(p >> 12)) as u32 & 0x1f_ffff;
                word & !(3 << 29 | 0x7ffff << 5) | (pages & 3) << 29 | (pages >> 2) << 5
            }
            object::elf::R_AARCH64_ADD_ABS_LO12_NC => word & !(0xfff << 10) | ((s & 0xfff) as u32) << 10,
            object::elf::R_AARCH64_CALL26 | object::elf::R_AARCH64_JUMP26 => {
                word & !0x03ff_ffff | (s.wrapping_sub(p) >> 2) as u32 & 0x03ff_ffff
            }
            other => return Err(format!("relocation type {other} at {offset:#x}")),
        };
        code[field..field + 4].copy_from_slice(&patched.to_le_bytes());
    }
    Ok(code)
}

/// Where the two codes first differ, with the listing's lines around it.
fn first_difference(ours: &[u8], assembled: &[u8]) -> String {
    let at = ours.iter().zip(assembled).position(|(a, b)| a != b).unwrap_or(ours.len().min(assembled.len()));
    let window = |b: &[u8]| b[at.saturating_sub(4)..(at + 8).min(b.len())].to_vec();
    format!(
        "{} bytes written, {} assembled; first difference at {at:#x}: {:02x?} vs {:02x?}",
        ours.len(),
        assembled.len(),
        window(ours),
        window(assembled)
    )
}

/// Compiles `path` with its listing, assembles the listing and compares.
fn check(path: &Path, options: &Options, work: &Path) -> Result<(), String> {
    let term = vbeam_native_ir_text::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let listed = Options { listing: true, ..options.clone() };
    let compilation = compile_term_with(&&term, None, Some(Format::Elf64), &listed).map_err(|e| e.to_string())?;
    let plain = compile_term_with(&&term, None, Some(Format::Elf64), options).map_err(|e| e.to_string())?;
    if plain.executable != compilation.executable {
        return Err("the listing changed the executable".into());
    }
    let listing = compilation.listing.expect("asked for");
    let text = listing.text(&HashMap::new());
    let stem = format!("{}_O{}", path.file_stem().unwrap().to_str().unwrap(), options.opt_level);
    let (source, object_path) = (work.join(format!("{stem}.s")), work.join(format!("{stem}.o")));
    std::fs::write(&source, &text).unwrap();
    let out = Command::new("llvm-mc")
        .arg(format!("-triple={}", listing::triple(listing.isa)))
        .args(["-filetype=obj", "-o"])
        .args([&object_path, &source])
        .output()
        .expect("llvm-mc must be installed (apt-get install llvm)");
    if !out.status.success() {
        let errors = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "llvm-mc refused {}: {}",
            source.display(),
            errors.lines().take(6).collect::<Vec<_>>().join("\n")
        ));
    }
    let object_bytes = std::fs::read(&object_path).unwrap();
    let object = ElfFile64::<object::Endianness>::parse(&*object_bytes).unwrap();
    let exe = ElfFile64::<object::Endianness>::parse(&*compilation.executable).unwrap();
    let symbols: HashMap<String, u64> = exe.symbols().map(|s| (s.name().unwrap().to_string(), s.address())).collect();
    let (code, at) = text_section(&exe);
    let assembled = linked(&object, at, &symbols)?;
    if assembled != code {
        return Err(format!("{}: {}", source.display(), first_difference(code, &assembled)));
    }
    // Every function of the program is in it, and the IR with it.
    for name in exe.symbols().filter(|s| s.section_index() == exe.section_by_name(".text").map(|t| t.index())) {
        let label = format!("{}:\n", vbeam_native_core::code::symbol_text(name.name().unwrap()));
        if !text.contains(&label) {
            return Err(format!("{}: no label {label:?}", source.display()));
        }
    }
    let comment = match listing.isa {
        Isa::X86_64 => "\t# {",
        Isa::Arm64 => "\t// {",
    };
    if !text.contains(comment) {
        return Err(format!("{}: no IR comment", source.display()));
    }
    Ok(())
}

#[test]
fn every_fixture_listing_assembles_to_its_code() {
    let work = std::env::temp_dir().join(format!("vbeam_listing_{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let mut failures = Vec::new();
    let paths = fixtures();
    for path in &paths {
        for opt_level in [1, 0] {
            let options = Options { opt_level, ..Options::default() };
            if let Err(e) = check(path, &options, &work) {
                failures.push(format!("{} at -O{opt_level}: {e}", path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} listings differ:\n{}", failures.len(), 2 * paths.len(), failures.join("\n"));
    std::fs::remove_dir_all(&work).unwrap();
}
