//! Encoding of machine instructions (placeholder until the encoder lands).
use super::inst::Inst;
use crate::code::CodeBuffer;

impl Inst {
    pub fn emit(&self, _buf: &mut CodeBuffer) {
        unimplemented!("encoder not written yet")
    }
}
