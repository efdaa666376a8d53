//! A read-only view of Erlang terms, so the decoder works on any
//! representation: live terms inside the NIF, `eetf` terms in Rust tools and
//! tests. The core never depends on the BEAM itself.

/// What the decoder needs to know of a term. Implementations must be cheap to
/// clone (a handle, not a deep copy).
pub trait Term: Clone {
    /// The atom's name, if the term is an atom.
    fn atom(&self) -> Option<String>;
    /// The integer as 64 bits, if the term is an integer in
    /// `-2^63 .. 2^64-1`; values of 2^63 and above wrap to their two's
    /// complement bit pattern (float constants are written that way).
    fn int64_bits(&self) -> Option<i64>;
    /// The bytes, if the term is a binary.
    fn bytes(&self) -> Option<&[u8]>;
    /// The elements, if the term is a tuple.
    fn tuple(&self) -> Option<Vec<Self>>;
    /// The elements, if the term is a proper list.
    fn list(&self) -> Option<Vec<Self>>;
    /// `None` if the term is not a map; `Some(None)` if the atom key is absent.
    fn map_get(&self, key: &str) -> Option<Option<Self>>;
    /// Whether the term is a map.
    fn is_map(&self) -> bool;
}

/// The tag atom and arguments of a tagged tuple such as `{add, D, A, B}`, or
/// the atom alone for bare atoms such as `ret`.
pub fn tagged<T: Term>(term: &T) -> Option<(String, Vec<T>)> {
    if let Some(name) = term.atom() {
        return Some((name, Vec::new()));
    }
    let mut items = term.tuple()?;
    if items.is_empty() {
        return None;
    }
    let tag = items[0].atom()?;
    items.remove(0);
    Some((tag, items))
}
