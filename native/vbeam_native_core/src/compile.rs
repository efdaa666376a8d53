//! The pipeline driver: module in, executable bytes out.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use crate::code::{CodeBuffer, RelocTarget};
use crate::decode::decode_module;
use crate::error::{CompileError, Error};
use crate::expand;
use crate::ir::{Dst, Format, Function, Inst, Module, Operand, Target};
use crate::isa;
use crate::link::{self, DataSymbol, FunctionSymbol, LinkInput};
use crate::lower::{FnCtx, ProgramCtx};
use crate::operands::CallInfo;
use crate::regalloc;
use crate::regs::{call_conv, RegSet};
use crate::runtime;
use crate::syscall;
use crate::validate::{self, Symbols};

/// Name of the process entry point the backend adds.
pub const START_SYMBOL: &str = "_start";
/// Functions start on this boundary (a cache-line fraction both targets like).
const FUNCTION_ALIGN: usize = 16;

/// Decodes an IR module term and compiles it; `target`/`format` override the
/// module's own keys.
pub fn compile_term<T: crate::term::Term + std::fmt::Debug>(
    term: &T,
    target: Option<Target>,
    format: Option<Format>,
) -> Result<Vec<u8>, Error<T>> {
    let module = decode_module(term, target, format)?;
    Ok(compile(module)?)
}

/// Compiles a decoded module to an executable file image.
pub fn compile_module(module: &Module) -> Result<Vec<u8>, CompileError> {
    compile(module.clone())
}

struct FnInfo<'a> {
    arities: &'a HashMap<String, u32>,
    syscalls: &'a [(usize, syscall::Plan)],
    returns_value: bool,
}

impl CallInfo for FnInfo<'_> {
    fn call_arity(&self, name: &str) -> Option<u32> {
        self.arities.get(name).copied()
    }
    fn syscall_args(&self, index: usize) -> Option<u32> {
        let k = self.syscalls.binary_search_by_key(&index, |(i, _)| *i).ok()?;
        Some(self.syscalls[k].1.args)
    }
    fn returns_value(&self) -> bool {
        self.returns_value
    }
}

/// Compiles a decoded module, consuming it.
pub fn compile(mut module: Module) -> Result<Vec<u8>, CompileError> {
    let symbols = validate::validate(&module)?;
    expand::expand_module(&mut module);
    add_runtime(&mut module, &symbols);

    let functions: HashMap<String, u32> =
        module.functions.iter().enumerate().map(|(i, f)| (f.name.clone(), i as u32)).collect();
    let arities: HashMap<String, u32> = module.functions.iter().map(|f| (f.name.clone(), f.arity)).collect();
    let data_symbols: Vec<DataSymbol> = module
        .data
        .iter()
        .map(|d| DataSymbol { name: d.name.clone(), align: d.align, size: d.bytes.len() as u64, bytes: Some(d.bytes.clone()) })
        .chain(module.bss.iter().map(|b| DataSymbol { name: b.name.clone(), align: b.align, size: b.size, bytes: None }))
        .collect();
    let data: HashMap<String, u32> = data_symbols.iter().enumerate().map(|(i, d)| (d.name.clone(), i as u32)).collect();
    let ctx = ProgramCtx { target: module.target, format: module.format, functions: &functions, data: &data };
    let cc = call_conv(module.target);
    let reserved = if symbols.allocates { RegSet::of(&[cc.heap]) } else { RegSet::EMPTY };

    let mut text: Vec<u8> = Vec::new();
    let mut fixups = Vec::new();
    let mut syms = Vec::with_capacity(module.functions.len() + 1);
    let pad = match module.target {
        Target::X86_64 => 0xcc, // int3
        Target::Arm64 => 0,     // udf #0
    };
    let buffers = compile_functions(&ctx, &mut module.functions, &arities, reserved)?;
    for (func, buf) in module.functions.iter().zip(buffers) {
        text.resize(text.len().next_multiple_of(FUNCTION_ALIGN), pad);
        let offset = text.len() as u32;
        fixups.extend(buf.fixups.iter().map(|f| crate::code::Fixup { offset: f.offset + offset, ..*f }));
        text.extend_from_slice(&buf.bytes);
        syms.push(FunctionSymbol { name: func.name.clone(), offset, size: buf.bytes.len() as u32, global: func.exported });
    }
    text.resize(text.len().next_multiple_of(FUNCTION_ALIGN), pad);
    let mut buf = CodeBuffer::new();
    let main = functions[validate::ENTRY_POINT];
    match module.target {
        Target::X86_64 => {
            isa::x86_64::lower::emit_entry(&mut buf, main, exit_number(module.target, module.format)?, symbols.allocates)
        }
        Target::Arm64 => isa::arm64::lower::emit_entry(&mut buf, main, module.format, symbols.allocates),
    }
    let offset = text.len() as u32;
    fixups.extend(buf.fixups.iter().map(|f| crate::code::Fixup { offset: f.offset + offset, ..*f }));
    text.extend_from_slice(&buf.bytes);
    syms.push(FunctionSymbol { name: START_SYMBOL.into(), offset, size: buf.bytes.len() as u32, global: true });
    debug_assert!(fixups.iter().all(|f| !matches!(f.target, RelocTarget::Label(_))));

    link::link(&LinkInput {
        target: module.target,
        format: module.format,
        text,
        fixups,
        entry: syms.len() as u32 - 1,
        functions: syms,
        data: data_symbols,
    })
}

/// The OS number of `exit` for the entry stub.
fn exit_number(target: Target, format: Format) -> Result<i64, CompileError> {
    let ir_exit = match target {
        Target::X86_64 => 60,
        Target::Arm64 => 1,
    };
    let plan = syscall::plan(target, format, Some(ir_exit))
        .map_err(|reason| CompileError::Unsupported { target: target.name(), format: format.name(), reason })?;
    Ok(plan.number.unwrap_or(ir_exit))
}

/// Appends the runtime routines, stubs and their data the program needs.
fn add_runtime(module: &mut Module, symbols: &Symbols) {
    let mut needed = BTreeSet::new();
    for f in &module.functions {
        for inst in &f.body {
            if let Some(name) = runtime::callees(inst) {
                if !symbols.functions.contains_key(name) {
                    needed.insert(name.to_string());
                }
            }
        }
    }
    let rt = runtime::build(
        module.target,
        module.format,
        needed.iter().map(String::as_str),
        symbols.stubs.iter().map(String::as_str),
    );
    module.functions.extend(rt.functions);
    module.data.extend(rt.data);
    module.bss.extend(rt.bss);
}

/// Below this many IR instructions a module is compiled on the calling
/// thread: starting workers would cost more than they save.
const PARALLEL_MIN_INSTRUCTIONS: usize = 20_000;
/// Workers beyond this bring little: linking and decoding stay serial.
const MAX_WORKERS: usize = 8;
/// Shares of the work per thread.
const SHARES_PER_WORKER: usize = 4;

/// Compiles every function, on several threads for large modules. Each
/// function is independent once the module is validated, so the result,
/// errors included (the first in function order), does not depend on how
/// the work was split.
fn compile_functions(
    ctx: &ProgramCtx,
    functions: &mut [Function],
    arities: &HashMap<String, u32>,
    reserved: RegSet,
) -> Result<Vec<CodeBuffer>, CompileError> {
    let total: usize = functions.iter().map(|f| f.body.len()).sum();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WORKERS);
    if workers < 2 || total < PARALLEL_MIN_INSTRUCTIONS {
        return functions.iter_mut().map(|f| compile_function(ctx, f, arities, reserved)).collect();
    }
    // Contiguous shares of about equal instruction counts, a few per
    // thread so that threads finishing early take more.
    let share = total.div_ceil(workers * SHARES_PER_WORKER);
    let mut shares: Vec<(usize, &mut [Function])> = Vec::new();
    let mut rest = functions;
    while !rest.is_empty() {
        let mut len = 0;
        let mut count = 0;
        while len < rest.len() && (count < share || len == 0) {
            count += rest[len].body.len();
            len += 1;
        }
        let (share, tail) = rest.split_at_mut(len);
        shares.push((shares.len(), share));
        rest = tail;
    }
    let results: Vec<Mutex<Vec<Result<CodeBuffer, CompileError>>>> =
        shares.iter().map(|_| Mutex::new(Vec::new())).collect();
    let queue = Mutex::new(shares);
    let work = || loop {
        let Some((index, share)) = queue.lock().expect("no panic while queued").pop() else { break };
        let buffers = share.iter_mut().map(|f| compile_function(ctx, f, arities, reserved)).collect();
        *results[index].lock().expect("each share written once") = buffers;
    };
    // The calling thread works too; a thread the OS refuses only means
    // fewer helpers. A panic in any thread resumes in the caller.
    std::thread::scope(|scope| {
        for _ in 1..workers {
            if std::thread::Builder::new().spawn_scoped(scope, work).is_err() {
                break;
            }
        }
        work();
    });
    results.into_iter().flat_map(|r| r.into_inner().expect("threads joined")).collect()
}

fn compile_function(
    ctx: &ProgramCtx,
    func: &mut Function,
    arities: &HashMap<String, u32>,
    reserved: RegSet,
) -> Result<CodeBuffer, CompileError> {
    let num_vregs = regalloc::renumber(func).len();
    if !func.body.last().is_some_and(Inst::is_terminator) {
        func.body.push(Inst::Ret);
    }
    let mut plans = Vec::new();
    for (i, number) in syscall::numbers(func, ctx.target) {
        let plan = syscall::plan(ctx.target, ctx.format, number).map_err(|reason| CompileError::InvalidSyscall {
            function: func.name.clone(),
            index: i + 1,
            reason,
        })?;
        plans.push((i, plan));
    }
    let returns_value = crate::operands::sets_result(func, call_conv(ctx.target));
    let info = FnInfo { arities, syscalls: &plans, returns_value };
    let alloc = regalloc::allocate(func, num_vregs, call_conv(ctx.target), &info, reserved)?;
    let f = FnCtx { func, alloc: &alloc, syscalls: &plans, ir_slots: ir_slots(func) };
    let mut buf = CodeBuffer::new();
    match ctx.target {
        Target::X86_64 => isa::x86_64::lower::lower_function(ctx, &f, &mut buf)?,
        Target::Arm64 => isa::arm64::lower::lower_function(ctx, &f, &mut buf)?,
    }
    // Linking needs only the function's name: release the body now, while
    // it is still warm, to lower the peak memory of large modules.
    func.body = Vec::new();
    Ok(buf)
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
pub fn allocate_function(target: Target, mut func: Function) -> Result<(Vec<(u32, regalloc::Loc)>, regalloc::Allocation), CompileError> {
    let original = regalloc::renumber(&mut func);
    let mut plans = Vec::new();
    for (i, number) in syscall::numbers(&func, target) {
        let plan = syscall::plan(target, Format::Elf64, number).map_err(|reason| CompileError::InvalidSyscall {
            function: func.name.clone(),
            index: i + 1,
            reason,
        })?;
        plans.push((i, plan));
    }
    let arities = HashMap::new();
    let returns_value = crate::operands::sets_result(&func, call_conv(target));
    let info = FnInfo { arities: &arities, syscalls: &plans, returns_value };
    let alloc = regalloc::allocate(&func, original.len(), call_conv(target), &info, RegSet::EMPTY)?;
    let locs = original.iter().enumerate().map(|(dense, v)| (*v, alloc.loc(dense as u32))).collect();
    Ok((locs, alloc))
}
