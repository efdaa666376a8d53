//! `-g` on generated programs: every pass keeps each instruction's place
//! beside it (`Function::sources`) through whatever it does to the body,
//! and the executable's code and data are those without `-g`. The
//! programs are compiled from their text, where every instruction has a
//! place, on both ISAs, optimized and not.

use object::{Object, ObjectSection};
use vbeam_native_core::compile::{compile_term_with, Options};
use vbeam_native_core::ir::Isa;
use vbeam_native_ir_text::Document;
use vbeam_native_testkit::gen::{generate, Config};
use vbeam_native_testkit::ir_text::to_text;

const PROGRAMS: u64 = 150;

/// The bytes of the loaded sections, and whether there is a line table.
fn loaded(binary: &[u8]) -> (Vec<Vec<u8>>, bool) {
    let file = object::File::parse(binary).unwrap();
    let loaded = [".text", ".rodata", ".data"];
    let sections =
        file.sections().filter(|s| loaded.contains(&s.name().unwrap_or(""))).map(|s| s.data().unwrap().to_vec());
    (sections.collect(), file.section_by_name(".debug_line").is_some())
}

#[test]
fn generated_programs_keep_their_code_with_debug_information() {
    for isa in [Isa::X86_64, Isa::Arm64] {
        for seed in 0..PROGRAMS {
            let text = to_text(&generate(isa, 7_000 + seed, &Config::default()));
            let doc = Document::parse(text.as_bytes()).unwrap();
            let module = &doc.terms()[0];
            for opt_level in [0, 1] {
                let compile = |debug: Option<String>| {
                    let options = Options { opt_level, debug, ..Options::default() };
                    compile_term_with(module, None, None, &options).unwrap_or_else(|e| panic!("{isa:?} {seed}: {e:?}"))
                };
                let (plain, with_debug) = (compile(None).executable, compile(Some("gen.ir".into())).executable);
                let (plain, no_lines) = loaded(&plain);
                let (debug, lines) = loaded(&with_debug);
                assert!(!no_lines && lines, "{isa:?} seed {seed} -O{opt_level}: the line table");
                assert!(plain == debug, "{isa:?} seed {seed} -O{opt_level}: -g changed the code\n{text}");
            }
        }
    }
}
