//! A `.ir` text read in place: the text is checked once, then its terms
//! are read where they lie through `TextTerm` handles (a position in the
//! text), so decoding a module builds no tree of its terms. The only
//! things kept beside the text are the bytes of binaries the text does
//! not hold verbatim (escapes, `<<1,2,3>>`, bit syntax), found by position.
//! Taking a handle apart re-scans the few bytes of its term: every
//! instruction is a few dozen bytes, so the text is read about three times
//! in all, in cache, and memory stays the size of the text.

use std::borrow::Cow;
use std::sync::mpsc;

use super::lex::{declares_latin1, Int, Number, Text};
use super::parse::{
    parse_elements, parse_terms, plain_binary, syntax_error, Container, Elements, SyntaxError, Visitor, MAX_NESTING,
};
use vbeam_native_core::term::{Atom, Term, KNOWN_ATOMS};

/// Bytes of a binary that the text does not hold verbatim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Decoded {
    /// Where the binary starts in the text.
    pos: u32,
    /// Its bytes in `Document::bytes`.
    start: u32,
    len: u32,
    /// Bits used of the last byte when it is not whole bytes, else 0.
    tail_bits: u8,
}

/// A checked text, the bytes of its binaries that are not verbatim, and
/// where its large terms end.
#[derive(Debug)]
pub struct Document<'t> {
    text: Text<'t>,
    terms: Vec<u32>,
    decoded: Vec<Decoded>,
    bytes: Vec<u8>,
    /// One bit per `BLOCK` bytes of the text: a large term starts there.
    large: Vec<u64>,
    /// The large terms, by start.
    spans: Vec<Span>,
    /// Where the elements of large proper lists start.
    elements: Vec<u32>,
    /// Whether a second thread read part of the text.
    read_ahead: bool,
}

impl Document<'_> {
    /// Whether a second thread read part of the text (large texts, two
    /// cores).
    pub fn read_by_two_threads(&self) -> bool {
        self.read_ahead
    }
}

/// A large term: where it ends and, for a proper list, its elements in
/// `Document::elements`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
    first: u32,
    count: u32,
}

const NO_ELEMENTS: u32 = u32::MAX;

/// Bytes of text per bit of `Document::large`: a term that starts in a
/// block with a large one looks itself up among the large ones.
const BLOCK: usize = 64;

/// Terms of at least this many bytes have their end recorded, and lists
/// their elements: the decoder reads a map by looking up its keys one at a
/// time, each lookup stepping over the values before the key (a module's
/// list of functions, a function's body), and takes a body apart as a list
/// before reading its instructions.
const LARGE: usize = 256;

/// An open compound term, while the document is checked.
struct Open {
    list: bool,
    /// A list's elements (none once a `|` tail is seen).
    elements: Vec<u32>,
    proper: bool,
}

/// Records the binaries that need their own bytes and the large terms.
#[derive(Default)]
struct Builder {
    decoded: Vec<Decoded>,
    bytes: Vec<u8>,
    spans: Vec<Span>,
    elements: Vec<u32>,
    stack: Vec<Open>,
    /// The elements of the list just closed, until its span is known.
    closed: Option<Vec<u32>>,
    /// The second half of the text, read by another thread.
    ahead: Option<Ahead>,
    read_ahead: bool,
}

/// What another thread reads: the elements of a list or tuple from
/// `split` to its close (`parse_elements`), with what it recorded.
type AheadResult = Option<(Builder, Elements)>;

struct Ahead {
    split: usize,
    result: mpsc::Receiver<AheadResult>,
}

/// Texts this large are checked by two threads, if there are two cores.
const PARALLEL_TEXT: usize = 1 << 20;

impl Builder {
    /// Takes in what another thread recorded from the text after ours.
    fn merge(&mut self, other: Builder, starts: Vec<u32>) {
        let shift = self.bytes.len() as u32;
        self.decoded.extend(other.decoded.into_iter().map(|d| Decoded { start: d.start + shift, ..d }));
        self.bytes.extend(other.bytes);
        let shift = self.elements.len() as u32;
        self.spans.extend(
            other
                .spans
                .into_iter()
                .map(|s| Span { first: if s.first == NO_ELEMENTS { NO_ELEMENTS } else { s.first + shift }, ..s }),
        );
        self.elements.extend(other.elements);
        if let Some(open) = self.stack.last_mut() {
            if open.list && open.proper {
                open.elements.extend(starts);
            }
        }
    }

    #[inline(always)]
    fn element(&mut self, pos: usize) {
        if let Some(open) = self.stack.last_mut() {
            if open.list && open.proper {
                open.elements.push(pos as u32);
            }
        }
    }
}

impl Visitor for Builder {
    const NAMES: bool = false;
    const OPAQUE_TUPLES: bool = true;
    #[inline(always)]
    fn opaque(&mut self, pos: usize) {
        self.element(pos);
    }
    #[inline(always)]
    fn atom(&mut self, pos: usize, _name: &str) {
        self.element(pos);
    }
    #[inline(always)]
    fn int(&mut self, pos: usize, _value: Int) {
        self.element(pos);
    }
    #[inline(always)]
    fn float(&mut self, pos: usize, _value: f64) {
        self.element(pos);
    }
    #[inline(always)]
    fn string(&mut self, pos: usize, _chars: &[u32]) {
        self.element(pos);
    }
    #[inline(always)]
    fn binary(&mut self, pos: usize, bytes: &[u8], tail_bits: u8, plain: bool) {
        self.element(pos);
        if !plain {
            self.decoded.push(Decoded {
                pos: pos as u32,
                start: self.bytes.len() as u32,
                len: bytes.len() as u32,
                tail_bits,
            });
            self.bytes.extend_from_slice(bytes);
        }
    }
    #[inline(always)]
    fn open(&mut self, pos: usize, kind: Container) {
        self.element(pos);
        self.stack.push(Open { list: kind == Container::List, elements: Vec::new(), proper: true });
    }
    #[inline(always)]
    fn tail(&mut self) {
        if let Some(open) = self.stack.last_mut() {
            open.proper = false;
            open.elements = Vec::new();
        }
    }
    #[inline(always)]
    fn close(&mut self, _kind: Container, _count: usize) {
        let open = self.stack.pop().expect("an open term");
        self.closed = (open.list && open.proper).then_some(open.elements);
    }
    fn split(&self) -> usize {
        self.ahead.as_ref().map_or(usize::MAX, |a| a.split)
    }
    fn adopt(&mut self, kind: Container, depth: usize) -> Option<(usize, usize)> {
        let ahead = self.ahead.take()?;
        let (other, elements) = ahead.result.recv().ok()??;
        let expected = if kind == Container::List { b']' } else { b'}' };
        // Nested too deep where they are: this thread reads them again, to
        // stop at the level too many.
        if elements.close != expected || depth + elements.depth > MAX_NESTING {
            return None;
        }
        let count = elements.starts.len();
        self.merge(other, elements.starts);
        self.read_ahead = true;
        Some((elements.close_at, count))
    }
    #[inline(always)]
    fn span(&mut self, start: usize, end: usize) {
        let elements = self.closed.take();
        if end - start < LARGE {
            return;
        }
        let (first, count) = match elements {
            Some(e) => {
                let first = self.elements.len() as u32;
                self.elements.extend_from_slice(&e);
                (first, e.len() as u32)
            }
            None => (NO_ELEMENTS, 0),
        };
        self.spans.push(Span { start: start as u32, end: end as u32, first, count });
    }
}

/// Where a second thread starts reading: the first function map of a
/// module's list after the middle of the text (`#{` after a comma).
fn find_split(t: Text) -> Option<usize> {
    let s = t.s;
    let mut i = s.len() / 2;
    let limit = s.len() / 2 + s.len() / 4;
    while i < limit {
        let at = i + s[i..limit].iter().position(|&b| b == b'#')?;
        if s.get(at + 1) == Some(&b'{') {
            let before = s[..at].iter().rposition(|&b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
            if s[before] == b',' {
                return Some(at);
            }
        }
        i = at + 1;
    }
    None
}

/// The text's encoding: Latin-1 if a `coding:` comment says so, else it
/// must be UTF-8.
pub fn text_of(s: &[u8]) -> Result<Text<'_>, SyntaxError> {
    let latin1 = declares_latin1(s);
    let t = Text::new(s, latin1);
    if !latin1 {
        if let Err(e) = std::str::from_utf8(s) {
            return Err(syntax_error(
                t,
                (
                    e.valid_up_to(),
                    "invalid UTF-8 (a file in Latin-1 says so with '%% coding: latin-1' on its first line)".into(),
                ),
            ));
        }
    }
    Ok(t)
}

impl<'t> Document<'t> {
    /// Checks the text: terms, each followed by `.`.
    pub fn parse(s: &'t [u8]) -> Result<Document<'t>, SyntaxError> {
        let two_cores = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        Document::parse_with(s, two_cores && s.len() >= PARALLEL_TEXT)
    }

    /// `parse`, by two threads or one.
    fn parse_with(s: &'t [u8], two_threads: bool) -> Result<Document<'t>, SyntaxError> {
        let text = text_of(s)?;
        let split = if two_threads { find_split(text) } else { None };
        let (terms, builder) = match split {
            None => {
                let mut builder = Builder::default();
                (parse_terms(text, &mut builder)?, builder)
            }
            // The second half is read ahead by another thread, from an
            // element of a list there; this thread takes in what it read
            // when it gets there, if that element is where it looked.
            Some(split) => std::thread::scope(|scope| {
                let (send, result) = mpsc::channel();
                let reader = std::thread::Builder::new().spawn_scoped(scope, move || {
                    let mut other = Builder::default();
                    let read = parse_elements(text, split, &mut other);
                    let _ = send.send(read.map(|elements| (other, elements)));
                });
                let ahead = reader.is_ok().then_some(Ahead { split, result });
                let mut builder = Builder { ahead, ..Builder::default() };
                parse_terms(text, &mut builder).map(|terms| (terms, builder))
            })?,
        };
        let mut spans = builder.spans;
        spans.sort_unstable_by_key(|s| s.start);
        let mut large = vec![0u64; s.len().div_ceil(BLOCK * 64) + 1];
        for span in &spans {
            let block = span.start as usize / BLOCK;
            large[block >> 6] |= 1 << (block & 63);
        }
        let (decoded, bytes, elements, read_ahead) =
            (builder.decoded, builder.bytes, builder.elements, builder.read_ahead);
        Ok(Document { text, terms, decoded, bytes, large, spans, elements, read_ahead })
    }

    /// The large term starting at `i`, if it is one.
    #[inline(always)]
    fn span(&self, i: usize) -> Option<&Span> {
        let block = i / BLOCK;
        if self.large[block >> 6] >> (block & 63) & 1 == 0 {
            return None;
        }
        let k = self.spans.binary_search_by_key(&(i as u32), |s| s.start).ok()?;
        Some(&self.spans[k])
    }

    /// The end of the term starting at `i`.
    #[inline(always)]
    fn skip(&self, i: usize) -> usize {
        match self.span(i) {
            Some(span) => span.end as usize,
            None => skip_term(self.text, i),
        }
    }

    /// The terms of the text, in order.
    pub fn terms(&self) -> Vec<TextTerm<'_>> {
        self.terms.iter().map(|&pos| TextTerm::new(self, pos as usize, Hint::None)).collect()
    }

    pub fn text(&self) -> Text<'t> {
        self.text
    }

    /// Line and column (1-based, in characters) of a byte offset.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        self.text.line_column(offset)
    }

    /// `line_column` of many offsets at once, in time linear in the text.
    pub fn line_columns(&self, offsets: &[usize]) -> Vec<(usize, usize)> {
        self.text.line_columns(offsets)
    }

    fn decoded(&self, pos: u32) -> Option<&Decoded> {
        let k = self.decoded.binary_search_by_key(&pos, |d| d.pos).ok()?;
        Some(&self.decoded[k])
    }
}

/// A term of a `Document`: the position where it starts, and what the
/// scan that found it learned on the way (so an instruction's operands are
/// read once). A character of a string (a string is a list of them) is a
/// handle of its own kind.
#[derive(Clone, Copy)]
pub struct TextTerm<'a> {
    doc: &'a Document<'a>,
    pos: u32,
    /// The `Hint`, packed (handles are copied often: 24 bytes, not 32).
    kind: u8,
    atom: u8,
    second: u8,
    value: i64,
}

const KIND_NONE: u8 = 0;
const KIND_CHAR: u8 = 1;
const KIND_ATOM: u8 = 2;
const KIND_INT: u8 = 3;
const KIND_PAIR: u8 = 4;
const NO_ATOM: u8 = u8::MAX;
const _: () = assert!(KNOWN_ATOMS.len() < NO_ATOM as usize, "an atom's index fits in a byte");

impl Hint {
    #[inline(always)]
    fn pack(self) -> (u8, u8, u8, i64) {
        let atom = |a: Option<Atom>| a.map_or(NO_ATOM, |a| a as u8);
        match self {
            Hint::None => (KIND_NONE, NO_ATOM, 0, 0),
            Hint::Char => (KIND_CHAR, NO_ATOM, 0, 0),
            Hint::Atom(a) => (KIND_ATOM, atom(a), 0, 0),
            Hint::Int(v) => (KIND_INT, NO_ATOM, 0, v),
            Hint::Pair { tag, value, second } => (KIND_PAIR, tag as u8, second, value),
        }
    }
}

/// What is known of a term without reading its text again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hint {
    /// Nothing: read the text.
    None,
    /// A character of a string, at `pos` (an escape or one character).
    Char,
    /// A bare atom: the known atom it is, if any.
    Atom(Option<Atom>),
    /// An integer of 64 bits (as `int64_bits` gives it).
    Int(i64),
    /// `{Tag, N}` with a bare known atom and a 64-bit integer (`{vreg, 3}`,
    /// `{imm, -1}`), the integer `second` bytes after `pos`.
    Pair { tag: Atom, value: i64, second: u8 },
}

impl std::fmt::Debug for TextTerm<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.source_text(200))
    }
}

/// Byte classes for the bracket scan (`skip_nested`).
const OPEN: u8 = 1;
const CLOSE: u8 = 2;
const QUOTE: u8 = 3;
const DOLLAR: u8 = 4;
const PERCENT: u8 = 5;
const ANGLE_OPEN: u8 = 6;
const ANGLE_CLOSE: u8 = 7;
const EQUALS: u8 = 8;

static CLASS: [u8; 256] = {
    let mut c = [0u8; 256];
    c[b'{' as usize] = OPEN;
    c[b'[' as usize] = OPEN;
    c[b'(' as usize] = OPEN;
    c[b'}' as usize] = CLOSE;
    c[b']' as usize] = CLOSE;
    c[b')' as usize] = CLOSE;
    c[b'"' as usize] = QUOTE;
    c[b'\'' as usize] = QUOTE;
    c[b'$' as usize] = DOLLAR;
    c[b'%' as usize] = PERCENT;
    c[b'<' as usize] = ANGLE_OPEN;
    c[b'>' as usize] = ANGLE_CLOSE;
    c[b'=' as usize] = EQUALS;
    c
};

/// The IR's known atoms by name (FNV-1a, open addressing): each slot the
/// index of an atom in `KNOWN_ATOMS`, or `NO_ATOM`. Built at compile time.
const ATOM_SLOTS: usize = (KNOWN_ATOMS.len() * 4).next_power_of_two();

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

#[inline(always)]
fn fnv(bytes: &[u8]) -> usize {
    let mut h: u32 = FNV_OFFSET;
    for &b in bytes {
        h = (h ^ u32::from(b)).wrapping_mul(FNV_PRIME);
    }
    h as usize
}

static ATOM_INDEX: [u8; ATOM_SLOTS] = {
    let mut slots = [NO_ATOM; ATOM_SLOTS];
    let mut k = 0;
    while k < KNOWN_ATOMS.len() {
        let name = KNOWN_ATOMS[k].as_bytes();
        let mut h: u32 = FNV_OFFSET;
        let mut j = 0;
        while j < name.len() {
            h = (h ^ name[j] as u32).wrapping_mul(FNV_PRIME);
            j += 1;
        }
        let mut i = h as usize & (ATOM_SLOTS - 1);
        while slots[i] != NO_ATOM {
            i = (i + 1) & (ATOM_SLOTS - 1);
        }
        slots[i] = k as u8;
        k += 1;
    }
    slots
};

#[inline(always)]
fn known(name: &[u8]) -> Option<Atom> {
    known_hashed(name, fnv(name))
}

/// `known`, given `fnv(name)`.
#[inline(always)]
fn known_hashed(name: &[u8], hash: usize) -> Option<Atom> {
    let mut i = hash & (ATOM_SLOTS - 1);
    loop {
        let k = ATOM_INDEX[i];
        if k == NO_ATOM {
            return None;
        }
        if KNOWN_ATOMS[k as usize].as_bytes() == name {
            return Some(Atom::ALL[k as usize]);
        }
        i = (i + 1) & (ATOM_SLOTS - 1);
    }
}

/// Tuples up to this many elements are gathered on the stack: every
/// instruction (an opcode and at most four operands) and operand.
const INLINE: usize = 6;

impl<'a> TextTerm<'a> {
    /// Byte offset of the term in the text.
    pub fn offset(&self) -> usize {
        self.pos as usize
    }

    pub fn document(&self) -> &'a Document<'a> {
        self.doc
    }

    /// Whether the handle is a character of a string.
    pub fn is_string_char(&self) -> bool {
        self.is_char()
    }

    #[inline(always)]
    fn new(doc: &'a Document<'a>, pos: usize, hint: Hint) -> TextTerm<'a> {
        let (kind, atom, second, value) = hint.pack();
        TextTerm { doc, pos: pos as u32, kind, atom, second, value }
    }

    #[inline(always)]
    fn hint(&self) -> Hint {
        let atom = || (self.atom != NO_ATOM).then(|| Atom::ALL[self.atom as usize]);
        match self.kind {
            KIND_CHAR => Hint::Char,
            KIND_ATOM => Hint::Atom(atom()),
            KIND_INT => Hint::Int(self.value),
            KIND_PAIR => Hint::Pair { tag: Atom::ALL[self.atom as usize], value: self.value, second: self.second },
            _ => Hint::None,
        }
    }

    #[inline(always)]
    fn is_char(&self) -> bool {
        self.kind == KIND_CHAR
    }

    #[inline(always)]
    fn with_hint(&self, pos: usize, hint: Hint) -> TextTerm<'a> {
        TextTerm::new(self.doc, pos, hint)
    }

    /// The element of a compound term starting at `i` (in checked text),
    /// with what reading it shows at once, and where it ends.
    #[inline(always)]
    fn scan_element(&self, i: usize) -> (TextTerm<'a>, usize) {
        let s = self.t().s;
        let b = s[i];
        if b.is_ascii_lowercase() {
            if let Some((atom, end)) = bare_atom(s, i) {
                return (self.with_hint(i, Hint::Atom(atom)), end);
            }
        } else if b.is_ascii_digit() || (b == b'-' && s[i + 1].is_ascii_digit()) {
            if let Some((value, end)) = small_int(s, i) {
                return (self.with_hint(i, Hint::Int(value)), end);
            }
        } else if b == b'{' {
            if let Some((tag, value, second, end)) = pair(s, i) {
                return (self.with_hint(i, Hint::Pair { tag, value, second }), end);
            }
        }
        (self.at(i), self.doc.skip(i))
    }

    #[inline(always)]
    fn t(&self) -> Text<'a> {
        self.doc.text
    }

    #[inline(always)]
    fn at(&self, pos: usize) -> TextTerm<'a> {
        TextTerm::new(self.doc, pos, Hint::None)
    }

    /// Where the term itself starts, inside any parentheses.
    #[inline(always)]
    fn start(&self) -> usize {
        let t = self.t();
        let mut p = self.pos as usize;
        while t.s[p] == b'(' {
            p = t.skip_ws(p + 1);
        }
        p
    }

    /// The term's text, whitespace runs shown as one space, cut at `max`
    /// characters.
    pub fn source_text(&self, max: usize) -> String {
        let t = self.t();
        let start = self.pos as usize;
        let end = if self.is_char() { t.escape_end_or_char(start) } else { self.doc.skip(start) };
        // Enough bytes for `max` characters and the whitespace between.
        let raw = &t.s[start..end.min(start + 16 * max + 64)];
        let text: String =
            if t.latin1 { raw.iter().map(|&b| b as char).collect() } else { String::from_utf8_lossy(raw).into_owned() };
        let mut out = String::new();
        let mut space = false;
        let mut chars = 0;
        for ch in text.chars() {
            if ch.is_whitespace() {
                space = true;
                continue;
            }
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            if chars == max {
                out.push('…');
                break;
            }
            out.push(ch);
            chars += 1;
        }
        if self.is_char() {
            if let Some(v) = self.int64_bits() {
                return format!("{v}");
            }
        }
        out
    }

    /// The elements of a list term, or `None` if it is not a proper list.
    fn list_items(&self) -> Option<Vec<TextTerm<'a>>> {
        if self.is_char() {
            return None;
        }
        let t = self.t();
        let mut i = self.start();
        if let Some(span) = self.doc.span(i).filter(|s| s.first != NO_ELEMENTS) {
            let elements = &self.doc.elements[span.first as usize..(span.first + span.count) as usize];
            return Some(elements.iter().map(|&pos| self.at(pos as usize)).collect());
        }
        let mut items = Vec::new();
        loop {
            match t.s[i] {
                b'[' => {
                    i = t.skip_ws(i + 1);
                    if t.s[i] == b']' {
                        return Some(items);
                    }
                    loop {
                        items.push(self.at(i));
                        i = t.skip_ws(self.doc.skip(i));
                        match t.s[i] {
                            b',' => i = t.skip_ws(i + 1),
                            b'|' => {
                                // The tail: a list or string continues it.
                                i = t.skip_ws(i + 1);
                                while t.s[i] == b'(' {
                                    i = t.skip_ws(i + 1);
                                }
                                break;
                            }
                            _ => return Some(items),
                        }
                    }
                }
                b'"' => {
                    self.string_chars(i, &mut items);
                    return Some(items);
                }
                _ => return None,
            }
        }
    }

    /// The characters of adjacent strings from `i`.
    fn string_chars(&self, mut i: usize, items: &mut Vec<TextTerm<'a>>) {
        let t = self.t();
        loop {
            i += 1;
            loop {
                match t.s[i] {
                    b'"' => break,
                    b'\\' => {
                        items.push(TextTerm::new(self.doc, i, Hint::Char));
                        i = t.escape_end(i);
                    }
                    b if b < 0x80 || t.latin1 => {
                        items.push(TextTerm::new(self.doc, i, Hint::Char));
                        i += 1;
                    }
                    _ => {
                        items.push(TextTerm::new(self.doc, i, Hint::Char));
                        i += t.char_at(i).1;
                    }
                }
            }
            let k = t.skip_ws(i + 1);
            if t.byte(k) == Some(b'"') {
                i = k;
            } else {
                return;
            }
        }
    }

    /// The name of an atom term as bytes of UTF-8, borrowed when the text
    /// holds it verbatim.
    fn atom_bytes(&self) -> Option<Cow<'a, [u8]>> {
        if self.is_char() {
            return None;
        }
        let t = self.t();
        let p = self.start();
        let b = t.s[p];
        if b.is_ascii_lowercase() {
            let end = t.name_end(p);
            let word = &t.s[p..end];
            if word.is_ascii() {
                return Some(Cow::Borrowed(word));
            }
        } else if b == b'\'' {
            let end = t.quoted_end(p + 1, b'\'');
            let inner = &t.s[p + 1..end - 1];
            if !inner.contains(&b'\\') && inner.is_ascii() {
                return Some(Cow::Borrowed(inner));
            }
            let mut chars = Vec::new();
            t.quoted(p + 1, b'\'', &mut chars).ok()?;
            return Some(Cow::Owned(chars.iter().filter_map(|&c| char::from_u32(c)).collect::<String>().into_bytes()));
        } else if b < 0x80 {
            return None;
        }
        // An unquoted atom with Latin-1 letters.
        let (c, _) = t.char_at(p);
        if !super::lex::is_atom_start(c) {
            return None;
        }
        let end = t.name_end(p);
        let mut k = p;
        let mut name = String::new();
        while k < end {
            let (c, n) = t.char_at(k);
            name.push(char::from_u32(c)?);
            k += n;
        }
        Some(Cow::Owned(name.into_bytes()))
    }

    /// The integer, if the term is one (any size).
    pub fn int_value(&self) -> Option<Int> {
        let t = self.t();
        if self.is_char() {
            let i = self.pos as usize;
            let c = if t.s[i] == b'\\' { t.escape(i).ok()?.0 } else { t.char_at(i).0 };
            return Some(Int::Small(i128::from(c)));
        }
        let mut p = self.start();
        let negative = match t.s[p] {
            b'-' => true,
            b'+' => false,
            _ => return unsigned_int(t, p),
        };
        p = t.skip_ws(p + 1);
        while t.s[p] == b'(' {
            p = t.skip_ws(p + 1);
        }
        let v = unsigned_int(t, p)?;
        Some(if negative { v.negate() } else { v })
    }

    /// The float, if the term is one.
    pub fn float_value(&self) -> Option<f64> {
        if self.is_char() {
            return None;
        }
        let t = self.t();
        let mut p = self.start();
        let negative = match t.s[p] {
            b'-' => true,
            b'+' => false,
            _ => false,
        };
        if matches!(t.s[p], b'-' | b'+') {
            p = t.skip_ws(p + 1);
            while t.s[p] == b'(' {
                p = t.skip_ws(p + 1);
            }
        }
        if !t.s[p].is_ascii_digit() {
            return None;
        }
        match t.number(p).ok()?.0 {
            Number::Float(f) => Some(if negative { -f } else { f }),
            Number::Int(_) => None,
        }
    }

    /// What kind of term this is, for messages.
    pub fn kind(&self) -> TermKind {
        if self.is_char() {
            return TermKind::Integer;
        }
        let t = self.t();
        let p = self.start();
        match t.s[p] {
            b'{' => TermKind::Tuple,
            b'[' | b'"' => TermKind::List,
            b'#' => TermKind::Map,
            b'<' => TermKind::Binary,
            b'$' => TermKind::Integer,
            b'-' | b'+' | b'0'..=b'9' => {
                if self.float_value().is_some() {
                    TermKind::Float
                } else {
                    TermKind::Integer
                }
            }
            _ => TermKind::Atom,
        }
    }
}

/// The kinds of term the text holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TermKind {
    Atom,
    Integer,
    Float,
    Binary,
    Tuple,
    List,
    Map,
}

/// An integer literal at `p` (a digit or `$`), if it is one.
#[inline]
fn unsigned_int(t: Text, p: usize) -> Option<Int> {
    match t.s[p] {
        b'0'..=b'9' => {
            // The common case first: a short decimal literal.
            let mut v: u64 = 0;
            let mut i = p;
            while i < p + 18 {
                let d = t.s[i].wrapping_sub(b'0');
                if d > 9 {
                    break;
                }
                v = v * 10 + u64::from(d);
                i += 1;
            }
            if !matches!(t.s[i], b'0'..=b'9' | b'_' | b'#' | b'.') {
                return Some(Int::Small(i128::from(v)));
            }
            match t.number(p).ok()?.0 {
                Number::Int(n) => Some(n),
                Number::Float(_) => None,
            }
        }
        b'$' => t.char_literal(p).ok().map(|(c, _)| Int::Small(i128::from(c))),
        _ => None,
    }
}

impl Text<'_> {
    /// The end of the character at `i` of a string (an escape or one
    /// character).
    fn escape_end_or_char(&self, i: usize) -> usize {
        if self.s[i] == b'\\' {
            self.escape_end(i)
        } else {
            i + self.char_at(i).1
        }
    }
}

#[inline(always)]
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'@'
}

/// A bare ASCII atom at `i` (a lowercase letter): the known atom it is, if
/// any, and its end; `None` if Latin-1 letters continue it.
#[inline(always)]
fn bare_atom(s: &[u8], i: usize) -> Option<(Option<Atom>, usize)> {
    let mut h: u32 = FNV_OFFSET;
    let mut j = i;
    while j < s.len() && is_name_byte(s[j]) {
        h = (h ^ u32::from(s[j])).wrapping_mul(FNV_PRIME);
        j += 1;
    }
    if s.get(j).is_some_and(|&b| b >= 0x80) {
        return None;
    }
    Some((known_hashed(&s[i..j], h as usize), j))
}

/// A decimal integer at `i` (a digit, or `-` and a digit) of at most 18
/// digits: its value and end; `None` for any other number.
#[inline(always)]
fn small_int(s: &[u8], i: usize) -> Option<(i64, usize)> {
    let negative = s[i] == b'-';
    let mut j = i + usize::from(negative);
    let start = j;
    let mut v: i64 = 0;
    while j < s.len() && s[j].is_ascii_digit() && j - start < 18 {
        v = v * 10 + i64::from(s[j] - b'0');
        j += 1;
    }
    if j == start {
        return None;
    }
    match s.get(j) {
        Some(b'0'..=b'9' | b'_' | b'#' | b'.') => None,
        _ => Some((if negative { -v } else { v }, j)),
    }
}

/// `{tag,N}` at `i` (no whitespace inside, a known atom, a small
/// integer): the tag, N, N's offset from `i`, and the end.
#[inline(always)]
fn pair(s: &[u8], i: usize) -> Option<(Atom, i64, u8, usize)> {
    if !s.get(i + 1)?.is_ascii_lowercase() {
        return None;
    }
    let (tag, comma) = bare_atom(s, i + 1)?;
    if s.get(comma) != Some(&b',') {
        return None;
    }
    let (value, end) = small_int(s, comma + 1)?;
    if s.get(end) != Some(&b'}') || end - i > 255 {
        return None;
    }
    Some((tag?, value, (comma + 1 - i) as u8, end + 1))
}

/// The end of the term starting at `i`, in checked text.
#[inline]
pub(crate) fn skip_term(t: Text, i: usize) -> usize {
    let s = t.s;
    match s[i] {
        b'{' | b'[' | b'(' | b'<' => skip_nested(t, i),
        b'#' => skip_nested(t, t.skip_ws(i + 1)),
        b'"' => {
            let mut j = t.quoted_end(i + 1, b'"');
            loop {
                let k = t.skip_ws(j);
                if t.byte(k) == Some(b'"') {
                    j = t.quoted_end(k + 1, b'"');
                } else {
                    return j;
                }
            }
        }
        b'\'' => t.quoted_end(i + 1, b'\''),
        b'$' => skip_char(t, i),
        b'-' | b'+' => skip_term(t, t.skip_ws(i + 1)),
        b'0'..=b'9' => skip_number(t, i),
        _ => t.name_end(i),
    }
}

/// The end of `$c` at `i`.
#[inline]
fn skip_char(t: Text, i: usize) -> usize {
    if t.s[i + 1] == b'\\' {
        t.escape_end(i + 1)
    } else {
        i + 1 + t.char_at(i + 1).1
    }
}

/// The end of a number at `i`.
#[inline]
fn skip_number(t: Text, mut i: usize) -> usize {
    let s = t.s;
    loop {
        match s.get(i) {
            Some(b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'#') => {
                // In checked text, a sign after e/E only occurs in floats.
                if matches!(s[i], b'e' | b'E') && matches!(s.get(i + 1), Some(b'+' | b'-')) {
                    i += 1;
                }
                i += 1;
            }
            Some(b'.') if s.get(i + 1).is_some_and(u8::is_ascii_digit) => i += 1,
            _ => return i,
        }
    }
}

/// The end of a bracketed term at `i` (`{`, `[`, `(` or `<<`).
fn skip_nested(t: Text, mut i: usize) -> usize {
    let s = t.s;
    let mut depth = 0usize;
    loop {
        let b = s[i];
        match CLASS[b as usize] {
            0 => i += 1,
            OPEN => {
                depth += 1;
                i += 1;
            }
            CLOSE => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return i;
                }
            }
            QUOTE => i = t.quoted_end(i + 1, b),
            DOLLAR => i = skip_char(t, i),
            PERCENT => {
                while i < s.len() && s[i] != b'\n' {
                    i += 1;
                }
            }
            ANGLE_OPEN => {
                // `<<` (a lone `<` is not in checked text).
                depth += 1;
                i += 2;
            }
            ANGLE_CLOSE => {
                // `>>`: a `>` of `=>` is taken with its `=`.
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            EQUALS => i += if s.get(i + 1) == Some(&b'>') { 2 } else { 1 },
            _ => unreachable!("byte classes"),
        }
    }
}

impl<'a> Term for TextTerm<'a> {
    fn text_offset(&self) -> Option<usize> {
        Some(self.offset())
    }
    fn line_columns(&self, offsets: &[usize]) -> Vec<(usize, usize)> {
        self.document().line_columns(offsets)
    }
    fn atom(&self) -> Option<Cow<'static, str>> {
        let bytes = self.atom_bytes()?;
        if let Some(a) = known(&bytes) {
            return Some(Cow::Borrowed(a.name()));
        }
        Some(Cow::Owned(String::from_utf8(bytes.into_owned()).ok()?))
    }

    #[inline]
    fn known_atom(&self) -> Option<Atom> {
        match self.hint() {
            Hint::Atom(atom) => return atom,
            Hint::None => {}
            _ => return None,
        }
        let t = self.t();
        let p = self.pos as usize;
        let b = t.s[p];
        if b.is_ascii_lowercase() {
            // The common case: a bare ASCII atom, read in place.
            let mut end = p + 1;
            while end < t.s.len() && (t.s[end].is_ascii_alphanumeric() || t.s[end] == b'_' || t.s[end] == b'@') {
                end += 1;
            }
            if t.s.get(end).is_none_or(|&b| b < 0x80) {
                return known(&t.s[p..end]);
            }
        } else if !(b == b'\'' || b == b'(' || b >= 0x80) {
            return None;
        }
        known(&self.atom_bytes()?)
    }

    #[inline]
    fn int64_bits(&self) -> Option<i64> {
        match self.hint() {
            Hint::Int(v) => Some(v),
            Hint::Atom(_) | Hint::Pair { .. } => None,
            Hint::None | Hint::Char => self.int_value()?.int64_bits(),
        }
    }

    fn bytes(&self) -> Option<&[u8]> {
        if self.is_char() {
            return None;
        }
        let t = self.t();
        let p = self.start();
        if t.s[p] != b'<' {
            return None;
        }
        if let Some((a, z)) = plain_binary(t, p) {
            return Some(&t.s[a..z]);
        }
        let d = self.doc.decoded(p as u32)?;
        (d.tail_bits == 0).then(|| &self.doc.bytes[d.start as usize..(d.start + d.len) as usize])
    }

    #[inline]
    fn with_tuple<R>(&self, f: impl FnOnce(&[Self]) -> R) -> Option<R> {
        if self.is_char() {
            return None;
        }
        if let Hint::Pair { tag, value, second } = self.hint() {
            let p = self.pos as usize;
            let items =
                [self.with_hint(p + 1, Hint::Atom(Some(tag))), self.with_hint(p + second as usize, Hint::Int(value))];
            return Some(f(&items));
        }
        let t = self.t();
        let p = self.start();
        if t.s[p] != b'{' {
            return None;
        }
        let mut inline = [*self; INLINE];
        let mut more: Vec<TextTerm<'a>> = Vec::new();
        let mut n = 0;
        let mut i = t.skip_ws(p + 1);
        if t.s[i] != b'}' {
            loop {
                let (item, end) = self.scan_element(i);
                if n < INLINE {
                    inline[n] = item;
                } else {
                    if n == INLINE {
                        more.extend_from_slice(&inline);
                    }
                    more.push(item);
                }
                n += 1;
                i = if t.s[end] == b',' { end } else { t.skip_ws(end) };
                if t.s[i] == b',' {
                    i = t.skip_ws(i + 1);
                } else {
                    break;
                }
            }
        }
        Some(f(if n <= INLINE { &inline[..n] } else { &more[..] }))
    }

    fn list(&self) -> Option<Vec<Self>> {
        self.list_items()
    }

    fn map_get(&self, key: Atom) -> Option<Option<Self>> {
        if self.is_char() {
            return None;
        }
        let t = self.t();
        let p = self.start();
        if t.s[p] != b'#' {
            return None;
        }
        let mut i = t.skip_ws(t.skip_ws(p + 1) + 1);
        let mut found = None;
        while t.s[i] != b'}' {
            let k = self.at(i);
            i = t.skip_ws(self.doc.skip(i));
            i = t.skip_ws(i + 2); // =>
            if k.known_atom() == Some(key) {
                // The last of equal keys counts, as in the map the VM builds.
                found = Some(self.at(i));
            }
            i = t.skip_ws(self.doc.skip(i));
            if t.s[i] == b',' {
                i = t.skip_ws(i + 1);
            }
        }
        Some(found)
    }

    fn is_map(&self) -> bool {
        !self.is_char() && self.t().s[self.start()] == b'#'
    }
}

/// Visitors for the values of terms (`TextTerm::visit`).
impl<'a> TextTerm<'a> {
    /// Hands the term to `v` as the parser reads it.
    pub fn visit<V: Visitor>(&self, v: &mut V) {
        if self.is_char() {
            let value = self.int_value().expect("a character");
            v.int(self.pos as usize, value);
            return;
        }
        super::parse::parse_term(self.t(), self.pos as usize, v).expect("a term of a checked document");
    }
}

/// A visitor that counts the compound terms it sees (for tests).
#[cfg(test)]
pub(crate) struct Count(pub usize);

#[cfg(test)]
impl Visitor for Count {
    fn open(&mut self, _pos: usize, _kind: Container) {
        self.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Document<'_> {
        Document::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn navigates_terms_in_place() {
        let d = doc("%% c\n#{a => [{x, -12}, <<\"hi\\n\">>, <<>>, <<1,2>>, \"ab\" \"c\", [1 | [2]], [3 | \"d\"]], 'b c' => 16#ff, (b) => 1, b => (2)}.");
        let [m] = d.terms()[..] else { panic!() };
        assert!(m.is_map());
        let a = m.map_get(Atom::from_name("arity").unwrap()).unwrap();
        assert!(a.is_none());
        let items = {
            // 'a' is not a known atom: find it by position instead.
            let t = d.text();
            let i = t.s.iter().position(|&b| b == b'[').unwrap();
            TextTerm::new(&d, i, Hint::None).list().unwrap()
        };
        assert_eq!(items.len(), 7);
        let x = items[0].with_tuple(|e| (e[0].atom().unwrap().into_owned(), e[1].int64_bits())).unwrap();
        assert_eq!(x, ("x".to_string(), Some(-12)));
        assert_eq!(items[1].bytes(), Some(&b"hi\n"[..]));
        assert_eq!(items[2].bytes(), Some(&b""[..]));
        assert_eq!(items[3].bytes(), Some(&[1u8, 2][..]));
        let s: Vec<i64> = items[4].list().unwrap().iter().map(|c| c.int64_bits().unwrap()).collect();
        assert_eq!(s, vec![97, 98, 99]);
        assert_eq!(items[5].list().unwrap().len(), 2);
        assert_eq!(items[6].list().unwrap().iter().map(|c| c.int64_bits().unwrap()).collect::<Vec<_>>(), vec![3, 100]);
        assert_eq!(format!("{:?}", items[0]), "{x, -12}");
    }

    #[test]
    fn known_atoms_and_integers() {
        let d = doc("{vreg, 'imm', (preg), -  (5), $a, 18446744073709551615, 18446744073709551616, -9223372036854775808, 1.5, 'a\\x{20AC}'}.");
        let [t] = d.terms()[..] else { panic!() };
        t.with_tuple(|e| {
            assert_eq!(e[0].known_atom(), Some(Atom::Vreg));
            assert_eq!(e[1].known_atom(), Some(Atom::Imm));
            assert_eq!(e[2].known_atom(), Some(Atom::Preg));
            assert_eq!(e[3].int64_bits(), Some(-5));
            assert_eq!(e[4].int64_bits(), Some(97));
            assert_eq!(e[5].int64_bits(), Some(-1));
            assert_eq!(e[6].int64_bits(), None);
            assert_eq!(e[7].int64_bits(), Some(i64::MIN));
            assert_eq!(e[8].int64_bits(), None);
            assert_eq!(e[8].float_value(), Some(1.5));
            assert_eq!(e[9].atom().as_deref(), Some("a€"));
        })
        .unwrap();
    }

    /// Two threads read a large text as one does, a split anywhere.
    #[test]
    fn two_threads_read_as_one() {
        let function = |k: usize| {
            format!(
                "#{{name => <<\"f{k}\">>, body => [{{label, <<\"\\x{{41}}{k}\">>}}, {{add, {{vreg, 1}}, {{vreg, 0}}, {{imm, {k}}}}}, [1, 2 | x], \"s\", <<{k}:16>>]}}"
            )
        };
        let functions: Vec<String> = (0..6000).map(function).collect();
        let text = format!("#{{target => x86_64, functions => [\n  {}]}}.\n", functions.join(",\n  "));
        let one = Document::parse_with(text.as_bytes(), false).unwrap();
        let split = find_split(one.text()).expect("a split");
        assert!(split > text.len() / 2);
        let two = Document::parse_with(text.as_bytes(), true).unwrap();
        assert!(two.read_ahead && !one.read_ahead);
        assert_eq!(
            (&one.terms, &one.decoded, &one.bytes, &one.spans, &one.elements),
            (&two.terms, &two.decoded, &two.bytes, &two.spans, &two.elements)
        );
        assert_eq!(one.large, two.large);
        // Errors after the split are found as by one thread.
        let bad = text.replacen("{imm, 5999}", "{imm, 5999", 1);
        assert_eq!(
            Document::parse_with(bad.as_bytes(), false).unwrap_err(),
            Document::parse_with(bad.as_bytes(), true).unwrap_err()
        );
        // So is nesting too deep only counting the levels above the split:
        // the body's list is the fourth level.
        let nested = format!("{}{}", "[".repeat(MAX_NESTING - 3), "]".repeat(MAX_NESTING - 3));
        let deep = text.replacen("{imm, 5999}", &nested, 1);
        let one = Document::parse_with(deep.as_bytes(), false).unwrap_err();
        assert!(one.message.contains("nested deeper than"), "{one}");
        assert_eq!(one, Document::parse_with(deep.as_bytes(), true).unwrap_err());
    }

    /// The fast check of small tuples accepts and records exactly what the
    /// full grammar does.
    #[test]
    fn opaque_tuples_change_nothing() {
        struct Full(Builder);
        impl Visitor for Full {
            const NAMES: bool = false;
            fn atom(&mut self, pos: usize, name: &str) {
                self.0.atom(pos, name)
            }
            fn int(&mut self, pos: usize, value: Int) {
                self.0.int(pos, value)
            }
            fn float(&mut self, pos: usize, value: f64) {
                self.0.float(pos, value)
            }
            fn string(&mut self, pos: usize, chars: &[u32]) {
                self.0.string(pos, chars)
            }
            fn binary(&mut self, pos: usize, bytes: &[u8], tail_bits: u8, plain: bool) {
                self.0.binary(pos, bytes, tail_bits, plain)
            }
            fn open(&mut self, pos: usize, kind: Container) {
                self.0.open(pos, kind)
            }
            fn tail(&mut self) {
                self.0.tail()
            }
            fn close(&mut self, kind: Container, count: usize) {
                self.0.close(kind, count)
            }
            fn span(&mut self, start: usize, end: usize) {
                self.0.span(start, end)
            }
        }
        let long = format!("{{a, <<\"{}\">>}}", "x".repeat(300));
        let texts = [
            "{add,{vreg,1},{vreg,0},{imm,-5}}",
            "{ add , { vreg , 1 } , %c\n 2 }",
            "{a,{b,{c,{d,1}}}}",
            "{}",
            "{a,}",
            "{and,1}",
            "{'q',1}",
            "{a,1.5}",
            "{a,1_0}",
            "{a,16#f}",
            "{a,- 1}",
            "{a,12b}",
            "{a,<<\"x\">>}",
            "{a,<<\"\\n\">>}",
            "{a,<<1>>}",
            "{a,\"s\"}",
            "{a,[1]}",
            "{a(1)}",
            "{a,b c}",
            "{x@y,_}",
            "{a,$a}",
            "{é,1}",
            &long,
        ];
        for text in texts {
            // Large enough that the list's elements are recorded.
            let list = format!("[{}[{text}]].", format!("{text}, ").repeat(20));
            let t = Text::new(list.as_bytes(), false);
            let mut full = Full(Builder::default());
            let mut fast = Builder::default();
            let a = parse_terms(t, &mut full).map(|_| (full.0.decoded, full.0.bytes, full.0.spans, full.0.elements));
            let b = parse_terms(t, &mut fast).map(|_| (fast.decoded, fast.bytes, fast.spans, fast.elements));
            assert_eq!(a, b, "{text}");
        }
    }

    /// Every fixture compiles from its text in place exactly as from the
    /// tree `vbeam_native_ir_text::parse` builds, for every format.
    #[test]
    fn fixtures_compile_as_from_a_tree() {
        use vbeam_native_core::ir::Format;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures");
        let mut compiled = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "ir") {
                continue;
            }
            let text = std::fs::read(&path).unwrap();
            let doc = Document::parse(&text).unwrap();
            let tree = crate::parse(std::str::from_utf8(&text).unwrap()).unwrap();
            for format in [Format::Elf64, Format::Macho, Format::Pe] {
                let from_text = vbeam_native_core::compile_term(&doc.terms()[0], None, Some(format));
                let from_tree = vbeam_native_core::compile_term(&&tree, None, Some(format));
                assert_eq!(from_text.map_err(|e| e.to_string()), from_tree.map_err(|e| e.to_string()), "{path:?}");
            }
            compiled += 1;
        }
        assert!(compiled > 10);
    }

    #[test]
    fn improper_lists_are_not_lists() {
        let d = doc("[a | b].");
        assert!(d.terms()[0].list().is_none());
    }

    #[test]
    fn nesting_is_limited() {
        let nested =
            |open: &str, levels: usize, close: &str| format!("{}a{}.", open.repeat(levels), close.repeat(levels));
        let text = nested("[", MAX_NESTING, "]");
        let mut count = Count(0);
        doc(&text).terms()[0].visit(&mut count);
        assert_eq!(count.0, MAX_NESTING);
        for (open, close) in [("[", "]"), ("{", "}"), ("#{a => ", "}"), ("(", ")")] {
            let e = Document::parse(nested(open, MAX_NESTING + 1, close).as_bytes()).unwrap_err();
            assert_eq!(e.message, format!("terms nested deeper than {MAX_NESTING} levels"), "{open}");
            assert_eq!(e.offset, MAX_NESTING * open.len(), "{open}");
        }
        // An empty term is a level too.
        let empty = format!("{}{}.", "[".repeat(MAX_NESTING + 1), "]".repeat(MAX_NESTING + 1));
        assert_eq!(Document::parse(empty.as_bytes()).unwrap_err().offset, MAX_NESTING);
    }
}
