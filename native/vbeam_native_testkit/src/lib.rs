//! Differential testing of the backend: `gen` writes random valid IR
//! programs, `interp` runs them by the spec, `difftest` compiles and runs
//! them on the real machine (x86_64 natively, arm64 under qemu-aarch64)
//! and compares, `ir_text` saves any program that disagrees as a `.ir` file,
//! `uefi` boots EFI applications on OVMF and AAVMF under QEMU, `shapes`
//! writes single large functions for the compile-time benchmark.

pub mod coverage;
pub mod difftest;
pub mod gen;
pub mod interp;
pub mod ir_text;
pub mod shapes;
pub mod uefi;
