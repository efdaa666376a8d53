//! `.ir` text read in the NIF (`vbeam_native_ir_text`): the terms of
//! a file for `vbeam_native_ir:parse_file/1`, built by the VM from the
//! external term format in one call; and a compilation straight from the
//! text, the module never built as terms, for `vbeam_native:main/1`.

use std::collections::HashMap;
use std::time::Instant;

use rustler::{Atom, Binary, Encoder, Env, Term};
use vbeam_native_core::compile::{compile_term_with, Options};
use vbeam_native_core::error::Error;
use vbeam_native_core::ir::{Format, Isa};
use vbeam_native_core::listing::Place;
use vbeam_native_core::term::{Atom as IrAtom, Term as _};
use vbeam_native_ir_text::explain::{explain_instruction, locate_compile_error, locate_decode_error, locate_warnings};
use vbeam_native_ir_text::{etf, Document, SyntaxError, TextTerm};

use crate::{atoms, binary, errors};

mod keys {
    rustler::atoms! {
        syntax,
        not_one_module,
        line,
        column,
        explanation,
        target,
        format,
        check_us,
        compile_us,
        size,
        two_threads,
        warnings,
        pass_us,
        listing,
        dsym,
    }
}

/// A term the VM builds from external term format bytes we wrote, or the
/// `{internal_error, Text}` reason should it refuse them (a bug).
fn from_etf<'a>(env: Env<'a>, bytes: &[u8]) -> Result<Term<'a>, Term<'a>> {
    // SAFETY: the bytes are the external term format `etf` writes.
    match unsafe { env.binary_to_term_trusted(bytes) } {
        Some((term, _)) => Ok(term),
        None => Err((atoms::internal_error(), errors::bin(env, "the VM refused a term read from text")).encode(env)),
    }
}

/// The term of a document as an Erlang term (for an error's reason: the
/// internal error in its place should the VM refuse it).
pub fn erl<'a>(env: Env<'a>, t: &TextTerm) -> Term<'a> {
    from_etf(env, &etf::term_to_etf(t)).unwrap_or_else(|refused| refused)
}

fn syntax_reason<'a>(env: Env<'a>, e: &SyntaxError) -> Term<'a> {
    (e.line, e.column, errors::bin(env, &e.message)).encode(env)
}

/// `read_terms(Text)`: `{ok, Terms}` as `file:consult` reads the text, or
/// `{error, {Line, Column, Message}}`.
pub fn read_terms<'a>(env: Env<'a>, text: Binary<'a>) -> Term<'a> {
    match etf::document_to_etf(text.as_slice()) {
        Ok(bytes) => match from_etf(env, &bytes) {
            Ok(terms) => (atoms::ok(), terms).encode(env),
            Err(refused) => (atoms::error(), refused).encode(env),
        },
        Err(e) => (atoms::error(), syntax_reason(env, &e)).encode(env),
    }
}

/// `compile_text(Text, Target, Format, Options)`: `{ok, Executable, Info}` or
/// `{error, Reason, Details}`. Reason is what `compile/3` gives for the
/// module the text holds (or `{syntax, Line, Column, Message}`,
/// `{not_one_module, Count}`); Details says where (`line`, `column`) and,
/// for an invalid instruction, what is wrong (`explanation`). With
/// `Options::listing`, Info's `listing` is the assembly listing, its
/// places in the text named `listing_name:line:column`.
pub fn compile_text<'a>(
    env: Env<'a>,
    text: Binary<'a>,
    target: Option<Isa>,
    format: Option<Format>,
    options: &Options,
    listing_name: Option<&str>,
) -> Term<'a> {
    let started = Instant::now();
    let no_details = || Term::map_new(env);
    let doc = match Document::parse(text.as_slice()) {
        Ok(doc) => doc,
        Err(e) => {
            let details = map(env, &[(keys::line(), e.line.encode(env)), (keys::column(), e.column.encode(env))]);
            return (atoms::error(), (keys::syntax(), e.line, e.column, errors::bin(env, &e.message)), details)
                .encode(env);
        }
    };
    let terms = doc.terms();
    let [module] = terms[..] else {
        return (atoms::error(), (keys::not_one_module(), terms.len()), no_details()).encode(env);
    };
    let checked = Instant::now();
    let result = compile_term_with(&module, target, format, options);
    let compiled = Instant::now();
    let isa = target.or_else(|| module_atom(&module, IrAtom::Target).and_then(|a| Isa::from_name(&a)));
    match result {
        Ok(compilation) => {
            let (bytes, warnings) = (compilation.executable, compilation.warnings);
            let fmt = format.or_else(|| module_atom(&module, IrAtom::Format).and_then(|a| Format::from_name(&a)));
            let mut info = vec![
                (keys::target(), atom_or_undefined(env, isa.map(isa_name))),
                (keys::format(), atom_or_undefined(env, fmt.map(format_name))),
                (keys::check_us(), ((checked - started).as_micros() as u64).encode(env)),
                (keys::compile_us(), ((compiled - checked).as_micros() as u64).encode(env)),
                (keys::size(), bytes.len().encode(env)),
                (keys::two_threads(), doc.read_by_two_threads().encode(env)),
            ];
            if options.time_passes && options.opt_level > 0 {
                // `[{Pass, Microseconds}]`, in the order the passes run.
                let passes: Vec<Term> = compilation
                    .pass_times
                    .iter()
                    .map(|(name, time)| (errors::bin(env, name), time.as_micros() as u64).encode(env))
                    .collect();
                info.push((keys::pass_us(), passes.encode(env)));
            }
            if options.warnings {
                // Each as `{Warning, Line, Column}`: where its instruction is
                // (the module's start should one not be found).
                let offsets: Vec<usize> =
                    locate_warnings(&module, &warnings).into_iter().map(|at| at.unwrap_or(module).offset()).collect();
                let located: Vec<Term> = warnings
                    .iter()
                    .zip(doc.line_columns(&offsets))
                    .map(|(w, (line, column))| (errors::warning(env, w), line, column).encode(env))
                    .collect();
                info.push((keys::warnings(), located.encode(env)));
            }
            if let (Some(listing), Some(name)) = (&compilation.listing, listing_name) {
                let text = listing.text(&located(&doc, &module, &listing.places(), name));
                info.push((keys::listing(), binary(env, text.as_bytes())));
            }
            if let Some(dwarf) = &compilation.debug_symbols {
                info.push((keys::dsym(), binary(env, dwarf)));
            }
            (atoms::ok(), binary(env, &bytes), map(env, &info)).encode(env)
        }
        Err(e) => {
            let located = match &e {
                Error::Decode(d) => locate_decode_error(&module, d),
                Error::Compile(c) => locate_compile_error(&module, c),
            };
            let mut details = Vec::new();
            if let Some(at) = located {
                let (line, column) = doc.line_column(at.offset());
                details.push((keys::line(), line.encode(env)));
                details.push((keys::column(), column.encode(env)));
            }
            if let Error::Decode(vbeam_native_core::error::DecodeError::InvalidInstruction { term, .. }) = &e {
                if let Some(why) = explain_instruction(term, isa) {
                    details.push((keys::explanation(), errors::bin(env, &why)));
                }
            }
            if let Some(isa) = isa {
                details.push((keys::target(), Atom::from_str(env, isa_name(isa)).expect("an atom").encode(env)));
            }
            let reason = errors::reason(env, &e, |t| erl(env, t));
            (atoms::error(), reason, map(env, &details)).encode(env)
        }
    }
}

/// `name:line:column` of each of the module's `places` (see
/// `listing::Place`) the text holds, found in one pass over the text.
fn located(doc: &Document, module: &TextTerm, places: &[Place], name: &str) -> HashMap<Place, String> {
    let functions = module.map_get(IrAtom::Functions).flatten().and_then(|fs| fs.list()).unwrap_or_default();
    let mut bodies: HashMap<usize, Vec<TextTerm>> = HashMap::new();
    let mut found = Vec::with_capacity(places.len());
    for &(n, index) in places {
        let Some(function) = functions.get(n) else { continue };
        let term = match index {
            None => Some(*function),
            Some(i) => bodies
                .entry(n)
                .or_insert_with(|| function.map_get(IrAtom::Body).flatten().and_then(|b| b.list()).unwrap_or_default())
                .get(i)
                .copied(),
        };
        found.extend(term.map(|t| ((n, index), t.offset())));
    }
    let offsets: Vec<usize> = found.iter().map(|(_, offset)| *offset).collect();
    found
        .into_iter()
        .zip(doc.line_columns(&offsets))
        .map(|((place, _), (line, column))| (place, format!("{name}:{line}:{column}")))
        .collect()
}

/// An atom value of the module, e.g. its target.
fn module_atom(module: &TextTerm, key: IrAtom) -> Option<String> {
    module.map_get(key)??.atom().map(|a| a.into_owned())
}

fn isa_name(isa: Isa) -> &'static str {
    match isa {
        Isa::X86_64 => "x86_64",
        Isa::Arm64 => "arm64",
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Elf64 => "elf64",
        Format::Macho => "macho",
        Format::Pe => "pe",
    }
}

fn atom_or_undefined<'a>(env: Env<'a>, name: Option<&str>) -> Term<'a> {
    match name {
        Some(n) => Atom::from_str(env, n).expect("an atom").encode(env),
        None => atoms::undefined().encode(env),
    }
}

fn map<'a>(env: Env<'a>, pairs: &[(Atom, Term<'a>)]) -> Term<'a> {
    let keys: Vec<Term> = pairs.iter().map(|(k, _)| k.encode(env)).collect();
    let values: Vec<Term> = pairs.iter().map(|(_, v)| *v).collect();
    Term::map_from_arrays(env, &keys, &values).expect("distinct keys")
}

/// `explain(Target, Instruction)`: what is wrong with an instruction, as
/// text, or `undefined` when nothing is.
pub fn explain<'a, T: vbeam_native_core::term::Term + std::fmt::Debug>(
    env: Env<'a>,
    isa: Option<Isa>,
    inst: &T,
) -> Term<'a> {
    match explain_instruction(inst, isa) {
        Some(why) => errors::bin(env, &why),
        None => atoms::undefined().encode(env),
    }
}
