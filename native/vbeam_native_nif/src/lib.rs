//! The NIF: thin glue between the BEAM and `vbeam_native_core`. It reads
//! terms in place through `BeamTerm`, runs compilation on a dirty CPU
//! scheduler, and turns every failure (a panic included) into
//! `{error, Reason}`; the reasons are documented in README.md.

/// The NIF's own allocator. ERTS tunes the C library's malloc for a small
/// footprint (`+MYtt`, `+MYtp`), so the memory a compilation frees went back
/// to the OS and was faulted in again, about 900 pages per 100k
/// instructions: a tenth of the compile time. mimalloc keeps it, and its v2
/// line with dlopen-safe TLS is the one fit for a library the VM loads
/// (built without transparent huge pages: see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

extern "C" {
    // mimalloc's own (its `extended` API, declared here rather than through
    // a crate feature that needs one more dependency).
    fn mi_option_get(option: std::os::raw::c_int) -> std::os::raw::c_long;
    fn mi_option_set(option: std::os::raw::c_int, value: std::os::raw::c_long);
}

/// `mi_option_purge_delay` in mimalloc v2's `mi_option_e`, and its default.
const MI_OPTION_PURGE_DELAY: std::os::raw::c_int = 15;
const MI_DEFAULT_PURGE_DELAY: std::os::raw::c_long = 10;

/// Memory a compilation frees goes back to the OS at once rather than 10
/// ms later: a compile's peak resident memory is 3 MiB lower for a 5 MB
/// module, for a few hundred more page faults. The option is only set if
/// it reads as its documented default (a mimalloc whose options are
/// numbered otherwise is left alone).
fn tune_allocator() {
    // SAFETY: mimalloc's options may be read and set at any time; the
    // purge delay is read when memory is freed.
    unsafe {
        if mi_option_get(MI_OPTION_PURGE_DELAY) == MI_DEFAULT_PURGE_DELAY {
            mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        }
    }
}

mod errors;
mod term;
mod text;

use std::panic::{catch_unwind, AssertUnwindSafe};

use rustler::{Atom, Binary, Encoder, Env, OwnedBinary, Term};
use vbeam_native_core::code::CodeBuffer;
use vbeam_native_core::ir::{Format, Isa};
use vbeam_native_core::link::{self, DataSymbol, FunctionCode};
use vbeam_native_core::target::Target;
use vbeam_native_core::{compile, decode, format, isa, regalloc, regs};

use crate::term::BeamTerm;

mod atoms {
    rustler::atoms! {
        ok,
        error,
        undefined,
        internal_error,
        invalid_target,
        invalid_format,
        invalid_instruction,
        invalid_binary,
        locations,
        spill,
        spill_slots,
        scratch,
        saved,
        preg,
        code,
        data,
        opt,
        warnings,
        stats,
        listing,
        debug,
    }
}

/// A binary of `bytes`.
fn binary<'a>(env: Env<'a>, bytes: &[u8]) -> Term<'a> {
    let mut bin = OwnedBinary::new(bytes.len());
    bin.as_mut_slice().copy_from_slice(bytes);
    Binary::from_owned(bin, env).encode(env)
}

/// `{ok, Binary}` from bytes.
fn ok_binary<'a>(env: Env<'a>, bytes: &[u8]) -> Term<'a> {
    (atoms::ok(), binary(env, bytes)).encode(env)
}

/// Runs `f`, turning a panic into `{error, {internal_error, Message}}` so a
/// bug in the backend never takes the VM down.
fn guarded<'a>(env: Env<'a>, f: impl FnOnce() -> Term<'a>) -> Term<'a> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(t) => t,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            (atoms::error(), (atoms::internal_error(), message)).encode(env)
        }
    }
}

/// `undefined` or a target atom.
fn target_override(t: Term) -> Result<Option<Isa>, ()> {
    if t.decode::<Atom>().is_ok_and(|a| a == atoms::undefined()) {
        return Ok(None);
    }
    t.atom_to_string().ok().and_then(|n| Isa::from_name(&n)).map(Some).ok_or(())
}

fn format_override(t: Term) -> Result<Option<Format>, ()> {
    if t.decode::<Atom>().is_ok_and(|a| a == atoms::undefined()) {
        return Ok(None);
    }
    t.atom_to_string().ok().and_then(|n| Format::from_name(&n)).map(Some).ok_or(())
}

/// The optimization level `opt` (0 or 1, checked by the caller).
fn options(opt_level: u8) -> compile::Options {
    compile::Options { opt_level, ..compile::Options::default() }
}

/// `compile(Module, Isa | undefined, Format | undefined, Opt)`.
#[rustler::nif(schedule = "DirtyCpu")]
fn compile<'a>(env: Env<'a>, module: Term<'a>, target: Term<'a>, format: Term<'a>, opt: u8) -> Term<'a> {
    guarded(env, || {
        let Ok(target) = target_override(target) else {
            return (atoms::error(), (atoms::invalid_target(), target)).encode(env);
        };
        let Ok(format) = format_override(format) else {
            return (atoms::error(), (atoms::invalid_format(), format)).encode(env);
        };
        let compiled =
            term::with_env(env, || compile::compile_term_with(&BeamTerm::new(module), target, format, &options(opt)));
        match compiled {
            Ok(c) => ok_binary(env, &c.executable),
            Err(e) => (atoms::error(), errors::reason(env, &e, |t| t.in_env(env))).encode(env),
        }
    })
}

/// `compile_warnings(Module, Isa | undefined, Format | undefined, Opt)`:
/// as `compile`, `{ok, Executable, Warnings}` on success.
#[rustler::nif(schedule = "DirtyCpu")]
fn compile_warnings<'a>(env: Env<'a>, module: Term<'a>, target: Term<'a>, format: Term<'a>, opt: u8) -> Term<'a> {
    guarded(env, || {
        let Ok(target) = target_override(target) else {
            return (atoms::error(), (atoms::invalid_target(), target)).encode(env);
        };
        let Ok(format) = format_override(format) else {
            return (atoms::error(), (atoms::invalid_format(), format)).encode(env);
        };
        let options = compile::Options { warnings: true, ..options(opt) };
        let compiled =
            term::with_env(env, || compile::compile_term_with(&BeamTerm::new(module), target, format, &options));
        match compiled {
            Ok(c) => {
                let warnings: Vec<Term> = c.warnings.iter().map(|w| errors::warning(env, w)).collect();
                (atoms::ok(), binary(env, &c.executable), warnings).encode(env)
            }
            Err(e) => (atoms::error(), errors::reason(env, &e, |t| t.in_env(env))).encode(env),
        }
    })
}

/// `encode(Isa, Instruction)`: one instruction's machine code.
#[rustler::nif]
fn encode<'a>(env: Env<'a>, target: Term<'a>, inst: Term<'a>) -> Term<'a> {
    guarded(env, || {
        let bytes = match target_override(target) {
            Ok(Some(Isa::X86_64)) => term::with_env(env, || isa::x86_64::asm::assemble(&BeamTerm::new(inst))),
            Ok(Some(Isa::Arm64)) => term::with_env(env, || isa::arm64::asm::assemble(&BeamTerm::new(inst))),
            _ => return (atoms::error(), (atoms::invalid_target(), target)).encode(env),
        };
        match bytes {
            Some(b) => ok_binary(env, &b),
            None => (atoms::error(), (atoms::invalid_instruction(), inst)).encode(env),
        }
    })
}

/// `allocate(Isa, Function)`: where each vreg of one function lives.
#[rustler::nif]
fn allocate<'a>(env: Env<'a>, target: Term<'a>, function: Term<'a>) -> Term<'a> {
    guarded(env, || {
        let target = match target_override(target) {
            Ok(Some(t)) => t,
            _ => return (atoms::error(), (atoms::invalid_target(), target)).encode(env),
        };
        let func = match term::with_env(env, || decode::decode_function(&BeamTerm::new(function), 1, target)) {
            Ok(f) => f,
            Err(e) => {
                return (atoms::error(), errors::reason(env, &e.into(), |t: &BeamTerm| t.in_env(env))).encode(env)
            }
        };
        match compile::allocate_function(target, func) {
            Ok((locs, alloc)) => {
                let preg = |p| (atoms::preg(), Atom::from_str(env, &regs::preg_name(target, p)).unwrap()).encode(env);
                let locations: Vec<Term> = locs
                    .iter()
                    .map(|(v, loc)| match loc {
                        regalloc::Loc::Reg(p) => (v, preg(*p)).encode(env),
                        regalloc::Loc::Spill(s) => (v, (atoms::spill(), s)).encode(env),
                    })
                    .collect();
                let scratch: Vec<Term> = alloc.scratch.iter().map(|p| preg(*p)).collect();
                let saved: Vec<Term> = alloc.saved.iter().map(preg).collect();
                let map = Term::map_from_pairs(
                    env,
                    &[
                        (atoms::locations().encode(env), locations.encode(env)),
                        (atoms::scratch().encode(env), scratch.encode(env)),
                        (atoms::saved().encode(env), saved.encode(env)),
                        (atoms::spill_slots().encode(env), alloc.spill_slots.encode(env)),
                    ],
                )
                .expect("a map of distinct keys");
                (atoms::ok(), map).encode(env)
            }
            Err(e) => (atoms::error(), errors::reason(env, &e.into(), |t: &BeamTerm| t.in_env(env))).encode(env),
        }
    })
}

/// `link(Isa, Format, Code, Data)`: an executable whose entry point is
/// the first byte of `Code` and whose one data entry `data` holds `Data`.
/// Arguments of the wrong kind are `{error, Reason}`, like every input.
#[rustler::nif]
fn link_executable<'a>(env: Env<'a>, target: Term<'a>, format: Term<'a>, code: Term<'a>, data: Term<'a>) -> Term<'a> {
    guarded(env, || {
        let Ok(Some(target)) = target_override(target) else {
            return (atoms::error(), (atoms::invalid_target(), target)).encode(env);
        };
        let Ok(Some(format)) = format_override(format) else {
            return (atoms::error(), (atoms::invalid_format(), format)).encode(env);
        };
        let Ok(code) = Binary::from_term(code) else {
            return (atoms::error(), (atoms::invalid_binary(), atoms::code(), code)).encode(env);
        };
        let Ok(data) = Binary::from_term(data) else {
            return (atoms::error(), (atoms::invalid_binary(), atoms::data(), data)).encode(env);
        };
        let mut entry = CodeBuffer::new();
        entry.put_bytes(code.as_slice());
        let functions = vec![FunctionCode { name: "_start".into(), global: true, code: entry }];
        let data = vec![DataSymbol {
            name: "data".into(),
            align: 16,
            size: data.len() as u64,
            bytes: Some(data.as_slice().to_vec()),
            refs: Vec::new(),
            read_only: false,
        }];
        match link::link(Target::new(target, format), functions, data, 0) {
            Ok(image) => ok_binary(env, &format::write(&image)),
            Err(e) => (atoms::error(), errors::reason(env, &e.into(), |t: &BeamTerm| t.in_env(env))).encode(env),
        }
    })
}

/// `read_terms(Text)`: the terms of `.ir` text, as `file:consult` reads
/// them: `{ok, Terms}` or `{error, {Line, Column, Message}}`.
#[rustler::nif(schedule = "DirtyCpu")]
fn read_terms<'a>(env: Env<'a>, text: Term<'a>) -> Term<'a> {
    guarded(env, || match Binary::from_term(text) {
        Ok(text) => text::read_terms(env, text),
        Err(_) => (atoms::error(), (atoms::invalid_binary(), text)).encode(env),
    })
}

/// `compile_text(Text, Isa | undefined, Format | undefined, #{warnings =>
/// boolean(), opt => 0 | 1, stats => boolean(), listing => Name, debug =>
/// Name})`: compiles the module of `.ir` text: `{ok, Executable, Info}`
/// (with `warnings` in Info when asked for, `pass_us` with `stats`,
/// `listing`, the assembly listing naming the text `Name` (a binary), with
/// `listing`; with `debug`, the executable's debug information names the
/// text `Name`)
/// or `{error, Reason, Details}` (see `text::compile_text`).
#[rustler::nif(schedule = "DirtyCpu")]
fn compile_text<'a>(env: Env<'a>, text: Term<'a>, target: Term<'a>, format: Term<'a>, flags: Term<'a>) -> Term<'a> {
    guarded(env, || {
        let no_details = Term::map_new(env);
        let Ok(isa) = target_override(target) else {
            return (atoms::error(), (atoms::invalid_target(), target), no_details).encode(env);
        };
        let Ok(format_) = format_override(format) else {
            return (atoms::error(), (atoms::invalid_format(), format), no_details).encode(env);
        };
        let flag = |key: Atom| flags.map_get(key).and_then(|v| v.decode::<bool>()).unwrap_or(false);
        let listing_name = flags.map_get(atoms::listing()).ok().and_then(|v| Binary::from_term(v).ok());
        let listing_name = listing_name.map(|name| String::from_utf8_lossy(name.as_slice()).into_owned());
        let debug_name = flags.map_get(atoms::debug()).ok().and_then(|v| Binary::from_term(v).ok());
        let options = compile::Options {
            opt_level: flags.map_get(atoms::opt()).and_then(|v| v.decode()).unwrap_or(1),
            warnings: flag(atoms::warnings()),
            time_passes: flag(atoms::stats()),
            listing: listing_name.is_some(),
            debug: debug_name.map(|name| String::from_utf8_lossy(name.as_slice()).into_owned()),
        };
        match Binary::from_term(text) {
            Ok(text) => text::compile_text(env, text, isa, format_, &options, listing_name.as_deref()),
            Err(_) => (atoms::error(), (atoms::invalid_binary(), text), no_details).encode(env),
        }
    })
}

/// `explain(Isa | undefined, Instruction)`: what is wrong with an
/// instruction, as text, or `undefined` when nothing is.
#[rustler::nif]
fn explain<'a>(env: Env<'a>, target: Term<'a>, inst: Term<'a>) -> Term<'a> {
    guarded(env, || {
        let isa = target_override(target).ok().flatten();
        term::with_env(env, || text::explain(env, isa, &BeamTerm::new(inst)))
    })
}

/// Interns the IR's atoms when the library loads.
fn load(env: Env, _info: Term) -> bool {
    tune_allocator();
    term::intern_known_atoms(env);
    true
}

rustler::init!("vbeam_native_nif", load = load);
