//! A reader for the Erlang term text of `.ir` files (the `file:consult`
//! format: one term followed by `.`), so Rust tools and tests can load IR
//! without the BEAM. It covers what IR files contain: maps, tuples, lists,
//! atoms, integers (with `16#` bases), strings, binaries and `%` comments.

use crate::term::{with_items, Atom, Term};

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Atom(String),
    Int(i128),
    Binary(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
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
                Some(m.iter().find(|(k, _)| matches!(k, Value::Atom(a) if a == key.name())).map(|(_, v)| v))
            }
            _ => None,
        }
    }
    fn is_map(&self) -> bool {
        matches!(self, Value::Map(_))
    }
}

/// Parses one term followed by a `.`.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser { s: text.as_bytes(), i: 0 };
    let v = p.value()?;
    p.skip();
    p.expect(b'.')?;
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }
    fn skip(&mut self) {
        while self.i < self.s.len() {
            match self.s[self.i] {
                b' ' | b'\t' | b'\n' | b'\r' => self.i += 1,
                b'%' => {
                    while self.i < self.s.len() && self.s[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.skip();
        self.s.get(self.i).copied()
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(&format!("expected '{}'", c as char))
        }
    }
    fn eat(&mut self, text: &str) -> bool {
        self.skip();
        if self.s[self.i..].starts_with(text.as_bytes()) {
            self.i += text.len();
            true
        } else {
            false
        }
    }
    /// Comma-separated values up to `close`.
    fn seq(&mut self, close: u8) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        if self.peek() == Some(close) {
            self.i += 1;
            return Ok(out);
        }
        loop {
            out.push(self.value()?);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {
                    self.i += 1;
                    return Ok(out);
                }
                _ => return self.err("expected ',' or a closing bracket"),
            }
        }
    }
    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                Ok(Value::Tuple(self.seq(b'}')?))
            }
            Some(b'[') => {
                self.i += 1;
                Ok(Value::List(self.seq(b']')?))
            }
            Some(b'#') => {
                self.i += 1;
                self.expect(b'{')?;
                let mut pairs = Vec::new();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Value::Map(pairs));
                }
                loop {
                    let k = self.value()?;
                    if !self.eat("=>") {
                        return self.err("expected '=>'");
                    }
                    pairs.push((k, self.value()?));
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Map(pairs));
                        }
                        _ => return self.err("expected ',' or '}'"),
                    }
                }
            }
            Some(b'<') if self.eat("<<") => self.binary(),
            Some(b'"') => Ok(Value::List(self.string()?.into_iter().map(|b| Value::Int(b as i128)).collect())),
            Some(b'\'') => {
                self.i += 1;
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i] != b'\'' {
                    self.i += 1;
                }
                let a = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                Ok(Value::Atom(a))
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => self.integer(),
            Some(c) if c.is_ascii_lowercase() => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_' || self.s[self.i] == b'@')
                {
                    self.i += 1;
                }
                Ok(Value::Atom(String::from_utf8_lossy(&self.s[start..self.i]).into_owned()))
            }
            Some(b'$') => {
                self.i += 1;
                let c = self.s[self.i];
                self.i += 1;
                Ok(Value::Int(c as i128))
            }
            _ => self.err("unexpected character"),
        }
    }
    fn integer(&mut self) -> Result<Value, String> {
        let negative = self.s[self.i] == b'-';
        if negative {
            self.i += 1;
        }
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'#' || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        let text: String = String::from_utf8_lossy(&self.s[start..self.i]).replace('_', "");
        let parsed = match text.split_once('#') {
            Some((base, digits)) => base.parse().ok().and_then(|b| i128::from_str_radix(digits, b).ok()),
            None => text.parse().ok(),
        };
        match parsed {
            Some(v) => Ok(Value::Int(if negative { -v } else { v })),
            None => self.err("bad integer"),
        }
    }
    /// A double-quoted string with Erlang escapes, as bytes.
    fn string(&mut self) -> Result<Vec<u8>, String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        while self.i < self.s.len() && self.s[self.i] != b'"' {
            let c = self.s[self.i];
            self.i += 1;
            if c != b'\\' {
                out.push(c);
                continue;
            }
            let e = self.s[self.i];
            self.i += 1;
            out.push(match e {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                b's' => b' ',
                b'e' => 27,
                b'0'..=b'7' => {
                    let mut v = (e - b'0') as u32;
                    for _ in 0..2 {
                        match self.s.get(self.i) {
                            Some(d @ b'0'..=b'7') => {
                                v = v * 8 + (d - b'0') as u32;
                                self.i += 1;
                            }
                            _ => break,
                        }
                    }
                    v as u8
                }
                other => other,
            });
        }
        self.i += 1;
        Ok(out)
    }
    /// After `<<`: `>>`, a string, or comma-separated byte values.
    fn binary(&mut self) -> Result<Value, String> {
        if self.eat(">>") {
            return Ok(Value::Binary(Vec::new()));
        }
        let mut out = Vec::new();
        loop {
            if self.peek() == Some(b'"') {
                out.extend(self.string()?);
            } else {
                match self.integer()? {
                    Value::Int(v) => out.push(v as u8),
                    _ => unreachable!(),
                }
            }
            if self.eat(">>") {
                return Ok(Value::Binary(out));
            }
            self.expect(b',')?;
        }
    }
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
}
