//! Structured random modules (mostly valid, then mutated: see
//! `vbeam_native_fuzz::gen`), compiled for every instruction set and file
//! format.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vbeam_native_fuzz::structured(data));
