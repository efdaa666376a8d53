//! The loader against executables linked by LLVM's ld64.lld: they run with
//! the right output and status on both ISAs at several slides, and every
//! kind of damage the kernel or dyld would refuse is refused.

mod common;
mod programs;

use std::time::Instant;

use common::{Isa, Signing};
use vbeam_native_macho_loader::{check, codesign, run, LoadError, Options, Outcome, Run, Stdin};

/// Two slides: the default, and one far away (both 16 KiB multiples).
const SLIDES: [u64; 2] = [vbeam_native_macho_loader::DEFAULT_SLIDE, 0x2_3456_0000];

fn build(isa: Isa, label: &str, asm: &str) -> Vec<u8> {
    common::build(isa, Signing::AdHoc, label, asm)
}

fn run_ok(image: &[u8], opts: &Options) -> Run {
    run(image, opts).unwrap_or_else(|e| panic!("refused: {e}"))
}

fn with_slide(slide: u64) -> Options {
    Options { slide, ..Options::default() }
}

fn expect_fault(result: &Run, needle: &str) -> String {
    match &result.outcome {
        Outcome::Fault(what) => {
            assert!(what.contains(needle), "fault {what:?} does not mention {needle:?}");
            what.clone()
        }
        other => panic!("expected a fault mentioning {needle:?}, got {other:?}"),
    }
}

fn expect_refusal(result: Result<Run, LoadError>, needle: &str) -> LoadError {
    match result {
        Err(e) => {
            assert!(e.to_string().contains(needle), "refusal {e} does not mention {needle:?}");
            e
        }
        Ok(r) => panic!("expected a refusal mentioning {needle:?}, ran: {r:?}"),
    }
}

#[test]
fn hello_runs_on_both_isas_at_two_slides() {
    for isa in Isa::ALL {
        let image = build(isa, "hello", &programs::hello(isa));
        check(&image).unwrap();
        for slide in SLIDES {
            let r = run_ok(&image, &with_slide(slide));
            assert_eq!(r.outcome, Outcome::Exited(42), "{isa:?} slide 0x{slide:x}");
            assert_eq!(r.stdout, b"hello\n", "{isa:?} slide 0x{slide:x}");
            assert!(r.stderr.is_empty());
        }
    }
}

#[test]
fn rebased_pointer_runs_at_two_slides() {
    for isa in Isa::ALL {
        let image = build(isa, "rebased", &programs::rebased(isa));
        for slide in SLIDES {
            let r = run_ok(&image, &with_slide(slide));
            assert_eq!((r.outcome, r.stdout.as_slice()), (Outcome::Exited(7), &b"hello\n"[..]), "{isa:?} 0x{slide:x}");
        }
    }
}

#[test]
fn unapplied_rebase_faults() {
    for isa in Isa::ALL {
        let mut image = build(isa, "rebased", &programs::rebased(isa));
        let range = common::rebase_range(&image);
        assert!(!range.is_empty(), "lld wrote rebase opcodes");
        // REBASE_OPCODE_DONE everywhere: dyld slides nothing.
        image[range].fill(0);
        codesign::resign(&mut image);
        check(&image).unwrap();
        let r = run_ok(&image, &Options::default());
        let what = expect_fault(&r, "read of unmapped memory");
        assert!(what.contains("page zero"), "{what}");
        assert!(r.stdout.is_empty());
    }
}

#[test]
fn exit_status_is_the_low_byte() {
    for isa in Isa::ALL {
        let image = build(isa, "exit3", &programs::exit3(isa));
        assert_eq!(run_ok(&image, &Options::default()).outcome, Outcome::Exited(3), "{isa:?}");
    }
}

#[test]
fn write_to_text_faults() {
    for isa in Isa::ALL {
        let image = build(isa, "write_text", &programs::write_text(isa));
        let r = run_ok(&image, &Options::default());
        expect_fault(&r, "write to read-only memory");
        expect_fault(&r, "__TEXT");
    }
}

#[test]
fn executing_data_faults() {
    for isa in Isa::ALL {
        let image = build(isa, "exec_data", &programs::exec_data(isa));
        let r = run_ok(&image, &Options::default());
        expect_fault(&r, "execution of non-executable memory");
        expect_fault(&r, "__DATA");
    }
}

#[test]
fn unknown_system_calls_fault() {
    for isa in Isa::ALL {
        let image = build(isa, "unknown_syscall", &programs::unknown_syscall(isa));
        expect_fault(&run_ok(&image, &Options::default()), "unknown system call 999");
    }
    let linux = build(Isa::X86_64, "linux_exit", programs::LINUX_EXIT_X86);
    expect_fault(&run_ok(&linux, &Options::default()), "not a BSD (class 2) call");
}

#[test]
fn main_gets_argc_argv_envp_apple_and_an_aligned_stack() {
    let opts = Options {
        args: vec!["/bin/prog".into(), "first arg".into(), "x".into()],
        env: vec!["HOME=/nowhere".into()],
        ..Options::default()
    };
    for isa in Isa::ALL {
        let aligned = build(isa, "stack_alignment", &programs::stack_alignment(isa));
        // argc 3; rsp ≡ 8 (mod 16) on x86_64 (a return address was pushed), sp ≡ 0 on arm64.
        let expected = 3 << 4 | if isa == Isa::X86_64 { 8 } else { 0 };
        assert_eq!(run_ok(&aligned, &opts).outcome, Outcome::Exited(expected), "{isa:?}");

        let printer = build(isa, "print_args", &programs::print_args(isa));
        let r = run_ok(&printer, &opts);
        assert_eq!(r.outcome, Outcome::Exited(0));
        assert_eq!(
            String::from_utf8_lossy(&r.stdout),
            "first arg\nHOME=/nowhere\nexecutable_path=/bin/prog\n",
            "{isa:?}"
        );
    }
}

#[test]
fn stdin_is_readable() {
    for isa in Isa::ALL {
        let image = build(isa, "cat", &programs::cat(isa));
        let r = run_ok(&image, &Options { stdin: Stdin::Bytes(b"from stdin".to_vec()), ..Options::default() });
        assert_eq!((r.outcome, r.stdout.as_slice()), (Outcome::Exited(0), &b"from stdin"[..]), "{isa:?}");
    }
}

#[test]
fn floating_point_units_are_enabled() {
    for (isa, expected) in [(Isa::X86_64, 6), (Isa::Arm64, 3)] {
        let image = build(isa, "float", &programs::float(isa));
        assert_eq!(run_ok(&image, &Options::default()).outcome, Outcome::Exited(expected), "{isa:?}");
    }
}

#[test]
fn mmap_follows_xnu() {
    for isa in Isa::ALL {
        let image = build(isa, "mmap_probe", &programs::mmap_probe(isa));
        assert_eq!(run_ok(&image, &Options::default()).outcome, Outcome::Exited(0), "{isa:?}");
    }
}

#[test]
fn system_calls_follow_xnu_conventions() {
    for isa in Isa::ALL {
        let image = build(isa, "syscall_conventions", &programs::syscall_conventions(isa));
        let r = run_ok(&image, &Options::default());
        assert_eq!(r.outcome, Outcome::Exited(0), "{isa:?}");
        assert!(r.stdout.is_empty() && r.stderr.is_empty());
    }
}

#[test]
fn appending_100_mib_is_fast_and_bounded_by_the_memory_limit() {
    for isa in Isa::ALL {
        let image = build(isa, "append", &programs::append_100_mib(isa));
        let started = Instant::now();
        let r = run_ok(&image, &Options::default());
        let elapsed = started.elapsed();
        assert_eq!(r.outcome, Outcome::Exited(0), "{isa:?}");
        eprintln!("{isa:?}: appending 100 MiB took {elapsed:?}");
        assert!(elapsed.as_secs() < 30, "{isa:?} took {elapsed:?}");
        let small = Options { memory_limit: 64 << 20, ..Options::default() };
        assert_eq!(run_ok(&image, &small).outcome, Outcome::Exited(1), "{isa:?}: mmap past the limit is ENOMEM");
    }
}

#[test]
fn instruction_limit_stops_a_program() {
    let image = build(Isa::Arm64, "append", &programs::append_100_mib(Isa::Arm64));
    let r = run_ok(&image, &Options { instruction_limit: Some(10_000), ..Options::default() });
    expect_fault(&r, "instruction limit of 10000");
}

#[test]
fn x86_64_runs_unsigned_but_verifies_a_signature() {
    let unsigned = common::build(Isa::X86_64, Signing::Unsigned, "hello_unsigned", &programs::hello(Isa::X86_64));
    assert!(common::commands(&unsigned).iter().all(|c| c.1 != common::LC_CODE_SIGNATURE));
    assert_eq!(run_ok(&unsigned, &Options::default()).outcome, Outcome::Exited(42));
    assert!(codesign::verify(&unsigned).is_err());
}

#[test]
fn refuses_unsigned_arm64() {
    let image = common::build(Isa::Arm64, Signing::Unsigned, "hello_unsigned", &programs::hello(Isa::Arm64));
    let e = expect_refusal(run(&image, &Options::default()), "must be signed");
    assert!(matches!(e, LoadError::CodeSignature(_)));
}

#[test]
fn refuses_a_flipped_text_byte() {
    for isa in Isa::ALL {
        let mut image = build(isa, "hello", &programs::hello(isa));
        codesign::verify(&image).unwrap();
        let at = common::text_section_offset(&image);
        image[at] ^= 0x01;
        let e = expect_refusal(run(&image, &Options::default()), "page 0");
        assert!(matches!(e, LoadError::CodeSignature(_)), "{isa:?}: {e}");
        assert!(codesign::verify(&image).is_err());
        // Re-hashing makes the same bytes acceptable again.
        codesign::resign(&mut image);
        codesign::verify(&image).unwrap();
    }
}

#[test]
fn refuses_missing_lc_main() {
    for isa in Isa::ALL {
        // LC_MAIN turned into an unknown command without LC_REQ_DYLD: ignored, so missing.
        let mut retagged = build(isa, "hello", &programs::hello(isa));
        common::retag_command(&mut retagged, common::LC_MAIN, 0x7f);
        codesign::resign(&mut retagged);
        expect_refusal(run(&retagged, &Options::default()), "missing LC_MAIN");

        let mut deleted = build(isa, "hello", &programs::hello(isa));
        common::delete_command(&mut deleted, common::LC_MAIN);
        codesign::resign(&mut deleted);
        expect_refusal(run(&deleted, &Options::default()), "missing LC_MAIN");
    }
}

#[test]
fn refuses_an_unknown_required_command() {
    let mut image = build(Isa::Arm64, "hello", &programs::hello(Isa::Arm64));
    common::retag_command(&mut image, common::LC_DATA_IN_CODE, 0x8000_0099);
    codesign::resign(&mut image);
    expect_refusal(check(&image).map(|()| unreachable_run()), "unknown required load command 0x80000099");
}

/// `check` returns no run; this stands in for one in `expect_refusal`.
fn unreachable_run() -> Run {
    Run { stdout: Vec::new(), stderr: Vec::new(), outcome: Outcome::Exited(0) }
}

#[test]
fn refuses_a_wrong_fixed_command_size() {
    for isa in Isa::ALL {
        let mut image = build(isa, "hello", &programs::hello(isa));
        common::swallow_next_command(&mut image, common::LC_UUID);
        codesign::resign(&mut image);
        expect_refusal(run(&image, &Options::default()), "LC_UUID) size wrong");
    }
}

#[test]
fn refuses_segments_out_of_order() {
    for isa in Isa::ALL {
        let mut image = build(isa, "rebased", &programs::rebased(isa));
        // __PAGEZERO, __DATA, __TEXT, __LINKEDIT
        common::swap_segment_commands(&mut image, 1);
        codesign::resign(&mut image);
        expect_refusal(run(&image, &Options::default()), "out of order");
    }
}

#[test]
fn refuses_bad_slides() {
    let image = build(Isa::Arm64, "hello", &programs::hello(Isa::Arm64));
    for slide in [0, 0x1000] {
        let e = expect_refusal(run(&image, &with_slide(slide)), "slide");
        assert!(matches!(e, LoadError::Setup(_)));
    }
}
