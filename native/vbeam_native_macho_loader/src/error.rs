//! Why an image was refused before it ran.

use thiserror::Error;

/// A refusal before the program runs: what XNU's loader or dyld would
/// reject, or what this loader cannot emulate. The text names the offending
/// field or command.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LoadError {
    /// Not a well-formed macOS executable: the kernel or dyld rejects it.
    #[error("malformed Mach-O: {0}")]
    Malformed(String),
    /// The code signature is missing where required, malformed, or does not
    /// match the file's bytes (the kernel kills such a process).
    #[error("code signature: {0}")]
    CodeSignature(String),
    /// Valid on macOS, but beyond what this loader emulates (imports, other
    /// dylibs, chained fixups, text relocations...).
    #[error("unsupported by this loader: {0}")]
    Unsupported(String),
    /// The run could not be set up (bad options, emulator failure): not the
    /// image's fault.
    #[error("setup: {0}")]
    Setup(String),
}

/// Shorthand for a [`LoadError::Malformed`] with a formatted message.
macro_rules! malformed {
    ($($arg:tt)*) => { $crate::error::LoadError::Malformed(format!($($arg)*)) };
}

/// Shorthand for a [`LoadError::CodeSignature`] with a formatted message.
macro_rules! bad_signature {
    ($($arg:tt)*) => { $crate::error::LoadError::CodeSignature(format!($($arg)*)) };
}

/// Shorthand for a [`LoadError::Unsupported`] with a formatted message.
macro_rules! unsupported {
    ($($arg:tt)*) => { $crate::error::LoadError::Unsupported(format!($($arg)*)) };
}

pub(crate) use {bad_signature, malformed, unsupported};
