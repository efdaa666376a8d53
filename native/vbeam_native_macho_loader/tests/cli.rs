//! `macho-run`: output, status, stdin pass-through, and the 126/139 exits.

mod common;
mod programs;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::{Isa, Signing};

fn write_image(label: &str, image: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{label}-{}", std::process::id()));
    std::fs::write(&path, image).unwrap();
    path
}

fn macho_run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_macho-run"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("macho-run starts");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn runs_a_program_with_its_output_status_and_stdin() {
    let hello = write_image("hello", &common::build(Isa::Arm64, Signing::AdHoc, "hello", &programs::hello(Isa::Arm64)));
    let out = macho_run(&[hello.to_str().unwrap()], b"");
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(42), &b"hello\n"[..]));

    let cat = write_image("cat", &common::build(Isa::X86_64, Signing::AdHoc, "cat", &programs::cat(Isa::X86_64)));
    let out = macho_run(&[cat.to_str().unwrap()], b"piped");
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(0), &b"piped"[..]));

    let args = write_image(
        "args",
        &common::build(Isa::X86_64, Signing::AdHoc, "print_args", &programs::print_args(Isa::X86_64)),
    );
    let out = macho_run(&["--memory-limit", "1048576", args.to_str().unwrap(), "one"], b"");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("one\n"));
}

#[test]
fn refusal_exits_126_and_fault_139() {
    let unsigned = common::build(Isa::Arm64, Signing::Unsigned, "hello_unsigned", &programs::hello(Isa::Arm64));
    let path = write_image("unsigned", &unsigned);
    let out = macho_run(&[path.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(126));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("macho-run: refused: code signature:"));

    let faulty = common::build(Isa::X86_64, Signing::AdHoc, "write_text", &programs::write_text(Isa::X86_64));
    let path = write_image("write_text", &faulty);
    let out = macho_run(&[path.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(139));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("macho-run: fault: write to read-only memory"));
}
