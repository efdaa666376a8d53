//! EFI applications booted on real firmware (OVMF for x86_64, AAVMF for
//! arm64, under QEMU): every fixture, and a sample of generated programs,
//! must print what they print on Linux (both streams, as one console shows
//! them: CR LF line ends, 7-bit text) and end with the same status.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use vbeam_native_core::compile_term;
use vbeam_native_core::ir::{Format, Isa};
use vbeam_native_testkit::difftest::{run_many, work_dir, BOOT_TIMEOUT};
use vbeam_native_testkit::gen::Config;
use vbeam_native_testkit::uefi;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures")
}

/// What a Linux executable writes to stdout and stderr, in one stream, and
/// its status.
fn run_on_linux(exe: &Path, isa: Isa) -> (Vec<u8>, i32) {
    let (mut reader, writer) = std::io::pipe().unwrap();
    let mut cmd = match isa {
        Isa::X86_64 => Command::new(exe),
        Isa::Arm64 => {
            let mut c = Command::new("qemu-aarch64");
            c.arg(exe);
            c
        }
    };
    let mut child = cmd.stdin(Stdio::null()).stdout(writer.try_clone().unwrap()).stderr(writer).spawn().unwrap();
    drop(cmd);
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    (out, child.wait().unwrap().code().unwrap_or(-1))
}

/// Linux's output with its panics' places left out (" in F" and the
/// callers' lines): on firmware a panic is its message alone.
fn without_places(output: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(output);
    let mut out = String::new();
    let mut after_panic = false;
    for line in text.split_inclusive('\n') {
        if after_panic && (line.starts_with("  called from ") || line.starts_with("  ... and ")) {
            continue;
        }
        after_panic = line.contains("V panic: ");
        match line.rfind(" in ").filter(|_| after_panic) {
            Some(at) => {
                out.push_str(&line[..at]);
                out.push('\n');
            }
            None => out.push_str(line),
        }
    }
    out.into_bytes()
}

/// Boots one fixture compiled as a PE, checks it against its Linux run.
fn check_fixture(path: &Path, work: &Path) -> Result<(), String> {
    let stem = path.file_stem().unwrap().to_str().unwrap();
    let isa = if stem.ends_with("_arm64") { Isa::Arm64 } else { Isa::X86_64 };
    let term = vbeam_native_ir_text::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let compile = |format| compile_term(&&term, None, Some(format)).map_err(|e| format!("{stem}: {e}"));
    let (elf, pe) = (compile(Format::Elf64)?, compile(Format::Pe)?);
    let dir = work.join(stem);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("linux");
    std::fs::write(&exe, elf).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (linux_output, linux_status) = run_on_linux(&exe, isa);
    let boot = uefi::boot(isa, &pe, &dir, BOOT_TIMEOUT).map_err(|e| format!("{stem}: {e}"))?;
    uefi::check_console(&boot.console).map_err(|e| format!("{stem}: {e}"))?;
    let want = uefi::console_text(&without_places(&linux_output));
    if boot.console != want || boot.status != linux_status as u64 {
        return Err(format!(
            "{stem}: status {} (want {linux_status})\n  console: {:?}\n  want:    {:?}",
            boot.status,
            String::from_utf8_lossy(&boot.console),
            String::from_utf8_lossy(&want)
        ));
    }
    Ok(())
}

#[test]
fn every_fixture_boots_and_runs_on_firmware() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ir"))
        .collect();
    paths.sort();
    if let Ok(only) = std::env::var("VBEAM_FIXTURES") {
        paths.retain(|p| p.to_string_lossy().contains(&only));
    } else {
        assert!(paths.len() >= 16, "fixtures missing");
    }
    let work = work_dir("uefi_fixtures");
    // One boot per core at a time: QEMU's emulation is single-threaded.
    let (left, right) = paths.split_at(paths.len() / 2);
    let failures: Vec<String> = std::thread::scope(|scope| {
        let halves: Vec<_> = [left, right]
            .into_iter()
            .map(|half| scope.spawn(|| half.iter().filter_map(|p| check_fixture(p, &work).err()).collect::<Vec<_>>()))
            .collect();
        halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let _ = std::fs::remove_dir_all(&work);
    assert!(failures.is_empty(), "{} of {} fixtures failed:\n{}", failures.len(), paths.len(), failures.join("\n"));
}

/// VBEAM_UEFI_COUNT generated programs per ISA (default 20), with every
/// data type, booted and compared with the reference interpreter.
#[test]
fn generated_programs_boot_and_agree_with_the_interpreter() {
    let count = std::env::var("VBEAM_UEFI_COUNT").ok().and_then(|c| c.parse().ok()).unwrap_or(20);
    let summary =
        run_many(&[Isa::X86_64, Isa::Arm64], &[Format::Pe], 2_000_000, count, &Config::default(), &work_dir("uefi"));
    let failures = summary.failures;
    println!("uefi difftest: {} passed, {} failed", summary.total - failures.len() as u64, failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The firmware loads every image away from its `ImageBase`: without its
/// base relocations, a program printing through stored addresses cannot.
#[test]
fn stored_addresses_need_their_base_relocations() {
    let isa = Isa::X86_64;
    let text = std::fs::read_to_string(fixtures_dir().join("pointers_x86_64.ir")).unwrap();
    let mut pe = compile_term(&&vbeam_native_ir_text::parse(&text).unwrap(), None, Some(Format::Pe)).unwrap();
    let work = work_dir("uefi_relocations");
    std::fs::create_dir_all(&work).unwrap();
    let want = uefi::console_text(&std::fs::read(fixtures_dir().join("pointers.stdout")).unwrap());
    let boot = uefi::boot(isa, &pe, &work, BOOT_TIMEOUT).unwrap();
    assert_eq!((boot.console, boot.status), (want.clone(), 0));
    // The base relocation directory (entry 5 of the optional header's
    // data directories, at offset 112) emptied.
    let pe_offset = u32::from_le_bytes(pe[0x3c..0x40].try_into().unwrap()) as usize;
    let directory = pe_offset + 4 + 20 + 112 + 5 * 8;
    pe[directory..directory + 8].fill(0);
    // The program then prints from wherever the unrelocated addresses
    // point, typically without end: a correct run takes a few seconds.
    let broken = uefi::boot(isa, &pe, &work, Duration::from_secs(30));
    let _ = std::fs::remove_dir_all(&work);
    assert!(broken.as_ref().map_or(true, |b| b.console != want), "{broken:?}");
}

/// When the firmware has no more pages, the program says so and ends with
/// status 1.
#[test]
fn heap_exhaustion_is_a_clear_error_on_firmware() {
    const GREEDY: &str = "#{target => arm64, format => pe, functions => [
      #{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 2,
        body => [{label, <<\"more\">>}, {struct_new, {vreg, 0}, {imm, 104857600}},
                 {field_set, {vreg, 0}, {imm, 0}, {imm, 1}}, {jmp, <<\"more\">>}]}],
      data => [], bss => [], imports => []}.";
    let pe = compile_term(&&vbeam_native_ir_text::parse(GREEDY).unwrap(), None, None).unwrap();
    let work = work_dir("uefi_oom");
    std::fs::create_dir_all(&work).unwrap();
    let boot = uefi::boot(Isa::Arm64, &pe, &work, BOOT_TIMEOUT);
    let _ = std::fs::remove_dir_all(&work);
    let boot = boot.unwrap();
    assert_eq!((String::from_utf8_lossy(&boot.console).as_ref(), boot.status), ("V panic: out of memory\r\n", 1));
}

/// The firmware passes no argv: `arguments()` is empty (and the program
/// still runs).
#[test]
fn arguments_are_empty_on_firmware() {
    const ARGUMENTS: &str = "#{target => x86_64, format => pe, functions => [
      #{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 2,
        body => [{call, {sym, <<\"arguments\">>}}, {mov, {vreg, 0}, {preg, rax}},
                 {array_len, {vreg, 1}, {vreg, 0}}, {print_int, {vreg, 1}}, ret]}],
      data => [], bss => [], imports => []}.";
    let pe = compile_term(&&vbeam_native_ir_text::parse(ARGUMENTS).unwrap(), None, None).unwrap();
    let work = work_dir("uefi_arguments");
    std::fs::create_dir_all(&work).unwrap();
    let boot = uefi::boot(Isa::X86_64, &pe, &work, BOOT_TIMEOUT);
    let _ = std::fs::remove_dir_all(&work);
    let boot = boot.unwrap();
    assert_eq!((String::from_utf8_lossy(&boot.console).as_ref(), boot.status), ("0\r\n", 0));
}

/// A module of `functions` (IR text, `A0` and `RET` standing for the first
/// argument and the result register) compiled for `isa` as a PE and
/// booted.
fn boot_functions(isa: Isa, name: &str, functions: &str) -> uefi::Boot {
    let (a0, ret) = match isa {
        Isa::X86_64 => ("{preg, rdi}", "{preg, rax}"),
        Isa::Arm64 => ("{preg, x0}", "{preg, x0}"),
    };
    let functions = functions.replace("A0", a0).replace("RET", ret);
    let text = format!(
        "#{{target => {}, format => pe, functions => [{functions}], data => [], bss => [], imports => []}}.",
        isa.name()
    );
    let pe = compile_term(&&vbeam_native_ir_text::parse(&text).unwrap(), None, None).unwrap();
    let work = work_dir(&format!("uefi_{name}_{}", isa.name()));
    std::fs::create_dir_all(&work).unwrap();
    let boot = uefi::boot(isa, &pe, &work, BOOT_TIMEOUT);
    let _ = std::fs::remove_dir_all(&work);
    boot.unwrap_or_else(|e| panic!("{}: {e}", isa.name()))
}

/// `depth(n)` returns n by recursing n deep, each frame holding a stack
/// slot besides the frame record and saved registers.
const DEPTH: &str = "
    #{name => <<\"depth\">>, arity => 1, exported => false, params => [{vreg, 0}], locals => 3,
      body => [{cmp, {vreg, 0}, {imm, 0}}, {jcc, ne, <<\"more\">>}, {mov, RET, {imm, 0}}, ret,
               {label, <<\"more\">>}, {mov, {stack, 0}, {vreg, 0}},
               {sub, {vreg, 1}, {vreg, 0}, {imm, 1}}, {mov, A0, {vreg, 1}}, {call, {sym, <<\"depth\">>}},
               {mov, {vreg, 2}, RET}, {add, {vreg, 2}, {vreg, 2}, {imm, 1}}, {mov, RET, {vreg, 2}}, ret]},
    #{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 2,
      body => [{mov_imm, A0, 100000}, {call, {sym, <<\"depth\">>}}, {mov, {vreg, 1}, RET},
               {print_int, {vreg, 1}}, ret]}";

/// The firmware's stack holds some thousands of frames; the program's own,
/// 8 MiB as on Linux, a recursion 100,000 deep.
#[test]
fn a_deep_recursion_runs_on_the_programs_own_stack() {
    for isa in [Isa::X86_64, Isa::Arm64] {
        let boot = boot_functions(isa, "depth", DEPTH);
        assert_eq!((String::from_utf8_lossy(&boot.console).as_ref(), boot.status), ("100000\r\n", 0), "{isa:?}");
    }
}

/// `down(n)` calls `down(n + 1)` without end, from `main`; with
/// `{stack, K}` in its body, its frame holds K + 1 slots.
fn runaway(frame_slots: &str) -> String {
    format!(
        "#{{name => <<\"down\">>, arity => 1, exported => false, params => [{{vreg, 0}}], locals => 3,
            body => [{frame_slots}{{add, {{vreg, 1}}, {{vreg, 0}}, {{imm, 1}}}}, {{mov, A0, {{vreg, 1}}}},
                     {{call, {{sym, <<\"down\">>}}}}, {{mov, {{vreg, 2}}, RET}},
                     {{add, {{vreg, 2}}, {{vreg, 2}}, {{vreg, 0}}}}, {{mov, RET, {{vreg, 2}}}}, ret]}},
         #{{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 2,
            body => [{{mov_imm, A0, 0}}, {{call, {{sym, <<\"down\">>}}}}, {{mov, {{vreg, 1}}, RET}},
                     {{print_int, {{vreg, 1}}}}, ret]}}"
    )
}

/// The console of a runaway `down` (see `runaway`) shows what Linux's
/// stderr does, `hidden` the number of callers left out, and the status
/// of a panic.
fn check_stack_overflow_report(isa: Isa, boot: &uefi::Boot) -> u64 {
    let console = String::from_utf8_lossy(&boot.console);
    assert_eq!(boot.status, 1, "{isa:?}: {console}");
    let lines: Vec<&str> = console.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 1 + 16 + 1 + 4, "{isa:?}: {console}");
    assert_eq!(lines[0], "V panic: stack overflow in down", "{isa:?}");
    assert!(lines[1..17].iter().chain(&lines[18..21]).all(|l| *l == "  called from down"), "{console}");
    assert_eq!(lines[21], "  called from main", "{isa:?}");
    lines[17]
        .strip_prefix("  ... and ")
        .and_then(|l| l.strip_suffix(" more callers"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{isa:?}: {}", lines[17]))
}

/// A runaway recursion meets the stack's limit and is reported as on
/// Linux: the function, its callers (the chain shortened), then the status
/// of a panic.
#[test]
fn a_stack_overflow_is_reported_as_a_panic() {
    for isa in [Isa::X86_64, Isa::Arm64] {
        let hidden = check_stack_overflow_report(isa, &boot_functions(isa, "runaway", &runaway("")));
        // Frames of some tens of bytes fill 8 MiB.
        assert!(hidden > 50_000, "{isa:?}: {hidden}");
    }
}

/// Frames larger than the reserve below the limit are checked before they
/// are made: 64 KiB frames, and one larger than the whole stack.
#[test]
fn a_large_frame_is_checked_before_it_is_made() {
    for isa in [Isa::X86_64, Isa::Arm64] {
        let hidden = check_stack_overflow_report(
            isa,
            &boot_functions(isa, "large_frames", &runaway("{mov, {stack, 8191}, {vreg, 0}}, ")),
        );
        // 8 MiB holds 127 frames of 64 KiB and some bytes: the 128th
        // `down` overflows, 20 of its 128 callers are printed.
        assert_eq!(hidden, 128 - 20, "{isa:?}");
        let boot = boot_functions(isa, "huge_frame", &runaway("{mov, {stack, 2097152}, {vreg, 0}}, "));
        assert_eq!(
            (String::from_utf8_lossy(&boot.console).as_ref(), boot.status),
            ("V panic: stack overflow in down\r\n  called from main\r\n", 1),
            "{isa:?}"
        );
    }
}
