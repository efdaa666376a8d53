//! Each rule of the static checks, broken one at a time in an otherwise
//! valid ld64.lld executable (re-signed, so only the rule under test is
//! violated), must be refused with a message naming it. And no damage at
//! all may make the loader panic.

mod common;
mod programs;

use common::*;
use vbeam_native_macho_loader::{check, codesign, run, LoadError, Options, Outcome};

fn hello(isa: Isa) -> Vec<u8> {
    build(isa, Signing::AdHoc, "hello", &programs::hello(isa))
}

fn rebased(isa: Isa) -> Vec<u8> {
    build(isa, Signing::AdHoc, "rebased", &programs::rebased(isa))
}

/// Applies `damage` to `image`, re-signs it, and expects `check` to refuse
/// it with a message containing `needle`.
fn refused(image: Vec<u8>, damage: impl FnOnce(&mut Vec<u8>), needle: &str) -> LoadError {
    refused_raw(
        image,
        |d| {
            damage(d);
            if commands(d).iter().any(|c| c.1 == LC_CODE_SIGNATURE) {
                codesign::resign(d);
            }
        },
        needle,
    )
}

/// Like [`refused`] without re-signing: for damage to the signature itself.
fn refused_raw(mut image: Vec<u8>, damage: impl FnOnce(&mut Vec<u8>), needle: &str) -> LoadError {
    check(&image).expect("the undamaged image passes");
    damage(&mut image);
    expect_refusal(&image, needle)
}

fn expect_refusal(image: &[u8], needle: &str) -> LoadError {
    match check(image) {
        Err(e) => {
            assert!(e.to_string().contains(needle), "refusal {e:?} does not mention {needle:?}");
            e
        }
        Ok(()) => panic!("damage accepted; expected a refusal mentioning {needle:?}"),
    }
}

const VM_PROT_READ: u32 = 1;
const VM_PROT_WRITE: u32 = 2;
const VM_PROT_EXECUTE: u32 = 4;

#[test]
fn header_rules() {
    // The header is parsed before the signature is checked: no re-signing needed.
    let image = hello(Isa::Arm64);
    refused_raw(image.clone(), |d| d[1] ^= 0x10, "not a Mach-O file");
    refused_raw(
        image.clone(),
        |d| {
            let (at, v) = (4, 0x0100_0012);
            put_u32(d, at, v)
        },
        "cputype",
    );
    refused_raw(
        image.clone(),
        |d| {
            let (at, v) = (12, 6);
            put_u32(d, at, v)
        },
        "MH_EXECUTE",
    );
    // MH_PIE (0x200000) cleared.
    refused_raw(
        image.clone(),
        |d| {
            let (at, v) = (24, u32_at(d, 24) & !0x20_0000);
            put_u32(d, at, v)
        },
        "MH_PIE",
    );
    refused_raw(
        image.clone(),
        |d| {
            let (at, v) = (24, u32_at(d, 24) & !0x4);
            put_u32(d, at, v)
        },
        "MH_DYLDLINK",
    );
    refused_raw(
        image.clone(),
        |d| {
            let (at, v) = (20, u32_at(d, 20) + 8);
            put_u32(d, at, v)
        },
        "sizeofcmds",
    );
    refused_raw(image.clone(), |d| d.truncate(100), "exceeds length of file");
    refused_raw(image.clone(), |d| d[0..4].copy_from_slice(&[0xca, 0xfe, 0xba, 0xbe]), "universal");
}

#[test]
fn load_command_rules() {
    let image = hello(Isa::Arm64);
    refused(
        image.clone(),
        |d| {
            let (at, v) = (find_command(d, LC_UUID).0 + 4, 28);
            put_u32(d, at, v)
        },
        "not a multiple of 8",
    );
    refused(
        image.clone(),
        |d| {
            let (at, v) = (find_command(d, LC_BUILD_VERSION).0 + 20, 2);
            put_u32(d, at, v)
        },
        "LC_BUILD_VERSION) size wrong",
    );
    refused(
        image.clone(),
        |d| {
            let seg = segment_command(d, "__TEXT");
            {
                let (at, v) = (seg + SEG_NSECTS, u32_at(d, seg + SEG_NSECTS) + 1);
                put_u32(d, at, v)
            };
        },
        "does not match its",
    );
    refused(image.clone(), |d| delete_command(d, LC_UUID), "missing LC_UUID");
    refused(image.clone(), |d| delete_command(d, LC_LOAD_DYLINKER), "missing LC_LOAD_DYLINKER");
    refused(
        image.clone(),
        |d| {
            let (off, _) = find_command(d, LC_LOAD_DYLINKER);
            d[off + 12 + 12] = b'e'; // "/usr/lib/dyld" -> "/usr/lib/dyle"
        },
        "the kernel only loads /usr/lib/dyld",
    );
    refused(
        image.clone(),
        |d| {
            let (off, _) = find_command(d, LC_LOAD_DYLIB);
            d[off + 24 + 21] = b'C'; // libSystem.B -> libSystem.C
        },
        "missing LC_LOAD_DYLIB of /usr/lib/libSystem.B.dylib",
    );
    refused(
        image.clone(),
        |d| {
            let (at, v) = (find_command(d, LC_BUILD_VERSION).0 + 8, 2);
            put_u32(d, at, v)
        },
        "not macOS",
    );
    refused(image.clone(), |d| delete_command(d, LC_BUILD_VERSION), "missing LC_BUILD_VERSION");
    refused(image.clone(), |d| delete_command(d, LC_SYMTAB), "missing LC_SYMTAB");
    refused(
        image.clone(),
        |d| {
            // The dylinker's string offset points past its command.
            let (off, size) = find_command(d, LC_LOAD_DYLINKER);
            {
                let (at, v) = (off + 8, size as u32);
                put_u32(d, at, v)
            };
        },
        "string offset",
    );
    // A second LC_MAIN in place of LC_DATA_IN_CODE (both 16 bytes? no: make LC_UUID one).
    refused(
        image.clone(),
        |d| {
            let (main, size) = find_command(d, LC_MAIN);
            let (uuid, _) = find_command(d, LC_UUID);
            let copy = d[main..main + size].to_vec();
            d[uuid..uuid + size].copy_from_slice(&copy);
        },
        "more than one LC_MAIN",
    );
    // An unknown command without LC_REQ_DYLD is ignored.
    let mut ignored = image.clone();
    retag_command(&mut ignored, LC_DATA_IN_CODE, 0x7e);
    codesign::resign(&mut ignored);
    check(&ignored).expect("unknown optional commands are ignored");
}

#[test]
fn segment_rules() {
    for isa in Isa::ALL {
        let image = rebased(isa);
        let page: u64 = if isa == Isa::Arm64 { 0x4000 } else { 0x1000 };
        refused(
            image.clone(),
            |d| {
                let (at, v) = (segment_command(d, "__PAGEZERO") + SEG_VMSIZE, 0x4000);
                put_u64(d, at, v)
            },
            "__PAGEZERO vmsize",
        );
        refused(
            image.clone(),
            |d| {
                let (at, v) = (segment_command(d, "__PAGEZERO") + SEG_INITPROT, VM_PROT_READ);
                put_u32(d, at, v)
            },
            "initprot 'r--' exceeds maxprot '---'",
        );
        refused(
            image.clone(),
            |d| {
                let seg = segment_command(d, "__PAGEZERO");
                put_u32(d, seg + SEG_MAXPROT, VM_PROT_READ);
                put_u32(d, seg + SEG_INITPROT, VM_PROT_READ);
            },
            "__PAGEZERO must be",
        );
        refused(
            image.clone(),
            |d| {
                let seg = segment_command(d, "__LINKEDIT");
                put_u32(d, seg + SEG_MAXPROT, VM_PROT_READ | VM_PROT_WRITE);
                put_u32(d, seg + SEG_INITPROT, VM_PROT_READ | VM_PROT_WRITE);
            },
            "__LINKEDIT segment permissions",
        );
        refused(
            image.clone(),
            |d| {
                let (at, v) = (segment_command(d, "__TEXT") + SEG_INITPROT, VM_PROT_READ);
                put_u32(d, at, v)
            },
            "__TEXT segment permissions",
        );
        refused(
            image.clone(),
            |d| {
                let seg = segment_command(d, "__DATA");
                {
                    let (at, v) = (seg + SEG_FILEOFF, u64_at(d, seg + SEG_FILEOFF) - page / 2);
                    put_u64(d, at, v)
                };
            },
            "not aligned",
        );
        refused(
            image.clone(),
            |d| {
                let seg = segment_command(d, "__TEXT");
                {
                    let (at, v) = (seg + SEG_VMSIZE, u64_at(d, seg + SEG_VMSIZE) + page);
                    put_u64(d, at, v)
                };
            },
            "overlaps",
        );
        refused(
            image.clone(),
            |d| {
                let seg = segment_command(d, "__TEXT");
                {
                    let (at, v) = (seg + SEG_FIRST_SECTION_SIZE, 0x10_0000);
                    put_u64(d, at, v)
                };
            },
            "ends beyond its segment",
        );
        refused(image.clone(), |d| swap_segment_commands(d, 2), "not __LINKEDIT");
    }
    // W^X: arm64 refuses a writable and executable segment.
    refused(
        rebased(Isa::Arm64),
        |d| {
            let seg = segment_command(d, "__DATA");
            put_u32(d, seg + SEG_MAXPROT, VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXECUTE);
            put_u32(d, seg + SEG_INITPROT, VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXECUTE);
        },
        "writable and executable",
    );
}

#[test]
fn entry_point_rules() {
    let image = rebased(Isa::Arm64);
    refused(
        image.clone(),
        |d| {
            let main = find_command(d, LC_MAIN).0;
            let data = segment_command(d, "__DATA");
            let text = segment_command(d, "__TEXT");
            {
                let (at, v) = (main + 8, u64_at(d, data + SEG_VMADDR) - u64_at(d, text + SEG_VMADDR));
                put_u64(d, at, v)
            };
        },
        "non-executable segment",
    );
    refused(
        image.clone(),
        |d| {
            let (at, v) = (find_command(d, LC_MAIN).0 + 8, 0x1_0000_0000);
            put_u64(d, at, v)
        },
        "out of range",
    );
    refused(
        image.clone(),
        |d| {
            delete_command(d, LC_MAIN);
        },
        "missing LC_MAIN",
    );
}

#[test]
fn linkedit_rules() {
    let image = rebased(Isa::Arm64);
    refused(
        image.clone(),
        |d| {
            // The string table starts where the symbol table does.
            let symtab = find_command(d, LC_SYMTAB).0;
            {
                let (at, v) = (symtab + 16, u32_at(d, symtab + 8));
                put_u32(d, at, v)
            };
        },
        "LINKEDIT overlap",
    );
    refused(
        image.clone(),
        |d| {
            let symtab = find_command(d, LC_SYMTAB).0;
            {
                let (at, v) = (symtab + 8, u32_at(d, symtab + 8) + 4);
                put_u32(d, at, v)
            };
        },
        "mis-aligned LINKEDIT content 'symbol table'",
    );
    // An LC_DYLD_CHAINED_FIXUPS beside the rebase opcodes: two encodings.
    refused(image.clone(), |d| retag_command(d, LC_DATA_IN_CODE, LC_DYLD_CHAINED_FIXUPS), "another fixup encoding");
}

#[test]
fn fixup_rules() {
    let image = rebased(Isa::Arm64);
    // lld writes: SET_TYPE_IMM(pointer), SET_SEGMENT_AND_OFFSET_ULEB(2, ...), ...
    let range = rebase_range(&image);
    assert_eq!(image[range.start], 0x11, "REBASE_OPCODE_SET_TYPE_IMM | REBASE_TYPE_POINTER");
    assert_eq!(image[range.start + 1], 0x22, "REBASE_OPCODE_SET_SEGMENT_AND_OFFSET_ULEB | __DATA");
    refused(image.clone(), |d| d[range.start + 1] = 0x21, "non-writable segment \"__TEXT\"");
    refused(image.clone(), |d| d[range.start + 1] = 0x23, "segment index 3 too large");
    refused(image.clone(), |d| d[range.start] = 0x12, "text relocations");
    refused(image.clone(), |d| d[range.start] = 0xe0, "unknown rebase opcode");
    for isa in Isa::ALL {
        let data = build(isa, Signing::AdHoc, "imports_data", &programs::imports_data(isa));
        let e = expect_refusal(&data, "bind opcodes bind symbol \"_imported_function\"");
        assert!(matches!(e, LoadError::Unsupported(_)), "{e:?}");
        let call = build(isa, Signing::AdHoc, "imports_call", &programs::imports_call(isa));
        expect_refusal(&call, "imports are not provided");
    }
}

#[test]
fn signature_rules() {
    for isa in Isa::ALL {
        let image = hello(isa);
        let (sig, cd) = code_directory(&image);
        refused_raw(image.clone(), |d| d.push(0), "must end with the code signature");
        refused_raw(
            image.clone(),
            |d| {
                let (at, v) = (sig, 0xfade_0cc1);
                put_be_u32(d, at, v)
            },
            "SuperBlob magic",
        );
        refused_raw(
            image.clone(),
            |d| {
                let (at, v) = (cd + CD_CODE_LIMIT, sig as u32 - 16);
                put_be_u32(d, at, v)
            },
            "codeLimit",
        );
        refused_raw(
            image.clone(),
            |d| {
                let (at, v) = (cd + CD_N_CODE_SLOTS, be_u32_at(d, cd + CD_N_CODE_SLOTS) - 1);
                put_be_u32(d, at, v)
            },
            "nCodeSlots",
        );
        refused_raw(image.clone(), |d| d[cd + CD_HASH_TYPE] = 1, "SHA-256");
        refused_raw(
            image.clone(),
            |d| {
                let (at, v) = (cd + CD_EXEC_SEG_LIMIT, 0x10);
                put_be_u64(d, at, v)
            },
            "execSegLimit",
        );
        refused_raw(
            image.clone(),
            |d| {
                let (at, v) = (cd + CD_EXEC_SEG_FLAGS, 0);
                put_be_u64(d, at, v)
            },
            "CS_EXECSEG_MAIN_BINARY",
        );
        refused_raw(
            image.clone(),
            |d| {
                let length = be_u32_at(d, cd + CD_LENGTH);
                {
                    let (at, v) = (cd + CD_IDENT_OFFSET, length);
                    put_be_u32(d, at, v)
                };
            },
            "identifier",
        );
        let e = refused_raw(
            image.clone(),
            |d| {
                let (at, v) = (cd + CD_FLAGS, 0x2_0000);
                put_be_u32(d, at, v)
            },
            "not ad-hoc",
        );
        assert!(matches!(e, LoadError::Unsupported(_)));
    }
    // 16 KiB hash pages: accepted on arm64 (with the matching slot count), not on x86_64.
    let sixteen_k = |d: &mut Vec<u8>| {
        let (sig, cd) = code_directory(d);
        d[cd + CD_PAGE_SIZE] = 14;
        {
            let (at, v) = (cd + CD_N_CODE_SLOTS, (sig as u32).div_ceil(0x4000));
            put_be_u32(d, at, v)
        };
    };
    refused_raw(hello(Isa::X86_64), sixteen_k, "page size field 14");
    let mut arm = hello(Isa::Arm64);
    sixteen_k(&mut arm);
    codesign::resign(&mut arm);
    check(&arm).expect("arm64 takes 16 KiB code signature pages");
    assert_eq!(run(&arm, &Options::default()).unwrap().outcome, Outcome::Exited(42));
}
