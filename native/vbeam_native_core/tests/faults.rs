//! Runtime faults explain themselves: a bad memory access, a stack
//! overflow, an illegal instruction or an arithmetic trap prints a V panic
//! naming the fault, the function and its callers on stderr, and the
//! program ends with status 128 + the signal, as V's own handler does —
//! on Linux (x86_64 natively, arm64 under qemu-aarch64) and macOS (the
//! Mach-O test loader). And debuggers follow the frame records: gdb's
//! backtrace names every caller.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use vbeam_native_core::compile_term;
use vbeam_native_core::ir::Isa;
use vbeam_native_macho_loader as macho;

const ISAS: [&str; 2] = ["x86_64", "arm64"];
const SIGILL: i32 = 4;
const SIGFPE: i32 = 8;
const SIGSEGV: i32 = 11;

/// A module of `functions` (IR text, `A0` and `RET` standing for the first
/// argument and the result register) for `isa` in `format`.
fn module(isa: &str, format: &str, functions: &str) -> String {
    common::module_text(isa, format, &common::with_registers(isa, functions), "", "")
}

/// `main` calls `sum(0)`, which calls `get(0)`, which loads from address
/// 8.
const NULL_FIELD: &str = "
    #{name => <<\"get\">>, arity => 1, exported => false, params => [{vreg, 0}], locals => 2,
      body => [{load, {vreg, 1}, {vreg, 0}, 8}, {mov, RET, {vreg, 1}}, ret]},
    #{name => <<\"sum\">>, arity => 1, exported => false, params => [{vreg, 0}], locals => 3,
      body => [{mov, A0, {vreg, 0}}, {call, {sym, <<\"get\">>}}, {mov, {vreg, 1}, RET},
               {add, {vreg, 2}, {vreg, 1}, {imm, 1}}, {mov, RET, {vreg, 2}}, ret]},
    #{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 2,
      body => [{mov_imm, A0, 0}, {call, {sym, <<\"sum\">>}}, {mov, {vreg, 1}, RET}, {print_int, {vreg, 1}}, ret]}";

/// `main` calls `down(0)`, which calls itself without end.
const RUNAWAY: &str = "
    #{name => <<\"down\">>, arity => 1, exported => false, params => [{vreg, 0}], locals => 3,
      body => [{add, {vreg, 1}, {vreg, 0}, {imm, 1}}, {mov, A0, {vreg, 1}}, {call, {sym, <<\"down\">>}},
               {mov, {vreg, 2}, RET}, {add, {vreg, 2}, {vreg, 2}, {vreg, 0}}, {mov, RET, {vreg, 2}}, ret]},
    #{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 2,
      body => [{mov_imm, A0, 0}, {call, {sym, <<\"down\">>}}, {mov, {vreg, 1}, RET}, {print_int, {vreg, 1}}, ret]}";

/// `main`, whose frame is 1.5 MiB, calls `deep(0)`, whose frame is 2 MiB,
/// written in its middle and at its bottom, and which calls itself without
/// end: frames larger than any guard below the stack. On an 8 MiB stack,
/// the middle of the fourth `deep` is the first write beyond the stack:
/// without probes it would fault 1 MiB above the stack pointer, too far
/// to be told from any bad access.
const DEEP_FRAMES: &str = "
    #{name => <<\"deep\">>, arity => 1, exported => false, params => [{vreg, 0}], locals => 4,
      body => [{mov, {stack, 131072}, {vreg, 0}}, {mov, {stack, 262143}, {vreg, 0}},
               {add, {vreg, 1}, {vreg, 0}, {imm, 1}}, {mov, A0, {vreg, 1}}, {call, {sym, <<\"deep\">>}},
               {mov, {vreg, 2}, RET}, {mov, {vreg, 3}, {stack, 131072}}, {add, {vreg, 2}, {vreg, 2}, {vreg, 3}},
               {mov, RET, {vreg, 2}}, ret]},
    #{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 2,
      body => [{mov, {stack, 196607}, {imm, 0}}, {mov_imm, A0, 0}, {call, {sym, <<\"deep\">>}}, {mov, {vreg, 1}, RET},
               {print_int, {vreg, 1}}, ret]}";

/// `main` calls `sum`, which calls `get`, which stops at `PANIC` (IR text
/// with `{vreg, 0}` an array of 5 elements and `{vreg, 1}` holding 0).
fn panicking(panic: &str) -> String {
    format!(
        "#{{name => <<\"get\">>, arity => 0, exported => false, params => [], locals => 3,
            body => [{{array_new, {{vreg, 0}}, {{imm, 8}}, {{imm, 5}}}}, {{mov_imm, {{vreg, 2}}, 5}},
                     {{store, {{vreg, 0}}, 8, {{vreg, 2}}}}, {{mov_imm, {{vreg, 1}}, 0}}, {panic}, ret]}},
         #{{name => <<\"sum\">>, arity => 0, exported => false, params => [], locals => 1,
            body => [{{call, {{sym, <<\"get\">>}}}}, ret]}},
         #{{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 1,
            body => [{{print_int, {{imm, 1}}}}, {{call, {{sym, <<\"sum\">>}}}}, ret]}}"
    )
}

/// `main` calls `bad`, whose code is `raw` bytes, after printing 1.
fn raw_code(raw: &str) -> String {
    format!(
        "#{{name => <<\"bad\">>, arity => 0, exported => false, params => [], locals => 1,
            body => [{{raw, <<{raw}>>}}, ret]}},
         #{{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 1,
            body => [{{print_int, {{imm, 1}}}}, {{call, {{sym, <<\"bad\">>}}}}, ret]}}"
    )
}

/// `main` calls through a null function pointer.
const NULL_CALL: &str = "
    #{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 1,
      body => [{mov_imm, {vreg, 0}, 0}, {call_indirect, {vreg, 0}}, ret]}";

fn compile(text: &str) -> Vec<u8> {
    compile_term(&&vbeam_native_ir_text::parse(text).unwrap(), None, None).unwrap()
}

fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vbeam_faults_{name}_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What a run printed and how it ended.
struct Run {
    stdout: String,
    stderr: String,
    status: i32,
}

/// `functions` compiled as an ELF for `isa` and run.
fn run_elf(isa: &str, functions: &str, work: &Path) -> Run {
    let exe = work.join(format!("program_{isa}"));
    common::write_executable(&exe, &compile(&module(isa, "elf64", functions)));
    let isa = Isa::from_name(isa).expect("an ISA");
    let out = common::when_not_busy(|| common::command(isa, &exe).stdin(Stdio::null()).output());
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
        status: out.status.code().unwrap_or(-1),
    }
}

/// `functions` compiled as a Mach-O for `isa` and run in the test loader.
fn run_macho(isa: &str, functions: &str) -> Run {
    let binary = compile(&module(isa, "macho", functions));
    let run = macho::run(&binary, &macho::Options::default()).unwrap();
    match run.outcome {
        macho::Outcome::Exited(status) => Run {
            stdout: String::from_utf8_lossy(&run.stdout).into(),
            stderr: String::from_utf8_lossy(&run.stderr).into(),
            status,
        },
        macho::Outcome::Fault(why) => panic!("{isa}: the fault was not handled: {why}"),
    }
}

/// Runs `functions` on every ISA and system and checks each run.
fn check(name: &str, functions: &str, isas: &[&str], expect: impl Fn(&str, &str, &Run)) {
    let work = work_dir(name);
    for &isa in isas {
        expect(isa, "elf64", &run_elf(isa, functions, &work));
        expect(isa, "macho", &run_macho(isa, functions));
    }
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn a_bad_access_names_the_function_and_its_callers() {
    check("null_field", NULL_FIELD, &ISAS, |isa, format, run| {
        let want = "V panic: segmentation fault at address 0x8 in get\n  called from sum\n  called from main\n";
        assert_eq!((run.stdout.as_str(), run.stderr.as_str(), run.status), ("", want, 128 + SIGSEGV), "{isa} {format}");
    });
}

#[test]
fn a_stack_overflow_is_told_apart_and_its_chain_shortened() {
    check("runaway", RUNAWAY, &ISAS, |isa, format, run| {
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(run.status, 128 + SIGSEGV, "{isa} {format}: {}", run.stderr);
        assert_eq!(lines[0], "V panic: stack overflow in down", "{isa} {format}");
        assert_eq!(lines.len(), 1 + 16 + 1 + 4, "{isa} {format}: {}", run.stderr);
        assert!(lines[1..17].iter().chain(&lines[18..21]).all(|l| *l == "  called from down"), "{}", run.stderr);
        let hidden: u64 = lines[17]
            .strip_prefix("  ... and ")
            .and_then(|l| l.strip_suffix(" more callers"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{isa} {format}: {}", lines[17]));
        // Some thousands of frames fill the smallest stack.
        assert!(hidden > 10_000, "{isa} {format}: {hidden}");
        assert_eq!(lines[21], "  called from main", "{isa} {format}");
    });
}

#[test]
fn a_frame_larger_than_the_guard_still_overflows_into_it() {
    check("deep_frames", DEEP_FRAMES, &ISAS, |isa, format, run| {
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(run.status, 128 + SIGSEGV, "{isa} {format}: {}", run.stderr);
        assert_eq!(lines[0], "V panic: stack overflow in deep", "{isa} {format}");
        assert!(lines[1..lines.len() - 1].iter().all(|l| *l == "  called from deep"), "{}", run.stderr);
        assert_eq!(lines.last(), Some(&"  called from main"), "{isa} {format}");
    });
}

#[test]
fn a_runtime_panic_names_the_function_and_its_callers() {
    let panics = [
        ("{array_get, {vreg, 2}, {vreg, 0}, {imm, 5}, {imm, 8}}", "array index out of range: index 5, len 5"),
        ("{sdiv, {vreg, 2}, {vreg, 2}, {vreg, 1}}", "division by zero"),
        (
            "{method_call, {vreg, 2}, <<\"[]int\">>, <<\"delete\">>, [{vreg, 0}, {imm, 7}]}",
            "array.delete: index out of range (i == 7, a.len == 5)",
        ),
    ];
    for (k, (panic, message)) in panics.into_iter().enumerate() {
        check(&format!("panic_{k}"), &panicking(panic), &ISAS, |isa, format, run| {
            let want = format!("V panic: {message} in get\n  called from sum\n  called from main\n");
            assert_eq!(
                (run.stdout.as_str(), run.stderr.as_str(), run.status),
                ("1\n", want.as_str(), 1),
                "{isa} {format}"
            );
        });
    }
}

#[test]
fn an_illegal_instruction_is_named() {
    // ud2; udf #0.
    for (isa, raw) in [("x86_64", "16#0f, 16#0b"), ("arm64", "0, 0, 0, 0")] {
        check("illegal", &raw_code(raw), &[isa], |isa, format, run| {
            let want = "V panic: illegal instruction in bad\n  called from main\n";
            assert_eq!(
                (run.stdout.as_str(), run.stderr.as_str(), run.status),
                ("1\n", want, 128 + SIGILL),
                "{isa} {format}"
            );
        });
    }
}

#[test]
fn an_arithmetic_trap_is_named() {
    // x86_64 alone traps on division: xor ecx, ecx; cqo; idiv rcx.
    check(
        "arithmetic",
        &raw_code("16#31, 16#c9, 16#48, 16#99, 16#48, 16#f7, 16#f9"),
        &["x86_64"],
        |isa, format, run| {
            let want = "V panic: arithmetic exception in bad\n  called from main\n";
            assert_eq!(
                (run.stdout.as_str(), run.stderr.as_str(), run.status),
                ("1\n", want, 128 + SIGFPE),
                "{isa} {format}"
            );
        },
    );
}

#[test]
fn a_call_through_a_null_pointer_names_the_caller() {
    check("null_call", NULL_CALL, &ISAS, |isa, format, run| {
        let want = "V panic: segmentation fault at address 0x0 (pc 0x0)\n  called from main\n";
        assert_eq!((run.stderr.as_str(), run.status), (want, 128 + SIGSEGV), "{isa} {format}");
    });
}

/// A frame pointer that is no frame record ends the chain of callers: one
/// far from the stack is not followed; one that passes for a record but
/// cannot be read faults inside the report, which then ends the process
/// with the first fault's status.
#[test]
fn a_frame_pointer_gone_wrong_still_ends_the_report() {
    // The frame pointer := 0x1234, then a load from address 0.
    let far = [
        ("x86_64", "16#48, 16#c7, 16#c5, 16#34, 16#12, 0, 0, 16#48, 16#8b, 16#04, 16#25, 0, 0, 0, 0"),
        ("arm64", "16#9d, 16#46, 16#82, 16#d2, 16#09, 0, 16#80, 16#d2, 16#20, 16#01, 16#40, 16#f9"),
    ];
    // The frame pointer := sp + 1 GiB, above the stack, then the load.
    let unmapped = [
        ("x86_64", "16#48, 16#8d, 16#ac, 16#24, 0, 0, 0, 16#40, 16#48, 16#8b, 16#04, 16#25, 0, 0, 0, 0"),
        (
            "arm64",
            "16#09, 0, 16#a8, 16#d2, 16#fd, 16#63, 16#29, 16#8b, 16#09, 0, 16#80, 16#d2, 16#20, 16#01, 16#40, 16#f9",
        ),
    ];
    for (isa, raw) in far.into_iter().chain(unmapped) {
        check("bad_frame", &raw_code(raw), &[isa], |isa, format, run| {
            let want = "V panic: segmentation fault at address 0x0 in bad\n";
            assert_eq!(
                (run.stdout.as_str(), run.stderr.as_str(), run.status),
                ("1\n", want, 128 + SIGSEGV),
                "{isa} {format}"
            );
        });
    }
}

/// The handler's return path on Linux is the C library's restorer, byte
/// for byte (`rt_sigreturn` and nothing else, no frame), which debuggers
/// recognise as a signal frame.
#[test]
fn the_signal_restorer_is_the_one_debuggers_know() {
    use object::{Object, ObjectSection, ObjectSymbol};
    // mov rax, 15; syscall — mov x8, #139; svc #0.
    let expected: [(&str, &[u8]); 2] = [
        ("x86_64", &[0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05]),
        ("arm64", &[0x68, 0x11, 0x80, 0xd2, 0x01, 0, 0, 0xd4]),
    ];
    for (isa, bytes) in expected {
        let binary = compile(&module(isa, "elf64", NULL_FIELD));
        let file = object::File::parse(&*binary).unwrap();
        let symbol = file.symbols().find(|s| s.name() == Ok("__vbeam_os_sigreturn")).expect("the restorer");
        let text = file.section_by_index(symbol.section_index().unwrap()).unwrap();
        let code = text.data_range(symbol.address(), bytes.len() as u64).unwrap().unwrap();
        assert_eq!(code, bytes, "{isa}");
    }
}

/// gdb, stopped at the fault, walks the frame records from `get` up to
/// `main` (on arm64 through qemu-aarch64's gdb server).
#[test]
fn gdb_backtraces_follow_every_caller() {
    let work = work_dir("gdb");
    for (k, isa) in ISAS.into_iter().enumerate() {
        let exe = work.join(format!("program_{isa}"));
        common::write_executable(&exe, &compile(&module(isa, "elf64", NULL_FIELD)));
        let exe = exe.to_str().unwrap();
        let mut server = None;
        let mut gdb = match isa {
            "x86_64" => {
                let mut gdb = Command::new("gdb");
                gdb.args(["-batch", "-ex", "run", "-ex", "bt", exe]);
                gdb
            }
            _ => {
                let port = (20_000 + std::process::id() % 20_000 + k as u32).to_string();
                server =
                    Some(Command::new("qemu-aarch64").args(["-g", &port, exe]).stderr(Stdio::null()).spawn().unwrap());
                let mut gdb = Command::new("gdb-multiarch");
                let remote = format!("target remote :{port}");
                gdb.args([
                    "-batch",
                    "-ex",
                    "set architecture aarch64",
                    "-ex",
                    &remote,
                    "-ex",
                    "continue",
                    "-ex",
                    "bt",
                    exe,
                ]);
                gdb
            }
        };
        let out = gdb.stdin(Stdio::null()).output();
        if let Some(mut server) = server {
            let _ = server.kill();
            let _ = server.wait();
        }
        let out = out.unwrap_or_else(|e| panic!("gdb for {isa}: {e}"));
        let text = String::from_utf8_lossy(&out.stdout);
        let frames: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(|l| l.split(" in ").nth(1).unwrap_or(l).trim_end_matches(" ()"))
            .collect();
        assert_eq!(frames, ["get", "sum", "main"], "{isa}:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    }
    let _ = std::fs::remove_dir_all(&work);
}
