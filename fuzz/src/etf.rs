//! Erlang terms as the `eetf` crate holds them, seen through the core's
//! `Term` trait; a bounds check of External Term Format bytes run before
//! `eetf` decodes them; and the few constructors the generator needs.

use std::borrow::Cow;

use eetf::{Atom as EAtom, BigInteger, Binary, FixInteger, List, Map, Term as ETerm, Tuple};
use num_bigint::BigInt;
use vbeam_native_core::term::{with_items, Atom, Term};

/// A handle on an `eetf` term (the core's `Term` is implemented by handles).
#[derive(Clone, Copy, Debug)]
pub struct Etf<'a>(pub &'a ETerm);

impl<'a> Term for Etf<'a> {
    fn atom(&self) -> Option<Cow<'static, str>> {
        match self.0 {
            ETerm::Atom(a) => Some(Cow::Owned(a.name.clone())),
            _ => None,
        }
    }
    fn known_atom(&self) -> Option<Atom> {
        match self.0 {
            ETerm::Atom(a) => Atom::from_name(&a.name),
            _ => None,
        }
    }
    fn int64_bits(&self) -> Option<i64> {
        match self.0 {
            ETerm::FixInteger(i) => Some(i64::from(i.value)),
            // As `enif_get_int64`, then `enif_get_uint64` (2^63 and above wrap).
            ETerm::BigInteger(b) => {
                i64::try_from(&b.value).ok().or_else(|| u64::try_from(&b.value).ok().map(|u| u as i64))
            }
            _ => None,
        }
    }
    fn bytes(&self) -> Option<&[u8]> {
        match self.0 {
            ETerm::Binary(b) => Some(&b.bytes),
            _ => None,
        }
    }
    fn with_tuple<R>(&self, f: impl FnOnce(&[Self]) -> R) -> Option<R> {
        match self.0 {
            ETerm::Tuple(t) => Some(with_items(*self, t.elements.len(), t.elements.iter().map(Etf), f)),
            _ => None,
        }
    }
    fn list(&self) -> Option<Vec<Self>> {
        match self.0 {
            ETerm::List(l) => Some(l.elements.iter().map(Etf).collect()),
            _ => None,
        }
    }
    fn map_get(&self, key: Atom) -> Option<Option<Self>> {
        match self.0 {
            ETerm::Map(m) => Some(m.map.get(&atom(key.name())).map(Etf)),
            _ => None,
        }
    }
    fn is_map(&self) -> bool {
        matches!(self.0, ETerm::Map(_))
    }
}

/// Terms nested deeper than this are refused before `eetf` decodes them:
/// its decoder (and `Drop`) recurse. IR modules are 7 deep.
pub const MAX_DEPTH: u32 = 48;

/// Decodes `bytes` as one term in the External Term Format (as
/// `term_to_binary/1` writes it), if they are one that `eetf` decodes
/// without a fault of its own: see `well_bounded`. `STRING_EXT` lists are
/// made plain lists of integers and whole-byte bit strings binaries, as the
/// VM holds them.
pub fn decode(bytes: &[u8]) -> Option<ETerm> {
    if !well_bounded(bytes) {
        return None;
    }
    let term = ETerm::decode(bytes).ok()?;
    Some(normalise(term))
}

/// Whether `bytes` are a version byte and one term whose every count and
/// length fits in the bytes that follow, nested at most `MAX_DEPTH` deep, of
/// the tags `eetf` decodes without panicking: none of `DISTRIBUTION_HEADER`,
/// `ATOM_CACHE_REF` (`unimplemented!` there), compressed terms (no bound on
/// what they expand to), funs, nor bit strings with a tail of 0 or more
/// than 8 bits (an overflowing shift there). Counts bounded by the input
/// keep `eetf`'s `Vec::with_capacity(count)` and `vec![0; size]` small.
pub fn well_bounded(bytes: &[u8]) -> bool {
    let mut s = Scan { b: bytes, i: 1 };
    bytes.first() == Some(&131) && s.term(0).is_some() && s.i == bytes.len()
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.i.checked_add(n).filter(|e| *e <= self.b.len())?;
        let s = &self.b[self.i..end];
        self.i = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<usize> {
        Some(self.take(1)?[0] as usize)
    }
    fn u16(&mut self) -> Option<usize> {
        let s = self.take(2)?;
        Some(u16::from_be_bytes([s[0], s[1]]) as usize)
    }
    fn u32(&mut self) -> Option<usize> {
        let s = self.take(4)?;
        Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize)
    }
    /// A count of items of at least one byte each, bounded by the input.
    fn count(&mut self, n: usize) -> Option<usize> {
        (n <= self.b.len() - self.i).then_some(n)
    }
    /// The node of a pid, port or reference: an atom.
    fn atom(&mut self) -> Option<()> {
        match self.u8()? {
            100 | 118 => {
                let n = self.u16()?;
                self.take(n).map(drop)
            }
            115 | 119 => {
                let n = self.u8()?;
                self.take(n).map(drop)
            }
            _ => None,
        }
    }
    fn term(&mut self, depth: u32) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let tag = self.u8()?;
        match tag {
            70 => self.take(8).map(drop),
            77 => {
                let n = self.u32()?;
                let bits = self.u8()?;
                (n > 0 && (1..=8).contains(&bits)).then_some(())?;
                self.take(n).map(drop)
            }
            97 => self.take(1).map(drop),
            98 => self.take(4).map(drop),
            99 => self.take(31).map(drop),
            100 | 118 => {
                let n = self.u16()?;
                self.take(n).map(drop)
            }
            115 | 119 => {
                let n = self.u8()?;
                self.take(n).map(drop)
            }
            101 => {
                self.atom()?;
                self.take(5).map(drop)
            }
            102 => {
                self.atom()?;
                self.take(5).map(drop)
            }
            89 => {
                self.atom()?;
                self.take(8).map(drop)
            }
            120 => {
                self.atom()?;
                self.take(12).map(drop)
            }
            103 => {
                self.atom()?;
                self.take(9).map(drop)
            }
            88 => {
                self.atom()?;
                self.take(12).map(drop)
            }
            114 | 90 => {
                let ids = self.u16()?;
                self.atom()?;
                self.take(if tag == 90 { 4 } else { 1 })?;
                self.take(ids.checked_mul(4)?).map(drop)
            }
            104 => {
                let n = self.u8()?;
                (0..n).try_for_each(|_| self.term(depth + 1))
            }
            105 => {
                let n = self.u32()?;
                let n = self.count(n)?;
                (0..n).try_for_each(|_| self.term(depth + 1))
            }
            106 => Some(()),
            107 => {
                let n = self.u16()?;
                self.take(n).map(drop)
            }
            108 => {
                let n = self.u32()?;
                let n = self.count(n)?;
                (0..n).try_for_each(|_| self.term(depth + 1))?;
                self.term(depth + 1)
            }
            109 => {
                let n = self.u32()?;
                self.take(n).map(drop)
            }
            110 => {
                let n = self.u8()?;
                self.take(1)?;
                self.take(n).map(drop)
            }
            111 => {
                let n = self.u32()?;
                self.take(1)?;
                self.take(n).map(drop)
            }
            116 => {
                let n = self.u32()?;
                let n = self.count(n)?;
                (0..n).try_for_each(|_| {
                    self.term(depth + 1)?;
                    self.term(depth + 1)
                })
            }
            _ => None,
        }
    }
}

/// `STRING_EXT` lists as lists of integers, whole-byte bit strings as
/// binaries, empty improper-looking lists as lists: the shapes the VM has.
fn normalise(term: ETerm) -> ETerm {
    match term {
        ETerm::ByteList(b) => ETerm::List(List::from(b)),
        ETerm::BitBinary(b) if b.tail_bits_size == 8 => ETerm::Binary(Binary::from(b.bytes)),
        ETerm::List(l) => ETerm::List(List::from(l.elements.into_iter().map(normalise).collect::<Vec<_>>())),
        ETerm::ImproperList(l) => {
            let elements: Vec<ETerm> = l.elements.into_iter().map(normalise).collect();
            match normalise(*l.last) {
                // [a | "bc"] is the proper list [a, $b, $c].
                ETerm::List(tail) => {
                    ETerm::List(List::from(elements.into_iter().chain(tail.elements).collect::<Vec<_>>()))
                }
                last => ETerm::ImproperList(eetf::ImproperList::from((elements, last))),
            }
        }
        ETerm::Tuple(t) => tuple(t.elements.into_iter().map(normalise).collect()),
        ETerm::Map(m) => ETerm::Map(Map::from(
            m.map.into_iter().map(|(k, v)| (normalise(k), normalise(v))).collect::<std::collections::HashMap<_, _>>(),
        )),
        other => other,
    }
}

/// The External Term Format bytes of `term`.
pub fn encode(term: &ETerm) -> Vec<u8> {
    let mut out = Vec::new();
    term.encode(&mut out).expect("a term the generator built encodes");
    out
}

pub fn atom(name: &str) -> ETerm {
    ETerm::Atom(EAtom::from(name))
}

pub fn int(v: i128) -> ETerm {
    match i32::try_from(v) {
        Ok(small) => ETerm::FixInteger(FixInteger::from(small)),
        Err(_) => ETerm::BigInteger(BigInteger { value: BigInt::from(v) }),
    }
}

pub fn bin(bytes: &[u8]) -> ETerm {
    ETerm::Binary(Binary::from(bytes))
}

pub fn tuple(items: Vec<ETerm>) -> ETerm {
    ETerm::Tuple(Tuple::from(items))
}

pub fn list(items: Vec<ETerm>) -> ETerm {
    ETerm::List(List::from(items))
}

pub fn map(pairs: Vec<(ETerm, ETerm)>) -> ETerm {
    ETerm::Map(Map::from(pairs.into_iter().collect::<std::collections::HashMap<_, _>>()))
}

/// `{Tag, Args...}`.
pub fn tagged(tag: &str, args: Vec<ETerm>) -> ETerm {
    let mut items = Vec::with_capacity(args.len() + 1);
    items.push(atom(tag));
    items.extend(args);
    tuple(items)
}

/// A copy of an IR term read through the `Term` trait alone (any
/// implementation: `.ir` text, another `eetf` term): maps keep the keys
/// that are the IR's known atoms, integers their 64-bit pattern. What the
/// trait cannot see (floats, pids, ...) becomes the atom `'?'`.
pub fn from_term<T: Term>(t: &T) -> ETerm {
    if let Some(i) = t.int64_bits() {
        return int(i128::from(i));
    }
    if let Some(b) = t.bytes() {
        return bin(b);
    }
    if let Some(a) = t.atom() {
        return atom(&a);
    }
    if let Some(items) = t.with_tuple(|items| items.iter().map(from_term).collect::<Vec<_>>()) {
        return tuple(items);
    }
    if let Some(items) = t.list() {
        return list(items.iter().map(from_term).collect());
    }
    if t.is_map() {
        let pairs =
            Atom::ALL.iter().filter_map(|k| t.map_get(*k).flatten().map(|v| (atom(k.name()), from_term(&v)))).collect();
        return map(pairs);
    }
    atom("?")
}
