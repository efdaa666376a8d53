//! The pipeline driver: module in, executable bytes out.

use crate::decode::decode_module;
use crate::error::{CompileError, Error};
use crate::ir::{Format, Module, Target};
use crate::term::Term;

/// Decodes an IR module term and compiles it; `target`/`format` override the
/// module's own keys.
pub fn compile_term<T: Term + std::fmt::Debug>(
    term: &T,
    target: Option<Target>,
    format: Option<Format>,
) -> Result<Vec<u8>, Error<T>> {
    let module = decode_module(term, target, format)?;
    Ok(compile_module(&module)?)
}

/// Compiles a decoded module to an executable file image.
pub fn compile_module(module: &Module) -> Result<Vec<u8>, CompileError> {
    Err(CompileError::Unsupported {
        target: module.target.name(),
        format: module.format.name(),
        reason: "the pipeline is not assembled yet".into(),
    })
}
