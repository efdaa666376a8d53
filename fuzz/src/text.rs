//! `eetf` terms as Erlang term text (what `io:format("~p.~n")` would write,
//! give or take layout), so any input the fuzzers build can be saved as a
//! `.ir` file and replayed with `vbeam_native:main/1` or `vbeam_native_ir_text::parse`.

use std::fmt::Write;

use eetf::Term as ETerm;

/// The text of `term` followed by `.` and a newline.
pub fn to_text(term: &ETerm) -> String {
    let mut s = String::new();
    write_term(&mut s, term);
    s.push_str(".\n");
    s
}

fn quoted_atom(s: &mut String, name: &str) {
    let bare = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@')
        && !matches!(
            name,
            "after"
                | "and"
                | "andalso"
                | "band"
                | "begin"
                | "bnot"
                | "bor"
                | "bsl"
                | "bsr"
                | "bxor"
                | "case"
                | "catch"
                | "cond"
                | "div"
                | "end"
                | "fun"
                | "if"
                | "let"
                | "not"
                | "of"
                | "or"
                | "orelse"
                | "receive"
                | "rem"
                | "try"
                | "when"
                | "xor"
                | "maybe"
                | "else"
        );
    if bare {
        s.push_str(name);
        return;
    }
    s.push('\'');
    for c in name.chars() {
        match c {
            '\'' => s.push_str("\\'"),
            '\\' => s.push_str("\\\\"),
            c if (' '..='~').contains(&c) => s.push(c),
            c => {
                let _ = write!(s, "\\x{{{:x}}}", c as u32);
            }
        }
    }
    s.push('\'');
}

fn seq<'a>(s: &mut String, items: impl IntoIterator<Item = &'a ETerm>) {
    for (i, t) in items.into_iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        write_term(s, t);
    }
}

fn write_term(s: &mut String, term: &ETerm) {
    match term {
        ETerm::Atom(a) => quoted_atom(s, &a.name),
        ETerm::FixInteger(i) => {
            let _ = write!(s, "{}", i.value);
        }
        ETerm::BigInteger(b) => {
            let _ = write!(s, "{}", b.value);
        }
        ETerm::Float(f) => {
            let _ = write!(s, "{:?}", f.value);
        }
        ETerm::Binary(b) => {
            if !b.bytes.is_empty() && b.bytes.iter().all(|c| (0x20..0x7f).contains(c) && *c != b'"' && *c != b'\\') {
                let _ = write!(s, "<<\"{}\">>", String::from_utf8_lossy(&b.bytes));
            } else {
                let bytes: Vec<String> = b.bytes.iter().map(u8::to_string).collect();
                let _ = write!(s, "<<{}>>", bytes.join(","));
            }
        }
        ETerm::ByteList(b) => {
            let bytes: Vec<String> = b.bytes.iter().map(u8::to_string).collect();
            let _ = write!(s, "[{}]", bytes.join(","));
        }
        ETerm::List(l) => {
            s.push('[');
            seq(s, &l.elements);
            s.push(']');
        }
        ETerm::ImproperList(l) => {
            s.push('[');
            seq(s, &l.elements);
            s.push_str(" | ");
            write_term(s, &l.last);
            s.push(']');
        }
        ETerm::Tuple(t) => {
            s.push('{');
            seq(s, &t.elements);
            s.push('}');
        }
        ETerm::Map(m) => {
            // Known keys in the spec's order first, so modules read as written.
            const ORDER: &[&str] = &[
                "target",
                "format",
                "allow_stubs",
                "name",
                "arity",
                "exported",
                "params",
                "locals",
                "body",
                "functions",
                "data",
                "bss",
                "imports",
            ];
            let rank = |k: &ETerm| match k {
                ETerm::Atom(a) => ORDER.iter().position(|o| *o == a.name).unwrap_or(ORDER.len()),
                _ => ORDER.len() + 1,
            };
            let mut pairs: Vec<(&ETerm, &ETerm)> = m.map.iter().collect();
            pairs.sort_by_key(|(k, _)| (rank(k), k.to_string()));
            s.push_str("#{");
            for (i, (k, v)) in pairs.into_iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_term(s, k);
                s.push_str(" => ");
                write_term(s, v);
            }
            s.push('}');
        }
        // Pids, ports, references, funs and bit strings have no IR meaning
        // and no text that reads back: an atom naming them.
        other => quoted_atom(s, &format!("unprintable {other}")),
    }
}
