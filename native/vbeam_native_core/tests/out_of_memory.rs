//! When the OS refuses memory, a program stops with a diagnostic on stderr
//! and exit status 1: on Linux under an address-space limit, on macOS (the
//! test loader) under a limit of what `mmap` hands out, on both ISAs.

mod common;

use std::process::Command;

use vbeam_native_core::compile_term;
use vbeam_native_core::ir::{Format, Isa};
use vbeam_native_macho_loader as macho;

const GREEDY: &str = "#{target => x86_64, format => elf64, functions => [
  #{name => <<\"main\">>, arity => 0, exported => true, params => [], locals => 2,
    body => [{label, <<\"more\">>}, {struct_new, {vreg, 0}, {imm, 104857600}},
             {field_set, {vreg, 0}, {imm, 0}, {imm, 1}}, {jmp, <<\"more\">>}]}],
  data => [], bss => [], imports => []}.";

#[test]
fn heap_exhaustion_is_a_clear_error() {
    let term = vbeam_native_ir_text::parse(GREEDY).unwrap();
    let binary = compile_term(&&term, None, None).unwrap();
    let exe = std::env::temp_dir().join(format!("vbeam_greedy_{}", std::process::id()));
    common::write_executable(&exe, &binary);
    // 1 GiB of address space: the program asks for 100 MiB at a time forever.
    let out = Command::new("sh").arg("-c").arg(format!("ulimit -v 1048576; exec {}", exe.display())).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "V panic: out of memory in main\n");
}

#[test]
fn heap_exhaustion_is_a_clear_error_on_macos() {
    for isa in [Isa::X86_64, Isa::Arm64] {
        let term = vbeam_native_ir_text::parse(GREEDY).unwrap();
        let binary = compile_term(&&term, Some(isa), Some(Format::Macho)).unwrap();
        let options = macho::Options { memory_limit: 1 << 30, ..macho::Options::default() };
        let run = macho::run(&binary, &options).unwrap();
        assert_eq!(run.outcome, macho::Outcome::Exited(1), "{isa:?}");
        assert_eq!(String::from_utf8_lossy(&run.stderr), "V panic: out of memory in main\n", "{isa:?}");
    }
}
