//! `vbeam_native_core::term::Term` over live BEAM terms: the decoder reads
//! the caller's IR in place, with no copy or text round trip.

use std::borrow::Cow;
use std::collections::HashMap;

use once_cell::sync::OnceCell;
use rustler::types::tuple::get_tuple;
use rustler::{Atom, Binary, Env, Term};
use vbeam_native_core::term::KNOWN_ATOMS;

/// The IR's known atoms by their (permanent) atom value, so decoding an
/// opcode, tag or register costs one lookup and no allocation.
static KNOWN: OnceCell<HashMap<rustler::sys::ErlNifTerm, &'static str>> = OnceCell::new();

/// Interns the known atoms (once per VM; atoms are never collected).
pub fn intern_known_atoms(env: Env) {
    KNOWN.get_or_init(|| {
        KNOWN_ATOMS
            .iter()
            .map(|name| (Atom::from_str(env, name).expect("an atom name").as_c_arg(), *name))
            .collect()
    });
}

#[derive(Clone, Copy)]
pub struct BeamTerm<'a>(pub Term<'a>);

impl std::fmt::Debug for BeamTerm<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl<'a> vbeam_native_core::term::Term for BeamTerm<'a> {
    fn atom(&self) -> Option<Cow<'static, str>> {
        if !self.0.is_atom() {
            return None;
        }
        if let Some(name) = KNOWN.get().and_then(|k| k.get(&self.0.as_c_arg())) {
            return Some(Cow::Borrowed(name));
        }
        self.0.atom_to_string().ok().map(Cow::Owned)
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
