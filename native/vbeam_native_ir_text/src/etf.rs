//! Terms of `.ir` text in the Erlang external term format, for the VM to
//! build with one `binary_to_term` (the NIF's readers): the whole file as
//! `file:consult` would return it, or one term of a document (the term an
//! error names). Compound terms get their sizes once closed (a placeholder
//! is patched); equal map keys keep the last value, as `erl_parse` does.

use std::borrow::Cow;
use std::collections::HashMap;

use super::document::{text_of, TextTerm};
use super::lex::Int;
use super::parse::{parse_terms, Container, SyntaxError, Visitor};

const VERSION: u8 = 131;
const NEW_FLOAT: u8 = 70;
const BIT_BINARY: u8 = 77;
const SMALL_INTEGER: u8 = 97;
const INTEGER: u8 = 98;
const LARGE_TUPLE: u8 = 105;
const NIL: u8 = 106;
const LIST: u8 = 108;
const BINARY: u8 = 109;
const SMALL_BIG: u8 = 110;
const LARGE_BIG: u8 = 111;
const MAP: u8 = 116;
const ATOM_UTF8: u8 = 118;
const SMALL_ATOM_UTF8: u8 = 119;

struct Frame {
    kind: Container,
    /// Offset of the size field to patch.
    header: usize,
    /// For maps: where each key and value starts.
    elements: Vec<usize>,
    tail: bool,
}

/// Writes the terms it visits.
pub struct EtfWriter {
    out: Vec<u8>,
    stack: Vec<Frame>,
}

impl Default for EtfWriter {
    fn default() -> Self {
        EtfWriter { out: vec![VERSION], stack: Vec::new() }
    }
}

impl EtfWriter {
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    #[inline]
    fn element(&mut self) {
        if let Some(f) = self.stack.last_mut() {
            if f.kind == Container::Map {
                f.elements.push(self.out.len());
            }
        }
    }

    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    fn patch(&mut self, at: usize, v: u32) {
        self.out[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }

    fn int_value(&mut self, value: &Int) {
        match value.small() {
            Some(v) if (0..=255).contains(&v) => self.out.extend_from_slice(&[SMALL_INTEGER, v as u8]),
            Some(v) if (i32::MIN as i128..=i32::MAX as i128).contains(&v) => {
                self.out.push(INTEGER);
                self.out.extend_from_slice(&(v as i32).to_be_bytes());
            }
            _ => {
                let (negative, magnitude) = value.sign_magnitude();
                if magnitude.len() <= 255 {
                    self.out.extend_from_slice(&[SMALL_BIG, magnitude.len() as u8]);
                } else {
                    self.out.push(LARGE_BIG);
                    self.u32(magnitude.len() as u32);
                }
                self.out.push(u8::from(negative));
                self.out.extend_from_slice(&magnitude);
            }
        }
    }
}

impl Visitor for EtfWriter {
    fn atom(&mut self, _pos: usize, name: &str) {
        self.element();
        if name.len() <= 255 {
            self.out.extend_from_slice(&[SMALL_ATOM_UTF8, name.len() as u8]);
        } else {
            self.out.push(ATOM_UTF8);
            self.out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
    }
    fn int(&mut self, _pos: usize, value: Int) {
        self.element();
        self.int_value(&value);
    }
    fn float(&mut self, _pos: usize, value: f64) {
        self.element();
        self.out.push(NEW_FLOAT);
        self.out.extend_from_slice(&value.to_bits().to_be_bytes());
    }
    fn string(&mut self, _pos: usize, chars: &[u32]) {
        self.element();
        if chars.is_empty() {
            self.out.push(NIL);
            return;
        }
        // Always as a list of integers: the same term always has the same
        // bytes, which map keys are compared by.
        self.out.push(LIST);
        self.u32(chars.len() as u32);
        for &c in chars {
            self.int_value(&Int::Small(i128::from(c)));
        }
        self.out.push(NIL);
    }
    fn binary(&mut self, _pos: usize, bytes: &[u8], tail_bits: u8, _plain: bool) {
        self.element();
        if tail_bits == 0 {
            self.out.push(BINARY);
            self.u32(bytes.len() as u32);
        } else {
            self.out.push(BIT_BINARY);
            self.u32(bytes.len() as u32);
            self.out.push(tail_bits);
        }
        self.out.extend_from_slice(bytes);
    }
    fn open(&mut self, _pos: usize, kind: Container) {
        self.element();
        self.out.push(match kind {
            Container::Tuple => LARGE_TUPLE,
            Container::List => LIST,
            Container::Map => MAP,
        });
        let header = self.out.len();
        self.u32(0);
        self.stack.push(Frame { kind, header, elements: Vec::new(), tail: false });
    }
    fn tail(&mut self) {
        if let Some(f) = self.stack.last_mut() {
            f.tail = true;
        }
    }
    fn close(&mut self, kind: Container, count: usize) {
        let frame = self.stack.pop().expect("an open term");
        match kind {
            Container::Tuple => self.patch(frame.header, count as u32),
            Container::List => {
                if count == 0 {
                    self.out.truncate(frame.header - 1);
                    self.out.push(NIL);
                } else if frame.tail {
                    self.patch(frame.header, count as u32 - 1);
                } else {
                    self.patch(frame.header, count as u32);
                    self.out.push(NIL);
                }
            }
            Container::Map => {
                let pairs = self.dedup_keys(&frame);
                self.patch(frame.header, pairs as u32);
            }
        }
    }
}

impl EtfWriter {
    /// Drops the pairs of a map whose key comes again later; the number of
    /// pairs left.
    fn dedup_keys(&mut self, frame: &Frame) -> usize {
        let e = &frame.elements;
        let pairs = e.len() / 2;
        let end = self.out.len();
        let span = |k: usize| (e[k], if k + 1 < e.len() { e[k + 1] } else { end });
        let (keep, kept) = {
            // Keys are compared as terms: equal terms can be written
            // differently, and the VM refuses a map with equal keys.
            let keys: Vec<Cow<[u8]>> = (0..pairs)
                .map(|p| {
                    let (a, z) = span(2 * p);
                    canonical(&self.out[a..z])
                })
                .collect();
            let mut last: HashMap<&[u8], usize> = HashMap::with_capacity(pairs);
            for (p, key) in keys.iter().enumerate() {
                last.insert(key, p);
            }
            if last.len() == pairs {
                return pairs;
            }
            let keep: Vec<bool> = keys.iter().enumerate().map(|(p, key)| last[&key[..]] == p).collect();
            (keep, last.len())
        };
        let body_start = e.first().copied().unwrap_or(end);
        let mut body = Vec::with_capacity(end - body_start);
        for (p, keep) in keep.iter().enumerate() {
            if *keep {
                let (a, _) = span(2 * p);
                let (_, z) = span(2 * p + 1);
                body.extend_from_slice(&self.out[a..z]);
            }
        }
        self.out.truncate(body_start);
        self.out.extend_from_slice(&body);
        kept
    }
}

/// A compound term being rewritten by `canonical`.
enum Open {
    Tuple {
        left: u32,
    },
    /// `left`: elements still to come, then the tail; `count` patched at
    /// `count_at` once the tail is read.
    List {
        left: u32,
        count_at: usize,
        count: u32,
    },
    /// `left`: keys and values still to come; the pairs read so far.
    Map {
        left: u32,
        pairs: Vec<Vec<u8>>,
    },
}

/// A term written by `EtfWriter` in a form that is the same for equal
/// terms (`=:=` on OTP 25, whose maps the keys become): a list joined
/// with the lists of its tail (`[1|[2]]` is `[1,2]`), a map's pairs in
/// order of their forms, and `-0.0` as `0.0`. Kept on an explicit stack:
/// a key may nest as deep as any term.
fn canonical(term: &[u8]) -> Cow<'_, [u8]> {
    if !matches!(term[0], LIST | LARGE_TUPLE | MAP | NEW_FLOAT) {
        // Atoms, integers, binaries and `[]` have one form already.
        return Cow::Borrowed(term);
    }
    let u32_at = |p: usize| u32::from_be_bytes(term[p..p + 4].try_into().expect("four bytes"));
    // Where the current term is written: a map's pairs get their own.
    let mut bufs: Vec<Vec<u8>> = vec![Vec::with_capacity(term.len())];
    let mut stack: Vec<Open> = Vec::new();
    let mut p = 0;
    while p < term.len() {
        let buf = bufs.last_mut().expect("a buffer");
        match term[p] {
            LIST => {
                let n = u32_at(p + 1);
                p += 5;
                if let Some(Open::List { left: left @ 0, count, .. }) = stack.last_mut() {
                    // A list's tail that is a list: its elements continue it.
                    *left = n;
                    *count += n;
                } else {
                    buf.push(LIST);
                    let count_at = buf.len();
                    buf.extend_from_slice(&[0; 4]);
                    stack.push(Open::List { left: n, count_at, count: n });
                }
                continue;
            }
            LARGE_TUPLE => {
                let n = u32_at(p + 1);
                buf.extend_from_slice(&term[p..p + 5]);
                p += 5;
                if n > 0 {
                    stack.push(Open::Tuple { left: n });
                    continue;
                }
            }
            MAP => {
                let n = u32_at(p + 1);
                p += 5;
                if n > 0 {
                    stack.push(Open::Map { left: 2 * n, pairs: Vec::new() });
                    bufs.push(Vec::new());
                    continue;
                }
                buf.push(MAP);
                buf.extend_from_slice(&[0; 4]);
            }
            NEW_FLOAT => {
                let f = f64::from_bits(u64::from_be_bytes(term[p + 1..p + 9].try_into().expect("eight bytes")));
                // 0.0 =:= -0.0 on OTP 25.
                let f = if f == 0.0 { 0.0 } else { f };
                buf.push(NEW_FLOAT);
                buf.extend_from_slice(&f.to_bits().to_be_bytes());
                p += 9;
            }
            tag => {
                let len = match tag {
                    SMALL_INTEGER => 2,
                    INTEGER => 5,
                    NIL => 1,
                    SMALL_ATOM_UTF8 => 2 + usize::from(term[p + 1]),
                    ATOM_UTF8 => 3 + usize::from(u16::from_be_bytes([term[p + 1], term[p + 2]])),
                    BINARY => 5 + u32_at(p + 1) as usize,
                    BIT_BINARY => 6 + u32_at(p + 1) as usize,
                    SMALL_BIG => 3 + usize::from(term[p + 1]),
                    LARGE_BIG => 6 + u32_at(p + 1) as usize,
                    other => unreachable!("EtfWriter writes no tag {other}"),
                };
                buf.extend_from_slice(&term[p..p + len]);
                p += len;
            }
        }
        // A term ends: close what it completes.
        loop {
            match stack.last_mut() {
                None => break,
                Some(Open::Tuple { left }) => {
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                }
                Some(Open::List { left, count_at, count }) => {
                    if *left > 0 {
                        // An element; after the last comes the tail.
                        *left -= 1;
                        break;
                    }
                    let (at, count) = (*count_at, *count);
                    bufs.last_mut().expect("a buffer")[at..at + 4].copy_from_slice(&count.to_be_bytes());
                }
                Some(Open::Map { left, pairs }) => {
                    *left -= 1;
                    if *left % 2 == 1 {
                        break;
                    }
                    pairs.push(bufs.pop().expect("a pair's buffer"));
                    if *left > 0 {
                        bufs.push(Vec::new());
                        break;
                    }
                    // Forms are self-delimiting: pairs sort by their keys.
                    pairs.sort_unstable();
                    let buf = bufs.last_mut().expect("a buffer");
                    buf.push(MAP);
                    buf.extend_from_slice(&(pairs.len() as u32).to_be_bytes());
                    for pair in pairs.iter() {
                        buf.extend_from_slice(pair);
                    }
                }
            }
            stack.pop();
        }
    }
    Cow::Owned(bufs.pop().expect("the term's buffer"))
}

/// Every term of a `.ir` text, as the list `file:consult` returns.
pub fn document_to_etf(s: &[u8]) -> Result<Vec<u8>, SyntaxError> {
    let t = text_of(s)?;
    let mut w = EtfWriter::default();
    w.out.push(LIST);
    w.u32(0);
    let terms = parse_terms(t, &mut w)?;
    if terms.is_empty() {
        return Ok(vec![VERSION, NIL]);
    }
    w.patch(2, terms.len() as u32);
    w.out.push(NIL);
    Ok(w.out)
}

/// One term of a document.
pub fn term_to_etf(term: &TextTerm) -> Vec<u8> {
    let mut w = EtfWriter::default();
    term.visit(&mut w);
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etf(text: &str) -> Vec<u8> {
        document_to_etf(text.as_bytes()).unwrap()
    }

    /// Equal keys written differently are one key, the last pair kept
    /// (as the VM needs: it refuses a map with equal keys).
    #[test]
    fn equal_keys_are_equal_terms() {
        for (text, same_as) in [
            ("#{[1|[2]] => a, [1,2] => b}.", "#{[1,2] => b}."),
            ("#{[1,2] => a, [1|[2|[]]] => b}.", "#{[1|[2|[]]] => b}."),
            ("#{#{a=>1,b=>2} => x, #{b=>2,a=>1} => y}.", "#{#{b=>2,a=>1} => y}."),
            ("#{\"ab\" => a, [$a|\"b\"] => b}.", "#{[$a|\"b\"] => b}."),
            ("#{0.0 => a, -0.0 => b}.", "#{-0.0 => b}."),
            (
                "#{{[1|[]], #{0.0 => [2|\"c\"]}} => a, {[1], #{-0.0 => [2,$c]}} => b}.",
                "#{{[1], #{-0.0 => [2,$c]}} => b}.",
            ),
        ] {
            assert_eq!(etf(text), etf(same_as), "{text}");
        }
        // Terms that are not equal stay two keys.
        for text in [
            "#{1 => a, 1.0 => b}.",
            "#{[1|2] => a, [1,2] => b}.",
            "#{{a} => a, [a] => b}.",
            "#{<<1:4>> => a, <<16:5>> => b}.",
        ] {
            assert_eq!(etf(text)[1..7], [LIST, 0, 0, 0, 1, MAP], "{text}");
            assert_eq!(etf(text)[7..11], 2u32.to_be_bytes(), "{text}");
        }
    }
}
