//! The lexical pieces of Erlang term text, as `erl_scan` reads them:
//! whitespace and `%` comments, atoms, numbers, characters and escapes.
//! Positions are byte offsets. The text is UTF-8 (checked once, up front)
//! or Latin-1 (after a `%% coding: latin-1` comment), as `epp` decides for
//! `file:consult`; a character is a code point either way.

/// The text of a document and how its bytes encode characters.
#[derive(Clone, Copy, Debug)]
pub struct Text<'t> {
    pub s: &'t [u8],
    pub latin1: bool,
}

/// A lexical error: where and what.
pub type LexError = (usize, String);

/// Words `erl_scan` reserves (OTP 25, no features enabled): written bare
/// they are not atoms.
pub const RESERVED_WORDS: &[&str] = &[
    "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor", "case", "catch", "cond", "div",
    "end", "fun", "if", "let", "not", "of", "or", "orelse", "receive", "rem", "try", "when", "xor",
];

/// The longest atom the VM makes, in characters.
pub const MAX_ATOM_CHARS: usize = 255;

/// Integers with more digits are refused (the conversion is quadratic).
pub const MAX_INTEGER_DIGITS: usize = 20_000;

/// An integer literal's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Int {
    /// Any value whose magnitude is at most `i128::MAX`.
    Small(i128),
    /// Larger magnitudes: little-endian 32-bit limbs.
    Big { negative: bool, magnitude: Vec<u32> },
}

impl Int {
    pub fn negate(self) -> Int {
        match self {
            Int::Small(v) => Int::Small(-v),
            Int::Big { negative, magnitude } => Int::Big { negative: !negative, magnitude },
        }
    }
    /// The value as 64 bits, for values in `-2^63 .. 2^64-1` (the range
    /// `Term::int64_bits` accepts; 2^63 and above wrap).
    pub fn int64_bits(&self) -> Option<i64> {
        match self {
            Int::Small(v) if (i64::MIN as i128..=u64::MAX as i128).contains(v) => Some(*v as i64),
            _ => None,
        }
    }
    /// The value as i128, if it fits.
    pub fn small(&self) -> Option<i128> {
        match self {
            Int::Small(v) => Some(*v),
            Int::Big { .. } => None,
        }
    }
    /// Sign and little-endian magnitude bytes (no trailing zeros).
    pub fn sign_magnitude(&self) -> (bool, Vec<u8>) {
        let (negative, mut bytes) = match self {
            Int::Small(v) => (*v < 0, v.unsigned_abs().to_le_bytes().to_vec()),
            Int::Big { negative, magnitude } => (*negative, magnitude.iter().flat_map(|l| l.to_le_bytes()).collect()),
        };
        while bytes.last() == Some(&0) {
            bytes.pop();
        }
        (negative, bytes)
    }
}

impl std::fmt::Display for Int {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Int::Small(v) => write!(f, "{v}"),
            Int::Big { negative, magnitude } => {
                // Decimal digits by repeated division, 9 at a time.
                let mut limbs = magnitude.clone();
                let mut chunks = Vec::new();
                while limbs.iter().any(|&l| l != 0) {
                    let mut rem = 0u64;
                    for l in limbs.iter_mut().rev() {
                        let cur = (rem << 32) | u64::from(*l);
                        *l = (cur / 1_000_000_000) as u32;
                        rem = cur % 1_000_000_000;
                    }
                    chunks.push(rem);
                }
                if *negative {
                    write!(f, "-")?;
                }
                let mut chunks = chunks.iter().rev();
                write!(f, "{}", chunks.next().copied().unwrap_or(0))?;
                for c in chunks {
                    write!(f, "{c:09}")?;
                }
                Ok(())
            }
        }
    }
}

/// A number literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Number {
    Int(Int),
    Float(f64),
}

#[inline]
pub fn is_atom_start(c: u32) -> bool {
    (u32::from(b'a')..=u32::from(b'z')).contains(&c) || ((0xDF..=0xFF).contains(&c) && c != 0xF7)
}

#[inline]
pub fn is_name_char(c: u32) -> bool {
    c < 0x80 && (c as u8).is_ascii_alphanumeric()
        || c == u32::from(b'_')
        || c == u32::from(b'@')
        || ((0xC0..=0xFF).contains(&c) && c != 0xD7 && c != 0xF7)
}

#[inline]
pub fn is_variable_start(c: u32) -> bool {
    (u32::from(b'A')..=u32::from(b'Z')).contains(&c)
        || c == u32::from(b'_')
        || ((0xC0..=0xDE).contains(&c) && c != 0xD7)
}

fn digit_value(c: u8) -> u32 {
    match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        b'a'..=b'z' => u32::from(c - b'a') + 10,
        b'A'..=b'Z' => u32::from(c - b'A') + 10,
        _ => 99,
    }
}

/// `limbs := limbs * mul + add`.
fn mul_add(limbs: &mut Vec<u32>, mul: u32, add: u32) {
    let mut carry = u64::from(add);
    for l in limbs.iter_mut() {
        let v = u64::from(*l) * u64::from(mul) + carry;
        *l = v as u32;
        carry = v >> 32;
    }
    if carry != 0 {
        limbs.push(carry as u32);
    }
}

/// `c`, if `erl_scan` takes it in a string, quoted atom or `$c` (at
/// `at`): not a surrogate, U+FFFE or U+FFFF.
fn checked_char(at: usize, c: u32) -> Result<u32, LexError> {
    if (0xD800..=0xDFFF).contains(&c) || c == 0xFFFE || c == 0xFFFF {
        return Err((at, format!("illegal character U+{c:04X} (a surrogate or noncharacter)")));
    }
    Ok(c)
}

impl<'t> Text<'t> {
    pub fn new(s: &'t [u8], latin1: bool) -> Text<'t> {
        Text { s, latin1 }
    }

    pub fn len(&self) -> usize {
        self.s.len()
    }

    pub fn is_empty(&self) -> bool {
        self.s.is_empty()
    }

    /// The byte at `i`, or `None` at the end.
    #[inline(always)]
    pub fn byte(&self, i: usize) -> Option<u8> {
        self.s.get(i).copied()
    }

    /// The character at `i` (which starts one) and its length in bytes.
    #[inline(always)]
    pub fn char_at(&self, i: usize) -> (u32, usize) {
        let b0 = self.s[i];
        if b0 < 0x80 || self.latin1 {
            return (u32::from(b0), 1);
        }
        let n = if b0 >= 0xF0 {
            4
        } else if b0 >= 0xE0 {
            3
        } else {
            2
        };
        let mut c = u32::from(b0) & (0x7F >> n);
        for k in 1..n {
            c = (c << 6) | (u32::from(self.s[i + k]) & 0x3F);
        }
        (c, n)
    }

    /// Whether the character at `i` is whitespace to `erl_scan` (code
    /// points 0..32 and 128..160), and its length.
    #[inline(always)]
    fn whitespace_at(&self, i: usize) -> Option<usize> {
        let b = *self.s.get(i)?;
        if b <= b' ' {
            return Some(1);
        }
        if b < 0x80 {
            return None;
        }
        if self.latin1 {
            return (b <= 0xA0).then_some(1);
        }
        (b == 0xC2 && matches!(self.s.get(i + 1), Some(0x80..=0xA0))).then_some(2)
    }

    /// The position after whitespace and comments from `i`.
    #[inline(always)]
    pub fn skip_ws(&self, mut i: usize) -> usize {
        loop {
            match self.s.get(i) {
                Some(&b) if b <= b' ' => {
                    i += 1;
                    // Indentation: eight spaces at a time.
                    while let Some(word) = self.s.get(i..i + 8) {
                        if word != b"        " {
                            break;
                        }
                        i += 8;
                    }
                }
                Some(b'%') => {
                    i += 1;
                    while i < self.s.len() && self.s[i] != b'\n' {
                        i += 1;
                    }
                }
                Some(&b) if b >= 0x80 => match self.whitespace_at(i) {
                    Some(n) => i += n,
                    None => return i,
                },
                _ => return i,
            }
        }
    }

    /// An escape sequence at `i` (a backslash): its character and the
    /// position after it.
    pub fn escape(&self, i: usize) -> Result<(u32, usize), LexError> {
        let Some(_) = self.byte(i + 1) else {
            return Err((i, "unterminated escape sequence".into()));
        };
        let (c, n) = self.char_at(i + 1);
        let mut j = i + 1 + n;
        let v = match c {
            0x62 => 8,   // \b
            0x64 => 127, // \d
            0x65 => 27,  // \e
            0x66 => 12,  // \f
            0x6E => 10,  // \n
            0x72 => 13,  // \r
            0x73 => 32,  // \s
            0x74 => 9,   // \t
            0x76 => 11,  // \v
            0x30..=0x37 => {
                let mut v = c - 0x30;
                for _ in 0..2 {
                    match self.byte(j) {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            j += 1;
                        }
                        _ => break,
                    }
                }
                v
            }
            0x78 => {
                // \xHH or \x{H...}
                if self.byte(j) == Some(b'{') {
                    j += 1;
                    let start = j;
                    let mut v: u32 = 0;
                    while let Some(d) = self.byte(j).filter(u8::is_ascii_hexdigit) {
                        v = v.saturating_mul(16).saturating_add(digit_value(d));
                        j += 1;
                    }
                    if j == start || self.byte(j) != Some(b'}') {
                        return Err((i, "bad \\x{...} escape: expected hexadecimal digits and '}'".into()));
                    }
                    if v > 0x10FFFF {
                        return Err((i, "bad \\x{...} escape: beyond the last Unicode code point".into()));
                    }
                    checked_char(i, v)?;
                    j += 1;
                    v
                } else {
                    match (self.byte(j), self.byte(j + 1)) {
                        (Some(a), Some(b)) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => {
                            j += 2;
                            digit_value(a) * 16 + digit_value(b)
                        }
                        _ => return Err((i, "bad \\x escape: expected two hexadecimal digits or {...}".into())),
                    }
                }
            }
            0x5E => {
                // \^X: control character
                if self.byte(j).is_none() {
                    return Err((i, "unterminated escape sequence".into()));
                }
                let (x, n) = self.char_at(j);
                j += n;
                x & 31
            }
            other => other,
        };
        Ok((v, j))
    }

    /// The end of the escape sequence at `i`, in text already checked.
    #[inline]
    pub fn escape_end(&self, i: usize) -> usize {
        let (c, n) = self.char_at(i + 1);
        let mut j = i + 1 + n;
        match c {
            0x30..=0x37 => {
                for _ in 0..2 {
                    if matches!(self.byte(j), Some(b'0'..=b'7')) {
                        j += 1;
                    }
                }
                j
            }
            0x78 if self.byte(j) == Some(b'{') => {
                while self.s[j] != b'}' {
                    j += 1;
                }
                j + 1
            }
            0x78 => j + 2,
            0x5E => j + self.char_at(j).1,
            _ => j,
        }
    }

    /// A character literal `$c` at `i`: its value and the position after.
    pub fn char_literal(&self, i: usize) -> Result<(u32, usize), LexError> {
        match self.byte(i + 1) {
            None => Err((i, "'$' at the end of the text: expected a character".into())),
            Some(b'\\') => self.escape(i + 1),
            Some(_) => {
                let (c, n) = self.char_at(i + 1);
                Ok((checked_char(i + 1, c)?, i + 1 + n))
            }
        }
    }

    /// The end of a run of digits of `radix` from `i`, `_` allowed between
    /// two digits.
    fn digits_end(&self, start: usize, radix: u32) -> usize {
        let mut i = start;
        while let Some(b) = self.byte(i) {
            let separator = b == b'_' && i > start && self.byte(i + 1).is_some_and(|d| digit_value(d) < radix);
            if digit_value(b) < radix || separator {
                i += 1;
            } else {
                break;
            }
        }
        i
    }

    /// A number at `i` (a decimal digit): its value and the position after.
    pub fn number(&self, i: usize) -> Result<(Number, usize), LexError> {
        let end = self.digits_end(i, 10);
        match self.byte(end) {
            Some(b'#') => {
                let base_text = &self.s[i..end];
                // `1_6#ff` is base 16 to `erl_scan`.
                let digits: String = base_text.iter().filter(|&&b| b != b'_').map(|&b| char::from(b)).collect();
                let base = digits.parse::<u32>().unwrap_or(0);
                if !(2..=36).contains(&base) {
                    return Err((i, format!("bad base {}: bases are 2..36", String::from_utf8_lossy(base_text))));
                }
                let start = end + 1;
                let digits_end = self.digits_end(start, base);
                if digits_end == start {
                    return Err((start, format!("expected digits of base {base} after '#'")));
                }
                Ok((Number::Int(self.int_value(start, digits_end, base)?), digits_end))
            }
            Some(b'.') if self.byte(end + 1).is_some_and(|b| b.is_ascii_digit()) => {
                let mut j = self.digits_end(end + 1, 10);
                if matches!(self.byte(j), Some(b'e' | b'E')) {
                    let mut k = j + 1;
                    if matches!(self.byte(k), Some(b'+' | b'-')) {
                        k += 1;
                    }
                    if self.byte(k).is_some_and(|b| b.is_ascii_digit()) {
                        j = self.digits_end(k, 10);
                    }
                }
                let text: String = self.s[i..j].iter().filter(|&&b| b != b'_').map(|&b| b as char).collect();
                match text.parse::<f64>() {
                    Ok(f) if f.is_finite() => Ok((Number::Float(f), j)),
                    _ => Err((i, format!("float {text} is out of range"))),
                }
            }
            _ => {
                // The common case: a short decimal literal.
                if end - i <= 18 {
                    let mut v: i128 = 0;
                    let mut plain = true;
                    for &b in &self.s[i..end] {
                        if b == b'_' {
                            plain = false;
                            break;
                        }
                        v = v * 10 + i128::from(b - b'0');
                    }
                    if plain {
                        return Ok((Number::Int(Int::Small(v)), end));
                    }
                }
                Ok((Number::Int(self.int_value(i, end, 10)?), end))
            }
        }
    }

    /// The value of the digits `start..end` (underscores skipped).
    fn int_value(&self, start: usize, end: usize, radix: u32) -> Result<Int, LexError> {
        let digits = &self.s[start..end];
        let mut v: i128 = 0;
        let mut k = 0;
        while k < digits.len() {
            let b = digits[k];
            if b != b'_' {
                match v.checked_mul(i128::from(radix)).and_then(|m| m.checked_add(i128::from(digit_value(b)))) {
                    Some(n) => v = n,
                    None => break,
                }
            }
            k += 1;
        }
        if k == digits.len() {
            return Ok(Int::Small(v));
        }
        if digits.len() > MAX_INTEGER_DIGITS {
            return Err((start, format!("integer of {} digits: at most {MAX_INTEGER_DIGITS} are read", digits.len())));
        }
        let mut limbs = Vec::new();
        for &b in digits.iter().filter(|&&b| b != b'_') {
            mul_add(&mut limbs, radix, digit_value(b));
        }
        Ok(Int::Big { negative: false, magnitude: limbs })
    }

    /// The end of an unquoted atom (or variable) name starting at `i`.
    #[inline]
    pub fn name_end(&self, mut i: usize) -> usize {
        while let Some(b) = self.byte(i) {
            if b < 0x80 {
                if b.is_ascii_alphanumeric() || b == b'_' || b == b'@' {
                    i += 1;
                } else {
                    break;
                }
            } else {
                let (c, n) = self.char_at(i);
                if !is_name_char(c) {
                    break;
                }
                i += n;
            }
        }
        i
    }

    /// A quoted atom or string body from `i` (after the opening quote) to
    /// the closing `quote`: its characters and the position after the quote.
    pub fn quoted(&self, i: usize, quote: u8, out: &mut Vec<u32>) -> Result<usize, LexError> {
        let mut j = i;
        loop {
            match self.byte(j) {
                None => {
                    let what = if quote == b'"' { "string" } else { "quoted atom" };
                    return Err((i - 1, format!("unterminated {what}")));
                }
                Some(b) if b == quote => return Ok(j + 1),
                Some(b'\\') => {
                    let (c, next) = self.escape(j)?;
                    out.push(c);
                    j = next;
                }
                Some(b) if b < 0x80 => {
                    out.push(u32::from(b));
                    j += 1;
                }
                Some(_) => {
                    let (c, n) = self.char_at(j);
                    out.push(checked_char(j, c)?);
                    j += n;
                }
            }
        }
    }

    /// The end of a quoted body from `i` (after the opening quote), in text
    /// already checked.
    #[inline]
    pub fn quoted_end(&self, mut i: usize, quote: u8) -> usize {
        loop {
            let b = self.s[i];
            if b == quote {
                return i + 1;
            }
            if b == b'\\' {
                i = self.escape_end(i);
            } else {
                i += 1;
            }
        }
    }

    /// `line_column` of each of `offsets` (in any order), in one pass over
    /// the text.
    pub fn line_columns(&self, offsets: &[usize]) -> Vec<(usize, usize)> {
        let mut order: Vec<usize> = (0..offsets.len()).collect();
        order.sort_unstable_by_key(|&k| offsets[k]);
        let mut found = vec![(0, 0); offsets.len()];
        // Line and column of the byte at `at`.
        let (mut at, mut line, mut column) = (0, 1, 1);
        for k in order {
            let offset = offsets[k].min(self.s.len());
            for &b in &self.s[at..offset] {
                if b == b'\n' {
                    (line, column) = (line + 1, 1);
                } else if self.latin1 || b & 0xC0 != 0x80 {
                    column += 1;
                }
            }
            at = offset;
            found[k] = (line, column);
        }
        found
    }

    /// Line and column (1-based; the column counts characters) of `offset`.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.s.len());
        let before = &self.s[..offset];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let line_text = &before[line_start..];
        let column =
            1 + if self.latin1 { line_text.len() } else { line_text.iter().filter(|&&b| b & 0xC0 != 0x80).count() };
        (line, column)
    }
}

/// The encoding `epp` gives a file: Latin-1 when a `coding:` comment on
/// one of its first two lines says so, UTF-8 otherwise.
pub fn declares_latin1(s: &[u8]) -> bool {
    for line in s.split(|&b| b == b'\n').take(2) {
        let trimmed = line.iter().position(|&b| b != b' ' && b != b'\t').map_or(&[][..], |p| &line[p..]);
        if trimmed.first() != Some(&b'%') {
            continue;
        }
        let lower: Vec<u8> = trimmed.iter().map(u8::to_ascii_lowercase).collect();
        let Some(at) = lower.windows(6).position(|w| w == b"coding") else { continue };
        let mut k = at + 6;
        while lower.get(k).is_some_and(|b| *b == b' ' || *b == b'\t') {
            k += 1;
        }
        if !matches!(lower.get(k), Some(b':' | b'=')) {
            continue;
        }
        k += 1;
        while lower.get(k).is_some_and(|b| *b == b' ' || *b == b'\t') {
            k += 1;
        }
        let name_end =
            lower[k..].iter().position(|b| !(b.is_ascii_alphanumeric() || *b == b'-')).map_or(lower.len(), |p| k + p);
        return matches!(&lower[k..name_end], b"latin-1" | b"latin1" | b"iso-8859-1" | b"iso8859-1");
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Text<'_> {
        Text::new(s.as_bytes(), false)
    }

    #[test]
    fn many_positions_at_once_are_each_ones() {
        let text = "ab\n\u{e9}t\u{e9} x\n\n  \u{20ac}\u{20ac} z\n".as_bytes();
        for latin1 in [false, true] {
            let t = Text::new(text, latin1);
            // Every offset, in an order that is not the text's.
            let offsets: Vec<usize> = (0..=text.len() + 2).rev().chain([3, 0, 9]).collect();
            let one_by_one: Vec<_> = offsets.iter().map(|&o| t.line_column(o)).collect();
            assert_eq!(t.line_columns(&offsets), one_by_one, "latin1 {latin1}");
        }
    }

    #[test]
    fn numbers() {
        let n = |s: &str| t(s).number(0).map(|(n, _)| n);
        assert_eq!(n("1_000").unwrap(), Number::Int(Int::Small(1000)));
        assert_eq!(n("16#f_f").unwrap(), Number::Int(Int::Small(255)));
        assert_eq!(n("1_000.5_5").unwrap(), Number::Float(1000.55));
        assert_eq!(n("0.1e1_0").unwrap(), Number::Float(1e9));
        assert!(n("37#1").is_err());
        assert!(n("1.0e400").is_err());
        assert_eq!(n("1.0e-400").unwrap(), Number::Float(0.0));
        let big = n("340282366920938463463374607431768211456").unwrap();
        assert_eq!(
            big,
            Number::Int(Int::Big { negative: false, magnitude: vec![0, 0, 0, 0, 1] }),
            "2^128 needs five limbs"
        );
        if let Number::Int(i) = big {
            assert_eq!(i.to_string(), "340282366920938463463374607431768211456");
            assert_eq!(i.negate().to_string(), "-340282366920938463463374607431768211456");
        }
        assert_eq!(t("1_").number(0).unwrap().1, 1);
    }

    #[test]
    fn escapes() {
        let e = |s: &str| t(s).escape(0).map(|(c, _)| c);
        assert_eq!(e("\\x41").unwrap(), 65);
        assert_eq!(e("\\x{20AC}").unwrap(), 0x20AC);
        assert!(e("\\x4").is_err());
        assert_eq!(e("\\^a").unwrap(), 1);
        assert_eq!(e("\\^?").unwrap(), 31);
        assert_eq!(e("\\1234").unwrap(), 83);
        assert_eq!(e("\\z").unwrap(), u32::from(b'z'));
        assert_eq!(e("\\é").unwrap(), 0xE9);
        for s in ["\\x41", "\\x{20AC}", "\\^a", "\\123", "\\n", "\\é"] {
            assert_eq!(t(s).escape_end(0), s.len());
        }
    }

    #[test]
    fn positions_and_encoding() {
        assert_eq!(t("ab\ncé d").line_column(7), (2, 4));
        assert!(declares_latin1(b"%% -*- coding: latin-1 -*-\n"));
        assert!(declares_latin1(b"\n%% coding=ISO-8859-1\n"));
        assert!(!declares_latin1(b"%% coding: utf-8\n"));
        assert!(!declares_latin1(b"\n\n%% coding: latin-1\n"));
    }
}
