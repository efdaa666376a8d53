//! What the file writers share: a little-endian byte writer that pads to
//! an offset or an alignment, and string tables.

/// The bytes of a file being written, little-endian.
pub struct ByteWriter(Vec<u8>);

impl ByteWriter {
    pub fn with_capacity(bytes: u64) -> ByteWriter {
        ByteWriter(Vec::with_capacity(bytes as usize))
    }
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    /// `name` in a field of `N` bytes, NUL-padded.
    pub fn name<const N: usize>(&mut self, name: &[u8]) {
        let mut field = [0u8; N];
        field[..name.len()].copy_from_slice(name);
        self.0.extend_from_slice(&field);
    }
    /// Zeros up to `offset`.
    pub fn pad_to(&mut self, offset: u64) {
        self.0.resize(offset as usize, 0);
    }
    /// Where the next byte goes.
    pub fn offset(&self) -> u64 {
        self.0.len() as u64
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// Names, each NUL-terminated, found by their offsets in the table.
pub struct StringTable(Vec<u8>);

impl StringTable {
    /// A table whose first bytes are `head` (names at offset 0 mean none).
    pub fn starting_with(head: &[u8]) -> StringTable {
        StringTable(head.to_vec())
    }
    /// Adds `prefix` then `name`: the offset of the whole.
    pub fn add(&mut self, prefix: &str, name: &str) -> u32 {
        let at = self.0.len() as u32;
        self.0.extend_from_slice(prefix.as_bytes());
        self.0.extend_from_slice(name.as_bytes());
        self.0.push(0);
        at
    }
    /// Zeros up to the next multiple of `align`.
    pub fn align(&mut self, align: u64) {
        self.0.resize((self.0.len() as u64).next_multiple_of(align) as usize, 0);
    }
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn size(&self) -> u64 {
        self.0.len() as u64
    }
}
