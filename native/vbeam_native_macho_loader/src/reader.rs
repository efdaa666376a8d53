//! Bounds-checked reads of fixed-width integers and LEB128 values.
//!
//! Mach-O headers are little-endian; code-signature blobs are big-endian.
//! Every read returns `None` past the end so callers turn it into a refusal
//! naming the field, never a panic.

/// `N` bytes at `offset`, or `None` if they are not all inside `data`.
fn bytes<const N: usize>(data: &[u8], offset: usize) -> Option<[u8; N]> {
    let end = offset.checked_add(N)?;
    data.get(offset..end)?.try_into().ok()
}

pub(crate) fn le_u32(data: &[u8], offset: usize) -> Option<u32> {
    bytes(data, offset).map(u32::from_le_bytes)
}

pub(crate) fn le_u64(data: &[u8], offset: usize) -> Option<u64> {
    bytes(data, offset).map(u64::from_le_bytes)
}

pub(crate) fn be_u32(data: &[u8], offset: usize) -> Option<u32> {
    bytes(data, offset).map(u32::from_be_bytes)
}

pub(crate) fn be_u64(data: &[u8], offset: usize) -> Option<u64> {
    bytes(data, offset).map(u64::from_be_bytes)
}

/// A NUL-padded fixed-size name field (segment and section names).
pub(crate) fn fixed_name(data: &[u8], offset: usize, len: usize) -> Option<String> {
    let raw = data.get(offset..offset.checked_add(len)?)?;
    let end = raw.iter().position(|&b| b == 0).unwrap_or(len);
    Some(String::from_utf8_lossy(&raw[..end]).into_owned())
}

/// The NUL-terminated string starting at `offset`, which must end before
/// `data` does; `None` if it runs off the end.
pub(crate) fn c_string(data: &[u8], offset: usize) -> Option<String> {
    let rest = data.get(offset..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// A cursor over an opcode stream (rebase and bind information).
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

/// Largest shift that still adds bits to a 64-bit LEB128 value.
const LEB128_MAX_SHIFT: u32 = 63;
/// Payload bits per LEB128 byte.
const LEB128_PAYLOAD: u8 = 0x7f;
/// Continuation bit of a LEB128 byte.
const LEB128_MORE: u8 = 0x80;
/// Sign bit of the last LEB128 byte.
const LEB128_SIGN: u8 = 0x40;

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    /// An unsigned LEB128 value; `None` if it is truncated or overflows 64 bits.
    pub(crate) fn uleb128(&mut self) -> Option<u64> {
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            let bits = u64::from(b & LEB128_PAYLOAD);
            if shift > LEB128_MAX_SHIFT || (shift == LEB128_MAX_SHIFT && bits > 1) {
                return None;
            }
            value |= bits << shift;
            shift += 7;
            if b & LEB128_MORE == 0 {
                return Some(value);
            }
        }
    }

    /// A signed LEB128 value; `None` if it is truncated or overflows 64 bits.
    pub(crate) fn sleb128(&mut self) -> Option<i64> {
        let mut value = 0i64;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            if shift > LEB128_MAX_SHIFT {
                return None;
            }
            value |= i64::from(b & LEB128_PAYLOAD) << shift;
            shift += 7;
            if b & LEB128_MORE == 0 {
                if shift < 64 && b & LEB128_SIGN != 0 {
                    value |= -1i64 << shift;
                }
                return Some(value);
            }
        }
    }

    /// A NUL-terminated string, consumed with its terminator.
    pub(crate) fn c_string(&mut self) -> Option<String> {
        let s = c_string(self.data, self.pos)?;
        self.pos += s.len() + 1;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_values() {
        let mut c = Cursor::new(&[0xe5, 0x8e, 0x26, 0x7f, 0x80, 0x7f]);
        assert_eq!(c.uleb128(), Some(624_485));
        assert_eq!(c.sleb128(), Some(-1));
        assert_eq!(c.sleb128(), Some(-128));
        assert_eq!(c.remaining(), 0);
        assert_eq!(Cursor::new(&[0x80]).uleb128(), None, "truncated");
        assert_eq!(Cursor::new(&[0xff; 11]).uleb128(), None, "overflow");
    }

    #[test]
    fn bounded_reads() {
        let data = [1, 0, 0, 0, b'a', b'b', 0];
        assert_eq!(le_u32(&data, 0), Some(1));
        assert_eq!(be_u32(&data, 0), Some(0x0100_0000));
        assert_eq!(le_u32(&data, 4), None);
        assert_eq!(c_string(&data, 4).as_deref(), Some("ab"));
        assert_eq!(c_string(&data[..6], 4), None);
        assert_eq!(fixed_name(&data, 4, 3).as_deref(), Some("ab"));
    }
}
