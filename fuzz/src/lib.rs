//! The fuzz targets' code, shared with the corpus replay test (`tests/`):
//! `bytes` reads arbitrary bytes as an IR module in the External Term
//! Format and as `.ir` text; `structured` builds a module from them (see
//! `gen`). Each compiles the module for its own target and format and for
//! every instruction set and file format, optimized (the default);
//! `structured` also with the optimizing layer off, which must fail the
//! same way or not at all. Compiling may fail, with an
//! error; it must not panic, hang or exhaust memory (the fuzzer's
//! `-timeout`, `-rss_limit_mb` and `-malloc_limit_mb` catch the last two).

pub mod etf;
pub mod gen;
pub mod text;

use std::fmt::Debug;

use arbitrary::Unstructured;
use eetf::Term as ETerm;
use vbeam_native_core::compile::{compile_module, compile_module_with, compile_term, Options};
use vbeam_native_core::decode::decode_module;
use vbeam_native_core::error::{CompileError, DecodeError, Error};
use vbeam_native_core::ir::{Format, Isa};
use vbeam_native_core::term::Term;

use crate::etf::Etf;

pub const ISAS: [Isa; 2] = [Isa::X86_64, Isa::Arm64];
pub const FORMATS: [Format; 3] = [Format::Elf64, Format::Macho, Format::Pe];

/// Compiles `term` with its own keys, then for every instruction set and
/// format. Returns the first result (the module's own keys).
pub fn compile_everywhere<T: Term + Debug + Send + Sync>(term: &T) -> Result<Vec<u8>, Error<T>> {
    let own = compile_term(term, None, None);
    check(&own);
    for isa in ISAS {
        for format in FORMATS {
            check(&compile_term(term, Some(isa), Some(format)));
        }
    }
    own
}

/// What any result must be: a non-empty file, or an error (compile errors
/// must print; decode errors hold the offending term, which may be huge,
/// and print it whole, so they are not printed here).
fn check<T: Term + Debug>(result: &Result<Vec<u8>, Error<T>>) {
    match result {
        Ok(file) => assert!(!file.is_empty(), "an empty executable"),
        Err(Error::Compile(e)) => drop(e.to_string()),
        Err(Error::Decode(_)) => {}
    }
}

/// The `bytes` target: `data` as ETF, and as `.ir` text.
pub fn bytes(data: &[u8]) {
    if let Some(term) = etf::decode(data) {
        compile_everywhere(&Etf(&term)).ok();
    }
    text(data);
}

/// `data` as `.ir` text, read by `vbeam_native_ir_text`'s three readers (a `Value`
/// tree, the external term format writer, the `Document` read in place),
/// which must agree: the same syntax error, or as many terms; and each
/// term must compile in place as its tree does.
pub fn text(data: &[u8]) {
    let tree = vbeam_native_ir_text::parse_all(data);
    let written = vbeam_native_ir_text::etf::document_to_etf(data);
    let doc = vbeam_native_ir_text::Document::parse(data);
    match (&tree, &written, &doc) {
        (Err(a), Err(b), Err(c)) => {
            assert_eq!(a, b, "the tree and the term writer give different errors");
            assert_eq!(a, c, "the tree and the document give different errors");
        }
        (Ok(values), Ok(_), Ok(doc)) => {
            let terms = doc.terms();
            assert_eq!(values.len(), terms.len(), "the tree and the document hold different terms");
            for (value, term) in values.iter().zip(&terms) {
                let from_tree = compile_everywhere(&value);
                let in_place = compile_everywhere(term);
                same_result(&from_tree, &in_place);
            }
        }
        _ => panic!(
            "the readers disagree: tree {:?}, writer {:?}, document {:?}",
            tree.as_ref().map(Vec::len),
            written.as_ref().map(Vec::len),
            doc.as_ref().map(|d| d.terms().len())
        ),
    }
}

/// Two compilations of one module, read two ways, give the same file or
/// the same error (decode errors compared by kind and place: they hold
/// the term, read differently).
fn same_result<A: Debug, B: Debug>(a: &Result<Vec<u8>, Error<A>>, b: &Result<Vec<u8>, Error<B>>) {
    match (a, b) {
        (Ok(x), Ok(y)) => assert!(x == y, "the tree and the document compile to different files"),
        (Err(Error::Compile(x)), Err(Error::Compile(y))) => assert_eq!(x, y, "different compile errors"),
        (Err(Error::Decode(x)), Err(Error::Decode(y))) => {
            assert_eq!(decode_error_place(x), decode_error_place(y), "different decode errors: {x:?} / {y:?}")
        }
        _ => panic!("the tree gives {:?}, the document {:?}", summary(a), summary(b)),
    }
}

/// A decode error without its term: its kind, and the key, function and
/// index it names.
fn decode_error_place<T: Debug>(e: &DecodeError<T>) -> String {
    match e {
        DecodeError::InvalidModule(_) => "invalid_module".into(),
        DecodeError::MissingKey(k) => format!("missing_key {k}"),
        DecodeError::InvalidTarget(_) => "invalid_target".into(),
        DecodeError::InvalidFormat(_) => "invalid_format".into(),
        DecodeError::InvalidField { key, .. } => format!("invalid_field {key}"),
        DecodeError::InvalidFunction { index, .. } => format!("invalid_function {index}"),
        DecodeError::InvalidFunctionField { function, key, .. } => format!("invalid_function_field {function} {key}"),
        DecodeError::InvalidInstruction { function, index, .. } => format!("invalid_instruction {function} {index}"),
        DecodeError::InvalidData(_) => "invalid_data".into(),
    }
}

/// The module the `structured` target builds from `data`.
pub fn structured_module(data: &[u8]) -> Option<ETerm> {
    let mut u = Unstructured::new(data);
    gen::Gen::new(&mut u).module().ok()
}

/// The `structured` target: a module built from `data`, compiled
/// everywhere; compiling the term and compiling the module it decodes to
/// must agree, and so must compiling it without optimizing.
pub fn structured(data: &[u8]) {
    let Some(module) = structured_module(data) else { return };
    let term = Etf(&module);
    let direct = compile_everywhere(&term);
    let decoded = decode_module(&term, None, None);
    match (&direct, decoded) {
        (Err(Error::Decode(d)), Err(e)) => assert_eq!(format!("{d:?}"), format!("{e:?}"), "decode errors differ"),
        (_, Err(e)) => panic!("decode_module failed ({e:?}) where compile_term gave {:?}", summary(&direct)),
        (_, Ok(m)) => {
            let via_module = compile_module(&m);
            match (&direct, &via_module) {
                (Ok(a), Ok(b)) => assert!(a == b, "compile_term and compile_module give different files"),
                (Err(Error::Compile(a)), Err(b)) => assert_eq!(a, b, "compile errors differ"),
                _ => {
                    panic!("compile_term gave {:?}, compile_module {:?}", summary(&direct), via_module.map(|f| f.len()))
                }
            }
            let unoptimized = compile_module_with(&m, &Options { opt_level: 0, ..Options::default() });
            match (&via_module, &unoptimized) {
                (Ok(_), Ok(_)) => {}
                // Which reference is the first out of reach depends on the
                // code: the optimizer may remove one.
                (Err(CompileError::TooLarge(_)), Err(CompileError::TooLarge(_))) => {}
                (Err(a), Err(b)) => assert_eq!(a, b, "compile errors differ with the optimizer off"),
                _ => panic!(
                    "optimized: {:?}, not: {:?}",
                    via_module.as_ref().map(Vec::len),
                    unoptimized.as_ref().map(|c| c.executable.len())
                ),
            }
        }
    }
}

fn summary<T: Debug>(r: &Result<Vec<u8>, Error<T>>) -> Result<usize, String> {
    r.as_ref().map(Vec::len).map_err(|e| format!("{e:?}"))
}
