//! The encoding oracle of the emit tests: assembles text with `llvm-mc`
//! (which must be on PATH: CI installs it) and returns each line's bytes.

use std::io::Write;
use std::process::{Command, Stdio};

/// Encodings llvm-mc gives for each instruction line of `text`, in order.
pub fn encodings(args: &[&str], text: &str) -> Vec<Vec<u8>> {
    let mut child = Command::new("llvm-mc")
        .args(args)
        .arg("-show-encoding")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("llvm-mc must be installed (apt-get install llvm)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "llvm-mc failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split("encoding: [").nth(1))
        .map(|enc| {
            enc.trim_end_matches(']')
                .split(',')
                .map(|b| u8::from_str_radix(b.trim().trim_start_matches("0x"), 16).unwrap())
                .collect()
        })
        .collect()
}

/// Compares our encoding of every form with llvm-mc's and lists the
/// differences.
pub fn compare<I: std::fmt::Display>(
    args: &[&str],
    prelude: &str,
    forms: &[I],
    encode: impl Fn(&I) -> Vec<u8>,
) -> Vec<String> {
    let text: String = prelude.to_string() + &forms.iter().map(|i| format!("{i}\n")).collect::<String>();
    let expected = encodings(args, &text);
    assert_eq!(expected.len(), forms.len(), "llvm-mc rejected some lines");
    forms
        .iter()
        .zip(&expected)
        .filter_map(|(inst, want)| {
            let got = encode(inst);
            (&got != want).then(|| format!("{inst}: ours {got:02x?}, llvm-mc {want:02x?}"))
        })
        .collect()
}
