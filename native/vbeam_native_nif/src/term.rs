//! `vbeam_native_core::term::Term` over live BEAM terms: the decoder reads
//! the caller's IR in place, with no copy or text round trip, and taking an
//! instruction apart allocates nothing.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use once_cell::sync::OnceCell;
use rustler::sys::{c_int, enif_get_list_cell, enif_get_tuple, ErlNifTerm};
use rustler::{Atom as BeamAtom, Binary, Env, Term};
use vbeam_native_core::term::{with_items, Atom, KNOWN_ATOMS};

/// The IR's known atoms as BEAM terms, and back. Atom terms are immediate
/// values, unique per atom and never collected, so equality of the raw word
/// identifies an atom without asking the VM whether the term is one.
struct AtomTable {
    /// Open addressing by raw term: (term, atom) or empty.
    slots: Vec<Option<(ErlNifTerm, Atom)>>,
    /// `Atom as usize` → its term.
    terms: Vec<ErlNifTerm>,
}

static ATOMS: OnceCell<AtomTable> = OnceCell::new();

impl AtomTable {
    /// Four times as many slots as atoms keeps probe chains short.
    const SLOTS: usize = (KNOWN_ATOMS.len() * 4).next_power_of_two();

    #[inline(always)]
    fn slot(term: ErlNifTerm) -> usize {
        let mut hasher = WordHasher(0);
        term.hash(&mut hasher);
        hasher.finish() as usize & (Self::SLOTS - 1)
    }

    fn build(env: Env) -> AtomTable {
        let mut table = AtomTable { slots: vec![None; Self::SLOTS], terms: Vec::with_capacity(KNOWN_ATOMS.len()) };
        for &atom in Atom::ALL {
            let term = BeamAtom::from_str(env, atom.name()).expect("an atom name").as_c_arg();
            table.terms.push(term);
            let mut i = Self::slot(term);
            while table.slots[i].is_some() {
                i = (i + 1) & (Self::SLOTS - 1);
            }
            table.slots[i] = Some((term, atom));
        }
        table
    }

    #[inline(always)]
    fn lookup(&self, term: ErlNifTerm) -> Option<Atom> {
        let mut i = Self::slot(term);
        loop {
            match self.slots[i] {
                Some((t, atom)) if t == term => return Some(atom),
                Some(_) => i = (i + 1) & (Self::SLOTS - 1),
                None => return None,
            }
        }
    }
}

/// Fibonacci hashing of the one machine word a term hashes as: it mixes the
/// atom index bits above the tag into the bits the table uses.
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }
    fn finish(&self) -> u64 {
        self.0 >> 32
    }
}

/// Interns the known atoms (once per VM).
pub fn intern_known_atoms(env: Env) {
    ATOMS.get_or_init(|| AtomTable::build(env));
}

fn atoms() -> &'static AtomTable {
    ATOMS.get().expect("atoms interned when the NIF library loaded")
}

#[derive(Clone, Copy)]
pub struct BeamTerm<'a>(pub Term<'a>);

impl std::fmt::Debug for BeamTerm<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl<'a> BeamTerm<'a> {
    fn wrap(&self, raw: ErlNifTerm) -> BeamTerm<'a> {
        // SAFETY: `raw` was read out of `self`, so it lives in the same env.
        BeamTerm(unsafe { Term::new(self.0.get_env(), raw) })
    }
}

impl<'a> vbeam_native_core::term::Term for BeamTerm<'a> {
    fn atom(&self) -> Option<Cow<'static, str>> {
        if let Some(atom) = self.known_atom() {
            return Some(Cow::Borrowed(atom.name()));
        }
        if !self.0.is_atom() {
            return None;
        }
        self.0.atom_to_string().ok().map(Cow::Owned)
    }
    #[inline(always)]
    fn known_atom(&self) -> Option<Atom> {
        atoms().lookup(self.0.as_c_arg())
    }
    #[inline(always)]
    fn int64_bits(&self) -> Option<i64> {
        self.0.decode::<i64>().ok().or_else(|| self.0.decode::<u64>().ok().map(|u| u as i64))
    }
    fn bytes(&self) -> Option<&[u8]> {
        Binary::from_term(self.0).ok().map(|b| b.as_slice())
    }
    #[inline(always)]
    fn with_tuple<R>(&self, f: impl FnOnce(&[Self]) -> R) -> Option<R> {
        let mut arity: c_int = 0;
        let mut array: *const ErlNifTerm = std::ptr::null();
        // SAFETY: env and term are live for the NIF call; on success `array`
        // points at `arity` terms owned by the tuple.
        let items = unsafe {
            if enif_get_tuple(self.0.get_env().as_c_arg(), self.0.as_c_arg(), &mut arity, &mut array) == 0 {
                return None;
            }
            std::slice::from_raw_parts(array, arity as usize)
        };
        Some(with_items(*self, items.len(), items.iter().map(|&raw| self.wrap(raw)), f))
    }
    fn list(&self) -> Option<Vec<Self>> {
        Self::lists(std::slice::from_ref(self)).pop().flatten()
    }
    fn lists(terms: &[Self]) -> Vec<Option<Vec<Self>>> {
        let Some(first) = terms.first() else { return Vec::new() };
        let env = first.0.get_env().as_c_arg();
        // One cursor per list: the next cell, or the end reached.
        let mut cursors: Vec<ErlNifTerm> = terms.iter().map(|t| t.0.as_c_arg()).collect();
        let mut items: Vec<Vec<Self>> = terms.iter().map(|_| Vec::new()).collect();
        let mut ended = vec![false; terms.len()];
        let mut walking = terms.len();
        while walking > 0 {
            for ((cell, list), ended) in cursors.iter_mut().zip(&mut items).zip(&mut ended) {
                if *ended {
                    continue;
                }
                let (mut head, mut tail) = (ErlNifTerm::default(), ErlNifTerm::default());
                // SAFETY: env and terms are live for the NIF call.
                if unsafe { enif_get_list_cell(env, *cell, &mut head, &mut tail) } != 0 {
                    list.push(first.wrap(head));
                    *cell = tail;
                } else {
                    *ended = true;
                    walking -= 1;
                }
            }
        }
        // A proper list ends in [].
        cursors.into_iter().zip(items).map(|(end, list)| first.wrap(end).0.is_empty_list().then_some(list)).collect()
    }
    fn map_get(&self, key: Atom) -> Option<Option<Self>> {
        if !self.0.is_map() {
            return None;
        }
        let key = self.wrap(atoms().terms[key as usize]);
        Some(self.0.map_get(key.0).ok().map(BeamTerm))
    }
    fn is_map(&self) -> bool {
        self.0.is_map()
    }
}
