//! The Mach-O files the writer produces, read back by parsers that are not
//! ours: the `object` crate and LLVM's `llvm-objdump`; and the code
//! signature checked by recomputing every page hash from the file here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use object::macho;
use object::read::macho::{LoadCommandVariant, MachHeader, MachOFile64, Segment as _};
use object::{Endianness, Object, ObjectSection, ObjectSegment, ObjectSymbol};
use sha2::{Digest, Sha256};
use vbeam_native_core::compile::START_SYMBOL;
use vbeam_native_core::compile_term;
use vbeam_native_core::ir::Format;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures").join(name)
}

/// The fixture `name_isa.ir` compiled as a Mach-O.
fn compile(name: &str, isa: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(fixture(&format!("{name}_{isa}.ir"))).unwrap();
    let term = vbeam_native_ir_text::parse(&text).unwrap();
    compile_term(&&term, None, Some(Format::Macho)).unwrap()
}

/// The function names a fixture defines, from its text.
fn function_names(name: &str, isa: &str) -> Vec<String> {
    let text = std::fs::read_to_string(fixture(&format!("{name}_{isa}.ir"))).unwrap();
    text.split("name => <<\"").skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
}

fn write_temp(bytes: &[u8], name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("vbeam_macho_{}_{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

#[test]
fn object_reads_segments_commands_and_symbols() {
    for isa in ["x86_64", "arm64"] {
        let bytes = compile("pointers", isa);
        let file = MachOFile64::<Endianness>::parse(&*bytes).unwrap();
        let header = file.macho_header();
        let e = file.endian();
        assert_eq!(header.filetype(e), macho::MH_EXECUTE);
        let flags = header.flags(e);
        for flag in [macho::MH_PIE, macho::MH_DYLDLINK, macho::MH_TWOLEVEL, macho::MH_NOUNDEFS] {
            assert_ne!(flags & flag, 0, "{isa}: flag {flag:#x}");
        }
        let cpu = if isa == "x86_64" { macho::CPU_TYPE_X86_64 } else { macho::CPU_TYPE_ARM64 };
        assert_eq!(header.cputype(e), cpu);

        // Segments in address order, with their protections.
        let page = if isa == "arm64" { 0x4000 } else { 0x1000 };
        let mut segments: Vec<(String, u64, u64, u64, u32)> = Vec::new();
        let mut it = file.macho_load_commands().unwrap();
        while let Some(c) = it.next().unwrap() {
            if let Some((s, _)) = c.segment_64().unwrap() {
                let name = String::from_utf8(s.name().to_vec()).unwrap();
                segments.push((name, s.vmaddr.get(e), s.vmsize.get(e), s.fileoff.get(e), s.initprot.get(e)));
            }
        }
        let names: Vec<&str> = segments.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(names, ["__PAGEZERO", "__TEXT", "__DATA", "__LINKEDIT"], "{isa}");
        assert_eq!((segments[0].1, segments[0].2, segments[0].4), (0, 1 << 32, 0));
        assert_eq!((segments[1].1, segments[1].3), (1 << 32, 0), "{isa}: __TEXT maps the header");
        assert_eq!(segments[1].4, macho::VM_PROT_READ | macho::VM_PROT_EXECUTE);
        assert_eq!(segments[2].4, macho::VM_PROT_READ | macho::VM_PROT_WRITE);
        assert_eq!(segments[3].4, macho::VM_PROT_READ);
        for (name, addr, _, offset, _) in &segments[1..] {
            assert_eq!((addr % page, offset % page), (0, 0), "{isa}: {name} aligned to {page:#x}");
        }
        for w in segments.windows(2) {
            assert!(w[0].1 + w[0].2 <= w[1].1, "{isa}: {} overlaps {}", w[0].0, w[1].0);
        }
        let linkedit = file.segments().last().unwrap();
        let (offset, size) = linkedit.file_range();
        assert_eq!(offset + size, bytes.len() as u64, "{isa}: __LINKEDIT ends the file");

        // Load commands: each required one, once.
        let mut commands = Vec::new();
        let mut it = file.macho_load_commands().unwrap();
        while let Some(c) = it.next().unwrap() {
            commands.push(c.cmd());
        }
        for cmd in [
            macho::LC_DYLD_INFO_ONLY,
            macho::LC_SYMTAB,
            macho::LC_DYSYMTAB,
            macho::LC_LOAD_DYLINKER,
            macho::LC_UUID,
            macho::LC_BUILD_VERSION,
            macho::LC_MAIN,
            macho::LC_LOAD_DYLIB,
            macho::LC_CODE_SIGNATURE,
        ] {
            assert_eq!(commands.iter().filter(|c| **c == cmd).count(), 1, "{isa}: load command {cmd:#x}");
        }
        assert!(file.mach_uuid().unwrap().is_some_and(|u| u != [0; 16]), "{isa}: a UUID");

        // Every function of the program has its symbol, in __text, and the
        // entry point is the start-up's address.
        let symbols: Vec<(String, u64, bool)> =
            file.symbols().map(|s| (s.name().unwrap().to_string(), s.address(), s.is_global())).collect();
        for f in function_names("pointers", isa) {
            let name = format!("_{f}");
            assert!(symbols.iter().any(|s| s.0 == name), "{isa}: no symbol {name} in {symbols:?}");
        }
        assert!(symbols.iter().any(|s| s.0 == "_main" && s.2), "{isa}: _main is global");
        let start_name = format!("_{START_SYMBOL}");
        let start = symbols.iter().find(|s| s.0 == start_name).expect("the entry point's symbol");
        // LC_MAIN's entryoff is a file offset; __TEXT maps the file from 0.
        assert_eq!(segments[1].1 + file.entry(), start.1, "{isa}: LC_MAIN enters at {START_SYMBOL}");
        // Data entries' symbols are in __data (the fixture has no bss).
        let data = file.section_by_name("__data").unwrap();
        for name in ["_hello", "_greetings", "_operations"] {
            let (_, addr, _) = symbols.iter().find(|s| s.0 == name).expect("a data symbol");
            assert!((data.address()..data.address() + data.size()).contains(addr), "{isa}: {name} outside __data");
        }
        let text = file.section_by_name("__text").unwrap();
        for (name, addr, _) in
            symbols.iter().filter(|s| function_names("pointers", isa).contains(&s.0[1..].to_string()))
        {
            assert!((text.address()..text.address() + text.size()).contains(addr), "{isa}: {name} outside __text");
        }
    }
}

/// `llvm-objdump --macho --private-headers`' view of the load commands, and
/// its rebase table: one pointer for each address the fixture stores.
#[test]
fn llvm_objdump_reads_load_commands_and_rebases() {
    for isa in ["x86_64", "arm64"] {
        let path = write_temp(&compile("pointers", isa), &format!("pointers_{isa}"));
        let run = |args: &[&str]| {
            let out = Command::new("llvm-objdump").args(args).arg(&path).output().expect("llvm-objdump (package llvm)");
            assert!(out.status.success(), "llvm-objdump {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        };
        let headers = run(&["--macho", "--private-headers"]);
        let commands: Vec<&str> =
            headers.lines().filter_map(|l| l.trim().strip_prefix("cmd ")).map(|c| c.trim()).collect();
        assert_eq!(
            commands,
            [
                "LC_SEGMENT_64",
                "LC_SEGMENT_64",
                "LC_SEGMENT_64",
                "LC_SEGMENT_64",
                "LC_DYLD_INFO_ONLY",
                "LC_SYMTAB",
                "LC_DYSYMTAB",
                "LC_LOAD_DYLINKER",
                "LC_UUID",
                "LC_BUILD_VERSION",
                "LC_MAIN",
                "LC_LOAD_DYLIB",
                "LC_CODE_SIGNATURE"
            ],
            "{isa}"
        );
        for expected in [
            "name /usr/lib/dyld",
            "name /usr/lib/libSystem.B.dylib",
            "platform macos",
            "minos 12.0",
            "vmsize 0x0000000100000000",
            "PIE",
        ] {
            assert!(headers.contains(expected), "{isa}: no `{expected}` in\n{headers}");
        }
        let rebases = run(&["--macho", "--rebase"]);
        let pointers = rebases.lines().filter(|l| l.contains("__DATA") && l.ends_with("pointer")).count();
        // Three headers' and three table entries' data addresses, two
        // function addresses.
        assert_eq!(pointers, 8, "{isa}:\n{rebases}");
        let _ = std::fs::remove_file(&path);
    }
}

/// The code signature, read and checked here from the format's definition
/// (`cs_blobs.h`), apart from the code that writes it: every page hash,
/// the limits, the identifier, the executable segment.
#[test]
fn code_signature_hashes_every_page() {
    for isa in ["x86_64", "arm64"] {
        let bytes = compile("maps", isa);
        let file = MachOFile64::<Endianness>::parse(&*bytes).unwrap();
        let e = file.endian();
        let mut it = file.macho_load_commands().unwrap();
        let mut signature = None;
        while let Some(c) = it.next().unwrap() {
            if let LoadCommandVariant::LinkeditData(data) = c.variant().unwrap() {
                if c.cmd() == macho::LC_CODE_SIGNATURE {
                    signature = Some((data.dataoff.get(e) as usize, data.datasize.get(e) as usize));
                }
            }
        }
        let (offset, size) = signature.expect("LC_CODE_SIGNATURE");
        assert_eq!(offset + size, bytes.len(), "{isa}: the signature ends the file");
        let blob = &bytes[offset..offset + size];
        assert_eq!(be32(blob, 0), 0xfade_0cc0, "{isa}: SuperBlob magic");
        assert_eq!(be32(blob, 4) as usize, size);
        let count = be32(blob, 8) as usize;
        let directory = (0..count)
            .map(|k| (be32(blob, 12 + 8 * k), be32(blob, 16 + 8 * k) as usize))
            .find(|(slot, _)| *slot == 0)
            .expect("a CodeDirectory slot")
            .1;
        let cd = &blob[directory..];
        assert_eq!(be32(cd, 0), 0xfade_0c02, "{isa}: CodeDirectory magic");
        assert!(be32(cd, 8) >= 0x20400, "{isa}: version with the exec segment");
        assert_ne!(be32(cd, 12) & 0x2, 0, "{isa}: ad-hoc");
        let (hash_offset, ident_offset) = (be32(cd, 16) as usize, be32(cd, 20) as usize);
        let (special, slots, code_limit) = (be32(cd, 24), be32(cd, 28) as usize, be32(cd, 32) as usize);
        let (hash_size, hash_type, page_log2) = (cd[36], cd[37], cd[39]);
        assert_eq!((special, hash_size, hash_type, page_log2), (0, 32, 2, 12), "{isa}");
        assert_eq!(code_limit, offset, "{isa}: every byte before the signature is signed");
        let page = 1usize << page_log2;
        assert_eq!(slots, code_limit.div_ceil(page));
        for (k, chunk) in bytes[..code_limit].chunks(page).enumerate() {
            let stored = &cd[hash_offset + 32 * k..hash_offset + 32 * (k + 1)];
            assert_eq!(stored, Sha256::digest(chunk).as_slice(), "{isa}: page {k}");
        }
        let ident_end = cd[ident_offset..].iter().position(|b| *b == 0).expect("a NUL-terminated identifier");
        assert!(ident_end > 0 && ident_offset + ident_end < hash_offset);
        let u64_at = |at: usize| u64::from_be_bytes(cd[at..at + 8].try_into().unwrap());
        let text = file.segments().find(|s| s.name() == Ok(Some("__TEXT"))).unwrap();
        assert_eq!((u64_at(64), u64_at(72)), text.file_range(), "{isa}: execSegBase/Limit are __TEXT's");
        assert_eq!(u64_at(80) & 1, 1, "{isa}: main binary");

        // And the loader's own check agrees; one flipped byte and it does not.
        vbeam_native_macho_loader::codesign::verify(&bytes).unwrap();
        let mut flipped = bytes.clone();
        flipped[text.file_range().0 as usize + 0x400] ^= 1;
        assert!(vbeam_native_macho_loader::codesign::verify(&flipped).is_err());
    }
}

/// Identical inputs give identical files (the UUID is derived from the
/// contents), and different programs different UUIDs.
#[test]
fn files_are_deterministic() {
    let uuids: BTreeSet<[u8; 16]> = ["hello", "maps", "pointers"]
        .iter()
        .map(|name| {
            let a = compile(name, "arm64");
            assert_eq!(a, compile(name, "arm64"), "{name}");
            MachOFile64::<Endianness>::parse(&*a).unwrap().mach_uuid().unwrap().unwrap()
        })
        .collect();
    assert_eq!(uuids.len(), 3);
}

/// macOS's signal number for a bad access.
const SIGSEGV: i32 = 11;

/// What dyld refuses in our own files: a missing `LC_MAIN` (re-signed so
/// the signature is not what fails), and a stored address left unrebased
/// (the program then reads unmapped memory at the slide, and its fault
/// handler reports it).
#[test]
fn the_loader_refuses_our_files_broken() {
    use vbeam_native_macho_loader::{self as loader, Options, Outcome};
    for isa in ["x86_64", "arm64"] {
        let bytes = compile("pointers", isa);
        let run = loader::run(&bytes, &Options::default()).unwrap();
        assert_eq!(run.outcome, Outcome::Exited(0), "{isa}");

        let file = MachOFile64::<Endianness>::parse(&*bytes).unwrap();
        let e = file.endian();
        let mut it = file.macho_load_commands().unwrap();
        let (mut main_at, mut dyld_info_at, mut rebase_size) = (None, None, 0);
        let mut at = 32;
        while let Some(c) = it.next().unwrap() {
            match c.variant().unwrap() {
                LoadCommandVariant::EntryPoint(_) => main_at = Some(at),
                LoadCommandVariant::DyldInfo(info) => {
                    dyld_info_at = Some(at);
                    rebase_size = info.rebase_size.get(e);
                }
                _ => {}
            }
            at += c.cmdsize() as usize;
        }

        // LC_MAIN turned into a command number no loader knows and dyld
        // may ignore (not LC_REQ_DYLD), of the same size.
        const UNKNOWN_COMMAND: u32 = 0x7f;
        let mut no_main = bytes.clone();
        no_main[main_at.unwrap()..main_at.unwrap() + 4].copy_from_slice(&UNKNOWN_COMMAND.to_le_bytes());
        loader::codesign::resign(&mut no_main);
        let refused = loader::run(&no_main, &Options::default()).unwrap_err();
        assert!(refused.to_string().contains("LC_MAIN"), "{isa}: {refused}");

        // No rebase opcodes (LC_DYLD_INFO_ONLY's rebase_size 0).
        assert!(rebase_size > 1, "{isa}: the fixture stores addresses");
        const REBASE_SIZE_FIELD: usize = 12;
        let mut unrebased = bytes.clone();
        let field = dyld_info_at.unwrap() + REBASE_SIZE_FIELD;
        unrebased[field..field + 4].fill(0);
        loader::codesign::resign(&mut unrebased);
        let run = loader::run(&unrebased, &Options::default()).unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.outcome, Outcome::Exited(128 + SIGSEGV), "{isa}: {stderr}");
        assert!(stderr.starts_with("V panic: segmentation fault at address 0x"), "{isa}: {stderr}");
    }
}
