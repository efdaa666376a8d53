//! `atof64(s)` and `string__f64(s)` as the interpreter computes them: V's
//! reading of the text (`vlib/strconv/atof.c.v`), then Rust's correctly
//! rounded `str::parse::<f64>` for the value.

/// The bits of `s`'s value: V's `strconv.atof64(s)` (0.0 for its errors,
/// also for bytes after the number), or with `prefix` its `s.f64()`, which
/// reads the number the text starts with.
pub fn atof(s: &[u8], prefix: bool) -> u64 {
    if s.is_empty() {
        return 0;
    }
    let start = usize::from(s[0] == b'+' || s[0] == b'-');
    if start < s.len() && matches!(s[start].to_ascii_lowercase(), b'i' | b'n') {
        match s.to_ascii_lowercase().as_slice() {
            b"inf" | b"+inf" | b"infinity" | b"+infinity" => return f64::INFINITY.to_bits(),
            b"-inf" | b"-infinity" => return f64::NEG_INFINITY.to_bits(),
            b"nan" => return 0x7ff8_0000_0000_0000,
            _ => {}
        }
    }
    // A digit, or `_` between two digits.
    let digit = |i: usize| {
        s[i].is_ascii_digit()
            || (s[i] == b'_' && i > 0 && i + 1 < s.len() && s[i - 1].is_ascii_digit() && s[i + 1].is_ascii_digit())
    };
    let mut i = start;
    if i == s.len() {
        return 0;
    }
    let mut any = false;
    while i < s.len() && digit(i) {
        any |= s[i] != b'_';
        i += 1;
    }
    if i < s.len() && s[i] == b'.' {
        i += 1;
        while i < s.len() && digit(i) {
            any |= s[i] != b'_';
            i += 1;
        }
    }
    if !any {
        return 0;
    }
    if i < s.len() && (s[i] == b'e' || s[i] == b'E') {
        i += 1;
        if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
            i += 1;
        }
        let digits = i;
        while i < s.len() && digit(i) {
            i += 1;
        }
        if i == digits {
            return 0;
        }
    }
    if i < s.len() && !prefix {
        return 0;
    }
    let number: String = s[..i].iter().filter(|c| **c != b'_').map(|c| *c as char).collect();
    number.parse::<f64>().map_or(0, f64::to_bits)
}
