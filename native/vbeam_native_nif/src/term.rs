//! `vbeam_native_core::term::Term` over live BEAM terms: the decoder reads
//! the caller's IR in place, with no copy or text round trip, and taking an
//! instruction apart allocates nothing.

use std::borrow::Cow;
use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use once_cell::sync::OnceCell;
use rustler::sys::{c_int, enif_get_int64, enif_get_list_cell, enif_get_tuple, enif_get_uint64, ErlNifEnv, ErlNifTerm};
use rustler::{Atom as BeamAtom, Binary, Env, OwnedEnv, Term};
use vbeam_native_core::term::{Atom, KNOWN_ATOMS};

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

thread_local! {
    /// The env of the NIF call running on this thread, for the `enif_`
    /// calls of its `BeamTerm`s (see `with_env`).
    static CALL_ENV: Cell<*mut ErlNifEnv> = const { Cell::new(std::ptr::null_mut()) };
}

/// Runs `f` with `env` as the env of every `BeamTerm` read on this thread:
/// a term is then one word, so a tuple's elements are lent to the decoder
/// as they lie in the tuple, without being copied or paired with the env.
pub fn with_env<'a, R>(env: Env<'a>, f: impl FnOnce() -> R) -> R {
    struct Restore(*mut ErlNifEnv);
    impl Drop for Restore {
        fn drop(&mut self) {
            CALL_ENV.with(|e| e.set(self.0));
        }
    }
    let _restore = Restore(CALL_ENV.with(|e| e.replace(env.as_c_arg())));
    f()
}

fn call_env() -> *mut ErlNifEnv {
    let env = CALL_ENV.with(Cell::get);
    debug_assert!(!env.is_null(), "a BeamTerm read outside with_env");
    env
}

/// A term of the NIF call's env (`'a`), read within `with_env`.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct BeamTerm<'a> {
    raw: ErlNifTerm,
    env: PhantomData<Env<'a>>,
}

/// Terms in messages are cut at this many characters and this depth: an
/// error may hold a term of any size.
const SHOWN_CHARS: usize = 240;
const SHOWN_DEPTH: usize = 12;

impl std::fmt::Debug for BeamTerm<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::new();
        show(self.as_term(), &mut out, SHOWN_DEPTH);
        if out.chars().count() > SHOWN_CHARS {
            out = out.chars().take(SHOWN_CHARS).collect::<String>() + "…";
        }
        f.write_str(&out)
    }
}

/// The text of a term, elided below `depth` and once long enough.
fn show(t: Term, out: &mut String, depth: usize) {
    use std::fmt::Write;
    let full = |out: &mut String| SHOWN_CHARS < out.len();
    if depth == 0 || full(out) {
        out.push('…');
        return;
    }
    if let Ok(items) = rustler::types::tuple::get_tuple(t) {
        out.push('{');
        for (k, item) in items.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            if full(out) {
                out.push('…');
                break;
            }
            show(*item, out, depth - 1);
        }
        out.push('}');
    } else if t.is_list() && !t.is_empty_list() {
        out.push('[');
        let mut cell = t;
        let mut first = true;
        let mut cut = false;
        while let Ok((head, tail)) = cell.list_get_cell() {
            if !first {
                out.push(',');
            }
            first = false;
            if full(out) {
                out.push('…');
                cut = true;
                break;
            }
            show(head, out, depth - 1);
            cell = tail;
        }
        if !cut && !cell.is_empty_list() {
            out.push('|');
            show(cell, out, depth - 1);
        }
        out.push(']');
    } else if t.is_binary() && Binary::from_term(t).is_ok_and(|b| b.len() > SHOWN_CHARS) {
        let b = Binary::from_term(t).expect("a binary");
        let _ = write!(out, "<<{} bytes>>", b.len());
    } else if t.is_map() && t.map_size().is_ok_and(|n| n > 0) {
        out.push_str("#{");
        if let Some(iter) = rustler::types::map::MapIterator::new(t) {
            for (k, (key, value)) in iter.enumerate() {
                if k > 0 {
                    out.push(',');
                }
                if full(out) {
                    out.push('…');
                    break;
                }
                show(key, out, depth - 1);
                out.push_str(" => ");
                show(value, out, depth - 1);
            }
        }
        out.push('}');
    } else {
        let _ = write!(out, "{t:?}");
    }
}

// SAFETY: the compiler's workers read the call's argument terms beside the
// calling thread, and only during the call (they are joined before it
// returns), while the calling process is suspended and its terms stay put.
// Reading terms is pure: the `enif_get_*` readers do not touch their env,
// and the one reader that may (`enif_inspect_binary`, which can attach a
// temporary copy of an unaligned binary to it) is given each worker's own
// env (`on_worker_thread`).
unsafe impl Send for BeamTerm<'_> {}
unsafe impl Sync for BeamTerm<'_> {}

impl<'a> BeamTerm<'a> {
    pub fn new(term: Term<'a>) -> BeamTerm<'a> {
        BeamTerm { raw: term.as_c_arg(), env: PhantomData }
    }

    fn from_raw(raw: ErlNifTerm) -> BeamTerm<'a> {
        BeamTerm { raw, env: PhantomData }
    }

    /// The term in `env`, the env it was read from.
    pub fn in_env(self, env: Env<'a>) -> Term<'a> {
        // SAFETY: the term belongs to `env` (the lifetime ties them).
        unsafe { Term::new(env, self.raw) }
    }

    /// The term for rustler's API, in the env `with_env` installed.
    fn as_term(&self) -> Term<'a> {
        // SAFETY: `call_env` is the env the term was read in, live for `'a`.
        unsafe { Term::new(Env::new(&(), call_env()), self.raw) }
    }
}

impl<'a> vbeam_native_core::term::Term for BeamTerm<'a> {
    fn atom(&self) -> Option<Cow<'static, str>> {
        if let Some(atom) = self.known_atom() {
            return Some(Cow::Borrowed(atom.name()));
        }
        let term = self.as_term();
        if !term.is_atom() {
            return None;
        }
        term.atom_to_string().ok().map(Cow::Owned)
    }
    #[inline(always)]
    fn known_atom(&self) -> Option<Atom> {
        atoms().lookup(self.raw)
    }
    #[inline(always)]
    fn int64_bits(&self) -> Option<i64> {
        let mut signed: i64 = 0;
        // SAFETY: env and term are live for the NIF call.
        if unsafe { enif_get_int64(call_env(), self.raw, &mut signed) } != 0 {
            return Some(signed);
        }
        let mut unsigned: u64 = 0;
        // SAFETY: as above.
        (unsafe { enif_get_uint64(call_env(), self.raw, &mut unsigned) } != 0).then_some(unsigned as i64)
    }
    fn bytes(&self) -> Option<&[u8]> {
        Binary::from_term(self.as_term()).ok().map(|b| b.as_slice())
    }
    #[inline(always)]
    fn with_tuple<R>(&self, f: impl FnOnce(&[Self]) -> R) -> Option<R> {
        let mut arity: c_int = 0;
        let mut array: *const ErlNifTerm = std::ptr::null();
        // SAFETY: env and term are live for the NIF call; on success `array`
        // points at `arity` terms owned by the tuple, and a `BeamTerm` is
        // one `ErlNifTerm` (`repr(transparent)`).
        let items = unsafe {
            if enif_get_tuple(call_env(), self.raw, &mut arity, &mut array) == 0 {
                return None;
            }
            std::slice::from_raw_parts(array.cast::<BeamTerm<'a>>(), arity as usize)
        };
        Some(f(items))
    }
    fn list(&self) -> Option<Vec<Self>> {
        Self::lists(std::slice::from_ref(self)).pop().flatten()
    }
    fn list_up_to(&self, max: usize) -> Option<Vec<Self>> {
        let env = call_env();
        let mut items = Vec::new();
        let mut cell = self.raw;
        let (mut head, mut tail) = (ErlNifTerm::default(), ErlNifTerm::default());
        // SAFETY: env and terms are live for the NIF call.
        while unsafe { enif_get_list_cell(env, cell, &mut head, &mut tail) } != 0 {
            if items.len() == max {
                return None;
            }
            items.push(Self::from_raw(head));
            cell = tail;
        }
        Self::from_raw(cell).as_term().is_empty_list().then_some(items)
    }
    fn lists(terms: &[Self]) -> Vec<Option<Vec<Self>>> {
        let env = call_env();
        // One cursor per list: the next cell, or the end reached.
        let mut cursors: Vec<ErlNifTerm> = terms.iter().map(|t| t.raw).collect();
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
                    list.push(Self::from_raw(head));
                    *cell = tail;
                } else {
                    *ended = true;
                    walking -= 1;
                }
            }
        }
        // A proper list ends in [].
        cursors
            .into_iter()
            .zip(items)
            .map(|(end, list)| Self::from_raw(end).as_term().is_empty_list().then_some(list))
            .collect()
    }
    fn map_get(&self, key: Atom) -> Option<Option<Self>> {
        let term = self.as_term();
        if !term.is_map() {
            return None;
        }
        let key = Self::from_raw(atoms().terms[key as usize]).as_term();
        Some(term.map_get(key).ok().map(BeamTerm::new))
    }
    fn is_map(&self) -> bool {
        self.as_term().is_map()
    }
    /// A worker reads terms in an env of its own, freed when it is done.
    fn on_worker_thread<R>(work: impl FnOnce() -> R) -> R {
        OwnedEnv::new().run(|env| with_env(env, work))
    }
}
