//! vbeam_native_core: the native-code backend of V-on-BEAM as a plain Rust
//! library. It knows nothing of the BEAM: IR terms arrive through the
//! `term::Term` view, executables leave as bytes.
//!
//! Pipeline: `decode` → `validate` → per function `liveness` + `regalloc` →
//! `isa::<arch>::lower` (machine instructions) → `isa::<arch>::emit` (bytes)
//! → `link` (layout, fixups: an `image::Image`) → `format` (the file:
//! ELF, Mach-O or PE). The runtime's routines and the OS layer's
//! primitives are IR, written with `ir::builder`. No two modules import
//! each other, directly or around a circle (`tests/import_cycles.rs`).

pub mod code;
pub mod compile;
pub mod debug_info;
pub mod decode;
pub mod error;
pub mod expand;
pub mod format;
pub mod image;
pub mod ir;
pub mod isa;
pub mod link;
pub mod listing;
pub mod liveness;
pub mod lower;
pub mod operands;
pub mod opt;
pub mod os;
pub mod reg_class;
pub mod regalloc;
pub mod regs;
pub mod runtime;
pub mod target;
pub mod term;
pub mod validate;
pub mod warnings;
pub use compile::{compile_module, compile_module_with_warnings, compile_term, compile_term_with_warnings};
