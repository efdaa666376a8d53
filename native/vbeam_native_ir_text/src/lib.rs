//! vbeam_native_ir_text: a reader for the Erlang term text of `.ir` files
//! (the `file:consult` format: terms, each followed by `.`), so the backend
//! reads IR without building it in the VM first. A crate of its own, so the
//! core knows nothing of text nor of the BEAM's term format. It reads what `file:consult` reads for the
//! terms the V generator and people write: maps, tuples, lists (proper or
//! not), atoms (bare or quoted), integers of any size (bases, `_`
//! separators, `$c`), floats, strings, binaries with every escape and bit
//! syntax (`<<1,2>>`, `<<1:64/little>>`, `<<"€"/utf8>>`), parentheses and
//! `%` comments; UTF-8 text, or Latin-1 under a `%% coding: latin-1`
//! comment, as `epp` decides. Errors give a line and a column.
//!
//! - `Document` checks a text once and lends its terms as `TextTerm`
//!   handles implementing `term::Term`, read in place (the compiler's path);
//! - `etf` writes terms in the external term format (the NIF's readers);
//! - `parse` builds a `Value` tree (tools and tests);
//! - `explain` says what is wrong with an instruction and where an error is.

pub mod document;
pub mod etf;
pub mod explain;
pub mod lex;
pub mod parse;

pub use document::{Document, TermKind, TextTerm};
pub use lex::Int;
pub use parse::SyntaxError;

use parse::{Container, Visitor};
use vbeam_native_core::term::{with_items, Atom, Term};

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Atom(String),
    /// An integer whose magnitude fits in i128.
    Int(i128),
    /// Any larger integer.
    Big(Int),
    Float(f64),
    Binary(Vec<u8>),
    /// A bitstring that is not whole bytes: its bytes and the bits used of
    /// the last one.
    Bits(Vec<u8>, u8),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    /// A list whose tail is not a list.
    Improper(Vec<Value>, Box<Value>),
    Map(Vec<(Value, Value)>),
}

/// Terms are read through references, so taking a tuple or list apart
/// copies no subtree.
impl<'a> Term for &'a Value {
    fn atom(&self) -> Option<std::borrow::Cow<'static, str>> {
        match self {
            Value::Atom(a) => Some(std::borrow::Cow::Owned(a.clone())),
            _ => None,
        }
    }
    fn known_atom(&self) -> Option<Atom> {
        match self {
            Value::Atom(a) => Atom::from_name(a),
            _ => None,
        }
    }
    fn int64_bits(&self) -> Option<i64> {
        match self {
            Value::Int(i) if (i64::MIN as i128..=u64::MAX as i128).contains(i) => Some(*i as i64),
            _ => None,
        }
    }
    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }
    fn with_tuple<R>(&self, f: impl FnOnce(&[&'a Value]) -> R) -> Option<R> {
        match self {
            Value::Tuple(t) => Some(with_items(*self, t.len(), t.iter(), f)),
            _ => None,
        }
    }
    fn list(&self) -> Option<Vec<&'a Value>> {
        match self {
            Value::List(l) => Some(l.iter().collect()),
            _ => None,
        }
    }
    fn map_get(&self, key: Atom) -> Option<Option<&'a Value>> {
        match self {
            Value::Map(m) => {
                Some(m.iter().rev().find(|(k, _)| matches!(k, Value::Atom(a) if a == key.name())).map(|(_, v)| v))
            }
            _ => None,
        }
    }
    fn is_map(&self) -> bool {
        matches!(self, Value::Map(_))
    }
}

/// Builds `Value`s from what the parser visits.
#[derive(Default)]
struct Builder {
    /// Open compound terms: their kind, elements, and whether the last
    /// element is a list's tail.
    stack: Vec<(Container, Vec<Value>, bool)>,
    done: Vec<Value>,
}

impl Builder {
    fn push(&mut self, v: Value) {
        match self.stack.last_mut() {
            Some((_, items, _)) => items.push(v),
            None => self.done.push(v),
        }
    }
}

impl Visitor for Builder {
    fn atom(&mut self, _pos: usize, name: &str) {
        self.push(Value::Atom(name.to_string()));
    }
    fn int(&mut self, _pos: usize, value: Int) {
        self.push(match value {
            Int::Small(v) => Value::Int(v),
            big => Value::Big(big),
        });
    }
    fn float(&mut self, _pos: usize, value: f64) {
        self.push(Value::Float(value));
    }
    fn string(&mut self, _pos: usize, chars: &[u32]) {
        self.push(Value::List(chars.iter().map(|&c| Value::Int(i128::from(c))).collect()));
    }
    fn binary(&mut self, _pos: usize, bytes: &[u8], tail_bits: u8, _plain: bool) {
        self.push(if tail_bits == 0 { Value::Binary(bytes.to_vec()) } else { Value::Bits(bytes.to_vec(), tail_bits) });
    }
    fn open(&mut self, _pos: usize, kind: Container) {
        self.stack.push((kind, Vec::new(), false));
    }
    fn tail(&mut self) {
        if let Some(top) = self.stack.last_mut() {
            top.2 = true;
        }
    }
    fn close(&mut self, kind: Container, _count: usize) {
        let (_, mut items, tail) = self.stack.pop().expect("an open term");
        let v = match kind {
            Container::Tuple => Value::Tuple(items),
            Container::Map => {
                let mut pairs = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    // The last of equal keys counts.
                    pairs.retain(|(old, _): &(Value, Value)| *old != k);
                    pairs.push((k, v));
                }
                Value::Map(pairs)
            }
            Container::List if !tail => Value::List(items),
            Container::List => {
                let last = items.pop().expect("a tail");
                match last {
                    Value::List(rest) => {
                        items.extend(rest);
                        Value::List(items)
                    }
                    Value::Improper(rest, t) => {
                        items.extend(rest);
                        Value::Improper(items, t)
                    }
                    other => Value::Improper(items, Box::new(other)),
                }
            }
        };
        self.push(v);
    }
}

/// Parses one term followed by a `.`.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut all = parse_all(text.as_bytes()).map_err(|e| e.to_string())?;
    match all.len() {
        1 => Ok(all.pop().expect("one term")),
        n => Err(format!("expected one term, found {n}")),
    }
}

/// Every term of a text (each followed by `.`), as `file:consult` reads it.
pub fn parse_all(text: &[u8]) -> Result<Vec<Value>, SyntaxError> {
    let t = document::text_of(text)?;
    let mut b = Builder::default();
    parse::parse_terms(t, &mut b)?;
    Ok(b.done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_shapes_ir_files_use() {
        let v = parse("%% c\n#{a => [{x, -12}, <<\"hi\\n\">>, <<>>, <<1,2>>], 'b c' => 16#ff}.").unwrap();
        assert_eq!(
            v,
            Value::Map(vec![
                (
                    Value::Atom("a".into()),
                    Value::List(vec![
                        Value::Tuple(vec![Value::Atom("x".into()), Value::Int(-12)]),
                        Value::Binary(b"hi\n".to_vec()),
                        Value::Binary(vec![]),
                        Value::Binary(vec![1, 2]),
                    ])
                ),
                (Value::Atom("b c".into()), Value::Int(255)),
            ])
        );
        assert!(parse("{a, b").is_err());
    }

    #[test]
    fn reads_what_consult_reads() {
        let one = |s: &str| parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(one("[a|b]."), Value::Improper(vec![Value::Atom("a".into())], Box::new(Value::Atom("b".into()))));
        assert_eq!(one("[1|\"ab\"]."), Value::List(vec![Value::Int(1), Value::Int(97), Value::Int(98)]));
        assert_eq!(one("#{a=>1,a=>2}."), Value::Map(vec![(Value::Atom("a".into()), Value::Int(2))]));
        assert_eq!(one("<<1:3>>."), Value::Bits(vec![0x20], 3));
        assert_eq!(one("- 5."), Value::Int(-5));
        assert_eq!(one("-(5)."), Value::Int(-5));
        assert_eq!(one("+5."), Value::Int(5));
        assert_eq!(one("-$a."), Value::Int(-97));
        assert_eq!(one("-16#ff."), Value::Int(-255));
        assert_eq!(one("\"ab\" \"cd\"."), one("\"abcd\"."));
        assert_eq!(one("'and'."), Value::Atom("and".into()));
        assert_eq!(one("maybe."), Value::Atom("maybe".into()));
        assert_eq!(one("$\\s."), Value::Int(32));
        assert_eq!(one("$ ."), Value::Int(32));
        assert_eq!(one("'a\\'b'."), Value::Atom("a'b".into()));
        assert_eq!(one("a@b."), Value::Atom("a@b".into()));
        assert_eq!(one("1.0e-400."), Value::Float(0.0));
        assert_eq!(one("-0.0."), Value::Float(-0.0));
        assert_eq!(one("éa."), Value::Atom("éa".into()));
        assert_eq!(one("{(a), [(1)]}."), Value::Tuple(vec![Value::Atom("a".into()), Value::List(vec![Value::Int(1)])]));
        assert_eq!(parse_all(b"a. b.").unwrap().len(), 2);
        assert_eq!(parse_all(b"a.%c\n").unwrap().len(), 1);
        assert_eq!(parse_all(b"%% only a comment\n").unwrap().len(), 0);
        assert_eq!(parse_all(b"%% coding: latin-1\n<<\"\xe9\">>.").unwrap(), vec![Value::Binary(vec![0xE9])]);
        assert_eq!(parse_all("<<\"é\">>.".as_bytes()).unwrap(), vec![Value::Binary(vec![0xE9])]);
        for bad in [
            "a.b.",
            "1e3.",
            "1.0e400.",
            "- - 5.",
            "{and, b}.",
            "X.",
            "fun lists:map/2.",
            "\"\\x4\".",
            "37#1.",
            "<<(1+2)>>.",
            "<<\"a\"/binary>>.",
            "2#1.0.",
            "#{a := 1}.",
            "{a,}.",
            "[a|b|c].",
            "'unterminated.",
            "\"unterminated.",
            "a",
            "{a, b",
            "#rec{}.",
            "<a>.",
        ] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
        assert!(parse_all(b"<<\"\xe9\">>.").is_err(), "Latin-1 bytes in UTF-8 text");
        assert!(parse_all("\"\u{FFFE}\".".as_bytes()).is_err(), "a noncharacter");
        // Bit syntax as `erl_bits` reads it.
        assert_eq!(one("<<1:12/little>>."), Value::Bits(vec![1, 0], 4));
        assert_eq!(one("<<16#ABC:12/little>>."), Value::Bits(vec![0xBC, 0xA0], 4));
        assert_eq!(one("<<-1:12/little-signed>>."), Value::Bits(vec![0xFF, 0xF0], 4));
        assert_eq!(one("<<1:16/little-little, 1:16/native-native>>."), Value::Binary(vec![1, 0, 1, 0]));
        assert_eq!(one("<<<<1>>/binary-unit:8>>."), Value::Binary(vec![1]));
        assert_eq!(one("<<1.5:16/float, 1.0:16/float-little>>."), Value::Binary(vec![62, 0, 0, 60]));
        assert_eq!(
            one("<<65519.0:16/float, 65520.0:16/float, -0.0:16/float>>."),
            Value::Binary(vec![123, 255, 124, 0, 128, 0])
        );
        assert_eq!(
            one("<<1.0e-5:16/float, 1.0e-8:16/float, 5.960464477539063e-8:16/float>>."),
            Value::Binary(vec![0, 168, 0, 0, 0, 1])
        );
        assert_eq!(
            one("<<2.98023223876953125e-8:16/float, 2.980232238769532e-8:16/float>>."),
            Value::Binary(vec![0, 0, 0, 1])
        );
        assert_eq!(one("1_6#ff."), Value::Int(255));
        for (bad, column) in [
            ("<<1.5>>.", 3),
            ("<<1/unit:8>>.", 3),
            ("<<<<1>>/bits-unit:8>>.", 3),
            ("<<1:16/little-big>>.", 15),
            ("<<1:16/signed-unsigned>>.", 15),
            ("<<1:2/unit:8-unit:4>>.", 14),
            ("\"\\x{D800}\".", 2),
            ("<<\"a\\x{FFFF}\">>.", 5),
            ("'\\x{DFFF}'.", 2),
            ("$\\x{FFFE}.", 2),
        ] {
            let e = parse_all(bad.as_bytes()).expect_err(bad);
            assert_eq!((e.line, e.column), (1, column), "{bad}: {e}");
        }
        let deep = format!("{}{}.", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&deep).unwrap_err().contains("nested deeper than 1000 levels"));
    }

    #[test]
    fn errors_say_where() {
        let e = parse_all(b"#{a => 1,\n  b => {c, d e}}.").unwrap_err();
        assert_eq!((e.line, e.column), (2, 14));
        assert!(e.message.contains("expected ',' or '}' in the tuple opened at 2:8"), "{}", e.message);
        let e = parse_all(b"[1,\n 2").unwrap_err();
        assert_eq!((e.line, e.column), (2, 3));
        assert!(e.message.contains("the list opened at 1:1 is not closed"), "{}", e.message);
    }
}
