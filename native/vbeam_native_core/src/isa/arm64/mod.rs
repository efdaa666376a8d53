pub mod asm;
pub mod emit;
#[cfg(test)]
mod emit_tests;
pub mod imms;
pub mod inst;
pub mod lower;
mod print;
