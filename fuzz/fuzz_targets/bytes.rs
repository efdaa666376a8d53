//! Arbitrary bytes as an IR module: in the External Term Format (as
//! `term_to_binary/1` writes it) and as `.ir` text, compiled for every
//! instruction set and file format. Seeds: `fuzz/corpus/bytes` (every
//! fixture, as text and as ETF).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vbeam_native_fuzz::bytes(data));
