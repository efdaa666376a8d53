//! What the V compiler's generator really writes (`test/corpus/irgen-examples`,
//! unedited): every file is read, and compiles or fails with an error that
//! names what is missing (a panic, the NIF's internal error, fails the test).
//! Those that compile give the same warnings whichever way they are found.

use std::path::Path;

use vbeam_native_core::decode::decode_module;
use vbeam_native_core::warnings::module_warnings;
use vbeam_native_core::{compile_term, compile_term_with_warnings};

#[test]
fn every_file_the_generator_wrote_compiles_or_names_what_is_missing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/corpus/irgen-examples");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ir"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 57, "corpus missing from {}", dir.display());
    let mut compiled = 0;
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy();
        let term = vbeam_native_ir_text::parse(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        match compile_term(&&term, None, None) {
            Ok(binary) => {
                assert!(binary.starts_with(b"\x7fELF"), "{name}");
                // Warnings found function by function as the compile goes
                // are the module's, and change nothing.
                let (same, warnings) = compile_term_with_warnings(&&term, None, None).unwrap();
                assert!(same == binary, "{name}");
                assert_eq!(warnings, module_warnings(&decode_module(&&term, None, None).unwrap()).unwrap(), "{name}");
                compiled += 1;
            }
            Err(e) => println!("{name}: {e}"),
        }
    }
    println!("{compiled} of {} compile", paths.len());
    // The rest call V modules the generator does not compile (net, os
    // files, term, json, flag, log, sync), or hold its known bugs.
    assert_eq!(compiled, 10);
}
