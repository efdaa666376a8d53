//! The builtins that talk to the system — `arguments`, `input`,
//! `get_raw_line`, `input_opt`, `read_file`, `write_file`, `read_lines` —
//! run with real arguments, stdin and files: ELF natively (x86_64) or
//! under qemu-aarch64, Mach-O in the test loader; and refused by name for
//! UEFI, whose applications have neither files nor streams.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use vbeam_native_core::compile_term;
use vbeam_native_core::ir::Isa;
use vbeam_native_macho_loader as macho;

const ISAS: [&str; 2] = ["x86_64", "arm64"];

/// A module whose `main` runs `body`, written with `A0`, `A1` for the first
/// two argument registers and `RET` for the result register, and `NL` for
/// a vreg holding "\n" (vreg 50) and `BAR` for one holding "|" (vreg 51).
fn program(isa: &str, format: &str, body: &str) -> String {
    let body = common::with_registers(isa, body).replace("NL", "{vreg, 50}").replace("BAR", "{vreg, 51}");
    let strings = "{string_lit, {vreg, 50}, <<\"\\n\">>}, {string_lit, {vreg, 51}, <<\"|\">>}";
    common::module_text(isa, format, &common::main_function(60, &format!("{strings}, {body}, ret")), "", "")
}

/// The binary, or the error's text.
fn compile(text: &str) -> Result<Vec<u8>, String> {
    compile_term(&&vbeam_native_ir_text::parse(text).unwrap(), None, None).map_err(|e| e.to_string())
}

/// Prints every element of the array in vreg 1, each between bars, then
/// a line end; `tag` makes its labels unique.
fn print_array(tag: &str) -> String {
    format!(
        "{{array_len, {{vreg, 2}}, {{vreg, 1}}}}, {{mov_imm, {{vreg, 3}}, 0}},
         {{label, <<\"next{tag}\">>}}, {{cmp, {{vreg, 3}}, {{vreg, 2}}}}, {{jcc, ge, <<\"printed{tag}\">>}},
         {{array_get, {{vreg, 4}}, {{vreg, 1}}, {{vreg, 3}}, {{imm, 8}}}},
         {{print_str, BAR}}, {{print_str, {{vreg, 4}}}}, {{print_str, BAR}},
         {{add, {{vreg, 3}}, {{vreg, 3}}, {{imm, 1}}}}, {{jmp, <<\"next{tag}\">>}},
         {{label, <<\"printed{tag}\">>}}, {{print_str, NL}}"
    )
}

/// The stdout and status of `binary`, an ELF, run with `args` after its
/// name and `stdin` piped in.
fn run_elf(isa: &str, binary: &[u8], work: &Path, args: &[&str], stdin: &[u8]) -> (Vec<u8>, i32) {
    let exe = work.join(format!("program_{isa}"));
    common::write_executable(&exe, binary);
    let mut cmd = common::command(Isa::from_name(isa).expect("an ISA"), &exe);
    let mut child = common::when_not_busy(|| cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn());
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.stdout, out.status.code().unwrap_or(-1))
}

/// The stdout and status of `binary`, a Mach-O, in the test loader.
fn run_macho(binary: &[u8], args: &[&str], stdin: &[u8]) -> (Vec<u8>, i32) {
    let options = macho::Options {
        args: std::iter::once("a.out").chain(args.iter().copied()).map(String::from).collect(),
        stdin: macho::Stdin::Bytes(stdin.to_vec()),
        ..macho::Options::default()
    };
    let run = macho::run(binary, &options).unwrap();
    match run.outcome {
        macho::Outcome::Exited(status) => (run.stdout, status),
        macho::Outcome::Fault(why) => panic!("fault: {why}"),
    }
}

/// A fresh directory for one test's files.
fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vbeam_system_{name}_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `body` (given the ISA and the format name) built for each ISA as
/// ELF and Mach-O, and checks its stdout and status 0.
fn check(name: &str, args: &[&str], stdin: &[u8], want: &str, body: impl Fn(&str, &str, &Path) -> String) {
    let work = work_dir(name);
    for isa in ISAS {
        for format in ["elf64", "macho"] {
            let dir = work.join(format!("{isa}_{format}"));
            std::fs::create_dir_all(&dir).unwrap();
            let binary = compile(&program(isa, format, &body(isa, format, &dir))).unwrap();
            let (stdout, status) = match format {
                "elf64" => run_elf(isa, &binary, &dir, args, stdin),
                _ => run_macho(&binary, args, stdin),
            };
            assert_eq!((String::from_utf8_lossy(&stdout).as_ref(), status), (want, 0), "{isa} {format}");
        }
    }
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn arguments_are_argv_as_strings() {
    // argv[0] is the program's path, which differs between runs: dropped.
    let body = format!(
        "{{call, {{sym, <<\"arguments\">>}}}}, {{mov, {{vreg, 5}}, RET}}, {{array_len, {{vreg, 6}}, {{vreg, 5}}}},
         {{print_int, {{vreg, 6}}}}, {{array_new, {{vreg, 1}}, {{imm, 8}}, {{imm, 0}}}}, {{mov_imm, {{vreg, 7}}, 1}},
         {{label, <<\"copy\">>}}, {{cmp, {{vreg, 7}}, {{vreg, 6}}}}, {{jcc, ge, <<\"copied\">>}},
         {{array_get, {{vreg, 8}}, {{vreg, 5}}, {{vreg, 7}}, {{imm, 8}}}},
         {{array_append, {{vreg, 1}}, {{vreg, 1}}, {{vreg, 8}}, {{imm, 8}}}},
         {{add, {{vreg, 7}}, {{vreg, 7}}, {{imm, 1}}}}, {{jmp, <<\"copy\">>}}, {{label, <<\"copied\">>}}, {}",
        print_array("")
    );
    check("arguments", &["one", "two words", "", "ünï"], b"", "5\n|one||two words||||ünï|\n", |_, _, _| {
        body.clone()
    });
}

#[test]
fn input_reads_lines_of_stdin() {
    // input drops the line end (and a CR before it), get_raw_line keeps it,
    // input_opt reads the unterminated last line; after the end, "".
    let read = |name: &str, prompt: Option<&str>| {
        let prompt = prompt
            .map_or(String::new(), |p| format!("{{string_lit, {{vreg, 9}}, <<\"{p}\">>}}, {{mov, A0, {{vreg, 9}}}}, "));
        format!(
            "{prompt}{{call, {{sym, <<\"{name}\">>}}}}, {{mov, {{vreg, 4}}, RET}},
             {{print_str, BAR}}, {{print_str, {{vreg, 4}}}}, {{print_str, BAR}}, {{print_str, NL}}"
        )
    };
    let body = [
        read("input", Some("? ")),
        read("get_raw_line", None),
        read("input_opt", Some("> ")),
        read("input", Some("")),
        read("get_raw_line", None),
    ]
    .join(", ");
    check("input", &[], b"first\r\nsecond\nthird", "? |first|\n|second\n|\n> |third|\n||\n||\n", |_, _, _| {
        body.clone()
    });
}

#[test]
fn files_are_written_and_read_back() {
    // The file holds a CRLF line, an empty line and a final line end.
    let body = |_: &str, _: &str, dir: &Path| {
        let path = dir.join("lines.txt");
        let path = path.to_str().unwrap();
        let missing = dir.join("missing.txt");
        let missing = missing.to_str().unwrap();
        format!(
            "{{string_lit, {{vreg, 10}}, <<\"{path}\">>}}, {{string_lit, {{vreg, 11}}, <<\"one\\ntwo\\r\\n\\nthree\\n\">>}},
             {{mov, A0, {{vreg, 10}}}}, {{mov, A1, {{vreg, 11}}}}, {{call, {{sym, <<\"write_file\">>}}}},
             {{mov, A0, {{vreg, 10}}}}, {{call, {{sym, <<\"read_file\">>}}}}, {{mov, {{vreg, 12}}, RET}},
             {{string_len, {{vreg, 13}}, {{vreg, 12}}}}, {{print_int, {{vreg, 13}}}},
             {{mov, A0, {{vreg, 10}}}}, {{call, {{sym, <<\"read_lines\">>}}}}, {{mov, {{vreg, 1}}, RET}}, {},
             {{string_lit, {{vreg, 14}}, <<\"{missing}\">>}},
             {{mov, A0, {{vreg, 14}}}}, {{call, {{sym, <<\"read_file\">>}}}}, {{mov, {{vreg, 12}}, RET}},
             {{string_len, {{vreg, 13}}, {{vreg, 12}}}}, {{print_int, {{vreg, 13}}}},
             {{mov, A0, {{vreg, 14}}}}, {{call, {{sym, <<\"read_lines\">>}}}}, {{mov, {{vreg, 1}}, RET}}, {}",
            print_array("_file"),
            print_array("_missing")
        )
    };
    check("files", &[], b"", "16\n|one||two||||three|\n0\n\n", body);
}

#[test]
fn files_and_streams_are_refused_for_uefi() {
    for isa in ISAS {
        for name in ["input", "input_opt", "get_raw_line", "read_file", "write_file", "read_lines"] {
            let text = program(isa, "pe", &format!("{{call, {{sym, <<\"{name}\">>}}}}"));
            let error = compile(&text).unwrap_err();
            assert_eq!(
                error,
                format!("function main, instruction 3: {name} needs files or streams, which pe programs lack"),
                "{isa}"
            );
        }
        // arguments, the clock and randomness are there.
        for name in ["arguments", "ticks", "u32"] {
            compile(&program(isa, "pe", &format!("{{call, {{sym, <<\"{name}\">>}}}}"))).unwrap();
        }
    }
}
