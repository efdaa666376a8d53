//! Immediate encodings (placeholder).
