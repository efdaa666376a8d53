//! `vbeam_native_core::term::Term` over live BEAM terms: the decoder reads
//! the caller's IR in place, with no copy or text round trip.

use rustler::types::tuple::get_tuple;
use rustler::{Atom, Binary, Term};

#[derive(Clone, Copy)]
pub struct BeamTerm<'a>(pub Term<'a>);

impl std::fmt::Debug for BeamTerm<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl<'a> vbeam_native_core::term::Term for BeamTerm<'a> {
    fn atom(&self) -> Option<String> {
        if !self.0.is_atom() {
            return None;
        }
        self.0.atom_to_string().ok()
    }
    fn int64_bits(&self) -> Option<i64> {
        self.0.decode::<i64>().ok().or_else(|| self.0.decode::<u64>().ok().map(|u| u as i64))
    }
    fn bytes(&self) -> Option<&[u8]> {
        Binary::from_term(self.0).ok().map(|b| b.as_slice())
    }
    fn tuple(&self) -> Option<Vec<Self>> {
        get_tuple(self.0).ok().map(|items| items.into_iter().map(BeamTerm).collect())
    }
    fn list(&self) -> Option<Vec<Self>> {
        let iter = self.0.into_list_iterator().ok()?;
        let mut out: Vec<Self> = iter.map(BeamTerm).collect();
        // An improper list's iterator stops at the tail: check it ended in [].
        let len = self.0.list_length().ok()?;
        out.truncate(len);
        (out.len() == len).then_some(out)
    }
    fn map_get(&self, key: &str) -> Option<Option<Self>> {
        if !self.0.is_map() {
            return None;
        }
        let key = Atom::from_str(self.0.get_env(), key).ok()?;
        Some(self.0.map_get(key).ok().map(BeamTerm))
    }
    fn is_map(&self) -> bool {
        self.0.is_map()
    }
}
