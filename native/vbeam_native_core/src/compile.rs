//! The pipeline driver: module in, executable bytes out.
//!
//! Functions are compiled a chunk at a time, each chunk read from the
//! module's term and compiled at once by whichever thread took it: the
//! calling thread and, for a large module, workers beside it. A function's
//! code names the functions and data it refers to, resolved when the
//! functions are joined, so compiling it needs only the module's own names
//! (known before any body is read) and whether the program uses the heap,
//! which reserves a register everywhere. That last fact is known for sure
//! only once every body is read: chunks compiled before the first use of
//! the heap was seen are compiled again, with the register reserved, if one
//! turns up. The result never depends on how the work was split.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use crate::code::{self, CodeBuffer};
use crate::debug_info::{self, DebugFunction, Positions};
use crate::decode::{decode_outline, Bodies, BODIES_WALKED_TOGETHER};
use crate::error::{CompileError, DecodeError, Error};
use crate::expand;
use crate::format;
use crate::image::Image;
use crate::ir::{DataEntry, Dst, Format, Function, Inst, Isa, Module, Operand, Symbol, NO_SOURCE};
use crate::isa;
use crate::link::{self, DataSymbol, FunctionCode};
use crate::listing::{self, FunctionListing, Listing};
use crate::lower::{self, FnCtx};
use crate::operands::{CallInfo, Plan};
use crate::opt::{self, PassTimes};
use crate::os::{self, syscall, syscall::Caller};
use crate::regalloc;
use crate::regs::RegSet;
use crate::runtime;
use crate::runtime::faults::{self, TableEntry};
use crate::target::Target;
use crate::validate::{self, ModuleNames, Needs};
use crate::warnings::{self, Warning};

/// Name of the process entry point the backend adds.
pub const START_SYMBOL: &str = "__vbeam_start";

/// How a module is compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// 0 turns the optimizing layer (`opt`) off: the executable is then the
    /// one the backend wrote before it had the layer. 1 (the default)
    /// optimizes. Either way the program does the same.
    pub opt_level: u8,
    /// Also find the module's warnings (see `warnings`), which never
    /// change the executable.
    pub warnings: bool,
    /// Measure the time of each optimization pass.
    pub time_passes: bool,
    /// Also write the assembly listing (`-S`, see `listing`), which never
    /// changes the executable.
    pub listing: bool,
    /// With `-g`: the name of the module's text, which the debug
    /// information's line table refers to (see `debug_info`). The code is
    /// the same with or without.
    pub debug: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options { opt_level: 1, warnings: false, time_passes: false, listing: false, debug: None }
    }
}

/// A module compiled.
#[derive(Clone, Debug, Default)]
pub struct Compilation {
    pub executable: Vec<u8>,
    /// Empty unless `Options::warnings`.
    pub warnings: Vec<Warning>,
    /// Summed over the functions; zero unless `Options::time_passes`.
    pub pass_times: PassTimes,
    /// With `Options::listing`.
    pub listing: Option<Listing>,
    /// With `Options::debug` on Mach-O: the DWARF file of the executable's
    /// `.dSYM` bundle (see `format::macho::dsym`).
    pub debug_symbols: Option<Vec<u8>>,
}

/// Decodes an IR module term and compiles it; `target`/`format` override the
/// module's own keys.
pub fn compile_term<T: crate::term::Term + std::fmt::Debug + Send + Sync>(
    term: &T,
    target: Option<Isa>,
    format: Option<Format>,
) -> Result<Vec<u8>, Error<T>> {
    Ok(compile_term_with(term, target, format, &Options::default())?.executable)
}

/// `compile_term`, also returning the module's warnings (see `warnings`),
/// which never change the executable.
pub fn compile_term_with_warnings<T: crate::term::Term + std::fmt::Debug + Send + Sync>(
    term: &T,
    target: Option<Isa>,
    format: Option<Format>,
) -> Result<Output, Error<T>> {
    let c = compile_term_with(term, target, format, &Options { warnings: true, ..Options::default() })?;
    Ok((c.executable, c.warnings))
}

/// `compile_term` as `options` say.
pub fn compile_term_with<T: crate::term::Term + std::fmt::Debug + Send + Sync>(
    term: &T,
    target: Option<Isa>,
    format: Option<Format>,
    options: &Options,
) -> Result<Compilation, Error<T>> {
    let mut outline = decode_outline(term, target, format)?;
    if let Some(e) = outline.header_error {
        // An error in the bodies before the bad function comes first.
        outline.bodies.decode_all(&mut outline.module.functions)?;
        return Err(e.into());
    }
    outline.bodies.sources = options.debug.is_some();
    let positions = |offsets: &[usize]| term.line_columns(offsets);
    Ok(compile_from(outline.module, &outline.bodies, options, &positions)??)
}

/// An executable and the module's warnings.
type Output = (Vec<u8>, Vec<Warning>);

/// Compiles a decoded module to an executable file image.
pub fn compile_module(module: &Module) -> Result<Vec<u8>, CompileError> {
    Ok(compile_module_with(module, &Options::default())?.executable)
}

/// `compile_module` as `options` say.
pub fn compile_module_with(module: &Module, options: &Options) -> Result<Compilation, CompileError> {
    let headers = Module {
        functions: module.functions.iter().map(header).collect(),
        data: module.data.clone(),
        bss: module.bss.clone(),
        imports: module.imports.clone(),
        ..*module
    };
    let Ok(result) = compile_from(headers, &CopiedBodies(module), options, &|_| Vec::new());
    result
}

/// `compile_module`, also returning the module's warnings (see
/// `warnings`), which never change the executable.
pub fn compile_module_with_warnings(module: &Module) -> Result<Output, CompileError> {
    let c = compile_module_with(module, &Options { warnings: true, ..Options::default() })?;
    Ok((c.executable, c.warnings))
}

/// Compiles a decoded module.
pub fn compile(module: Module) -> Result<Vec<u8>, CompileError> {
    compile_module(&module)
}

/// The function without its body.
fn header(f: &Function) -> Function {
    Function {
        name: f.name.clone(),
        arity: f.arity,
        exported: f.exported,
        params: f.params.clone(),
        locals: f.locals,
        ..Function::default()
    }
}

struct FnInfo<'a> {
    arities: &'a HashMap<String, u32>,
    syscalls: &'a [(usize, Plan)],
    returns_value: bool,
}

impl CallInfo for FnInfo<'_> {
    fn call_arity(&self, name: &str) -> Option<u32> {
        self.arities.get(name).copied()
    }
    fn syscall_plan(&self, index: usize) -> Option<Plan> {
        let k = self.syscalls.binary_search_by_key(&index, |(i, _)| *i).ok()?;
        Some(self.syscalls[k].1)
    }
    fn returns_value(&self) -> bool {
        self.returns_value
    }
}

/// A module of fewer IR instructions than this is compiled on the calling
/// thread alone: starting workers would cost more than they save.
const PARALLEL_MIN_INSTRUCTIONS: usize = 20_000;
/// Workers beyond this bring little: the outline and the link stay serial.
const MAX_WORKERS: usize = 8;

/// Where the functions' bodies come from: decoded from the module's term,
/// or copied from a module already decoded.
trait BodySource: Sync {
    type Error: Send;
    /// Fills the bodies of `functions`, the module's functions from number
    /// `first` on (at most `BODIES_WALKED_TOGETHER` of them).
    fn fill(&self, first: usize, functions: &mut [Function]) -> Result<(), Self::Error>;
    /// Fills the body of `function`, the module's function number `index`,
    /// if it reads without error and has at most `max` instructions.
    fn fill_short(&self, index: usize, function: &mut Function, max: usize) -> bool;
    /// Runs a worker the compiler started (see `Term::on_worker_thread`).
    fn on_worker_thread<R>(&self, work: impl FnOnce() -> R) -> R {
        work()
    }
}

impl<T: crate::term::Term + std::fmt::Debug + Send + Sync> BodySource for Bodies<T> {
    type Error = DecodeError<T>;
    fn fill(&self, first: usize, functions: &mut [Function]) -> Result<(), DecodeError<T>> {
        self.decode(first, functions)
    }
    fn fill_short(&self, index: usize, function: &mut Function, max: usize) -> bool {
        self.decode_short(index, function, max)
    }
    fn on_worker_thread<R>(&self, work: impl FnOnce() -> R) -> R {
        T::on_worker_thread(work)
    }
}

/// The bodies of a decoded module, copied.
struct CopiedBodies<'a>(&'a Module);

impl BodySource for CopiedBodies<'_> {
    type Error = Infallible;
    fn fill(&self, first: usize, functions: &mut [Function]) -> Result<(), Infallible> {
        for (f, full) in functions.iter_mut().zip(&self.0.functions[first..]) {
            f.body = full.body.clone();
            f.labels = full.labels.clone();
        }
        Ok(())
    }
    fn fill_short(&self, index: usize, function: &mut Function, max: usize) -> bool {
        let full = &self.0.functions[index];
        if full.body.len() > max {
            return false;
        }
        function.body = full.body.clone();
        function.labels = full.labels.clone();
        true
    }
}

/// A chunk of functions read and compiled, or the error reading them.
type ChunkOutcome<E> = Result<Vec<(Compiled, Needs)>, E>;

/// One function compiled.
struct Compiled {
    name: String,
    exported: bool,
    code: Result<CodeBuffer, CompileError>,
    /// Data entries of the function's string literals.
    literals: expand::Literals,
    /// Runtime routines its code calls.
    routines: BTreeSet<String>,
    heap_reserved: bool,
    warnings: Vec<Warning>,
    pass_times: PassTimes,
    /// With `Options::listing`.
    listing: Option<FunctionListing>,
}

/// What a function's listing needs: the function's number in it (which
/// makes its label names unique) and, for each instruction lowered, which
/// instruction as written it is, when known (see `listing::origins`).
struct ListingRequest {
    number: usize,
    origins: Vec<Option<usize>>,
}

/// What compiling any one function needs: the module's names and targets.
struct FunctionCompiler<'a> {
    target: Target,
    names: &'a ModuleNames,
    arities: &'a HashMap<String, u32>,
    options: Options,
    /// When optimizing.
    inline: Option<InlineCandidates<'a>>,
}

/// The module's functions a call may be replaced by a copy of (see
/// `opt::inline`): each read, checked and judged when a call of it is
/// first met, by whichever thread meets it, and the same whichever does.
struct InlineCandidates<'a> {
    numbers: HashMap<&'a str, usize>,
    judged: Vec<OnceLock<Option<Function>>>,
    /// Function number `n` with its body, if it is short enough to copy.
    read: &'a (dyn Fn(usize) -> Option<Function> + Sync),
}

impl InlineCandidates<'_> {
    fn get(&self, name: &str, target: Target, names: &ModuleNames) -> Option<&Function> {
        let n = *self.numbers.get(name)?;
        let judge = || {
            let mut f = (self.read)(n)?;
            validate::check_function(target, &f, names, true).ok()?;
            opt::inline::inlinable(&f, target.cc).then(|| {
                regalloc::renumber(&mut f);
                f
            })
        };
        self.judged[n].get_or_init(judge).as_ref()
    }
}

impl FunctionCompiler<'_> {
    /// Checks, expands and compiles function number `index`.
    fn compile(&self, mut f: Function, index: usize, heap_reserved: bool) -> Compiled {
        let mut compiled = Compiled {
            name: f.name.clone(),
            exported: f.exported,
            code: Ok(CodeBuffer::new()),
            literals: expand::Literals::default(),
            routines: BTreeSet::new(),
            heap_reserved,
            warnings: Vec::new(),
            pass_times: PassTimes::default(),
            listing: None,
        };
        if let Err(e) = validate::check_function(self.target, &f, self.names, heap_reserved) {
            compiled.code = Err(e);
            return compiled;
        }
        let written = self.options.listing.then(|| f.body.clone());
        // Of the function as written: before anything is inserted.
        if self.options.warnings {
            compiled.warnings =
                warnings::function_warnings(self.target.isa, &f).expect("labels are checked with the function");
        }
        if let Err(e) = os::syscall::prepare(self.target, &mut f) {
            compiled.code = Err(e);
            return compiled;
        }
        // After the checks, whose errors name instructions as written.
        if let Some(candidates) = &self.inline {
            let started = Instant::now();
            let own = f.name.clone();
            let callee = |name: &str| (name != own).then(|| candidates.get(name, self.target, self.names)).flatten();
            opt::inline::inline_calls(&mut f, self.target.cc, callee);
            if self.options.time_passes {
                compiled.pass_times.inline += started.elapsed();
            }
        }
        compiled.literals = expand::expand_function(&mut f, index, &self.names.data_sizes);
        self.optimize(&mut f, &mut compiled.pass_times);
        compiled.routines = f
            .body
            .iter()
            .filter_map(runtime::callees)
            .filter(|name| !self.names.functions.contains_key(*name))
            .map(String::from)
            .collect();
        let reserved = reserved_registers(self.target, heap_reserved);
        let listing =
            written.map(|written| ListingRequest { number: index, origins: listing::origins(&written, &f.body) });
        match compile_function(self.target, &mut f, self.arities, reserved, Caller::Program, listing) {
            Ok((code, listed)) => {
                compiled.code = Ok(code);
                compiled.listing = listed.map(|mut l| {
                    l.module_function = Some(index);
                    l
                });
            }
            Err(e) => compiled.code = Err(e),
        }
        compiled
    }
}

impl FunctionCompiler<'_> {
    /// Runs the optimizing layer over `f`, if it is on.
    fn optimize(&self, f: &mut Function, pass_times: &mut PassTimes) {
        if self.options.opt_level == 0 {
            return;
        }
        let defines = |name: &str| self.names.functions.contains_key(name);
        let ctx = opt::Context { cc: self.target.cc, defines: &defines };
        opt::optimize(f, &ctx, self.options.time_passes.then_some(pass_times));
    }
}

/// Registers no function may allocate: the heap pointer's, if reserved;
/// on x86_64 UEFI xmm6-xmm15, which the Microsoft x64 convention the
/// firmware calls the program with preserves.
fn reserved_registers(target: Target, heap_reserved: bool) -> RegSet {
    let heap = if heap_reserved { RegSet::of(&[target.cc.heap]) } else { RegSet::EMPTY };
    match (target.isa, target.format()) {
        (Isa::X86_64, Format::Pe) => heap.union(RegSet::of(&(6..16).map(crate::regs::fp).collect::<Vec<_>>())),
        _ => heap,
    }
}

/// Compiles a module whose functions' bodies `source` provides. Chunks of
/// functions are handed out in module order to the calling thread and, for
/// a large module, to workers, each reading its chunk and compiling it while
/// the chunk is in cache. Errors come in this order: the source's (the first
/// in module order), the module's names, unresolved calls, then the first
/// function (in module order) that fails to check or compile.
fn compile_from<S: BodySource>(
    mut module: Module,
    source: &S,
    options: &Options,
    positions: Positions,
) -> Result<Result<Compilation, CompileError>, S::Error> {
    let names = validate::check_module(&module);
    let headers = std::mem::take(&mut module.functions);
    let mut arities: HashMap<String, u32> = headers.iter().map(|f| (f.name.clone(), f.arity)).collect();
    let target = Target::new(module.isa, module.format);
    for (name, arity) in runtime::builtin_arities(target) {
        arities.entry(name.to_string()).or_insert(arity);
    }
    let read_short = |n: usize| {
        let mut f = headers[n].clone();
        source.fill_short(n, &mut f, opt::inline::MAX_CALLEE_INSTRUCTIONS).then_some(f)
    };
    let inline = (options.opt_level > 0).then(|| InlineCandidates {
        numbers: headers.iter().enumerate().map(|(n, f)| (f.name.as_str(), n)).collect(),
        judged: (0..headers.len()).map(|_| OnceLock::new()).collect(),
        read: &read_short,
    });
    // Under bad names the bodies are only read: their errors come first.
    let compiler = names.as_ref().ok().map(|names| FunctionCompiler {
        target,
        names,
        arities: &arities,
        options: options.clone(),
        inline,
    });

    let count = headers.len();
    let chunks = count.div_ceil(BODIES_WALKED_TOGETHER);
    let next_chunk = AtomicUsize::new(0);
    let source_failed = AtomicBool::new(false);
    let heap_used = AtomicBool::new(false);
    // Chunks are taken in order, so when one fails to read, every chunk
    // before it has been taken and will be read: the first error is found
    // without taking any more.
    let take = || {
        if source_failed.load(Ordering::Relaxed) {
            return None;
        }
        Some(next_chunk.fetch_add(1, Ordering::Relaxed)).filter(|&chunk| chunk < chunks)
    };
    // The functions of chunk number `chunk`, with their bodies.
    let read = |chunk: usize| -> Result<Vec<Function>, S::Error> {
        let first = chunk * BODIES_WALKED_TOGETHER;
        let mut functions = headers[first..(first + BODIES_WALKED_TOGETHER).min(count)].to_vec();
        source.fill(first, &mut functions)?;
        if let Ok(names) = &names {
            functions.iter_mut().for_each(|f| validate::resolve_calls(f, names));
        }
        Ok(functions)
    };
    // A chunk read and compiled; `sized(instructions)` is told its size
    // before it is compiled.
    let run = |chunk: usize, sized: &mut dyn FnMut(usize)| -> ChunkOutcome<S::Error> {
        let functions = read(chunk).inspect_err(|_| source_failed.store(true, Ordering::Relaxed))?;
        sized(functions.iter().map(|f| f.body.len()).sum());
        let first = chunk * BODIES_WALKED_TOGETHER;
        let Some(compiler) = &compiler else { return Ok(Vec::new()) };
        let needs: Vec<Needs> = functions.iter().map(|f| validate::needs(f, compiler.names)).collect();
        if needs.iter().any(|n| n.allocates) {
            heap_used.store(true, Ordering::Relaxed);
        }
        // A guess until every body is read: compiled again below if wrong.
        let heap_reserved = heap_used.load(Ordering::Relaxed);
        Ok(functions
            .into_iter()
            .zip(needs)
            .enumerate()
            .map(|(i, (f, needs))| (compiler.compile(f, first + i, heap_reserved), needs))
            .collect())
    };
    let work = || {
        let mut outcomes = Vec::new();
        while let Some(chunk) = take() {
            outcomes.push((chunk, run(chunk, &mut |_| ())));
        }
        outcomes
    };

    let mut outcomes: Vec<Option<ChunkOutcome<S::Error>>> = (0..chunks).map(|_| None).collect();
    std::thread::scope(|scope| {
        let mut instructions_read = 0;
        let mut workers_started = false;
        let mut workers = Vec::new();
        while let Some(chunk) = take() {
            // Workers start as soon as the module, sized from the chunks
            // this thread has read, looks large enough to be worth them.
            let mut start_workers = |instructions: usize| {
                instructions_read += instructions;
                if workers_started || instructions_read * chunks < PARALLEL_MIN_INSTRUCTIONS * (chunk + 1) {
                    return;
                }
                workers_started = true;
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WORKERS);
                // A thread the OS refuses only means fewer workers.
                for _ in 1..threads {
                    match std::thread::Builder::new().spawn_scoped(scope, || source.on_worker_thread(work)) {
                        Ok(worker) => workers.push(worker),
                        Err(_) => break,
                    }
                }
            };
            outcomes[chunk] = Some(run(chunk, &mut start_workers));
        }
        for worker in workers {
            match worker.join() {
                Ok(done) => done.into_iter().for_each(|(chunk, outcome)| outcomes[chunk] = Some(outcome)),
                // A panic in a worker resumes in the caller.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });

    let mut compiled = Vec::with_capacity(count);
    let mut needs = Vec::with_capacity(count);
    // Chunks go untaken only after one that failed.
    for outcome in outcomes.into_iter().map_while(|o| o) {
        for (c, n) in outcome? {
            compiled.push(c);
            needs.push(n);
        }
    }
    let Some(compiler) = compiler else {
        return Ok(Err(names.as_ref().expect_err("no compiler only for bad names").clone()));
    };
    debug_assert_eq!(compiled.len(), count);
    needs.push(validate::data_needs(&module.data, compiler.names));
    let allocates = needs.iter().any(|n| n.allocates);
    if allocates {
        // Chunks compiled before the heap was seen to be used: read again
        // and compiled with the register reserved.
        for (chunk, done) in compiled.chunks_mut(BODIES_WALKED_TOGETHER).enumerate() {
            if done[0].heap_reserved {
                continue;
            }
            let first = chunk * BODIES_WALKED_TOGETHER;
            for (i, (slot, f)) in done.iter_mut().zip(read(chunk)?).enumerate() {
                *slot = compiler.compile(f, first + i, true);
            }
        }
    }
    let warnings = compiled.iter_mut().flat_map(|c| std::mem::take(&mut c.warnings)).collect();
    let mut pass_times = PassTimes::default();
    compiled.iter().for_each(|c| pass_times.add(&c.pass_times));
    let finished = finish(module, compiler, compiled, needs, allocates, &mut pass_times, positions);
    Ok(finished.map(|linked| Compilation { warnings, pass_times, ..linked }))
}

/// Resolves the program's calls, adds the runtime and links: the
/// executable, its listing and debug symbols when asked for (the warnings
/// and pass times left to the caller).
fn finish(
    module: Module,
    compiler: FunctionCompiler,
    compiled: Vec<Compiled>,
    needs: Vec<Needs>,
    allocates: bool,
    pass_times: &mut PassTimes,
    positions: Positions,
) -> Result<Compilation, CompileError> {
    let unresolved: BTreeSet<String> = needs.into_iter().flat_map(|n| n.unresolved).collect();
    let (builtins, stubs) = validate::resolve(unresolved, module.allow_stubs)?;
    if let Some(e) = compiled.iter().find_map(|c| c.code.as_ref().err()) {
        return Err(e.clone());
    }

    let target = compiler.target;
    // Calls were checked with their functions; what is left is data.
    if let Some(name) = builtins.iter().find(|name| !runtime::provides_builtin(target, name)) {
        let entry =
            module.data.iter().find(|d| d.refs.iter().any(|r| matches!(&r.symbol, Symbol::Function(f) if f == name)));
        let entry = entry.expect("only calls and data name builtins").name.clone();
        let format = target.format().name();
        return Err(CompileError::UnavailableReference { entry, name: name.clone(), format });
    }
    let routines: BTreeSet<&str> = compiled
        .iter()
        .flat_map(|c| c.routines.iter().map(String::as_str))
        .chain(builtins.iter().map(String::as_str))
        .collect();
    let routines = routines.into_iter().chain(os::start_routines(target).iter().copied());
    let rt = runtime::build(target, routines, stubs.iter().map(String::as_str));
    let mut arities = compiler.arities.clone();
    arities.extend(rt.functions.iter().map(|f| (f.name.clone(), f.arity)));
    let reserved = reserved_registers(target, allocates);
    let mut functions = Vec::with_capacity(compiled.len() + rt.functions.len() + 1);
    let (mut literal_bytes, mut literal_headers) = (Vec::new(), Vec::new());
    let listing = compiler.options.listing;
    let mut listed = Vec::new();
    for c in compiled {
        let code = c.code.expect("errors returned above");
        functions.push(FunctionCode { name: c.name, global: c.exported, code });
        literal_bytes.extend(c.literals.bytes);
        literal_headers.extend(c.literals.headers);
        listed.extend(c.listing);
    }
    let program_functions = functions.len();
    for mut f in rt.functions {
        compiler.optimize(&mut f, pass_times);
        // The runtime's IR is not the module's: no instruction is written.
        let request = listing.then(|| ListingRequest { number: functions.len(), origins: Vec::new() });
        let (code, listing) = compile_function(target, &mut f, &arities, reserved, Caller::OsLayer, request)?;
        functions.push(FunctionCode { name: f.name, global: f.exported, code });
        listed.extend(listing);
    }
    let from_ir = functions.len();
    let start = os::start(target, allocates, builtins.contains("arguments"));
    let bare = rt.bare.into_iter().map(|(name, steps)| (name, false, steps));
    for (name, global, steps) in bare.chain([(START_SYMBOL.to_string(), true, start)]) {
        let mut code = CodeBuffer::new();
        code.listing = listing.then(|| Box::new(code::Listing::new(functions.len(), Vec::new())));
        emit_bare(target, &mut code, &steps);
        listed.extend(code.listing.take().map(|l| FunctionListing::bare(&name, global, *l)));
        functions.push(FunctionCode { name, global, code });
    }
    let listing = listing.then_some(Listing { isa: target.isa, functions: listed });

    // The module's data entries and the string literals' headers
    // (writable), the literals' bytes and the runtime's texts (read-only),
    // then bss entries.
    let initialised = |d: DataEntry, read_only| DataSymbol {
        name: d.name,
        align: d.align,
        size: d.bytes.len() as u64,
        bytes: Some(d.bytes),
        refs: d.refs,
        read_only,
    };
    let mut data: Vec<DataSymbol> = module
        .data
        .into_iter()
        .chain(literal_headers)
        .map(|d| initialised(d, false))
        .chain(literal_bytes.into_iter().chain(rt.data).map(|d| initialised(d, true)))
        .chain(module.bss.into_iter().chain(rt.bss).map(|b| DataSymbol {
            name: b.name,
            align: b.align,
            size: b.size,
            bytes: None,
            refs: Vec::new(),
            read_only: false,
        }))
        .collect();
    let entry = functions.len() - 1;
    // The fault report's table of every function but the entry point: its
    // room reserved now, its bytes written once the code's place is known.
    let tabled: Vec<(usize, u32)> =
        functions.iter().enumerate().filter(|(i, _)| *i != entry).map(|(i, f)| (i, f.code.frame_ready)).collect();
    let size = faults::table_size(tabled.iter().map(|(i, _)| functions[*i].name.as_str()));
    data.push(DataSymbol {
        name: faults::FUNCTION_TABLE.into(),
        align: 8,
        bytes: Some(vec![0; size as usize]),
        size,
        refs: Vec::new(),
        read_only: true,
    });
    let debug = compiler.options.debug.as_deref().filter(|_| target.format() != Format::Pe);
    let debug_functions: Vec<DebugFunction> = match debug {
        None => Vec::new(),
        Some(_) => functions
            .iter_mut()
            .enumerate()
            .map(|(i, f)| DebugFunction {
                lines: std::mem::take(&mut f.code.lines),
                locs: std::mem::take(&mut f.code.locs),
                framed: i < from_ir,
                frame_ready: f.code.frame_ready,
                frame_size: f.code.frame_size,
                runtime: i >= program_functions,
            })
            .collect(),
    };
    let mut image = link::link(target, functions, data, entry)?;
    write_function_table(&mut image, &tabled, program_functions);
    if let Some(source_name) = debug {
        image.debug_sections = debug_info::sections(&image, &debug_functions, source_name, positions);
    }
    let executable = format::write(&image);
    let debug_symbols =
        (debug.is_some() && target.format() == Format::Macho).then(|| format::macho::dsym(&image, &executable));
    Ok(Compilation { executable, listing, debug_symbols, ..Compilation::default() })
}

/// Fills the fault report's table (`faults::FUNCTION_TABLE`) of the
/// functions `tabled`: their numbers and where their frames are ready.
/// The program's own are the first `program_functions`.
fn write_function_table(image: &mut Image, tabled: &[(usize, u32)], program_functions: usize) {
    let entries: Vec<TableEntry> = tabled
        .iter()
        .map(|&(i, ready)| TableEntry { symbol: &image.functions[i], ready, runtime: i >= program_functions })
        .collect();
    let table_addr = image.data_symbols.iter().find(|d| d.name == faults::FUNCTION_TABLE).expect("room reserved").addr;
    let bytes = faults::table_bytes(&entries, image.text_addr().wrapping_sub(table_addr) as i64);
    image.read_only_bytes_mut(faults::FUNCTION_TABLE).expect("room reserved").copy_from_slice(&bytes);
}

/// Code without a frame: the process entry point (see `os::start`) and
/// the OS layer's bare routines.
fn emit_bare(target: Target, code: &mut CodeBuffer, steps: &[os::StartStep]) {
    match target.isa {
        Isa::X86_64 => isa::x86_64::lower::emit_start(code, steps),
        Isa::Arm64 => isa::arm64::lower::emit_start(code, steps),
    }
}

/// Compiles one function, and lists it when `listing` asks.
fn compile_function(
    target: Target,
    func: &mut Function,
    arities: &HashMap<String, u32>,
    reserved: RegSet,
    caller: Caller,
    listing: Option<ListingRequest>,
) -> Result<(CodeBuffer, Option<FunctionListing>), CompileError> {
    let vregs = regalloc::renumber(func);
    let num_vregs = vregs.len();
    if !func.body.last().is_some_and(Inst::is_terminator) {
        func.body.push(Inst::Ret);
        if !func.sources.is_empty() {
            func.sources.push(NO_SOURCE);
        }
    }
    let plans = syscall::plans(target, func, caller)?;
    let returns_value = crate::operands::sets_result(func, target.cc);
    let info = FnInfo { arities, syscalls: &plans, returns_value };
    let alloc = regalloc::allocate(func, num_vregs, target.cc, &info, reserved);
    let f = FnCtx { func, alloc: &alloc, syscalls: &plans, ir_slots: ir_slots(func) };
    // About what both targets emit per IR instruction: the code grows in
    // place instead of being copied as it doubles.
    let mut buf = CodeBuffer::with_capacity(8 * func.body.len());
    if let Some(request) = &listing {
        buf.listing = Some(Box::new(code::Listing::new(request.number, func.labels.clone())));
    }
    if !func.sources.is_empty() {
        assert_eq!(func.sources.len(), func.body.len(), "every pass keeps a place per instruction");
        buf.ir_starts = Some(Vec::new());
    }
    match target.isa {
        Isa::X86_64 => lower::lower_function::<isa::x86_64::lower::X86_64>(target, &f, &mut buf)?,
        Isa::Arm64 => lower::lower_function::<isa::arm64::lower::Arm64>(target, &f, &mut buf)?,
    }
    let listed = listing.map(|request| {
        let code = *buf.listing.take().expect("kept as asked");
        FunctionListing::from_ir(target.isa, func, &vregs, &request.origins, code)
    });
    if let Some(starts) = buf.ir_starts.take() {
        let source = |i: u32| func.sources.get(i as usize).copied().unwrap_or(NO_SOURCE);
        buf.lines = starts.into_iter().map(|(offset, i)| (offset, source(i))).collect();
        buf.locs = std::mem::take(&mut func.locs);
    }
    Ok((buf, listed))
}

/// Number of IR stack slots a function uses.
fn ir_slots(func: &Function) -> u32 {
    let slot = |inst: &Inst| match inst {
        Inst::Mov { dst: Dst::Stack(n), .. } | Inst::Mov { src: Operand::Stack(n), .. } => n + 1,
        _ => 0,
    };
    func.body.iter().map(slot).max().unwrap_or(0)
}

/// The register allocation of one function on its own (for the
/// `vbeam_native_regalloc` API): each vreg of the IR with its location,
/// plus the allocation itself. Calls are assumed to pass every argument
/// register, and system calls to follow the target's Linux convention.
pub fn allocate_function(
    isa: Isa,
    mut func: Function,
) -> Result<(Vec<(u32, regalloc::Loc)>, regalloc::Allocation), CompileError> {
    let target = Target::new(isa, Format::Elf64);
    validate::check_labels(&func)?;
    let original = regalloc::renumber(&mut func);
    let plans = syscall::plans(target, &func, Caller::Program)?;
    let arities = HashMap::new();
    let returns_value = crate::operands::sets_result(&func, target.cc);
    let info = FnInfo { arities: &arities, syscalls: &plans, returns_value };
    let alloc = regalloc::allocate(&func, original.len(), target.cc, &info, RegSet::EMPTY);
    let locs = original.iter().enumerate().map(|(dense, v)| (*v, alloc.loc(dense as u32))).collect();
    Ok((locs, alloc))
}
