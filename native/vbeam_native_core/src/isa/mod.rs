//! One folder per instruction set: instruction forms (`inst`), their
//! encoding (`emit`) with a table of llvm-mc-checked encodings
//! (`emit_tests`), and the lowering from allocated IR (`lower`).

pub mod arm64;
pub mod divisor;
#[cfg(test)]
mod llvm_mc;
pub mod x86_64;
