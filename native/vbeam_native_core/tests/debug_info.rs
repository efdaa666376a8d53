//! `-g`: executables carry DWARF that real tools read, in ELF files and in
//! a Mach-O executable's `.dSYM`. Every fixture's passes `llvm-dwarfdump
//! --verify` on both ISAs and both formats, optimized and not, with the
//! same code and data as without `-g` (a Mach-O executable is the same
//! file); `gdb` (arm64 through qemu's gdb server) stops at a line of the
//! `.ir`, names the line of every frame, steps to the next line and agrees
//! with the line table; `lldb` resolves a line and an address of a Mach-O
//! executable through its `.dSYM`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use object::{Object, ObjectSection};
use vbeam_native_core::compile::{compile_term_with, Options};
use vbeam_native_core::ir::Format;
use vbeam_native_ir_text::Document;

/// The executable of the module `text` in `format`, with debug information
/// naming the text `name` when `name` is given; and the DWARF file of its
/// `.dSYM` on Mach-O.
fn compile_as(text: &str, format: Format, name: Option<&str>, opt_level: u8) -> (Vec<u8>, Option<Vec<u8>>) {
    let doc = Document::parse(text.as_bytes()).unwrap();
    let options = Options { opt_level, debug: name.map(String::from), ..Options::default() };
    let compiled = compile_term_with(&doc.terms()[0], None, Some(format), &options).unwrap();
    (compiled.executable, compiled.debug_symbols)
}

fn compile(text: &str, name: Option<&str>, opt_level: u8) -> Vec<u8> {
    compile_as(text, Format::Elf64, name, opt_level).0
}

/// `llvm-dwarfdump --verify` of the file at `path` passes.
fn verify(path: &Path, what: &str) {
    let out = Command::new("llvm-dwarfdump").arg("--verify").arg(path).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && report.contains("No errors."), "{what}: {report}");
}

fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vbeam_debug_info_{name}_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The bytes of the loaded sections.
fn loaded_sections(binary: &[u8]) -> Vec<(String, Vec<u8>)> {
    let file = object::File::parse(binary).unwrap();
    let loaded = [".text", ".rodata", ".data"];
    let sections = file.sections().filter(|s| loaded.contains(&s.name().unwrap_or("")));
    sections.map(|s| (s.name().unwrap().to_string(), s.data().unwrap().to_vec())).collect()
}

#[test]
fn every_fixture_verifies_and_keeps_its_code() {
    let work = work_dir("fixtures");
    for path in common::ir_files(&common::fixtures_dir()) {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        for opt_level in [0, 1] {
            let plain = compile(&text, None, opt_level);
            let debug = compile(&text, Some(name), opt_level);
            assert_eq!(loaded_sections(&plain), loaded_sections(&debug), "{name} -O{opt_level}: -g changed the code");
            let exe = work.join(format!("{name}.O{opt_level}"));
            std::fs::write(&exe, &debug).unwrap();
            verify(&exe, &format!("{name} -O{opt_level}"));
            let lines = Command::new("llvm-dwarfdump").arg("--debug-line").arg(&exe).output().unwrap();
            let table = String::from_utf8_lossy(&lines.stdout);
            assert!(table.contains("prologue_end"), "{name} -O{opt_level}: no rows\n{table}");
            let (plain, _) = compile_as(&text, Format::Macho, None, opt_level);
            let (debug, dwarf) = compile_as(&text, Format::Macho, Some(name), opt_level);
            assert_eq!(plain, debug, "{name} -O{opt_level}: -g changed the Mach-O executable");
            let dwarf_file = work.join(format!("{name}.O{opt_level}.dwarf"));
            std::fs::write(&dwarf_file, dwarf.expect("a .dSYM's DWARF")).unwrap();
            verify(&dwarf_file, &format!("{name} -O{opt_level} (Mach-O)"));
        }
    }
    let _ = std::fs::remove_dir_all(&work);
}

/// A program whose instructions sit on lines the test names: `twice`
/// (lines 5-8) is called from `main` at line 13.
const PROGRAM: &str = "#{target => ISA, format => elf64,
  functions => [
    #{name => <<\"twice\">>, arity => 1, exported => false, params => [{vreg, 0}], locals => 2,
      body => [
        {add, {vreg, 1}, {vreg, 0}, {vreg, 0}},
        {print_int, {vreg, 1}},
        {mov, RET, {vreg, 1}},
        ret]},
    #{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 2,
      body => [
        {mov_imm, {vreg, 0}, 21},
        {mov, A0, {vreg, 0}},
        {call, {sym, <<\"twice\">>}},
        {mov, {vreg, 1}, RET},
        {print_int, {vreg, 1}},
        ret]}],
  data => [], bss => [], imports => []}.
";

/// gdb's output for `commands` on the executable at `exe`, the text in
/// its directory (arm64's run under qemu's gdb server, on a port of its
/// own).
fn gdb(isa: &str, exe: &Path, commands: &[&str], k: u32) -> String {
    let sources = format!("directory {}", exe.parent().unwrap().display());
    let mut args: Vec<String> = vec!["-batch".into(), "-ex".into(), sources];
    let mut server = None;
    let program = match isa {
        "x86_64" => {
            args.extend(["-ex".into(), "break prog.ir:6".into(), "-ex".into(), "run".into()]);
            "gdb"
        }
        _ => {
            let port = (30_000 + std::process::id() % 20_000 + k).to_string();
            let qemu = Command::new("qemu-aarch64").args(["-g", &port]).arg(exe).stdout(Stdio::null()).spawn();
            server = Some(qemu.unwrap());
            for c in ["set architecture aarch64".to_string(), format!("target remote :{port}")] {
                args.extend(["-ex".into(), c]);
            }
            args.extend(["-ex".into(), "break prog.ir:6".into(), "-ex".into(), "continue".into()]);
            "gdb-multiarch"
        }
    };
    for c in commands {
        args.extend(["-ex".into(), c.to_string()]);
    }
    args.push(exe.to_str().unwrap().into());
    let out = Command::new(program).args(&args).stdin(Stdio::null()).output();
    if let Some(mut server) = server {
        let _ = server.kill();
        let _ = server.wait();
    }
    let out = out.unwrap_or_else(|e| panic!("{program}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn gdb_stops_at_a_line_names_every_frames_line_and_steps() {
    let work = work_dir("gdb");
    for (k, isa) in ["x86_64", "arm64"].into_iter().enumerate() {
        let text = common::with_registers(isa, &PROGRAM.replace("ISA", isa));
        let exe = work.join(format!("prog_{isa}"));
        common::write_executable(&exe, &compile(&text, Some("prog.ir"), 1));
        std::fs::write(work.join("prog.ir"), &text).unwrap();
        let out = gdb(isa, &exe, &["bt", "info line *$pc", "next", "info line *$pc", "disassemble /s"], k as u32);
        let has = |s: &str| assert!(out.contains(s), "{isa}: no {s:?} in\n{out}");
        has("twice (");
        has(") at prog.ir:6");
        has("in main () at prog.ir:13");
        has("Line 6 of \"prog.ir\" starts at address");
        has("Line 7 of \"prog.ir\" starts at address");
        // The disassembly shows each line above its code: line 6's calls
        // the runtime's print_int.
        has("5\t        {add, {vreg, 1}, {vreg, 0}, {vreg, 0}},");
        let dump = out.split("Dump of assembler code").nth(1).unwrap_or_else(|| panic!("{isa}: {out}"));
        let line_6 = dump.split("6\t        {print_int, {vreg, 1}},").nth(1).unwrap_or_else(|| panic!("{isa}: {out}"));
        let line_6 = line_6.split("7\t").next().unwrap();
        assert!(line_6.contains("<__vbeam_print_int>"), "{isa}: line 6 is\n{line_6}");
    }
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn lldb_reads_a_macho_executables_dsym() {
    let work = work_dir("lldb");
    for isa in ["x86_64", "arm64"] {
        let text = common::with_registers(isa, &PROGRAM.replace("ISA", isa).replace("elf64", "macho"));
        let name = format!("prog_{isa}");
        let (executable, dwarf) = compile_as(&text, Format::Macho, Some("prog.ir"), 1);
        let exe = work.join(&name);
        common::write_executable(&exe, &executable);
        let dwarf_dir = work.join(format!("{name}.dSYM/Contents/Resources/DWARF"));
        std::fs::create_dir_all(&dwarf_dir).unwrap();
        std::fs::write(dwarf_dir.join(&name), dwarf.unwrap()).unwrap();
        // lldb on Linux does not look for a .dSYM by itself: added by hand,
        // it is accepted only if its UUID is the executable's.
        let lldb = |commands: &[String]| {
            let mut args = vec!["--batch".to_string(), "-o".into(), format!("target create {}", exe.display())];
            args.extend(["-o".into(), format!("target symbols add {}", dwarf_dir.join(&name).display())]);
            commands.iter().for_each(|c| args.extend(["-o".into(), c.clone()]));
            let out = Command::new("lldb").args(&args).stdin(Stdio::null()).output().unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let out = lldb(&["breakpoint set --file prog.ir --line 6".into()]);
        assert!(out.contains("has been added to"), "{isa}: {out}");
        let address = out
            .split("address = ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{isa}: no breakpoint address in\n{out}"));
        assert!(out.contains(&format!("where = {name}`twice + ")), "{isa}: {out}");
        let out = lldb(&[format!("image lookup --verbose --address {address}")]);
        assert!(out.contains("prog.ir:6:"), "{isa}: {out}");
        assert!(out.contains("CompileUnit: id = {0x00000000}, file = "), "{isa}: {out}");
    }
    let _ = std::fs::remove_dir_all(&work);
}

/// `{loc, File, Line, Column}` places what follows it in another source:
/// the line table names it, gdb stops there; it makes no code.
#[test]
fn loc_instructions_point_the_line_table_at_the_front_ends_source() {
    let text = |loc: &str| {
        format!(
            "#{{target => x86_64, format => elf64, functions => [
               #{{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 2,
                  body => [{loc}, {{print_int, {{imm, 5}}}},
                           {{loc, <<\"lib/other.v\">>, 10, 1}}, {{print_int, {{imm, 7}}}}, ret]}}],
               data => [], bss => [], imports => []}}."
        )
    };
    let with_locs = text("{loc, <<\"hello.v\">>, 4, 5}");
    let work = work_dir("loc");
    let exe = work.join("loc");
    let executable = compile(&with_locs, Some("loc.ir"), 1);
    assert_eq!(loaded_sections(&executable), loaded_sections(&compile(&text("nop"), None, 1)), "loc made code");
    common::write_executable(&exe, &executable);
    verify(&exe, "loc");
    let lines = Command::new("llvm-dwarfdump").arg("--debug-line").arg(&exe).output().unwrap();
    let table = String::from_utf8_lossy(&lines.stdout);
    assert!(table.contains("name: \"hello.v\"") && table.contains("name: \"lib/other.v\""), "{table}");
    let out = Command::new("gdb")
        .args(["-batch", "-ex", "break hello.v:4", "-ex", "run", "-ex", "bt", "-ex", "next", "-ex", "info line *$pc"])
        .arg(&exe)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("main () at hello.v:4"), "{out}");
    assert!(out.contains("Line 10 of \"lib/other.v\""), "{out}");
    // A malformed one is an invalid instruction.
    let malformed = text("{loc, hello, 4, 5}");
    let doc = Document::parse(malformed.as_bytes()).unwrap();
    let error = compile_term_with(&doc.terms()[0], None, None, &Options::default()).unwrap_err();
    assert!(format!("{error:?}").contains("InvalidInstruction"), "{error:?}");
    let _ = std::fs::remove_dir_all(&work);
}
