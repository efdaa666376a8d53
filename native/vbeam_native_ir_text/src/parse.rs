//! The grammar of the terms `file:consult` reads (`erl_parse:parse_term`
//! after `erl_scan`): atoms, numbers (a sign allowed), characters, strings
//! (adjacent ones joined), tuples, lists (proper or not), maps, binaries
//! with bit syntax, and parentheses around any of them. One pass over the
//! text checks it and hands every term to a `Visitor`; nesting is kept on
//! an explicit stack, so no depth of terms can exhaust the thread's stack,
//! and is refused beyond `MAX_NESTING`, so none can exhaust the memory of
//! what a visitor keeps per level.

use super::lex::{is_atom_start, is_variable_start, Int, LexError, Number, Text, MAX_ATOM_CHARS, RESERVED_WORDS};

/// What opens a compound term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    Tuple,
    List,
    Map,
}

/// Receives the terms the parser reads, in text order (a compound term:
/// `open`, its elements, `close`). Positions are byte offsets of the
/// term's first character.
pub trait Visitor {
    /// Whether the visitor reads atoms' names (else it is given "").
    const NAMES: bool = true;
    /// Whether the visitor takes small tuples of atoms, integers, plain
    /// binaries and such tuples (an instruction) as one `opaque` term.
    const OPAQUE_TUPLES: bool = false;
    /// A tuple as `OPAQUE_TUPLES` describes, shorter than 256 bytes.
    fn opaque(&mut self, _pos: usize) {}
    fn atom(&mut self, _pos: usize, _name: &str) {}
    fn int(&mut self, _pos: usize, _value: Int) {}
    fn float(&mut self, _pos: usize, _value: f64) {}
    /// A string (a list of characters).
    fn string(&mut self, _pos: usize, _chars: &[u32]) {}
    /// A binary: its bytes, the bits used of the last byte when the
    /// bitstring is not whole bytes (0 when it is), and whether the bytes
    /// are the text itself (`plain_binary`).
    fn binary(&mut self, _pos: usize, _bytes: &[u8], _tail_bits: u8, _plain: bool) {}
    fn open(&mut self, _pos: usize, _kind: Container) {}
    /// `|` in a list: the next element is its tail.
    fn tail(&mut self) {}
    /// `count`: elements (a list's tail included) or, for a map, pairs.
    fn close(&mut self, _kind: Container, _count: usize) {}
    /// A compound term, string or binary spans `start..end` of the text.
    fn span(&mut self, _start: usize, _end: usize) {}
    /// Where another thread is reading the text ahead: an element of a
    /// list or tuple starts there (`usize::MAX`: nowhere).
    fn split(&self) -> usize {
        usize::MAX
    }
    /// At `split`, in a list or tuple (`kind`) nested `depth` levels deep
    /// (itself included): takes what was read ahead, the elements from
    /// there to the container's close, if it was read in that context and
    /// nests no deeper than `MAX_NESTING` there: the position of the close
    /// and the elements' count.
    fn adopt(&mut self, _kind: Container, _depth: usize) -> Option<(usize, usize)> {
        None
    }
}

/// Terms nested deeper than this are refused (each tuple, list, map and
/// parenthesis is a level): a few bytes of text must not ask for memory
/// without bound, and no IR nests near it.
pub const MAX_NESTING: usize = 1_000;

/// A visitor that keeps nothing: checks the text only.
pub struct Check;
impl Visitor for Check {}

/// A syntax error: where (byte offset) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub offset: usize,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for SyntaxError {}

pub fn syntax_error(t: Text, (offset, message): LexError) -> SyntaxError {
    let (line, column) = t.line_column(offset);
    SyntaxError { offset, line, column, message }
}

/// The content range of a binary written `<<"…">>` whose bytes are its
/// text: no escapes, and in UTF-8 text no characters beyond ASCII.
#[inline]
pub fn plain_binary(t: Text, pos: usize) -> Option<(usize, usize)> {
    let s = t.s;
    if s.get(pos..pos + 3)? != b"<<\"" {
        return None;
    }
    let start = pos + 3;
    let mut j = start;
    loop {
        let b = *s.get(j)?;
        if b == b'"' {
            break;
        }
        if b == b'\\' || (b >= 0x80 && !t.latin1) {
            return None;
        }
        j += 1;
    }
    (s.get(j + 1..j + 3)? == b">>").then_some((start, j))
}

/// Every term of the text, each followed by `.` (as `file:consult` reads
/// a file): the positions where they start.
pub fn parse_terms<V: Visitor>(t: Text, v: &mut V) -> Result<Vec<u32>, SyntaxError> {
    if t.len() > u32::MAX as usize - 4 {
        return Err(syntax_error(t, (0, "the text is larger than 4 GiB".into())));
    }
    let mut tops = Vec::new();
    let mut i = t.skip_ws(0);
    while i < t.len() {
        tops.push(i as u32);
        let (end, _) = term(t, i, v).map_err(|e| syntax_error(t, e))?;
        let j = t.skip_ws(end);
        let is_dot = t.byte(j) == Some(b'.')
            && match t.byte(j + 1) {
                None | Some(b'%') => true,
                Some(_) => t.skip_ws(j + 1) > j + 1,
            };
        if !is_dot {
            let message = match t.byte(j) {
                None => "unexpected end of text: expected '.' after the term".to_string(),
                Some(_) => format!("expected '.' after the term, found {}", describe_at(t, j)),
            };
            return Err(syntax_error(t, (j, message)));
        }
        i = t.skip_ws(j + 1);
    }
    Ok(tops)
}

/// A run of elements `parse_elements` read.
pub struct Elements {
    /// Where each element starts.
    pub starts: Vec<u32>,
    /// The position and byte of the container's close.
    pub close_at: usize,
    pub close: u8,
    /// The most levels an element nests.
    pub depth: usize,
}

/// The elements of a list or tuple from `i` (where one starts) to the
/// container's close, read with `v`. `None` if the text there is not such
/// a run of elements (a map, a list's tail, an error).
pub fn parse_elements<V: Visitor>(t: Text, mut i: usize, v: &mut V) -> Option<Elements> {
    let mut starts = Vec::new();
    let mut depth = 0;
    loop {
        i = t.skip_ws(i);
        starts.push(i as u32);
        let (end, element_depth) = term(t, i, v).ok()?;
        depth = depth.max(element_depth);
        i = t.skip_ws(end);
        match t.byte(i)? {
            b',' => i += 1,
            close @ (b']' | b'}') => return Some(Elements { starts, close_at: i, close, depth }),
            _ => return None,
        }
    }
}

/// One term at `pos` (no `.` after it): the position after it.
pub fn parse_term<V: Visitor>(t: Text, pos: usize, v: &mut V) -> Result<usize, SyntaxError> {
    term(t, pos, v).map(|(end, _)| end).map_err(|e| syntax_error(t, e))
}

/// What the text holds at `i`, for messages.
fn describe_at(t: Text, i: usize) -> String {
    match t.byte(i) {
        None => "the end of the text".into(),
        Some(_) => {
            let (c, _) = t.char_at(i);
            match char::from_u32(c) {
                Some(ch) if !ch.is_control() => format!("'{ch}'"),
                _ => format!("character {c}"),
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Frame {
    Tuple,
    List,
    Tail,
    MapKey,
    MapValue,
    Paren,
}

struct Open {
    frame: Frame,
    at: usize,
    count: usize,
}

fn opened_at(t: Text, open: &Open) -> String {
    let (line, column) = t.line_column(open.at);
    let what = match open.frame {
        Frame::Tuple => "tuple",
        Frame::List | Frame::Tail => "list",
        Frame::MapKey | Frame::MapValue => "map",
        Frame::Paren => "parenthesis",
    };
    format!("the {what} opened at {line}:{column}")
}

/// A compound term (empty or not) opening at `at` inside `depth` levels,
/// unless that nests it deeper than `MAX_NESTING`; keeps `deepest` the
/// most levels reached.
fn enter(depth: usize, at: usize, deepest: &mut usize) -> Result<(), LexError> {
    if depth == MAX_NESTING {
        return Err((at, format!("terms nested deeper than {MAX_NESTING} levels")));
    }
    *deepest = (*deepest).max(depth + 1);
    Ok(())
}

/// One term from `i`: the position after it, and the most levels it
/// nests.
fn term<V: Visitor>(t: Text, i: usize, v: &mut V) -> Result<(usize, usize), LexError> {
    let mut i = i;
    let mut stack: Vec<Open> = Vec::new();
    let mut deepest = 0;
    let mut chars: Vec<u32> = Vec::new();
    let split = v.split();
    'term: loop {
        i = t.skip_ws(i);
        let start = i;
        let Some(b) = t.byte(i) else {
            let message = match stack.last() {
                Some(open) => format!("unexpected end of text: {} is not closed", opened_at(t, open)),
                None => "unexpected end of text: expected a term".into(),
            };
            return Err((i, message));
        };
        let depth = stack.len();
        let adopted = i == split
            && match stack.last_mut() {
                Some(open) if matches!(open.frame, Frame::Tuple | Frame::List) => {
                    let kind = if open.frame == Frame::Tuple { Container::Tuple } else { Container::List };
                    match v.adopt(kind, depth) {
                        Some((end, count)) => {
                            // The elements read ahead, the last counted below.
                            open.count += count - 1;
                            i = end;
                            true
                        }
                        None => false,
                    }
                }
                _ => false,
            };
        // Near the nesting limit, tuples are read level by level, to stop
        // at the level too many.
        let opaque = !adopted && V::OPAQUE_TUPLES && b == b'{' && depth + SMALL_TUPLE_DEPTH <= MAX_NESTING && {
            match small_tuple(t, i, 0) {
                Some(end) if end - i < 256 => {
                    v.opaque(start);
                    i = end;
                    true
                }
                _ => false,
            }
        };
        if !adopted && !opaque {
            match b {
                b'{' | b'[' => {
                    let (kind, frame, close) = if b == b'{' {
                        (Container::Tuple, Frame::Tuple, b'}')
                    } else {
                        (Container::List, Frame::List, b']')
                    };
                    enter(depth, start, &mut deepest)?;
                    v.open(start, kind);
                    i = t.skip_ws(i + 1);
                    if t.byte(i) == Some(close) {
                        i += 1;
                        v.close(kind, 0);
                    } else {
                        stack.push(Open { frame, at: start, count: 0 });
                        continue 'term;
                    }
                }
                b'#' => {
                    let j = t.skip_ws(i + 1);
                    if t.byte(j) != Some(b'{') {
                        return Err((
                            i,
                            "expected '{' after '#': maps are written #{Key => Value, …} (records are not terms)"
                                .into(),
                        ));
                    }
                    enter(depth, start, &mut deepest)?;
                    v.open(start, Container::Map);
                    i = t.skip_ws(j + 1);
                    if t.byte(i) == Some(b'}') {
                        i += 1;
                        v.close(Container::Map, 0);
                    } else {
                        stack.push(Open { frame: Frame::MapKey, at: start, count: 0 });
                        continue 'term;
                    }
                }
                b'(' => {
                    enter(depth, start, &mut deepest)?;
                    stack.push(Open { frame: Frame::Paren, at: start, count: 0 });
                    i += 1;
                    continue 'term;
                }
                b'<' => {
                    if t.byte(i + 1) != Some(b'<') {
                        return Err((i, "unexpected '<' (a binary starts with '<<')".into()));
                    }
                    if let Some((a, z)) = plain_binary(t, i) {
                        v.binary(start, &t.s[a..z], 0, true);
                        i = z + 3;
                    } else {
                        let (bits, end) = binary(t, i, 0)?;
                        v.binary(start, &bits.bytes, (bits.bits % 8) as u8, false);
                        i = end;
                    }
                    v.span(start, i);
                }
                b'"' => {
                    chars.clear();
                    i = strings(t, i, &mut chars)?;
                    v.string(start, &chars);
                    v.span(start, i);
                }
                b'\'' => {
                    chars.clear();
                    i = t.quoted(i + 1, b'\'', &mut chars)?;
                    let name = atom_name(t, start, &chars)?;
                    v.atom(start, &name);
                }
                b'0'..=b'9' if plain_int_end(t.s, i).is_some() => {
                    // The common case: a short decimal integer.
                    let (value, end) = plain_int_end(t.s, i).expect("checked");
                    v.int(start, Int::Small(i128::from(value)));
                    i = end;
                }
                b'a'..=b'z' if ascii_word_end(t.s, i).is_some() => {
                    // The common case: a bare ASCII atom.
                    let end = ascii_word_end(t.s, i).expect("checked");
                    let word = &t.s[i..end];
                    if word.len() <= 7 && is_reserved(word) {
                        let name = String::from_utf8_lossy(word);
                        return Err((i, reserved(&name).expect("a reserved word")));
                    }
                    if word.len() > MAX_ATOM_CHARS {
                        return Err((i, format!("atom of {} characters: at most {MAX_ATOM_CHARS}", word.len())));
                    }
                    v.atom(start, if V::NAMES { std::str::from_utf8(word).expect("ASCII") } else { "" });
                    i = end;
                }
                b'-' | b'+' | b'0'..=b'9' | b'$' => {
                    let (number, end) = signed_number(t, i)?;
                    match number {
                        Number::Int(n) => v.int(start, n),
                        Number::Float(f) => v.float(start, f),
                    }
                    i = end;
                }
                _ => {
                    let (c, _) = t.char_at(i);
                    if is_atom_start(c) {
                        let end = t.name_end(i);
                        let word = &t.s[i..end];
                        if word.is_ascii() {
                            if is_reserved(word) {
                                let name = String::from_utf8_lossy(word);
                                return Err((i, reserved(&name).expect("a reserved word")));
                            }
                            if word.len() > MAX_ATOM_CHARS {
                                return Err((
                                    i,
                                    format!("atom of {} characters: at most {MAX_ATOM_CHARS}", word.len()),
                                ));
                            }
                            v.atom(start, if V::NAMES { std::str::from_utf8(word).expect("ASCII") } else { "" });
                        } else {
                            chars.clear();
                            let mut k = i;
                            while k < end {
                                let (c, n) = t.char_at(k);
                                chars.push(c);
                                k += n;
                            }
                            let name = atom_name(t, start, &chars)?;
                            v.atom(start, &name);
                        }
                        i = end;
                    } else if is_variable_start(c) {
                        let end = t.name_end(i);
                        let name = String::from_utf8_lossy(&t.s[i..end]);
                        return Err((i, format!("variable {name} where a term is expected (atoms start with a lowercase letter or are quoted)")));
                    } else {
                        return Err((i, format!("unexpected {} where a term is expected", describe_at(t, i))));
                    }
                }
            }
        }
        // A term ends at `i`: close what it completes.
        loop {
            let Some(top) = stack.last_mut() else { return Ok((i, deepest)) };
            top.count += 1;
            i = t.skip_ws(i);
            let next = t.byte(i);
            if next.is_none() {
                let open = stack.last().expect("a frame");
                return Err((i, format!("unexpected end of text: {} is not closed", opened_at(t, open))));
            }
            match top.frame {
                Frame::Tuple | Frame::List | Frame::MapValue => {
                    let close = if top.frame == Frame::List { b']' } else { b'}' };
                    if next == Some(b',') {
                        if top.frame == Frame::MapValue {
                            top.frame = Frame::MapKey;
                        }
                        i += 1;
                        continue 'term;
                    }
                    if next == Some(b'|') && top.frame == Frame::List {
                        top.frame = Frame::Tail;
                        v.tail();
                        i += 1;
                        continue 'term;
                    }
                    if next == Some(close) {
                        i += 1;
                        let open = stack.pop().expect("a frame");
                        match open.frame {
                            Frame::Tuple => v.close(Container::Tuple, open.count),
                            Frame::List => v.close(Container::List, open.count),
                            _ => v.close(Container::Map, open.count / 2),
                        }
                        v.span(open.at, i);
                        continue;
                    }
                    let expected = match top.frame {
                        Frame::Tuple => "',' or '}'",
                        Frame::List => "',', '|' or ']'",
                        _ => "',' or '}'",
                    };
                    let found = describe_at(t, i);
                    let open = stack.last().expect("a frame");
                    return Err((i, format!("expected {expected} in {}, found {found}", opened_at(t, open))));
                }
                Frame::Tail => {
                    if next == Some(b']') {
                        i += 1;
                        let open = stack.pop().expect("a frame");
                        v.close(Container::List, open.count);
                        v.span(open.at, i);
                        continue;
                    }
                    let found = describe_at(t, i);
                    let open = stack.last().expect("a frame");
                    return Err((i, format!("expected ']' after the tail of {}, found {found}", opened_at(t, open))));
                }
                Frame::MapKey => {
                    if next == Some(b'=') && t.byte(i + 1) == Some(b'>') {
                        top.frame = Frame::MapValue;
                        i += 2;
                        continue 'term;
                    }
                    let found = describe_at(t, i);
                    let open = stack.last().expect("a frame");
                    let hint =
                        if next == Some(b':') { " (':=' updates a map; a map term is written with '=>')" } else { "" };
                    return Err((
                        i,
                        format!("expected '=>' after a key in {}, found {found}{hint}", opened_at(t, open)),
                    ));
                }
                Frame::Paren => {
                    if next == Some(b')') {
                        i += 1;
                        // The parenthesised term is complete: it counts
                        // as one element of what holds it.
                        stack.pop();
                        continue;
                    }
                    let found = describe_at(t, i);
                    let open = stack.last().expect("a frame");
                    return Err((i, format!("expected ')' to close {}, found {found}", opened_at(t, open))));
                }
            }
        }
    }
}

/// How many levels the tuples `small_tuple` checks nest, at most.
const SMALL_TUPLE_DEPTH: usize = 3;

/// The end of a tuple at `i` (a `{`) whose elements are bare ASCII atoms,
/// decimal integers, plain binaries and such tuples (at most
/// `SMALL_TUPLE_DEPTH` deep), if it is one: a fast check of instructions,
/// sure to accept only what `term` accepts. `None` leaves any other text
/// to `term`.
#[inline]
fn small_tuple(t: Text, i: usize, depth: usize) -> Option<usize> {
    let s = t.s;
    let mut j = t.skip_ws(i + 1);
    if *s.get(j)? == b'}' {
        return Some(j + 1);
    }
    loop {
        let b = *s.get(j)?;
        j = match b {
            b'a'..=b'z' => {
                let end = ascii_word_end(s, j)?;
                if end - j > MAX_ATOM_CHARS || is_reserved(&s[j..end]) {
                    return None;
                }
                end
            }
            b'0'..=b'9' => plain_int_end(s, j)?.1,
            b'-' if s.get(j + 1).is_some_and(u8::is_ascii_digit) => plain_int_end(s, j + 1)?.1,
            b'<' => plain_binary(t, j)?.1 + 3,
            b'{' if depth + 1 < SMALL_TUPLE_DEPTH => small_tuple(t, j, depth + 1)?,
            _ => return None,
        };
        // Nothing may run on from the element: `,`, `}` or whitespace next.
        let next = *s.get(j)?;
        if next != b',' && next != b'}' && next > b' ' && next != b'%' {
            return None;
        }
        j = t.skip_ws(j);
        match *s.get(j)? {
            b',' => j = t.skip_ws(j + 1),
            b'}' => return Some(j + 1),
            _ => return None,
        }
    }
}

/// A decimal integer of at most 18 digits at `i`, not followed by what
/// would make it another number: its value and end.
#[inline(always)]
fn plain_int_end(s: &[u8], i: usize) -> Option<(i64, usize)> {
    let mut v: i64 = 0;
    let mut j = i;
    while j < s.len() && s[j].is_ascii_digit() {
        if j - i == 18 {
            return None;
        }
        v = v * 10 + i64::from(s[j] - b'0');
        j += 1;
    }
    match s.get(j) {
        Some(b'_' | b'#' | b'.') => None,
        _ => Some((v, j)),
    }
}

/// The end of a bare atom of ASCII letters, digits, `_` and `@` at `i`,
/// or `None` if Latin-1 letters continue it.
#[inline(always)]
fn ascii_word_end(s: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    while j < s.len() && (s[j].is_ascii_alphanumeric() || s[j] == b'_' || s[j] == b'@') {
        j += 1;
    }
    (s.get(j).is_none_or(|&b| b < 0x80)).then_some(j)
}

/// For each first letter, the lengths of the reserved words starting with
/// it (bit n: a word of n letters): most atoms are told apart at once.
const RESERVED_LENGTHS: [u8; 26] = {
    let mut m = [0u8; 26];
    let words: [&str; 27] = [
        "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor", "case", "catch", "cond",
        "div", "end", "fun", "if", "let", "not", "of", "or", "orelse", "receive", "rem", "try", "when", "xor",
    ];
    let mut k = 0;
    while k < words.len() {
        let w = words[k].as_bytes();
        m[(w[0] - b'a') as usize] |= 1 << w.len();
        k += 1;
    }
    m
};

/// Whether a bare word is reserved (see `RESERVED_WORDS`).
#[inline]
fn is_reserved(word: &[u8]) -> bool {
    let first = word[0].wrapping_sub(b'a');
    if first >= 26 || word.len() > 7 || RESERVED_LENGTHS[first as usize] >> word.len() & 1 == 0 {
        return false;
    }
    matches!(
        word,
        b"after"
            | b"and"
            | b"andalso"
            | b"band"
            | b"begin"
            | b"bnot"
            | b"bor"
            | b"bsl"
            | b"bsr"
            | b"bxor"
            | b"case"
            | b"catch"
            | b"cond"
            | b"div"
            | b"end"
            | b"fun"
            | b"if"
            | b"let"
            | b"not"
            | b"of"
            | b"or"
            | b"orelse"
            | b"receive"
            | b"rem"
            | b"try"
            | b"when"
            | b"xor"
    )
}

/// The message for a reserved word written bare.
fn reserved(name: &str) -> Option<String> {
    if name == "fun" {
        return Some("fun terms are not supported".into());
    }
    RESERVED_WORDS
        .contains(&name)
        .then(|| format!("'{name}' is a reserved word: write it quoted ('{name}') to make it an atom"))
}

/// An atom's name from its characters, checked for length.
fn atom_name(_t: Text, start: usize, chars: &[u32]) -> Result<String, LexError> {
    if chars.len() > MAX_ATOM_CHARS {
        return Err((start, format!("atom of {} characters: at most {MAX_ATOM_CHARS}", chars.len())));
    }
    chars
        .iter()
        .map(|&c| char::from_u32(c))
        .collect::<Option<String>>()
        .ok_or_else(|| (start, "atom with a character that is not a Unicode scalar value".to_string()))
}

/// Adjacent strings from `i` (a `"`), joined: the position after the last.
fn strings(t: Text, i: usize, chars: &mut Vec<u32>) -> Result<usize, LexError> {
    let mut j = i;
    loop {
        j = t.quoted(j + 1, b'"', chars)?;
        let k = t.skip_ws(j);
        if t.byte(k) == Some(b'"') {
            j = k;
        } else {
            return Ok(j);
        }
    }
}

/// A number or character literal at `i`, with an optional sign (and
/// parentheses after the sign, as in `-(5)`).
fn signed_number(t: Text, i: usize) -> Result<(Number, usize), LexError> {
    let (negative, mut j) = match t.byte(i) {
        Some(b'-') => (true, t.skip_ws(i + 1)),
        Some(b'+') => (false, t.skip_ws(i + 1)),
        _ => (false, i),
    };
    let signed = j != i;
    let mut parens = 0;
    if signed {
        while t.byte(j) == Some(b'(') {
            parens += 1;
            j = t.skip_ws(j + 1);
        }
    }
    let (number, mut end) = match t.byte(j) {
        Some(b'0'..=b'9') => t.number(j)?,
        Some(b'$') => {
            let (c, end) = t.char_literal(j)?;
            (Number::Int(Int::Small(i128::from(c))), end)
        }
        _ => {
            let after = if signed { format!(" after '{}'", t.s[i] as char) } else { String::new() };
            return Err((i, format!("expected a number{after}, found {}", describe_at(t, j))));
        }
    };
    for _ in 0..parens {
        end = t.skip_ws(end);
        if t.byte(end) != Some(b')') {
            return Err((end, format!("expected ')', found {}", describe_at(t, end))));
        }
        end += 1;
    }
    let number = match (negative, number) {
        (false, n) => n,
        (true, Number::Int(n)) => Number::Int(n.negate()),
        (true, Number::Float(f)) => Number::Float(-f),
    };
    Ok((number, end))
}

/// Bits written most significant first.
#[derive(Default, Clone, Debug)]
pub struct BitBuf {
    pub bytes: Vec<u8>,
    pub bits: usize,
}

impl BitBuf {
    /// Pushes the `n` (1..=8) most significant bits of `b`.
    #[inline]
    fn push_top(&mut self, b: u8, n: usize) {
        let b = b & (0xFF << (8 - n));
        let used = self.bits % 8;
        if used == 0 {
            self.bytes.push(b);
        } else {
            *self.bytes.last_mut().expect("a partial byte") |= b >> used;
            if used + n > 8 {
                self.bytes.push(b << (8 - used));
            }
        }
        self.bits += n;
    }
    fn push_byte(&mut self, b: u8) {
        self.push_top(b, 8);
    }
    /// Pushes bits `from..from + count` of `src` (most significant first),
    /// a byte at a time: segments of any alignment cost O(bytes).
    fn push_bits(&mut self, src: &[u8], from: usize, count: usize) {
        let end = from + count;
        let mut k = from;
        if self.bits.is_multiple_of(8) && from.is_multiple_of(8) {
            self.bytes.extend_from_slice(&src[from / 8..end / 8]);
            self.bits += count - count % 8;
            k = end - count % 8;
        }
        while k < end {
            let (i, shift) = (k / 8, k % 8);
            let b = if shift == 0 { src[i] } else { src[i] << shift | src.get(i + 1).map_or(0, |n| n >> (8 - shift)) };
            let n = (end - k).min(8);
            self.push_top(b, n);
            k += n;
        }
    }
    /// The low `bits` bits of the big-endian `be`, most significant first.
    fn push_low_bits(&mut self, be: &[u8], bits: usize) {
        self.push_bits(be, be.len() * 8 - bits, bits);
    }
    fn append(&mut self, other: &BitBuf, bits: usize) {
        self.push_bits(&other.bytes, 0, bits);
    }
}

/// Binaries inside binaries deeper than this are refused.
const MAX_BINARY_NESTING: usize = 64;
/// A segment may be at most this many bits (16 MiB), a binary 256 MiB: a
/// few bytes of text cannot ask for unbounded memory or time.
const MAX_SEGMENT_BITS: u64 = 1 << 27;
const MAX_BINARY_BITS: usize = 1 << 31;
const SEGMENT_LIMIT: &str = "at most 134217728 bits (16 MiB)";
const _: () = assert!(MAX_SEGMENT_BITS == 134_217_728, "SEGMENT_LIMIT says so");
const BINARY_TOO_LARGE: &str = "binary too large: at most 256 MiB";

/// A segment's value.
enum SegmentValue {
    Int(Int),
    Float(f64),
    Chars(Vec<u32>),
    Bits(BitBuf),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SegmentType {
    Integer,
    Float,
    Binary,
    Bits,
    Utf8,
    Utf16,
    Utf32,
}

/// A binary at `i` (`<<`), checked and evaluated as `eval_bits` does for
/// literal segments: its bits and the position after `>>`.
pub fn binary(t: Text, i: usize, depth: usize) -> Result<(BitBuf, usize), LexError> {
    if depth > MAX_BINARY_NESTING {
        return Err((i, "binaries nested too deeply".into()));
    }
    let mut out = BitBuf::default();
    let mut j = t.skip_ws(i + 2);
    if t.s.get(j..j + 2) == Some(b">>") {
        return Ok((out, j + 2));
    }
    let mut chars = Vec::new();
    loop {
        j = t.skip_ws(j);
        let value_at = j;
        let value = match t.byte(j) {
            Some(b'"') => {
                chars.clear();
                j = strings(t, j, &mut chars)?;
                SegmentValue::Chars(std::mem::take(&mut chars))
            }
            Some(b'<') if t.byte(j + 1) == Some(b'<') => {
                let (bits, end) = binary(t, j, depth + 1)?;
                j = end;
                SegmentValue::Bits(bits)
            }
            Some(b'-' | b'+' | b'0'..=b'9' | b'$') => {
                let (n, end) = signed_number(t, j)?;
                j = end;
                match n {
                    Number::Int(n) => SegmentValue::Int(n),
                    Number::Float(f) => SegmentValue::Float(f),
                }
            }
            Some(b'(') => {
                // A parenthesised literal.
                let only_literals = || (j, "only literal values are allowed in a binary segment".to_string());
                let (n, end) = signed_number(t, t.skip_ws(j + 1)).map_err(|_| only_literals())?;
                let close = t.skip_ws(end);
                if t.byte(close) != Some(b')') {
                    return Err(only_literals());
                }
                j = close + 1;
                match n {
                    Number::Int(n) => SegmentValue::Int(n),
                    Number::Float(f) => SegmentValue::Float(f),
                }
            }
            _ => return Err((j, format!("expected a literal value in a binary segment, found {}", describe_at(t, j)))),
        };
        j = t.skip_ws(j);
        let mut size: Option<u64> = None;
        if t.byte(j) == Some(b':') {
            j = t.skip_ws(j + 1);
            let (n, end) = match t.byte(j) {
                Some(b'(') => {
                    let (n, end) = size_literal(t, t.skip_ws(j + 1))?;
                    let close = t.skip_ws(end);
                    if t.byte(close) != Some(b')') {
                        return Err((close, format!("expected ')', found {}", describe_at(t, close))));
                    }
                    (n, close + 1)
                }
                _ => size_literal(t, j)?,
            };
            size = Some(n);
            j = t.skip_ws(end);
        }
        let mut ty: Option<SegmentType> = None;
        let mut unit: Option<u64> = None;
        let mut endian: Option<&str> = None;
        let mut sign: Option<&str> = None;
        if t.byte(j) == Some(b'/') {
            loop {
                j = t.skip_ws(j + 1);
                let end = t.name_end(j);
                let word = std::str::from_utf8(&t.s[j..end]).unwrap_or("");
                let spec_at = j;
                j = end;
                // A specifier of a kind given already must repeat it, as
                // `erl_bits` requires.
                let conflict = || (spec_at, format!("type specifier {word} conflicts with an earlier one"));
                let mut set_type = |new: SegmentType| match ty.replace(new) {
                    Some(old) if old != new => Err(conflict()),
                    _ => Ok(()),
                };
                match word {
                    "integer" => set_type(SegmentType::Integer)?,
                    "float" => set_type(SegmentType::Float)?,
                    "binary" | "bytes" => set_type(SegmentType::Binary)?,
                    "bitstring" | "bits" => set_type(SegmentType::Bits)?,
                    "utf8" => set_type(SegmentType::Utf8)?,
                    "utf16" => set_type(SegmentType::Utf16)?,
                    "utf32" => set_type(SegmentType::Utf32)?,
                    "signed" | "unsigned" => {
                        if sign.replace(word).is_some_and(|old| old != word) {
                            return Err(conflict());
                        }
                    }
                    "big" | "little" | "native" => {
                        if endian.replace(word).is_some_and(|old| old != word) {
                            return Err(conflict());
                        }
                    }
                    "unit" => {
                        j = t.skip_ws(j);
                        if t.byte(j) != Some(b':') {
                            return Err((j, "expected ':' after unit".into()));
                        }
                        let (n, end) = size_literal(t, t.skip_ws(j + 1))?;
                        if !(1..=256).contains(&n) {
                            return Err((spec_at, format!("unit {n}: units are 1..256")));
                        }
                        if unit.replace(n).is_some_and(|old| old != n) {
                            return Err(conflict());
                        }
                        j = end;
                    }
                    "" => return Err((spec_at, format!("expected a type specifier, found {}", describe_at(t, spec_at)))),
                    other => {
                        return Err((
                            spec_at,
                            format!("unknown type specifier {other} (expected integer, float, binary, bytes, bitstring, bits, utf8, utf16, utf32, signed, unsigned, big, little, native or unit:N)"),
                        ))
                    }
                }
                j = t.skip_ws(j);
                if t.byte(j) != Some(b'-') {
                    break;
                }
            }
        }
        if unit.is_some() && size.is_none() && ty != Some(SegmentType::Binary) {
            return Err((value_at, "a unit needs a size (except in a /binary segment)".into()));
        }
        // `native` is the order of the machines this backend targets.
        let little = matches!(endian, Some("little" | "native"));
        segment(&mut out, value, value_at, ty, size, unit, little)?;
        if out.bits > MAX_BINARY_BITS {
            return Err((i, BINARY_TOO_LARGE.into()));
        }
        j = t.skip_ws(j);
        match t.byte(j) {
            Some(b',') => j += 1,
            Some(b'>') if t.byte(j + 1) == Some(b'>') => return Ok((out, j + 2)),
            _ => {
                return Err((
                    j,
                    format!(
                        "expected ',' or '>>' in the binary opened at {}:{}, found {}",
                        t.line_column(i).0,
                        t.line_column(i).1,
                        describe_at(t, j)
                    ),
                ))
            }
        }
    }
}

/// The IEEE 754 half-precision bits of `f`, rounded to nearest, ties to
/// even, as `<<F:16/float>>` makes them (too large: infinity).
fn half_bits(f: f64) -> u16 {
    let bits = f.to_bits();
    let sign = ((bits >> 48) & 0x8000) as u16;
    let a = f.abs();
    if a >= 65520.0 {
        return sign | 0x7C00;
    }
    if a < 6.103515625e-5 {
        // Subnormal (2^-14 and below): multiples of 2^-24, exact in f64.
        return sign | (a * 16_777_216.0).round_ties_even() as u16;
    }
    let exponent = ((bits >> 52) & 0x7FF) as i64 - 1023;
    let mantissa = bits & ((1 << 52) - 1);
    let (mut m, rest) = (mantissa >> 42, mantissa & ((1 << 42) - 1));
    if rest > 1 << 41 || (rest == 1 << 41 && m & 1 == 1) {
        m += 1;
    }
    // A mantissa rounded up to 1024 carries into the exponent.
    sign | ((((exponent + 15) as u64) << 10) + m) as u16
}

/// A size or unit: a non-negative decimal literal.
fn size_literal(t: Text, j: usize) -> Result<(u64, usize), LexError> {
    match t.byte(j) {
        Some(b'0'..=b'9') => match t.number(j)? {
            (Number::Int(n), end) => {
                match n.small().and_then(|n| u64::try_from(n).ok()).filter(|n| *n <= MAX_SEGMENT_BITS) {
                    Some(n) => Ok((n, end)),
                    None => Err((j, format!("segment size {n} too large: {SEGMENT_LIMIT}"))),
                }
            }
            _ => Err((j, "a segment size must be an integer".into())),
        },
        _ => Err((j, format!("expected a segment size (a literal integer), found {}", describe_at(t, j)))),
    }
}

/// Adds one segment's bits.
fn segment(
    out: &mut BitBuf,
    value: SegmentValue,
    at: usize,
    ty: Option<SegmentType>,
    size: Option<u64>,
    unit: Option<u64>,
    little: bool,
) -> Result<(), LexError> {
    let bad = |m: &str| Err((at, m.to_string()));
    let ty = match (ty, &value) {
        (Some(ty), _) => ty,
        (None, SegmentValue::Bits(_)) => return bad("a binary inside a binary needs the type /binary or /bits"),
        (None, _) => SegmentType::Integer,
    };
    match ty {
        SegmentType::Integer | SegmentType::Float => {
            let default_size = if ty == SegmentType::Float { 64 } else { 8 };
            let bits = size.unwrap_or(default_size) * unit.unwrap_or(1);
            if bits > MAX_SEGMENT_BITS {
                return Err((at, format!("segment of {bits} bits too large: {SEGMENT_LIMIT}")));
            }
            let bits = bits as usize;
            let items: Vec<SegmentValue> = match value {
                SegmentValue::Chars(cs) => {
                    cs.into_iter().map(|c| SegmentValue::Int(Int::Small(i128::from(c)))).collect()
                }
                SegmentValue::Bits(_) => return bad("a binary cannot be an integer or float segment"),
                v => vec![v],
            };
            for item in items {
                // Checked before the bits are made: a string with a
                // large size repeats it for every character.
                if out.bits + bits > MAX_BINARY_BITS {
                    return Err((at, BINARY_TOO_LARGE.into()));
                }
                let be: Vec<u8> = match (ty, item) {
                    (SegmentType::Integer, SegmentValue::Int(n)) => int_bytes(&n, bits),
                    (SegmentType::Integer, _) => return bad("a float cannot be an integer segment"),
                    (_, v) => {
                        let f = match v {
                            SegmentValue::Float(f) => f,
                            SegmentValue::Int(n) => match n.small() {
                                Some(n) => n as f64,
                                None => return bad("integer too large for a float segment"),
                            },
                            _ => unreachable!("chars and bits handled above"),
                        };
                        match bits {
                            64 => f.to_bits().to_be_bytes().to_vec(),
                            32 => (f as f32).to_bits().to_be_bytes().to_vec(),
                            16 => half_bits(f).to_be_bytes().to_vec(),
                            _ => return bad("float segments are 16, 32 or 64 bits"),
                        }
                    }
                };
                if little {
                    // Whole bytes from the least significant, then the
                    // bits left over (`<<1:12/little>>` is `<<1, 0:4>>`).
                    let (top, whole) = be.split_at(be.len() - bits / 8);
                    for &b in whole.iter().rev() {
                        out.push_byte(b);
                    }
                    if let Some(&b) = top.last() {
                        out.push_low_bits(&[b], bits % 8);
                    }
                } else if bits.is_multiple_of(8) && be.len() * 8 == bits {
                    for &b in &be {
                        out.push_byte(b);
                    }
                } else {
                    out.push_low_bits(&be, bits);
                }
            }
        }
        SegmentType::Binary | SegmentType::Bits => {
            let SegmentValue::Bits(b) = value else {
                return bad("a /binary or /bits segment needs a binary value");
            };
            let unit = unit.unwrap_or(if ty == SegmentType::Binary { 8 } else { 1 });
            let bits = match size {
                Some(s) => {
                    let bits = s * unit;
                    if bits as usize > b.bits {
                        return bad("the segment is longer than its binary");
                    }
                    bits as usize
                }
                None => {
                    if ty == SegmentType::Binary && !b.bits.is_multiple_of(8) {
                        return bad("a /binary segment must be whole bytes (use /bits)");
                    }
                    b.bits
                }
            };
            out.append(&b, bits);
        }
        SegmentType::Utf8 | SegmentType::Utf16 | SegmentType::Utf32 => {
            if size.is_some() || unit.is_some() {
                return bad("utf8, utf16 and utf32 segments take no size");
            }
            let cs: Vec<u32> = match value {
                SegmentValue::Chars(cs) => cs,
                SegmentValue::Int(n) => match n.small().and_then(|n| u32::try_from(n).ok()) {
                    Some(c) => vec![c],
                    None => return bad("not a Unicode code point"),
                },
                _ => return bad("utf segments take characters"),
            };
            for c in cs {
                let Some(ch) = char::from_u32(c) else {
                    return bad("not a Unicode code point");
                };
                let bytes: Vec<u8> = match ty {
                    SegmentType::Utf8 => ch.to_string().into_bytes(),
                    SegmentType::Utf16 => {
                        let mut units = [0u16; 2];
                        ch.encode_utf16(&mut units)
                            .iter()
                            .flat_map(|u| if little { u.to_le_bytes() } else { u.to_be_bytes() })
                            .collect()
                    }
                    _ => (if little { c.to_le_bytes() } else { c.to_be_bytes() }).to_vec(),
                };
                for b in bytes {
                    out.push_byte(b);
                }
            }
        }
    }
    Ok(())
}

/// Big-endian bytes holding at least the low `bits` bits of `n` (two's
/// complement).
fn int_bytes(n: &Int, bits: usize) -> Vec<u8> {
    let len = bits.div_ceil(8);
    match n {
        Int::Small(v) => {
            let full = v.to_be_bytes();
            if len <= 16 {
                full[16 - len..].to_vec()
            } else {
                let fill = if *v < 0 { 0xFF } else { 0 };
                let mut out = vec![fill; len - 16];
                out.extend_from_slice(&full);
                out
            }
        }
        Int::Big { negative, magnitude } => {
            // Little-endian magnitude bytes, sign applied in two's complement.
            let mut le: Vec<u8> = magnitude.iter().flat_map(|l| l.to_le_bytes()).collect();
            le.resize(le.len().max(len), 0);
            if *negative {
                let mut carry = true;
                for b in le.iter_mut() {
                    let (v, c) = (!*b).overflowing_add(u8::from(carry));
                    *b = v;
                    carry = c;
                }
            }
            le.truncate(len);
            le.reverse();
            le
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `push_bits` at every alignment against a bit at a time.
    #[test]
    fn bits_pushed_a_byte_at_a_time() {
        let src: Vec<u8> = (0..40u32).map(|k| (k.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for lead in 0..16 {
            for from in 0..24 {
                for count in [0, 1, 7, 8, 9, 15, 16, 17, 100, 150] {
                    let mut fast = BitBuf::default();
                    let mut slow = BitBuf::default();
                    fast.push_bits(&src, 0, lead);
                    slow.push_bits(&src, 0, lead);
                    fast.push_bits(&src, from, count);
                    for k in from..from + count {
                        slow.push_top(if src[k / 8] & (0x80 >> (k % 8)) != 0 { 0x80 } else { 0 }, 1);
                    }
                    assert_eq!(
                        (fast.bytes, fast.bits),
                        (slow.bytes, slow.bits),
                        "lead {lead}, from {from}, count {count}"
                    );
                }
            }
        }
    }

    fn bits(s: &str) -> Result<(Vec<u8>, usize), String> {
        let t = Text::new(s.as_bytes(), false);
        binary(t, 0, 0).map(|(b, _)| (b.bytes, b.bits)).map_err(|e| e.1)
    }

    #[test]
    fn bit_syntax() {
        assert_eq!(bits("<<1:4,2:4>>").unwrap(), (vec![0x12], 8));
        assert_eq!(bits("<<1:3>>").unwrap(), (vec![0x20], 3));
        assert_eq!(bits("<<1:64/little>>").unwrap(), (vec![1, 0, 0, 0, 0, 0, 0, 0], 64));
        assert_eq!(bits("<<-1:16/signed-big>>").unwrap(), (vec![255, 255], 16));
        assert_eq!(bits("<<1.5/float>>").unwrap(), (vec![63, 248, 0, 0, 0, 0, 0, 0], 64));
        assert_eq!(bits("<<1.5:32/float>>").unwrap(), (vec![63, 192, 0, 0], 32));
        assert_eq!(bits("<<\"ab\":16>>").unwrap(), (vec![0, 97, 0, 98], 32));
        assert_eq!(bits("<<\"€\"/utf8>>").unwrap(), (vec![226, 130, 172], 24));
        assert_eq!(bits("<<$a/utf16-little>>").unwrap(), (vec![97, 0], 16));
        assert_eq!(bits("<<<<1,2>>/binary>>").unwrap(), (vec![1, 2], 16));
        assert_eq!(bits("<<<<1,2>>:1/binary-unit:8>>").unwrap(), (vec![1], 8));
        assert_eq!(bits("<<1:(8)>>").unwrap(), (vec![1], 8));
        assert_eq!(bits("<<300>>").unwrap(), (vec![44], 8));
        assert_eq!(bits("<<-1>>").unwrap(), (vec![255], 8));
        assert_eq!(bits("<<\"\\x{20AC}\">>").unwrap(), (vec![172], 8));
        assert_eq!(bits("<<$a:16>>").unwrap(), (vec![0, 97], 16));
        assert_eq!(bits("<< >>").unwrap(), (vec![], 0));
        assert_eq!(bits("<<340282366920938463463374607431768211457:136>>").unwrap().0, {
            let mut v = vec![1u8];
            v.extend([0u8; 15]);
            v.push(1);
            v
        });
        assert_eq!(bits("<<-340282366920938463463374607431768211457:136>>").unwrap().0, {
            let mut v = vec![0xFEu8];
            v.extend([0xFFu8; 15]);
            v.push(0xFF);
            v
        });
        assert_eq!(
            bits("<<1:3, 255:8, 1:13, <<5:3>>/bits, -1:10>>").unwrap(),
            (vec![0x3F, 0xE0, 0x01, 0xBF, 0xF8], 37)
        );
        assert!(bits("<<(1+2)>>").is_err());
        assert!(bits("<<\"a\"/binary>>").is_err());
        assert!(bits("<<<<1>>>>").is_err());
        assert!(bits("<<1:0:8>>").is_err());
    }
}
