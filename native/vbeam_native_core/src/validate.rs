//! Checks that a decoded module means something executable: names unique,
//! an entry point, every label and data reference defined, every call
//! resolvable, no register the backend reserves. Module-wide names are
//! checked first (`check_module`); each function is then checked on its
//! own (`check_function`), so functions can be checked as they arrive.

use std::collections::{BTreeSet, HashMap};

use crate::error::CompileError;
use crate::format;
use crate::ir::*;
use crate::operands::for_each_reg;
use crate::regs::preg_name;
use crate::runtime;
use crate::target::Target;

/// The module's own names, known before any function body is read.
#[derive(Debug, Clone, Default)]
pub struct ModuleNames {
    /// User functions by name → arity.
    pub functions: HashMap<String, u32>,
    /// Data then bss entries by name → size in bytes.
    pub data_sizes: HashMap<String, u64>,
}

/// The name `method_call` calls: the generator's receiver types `int
/// literal` and `float literal` are `int` and `f64`.
pub fn method_symbol(type_name: &str, method: &str) -> String {
    let type_name = match type_name {
        "int literal" => "int",
        "float literal" => "f64",
        other => other,
    };
    format!("{type_name}__{method}")
}

/// What a name the generator qualifies (`main.T__m`, `main.T[A]__m`)
/// means in the module.
#[derive(Debug, PartialEq, Eq)]
enum Qualified {
    /// The module's function of that name.
    Function(String),
    /// Several functions it could mean.
    Ambiguous(Vec<String>),
    /// Not qualified, or nothing it could mean.
    Unknown,
}

/// The generator's module prefix.
const MODULE_PREFIX: &str = "main.";

/// Resolves a name the module does not define: `main.T__m` and
/// `main.T[A]__m` mean the module's `T__m`, else its one function that is
/// a method `m` — named `m` or `U__m` — with `arity` when the call gives
/// one.
fn qualified(name: &str, arity: Option<usize>, names: &ModuleNames, arities: impl Fn(&str) -> u32) -> Qualified {
    let Some(rest) = name.strip_prefix(MODULE_PREFIX) else { return Qualified::Unknown };
    let mut plain = String::with_capacity(rest.len());
    let mut depth = 0;
    for c in rest.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            c if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    if names.functions.contains_key(&plain) {
        return Qualified::Function(plain);
    }
    let method = plain.rsplit("__").next().unwrap_or(&plain);
    let mut candidates: Vec<String> = names
        .functions
        .keys()
        .filter(|f| f.as_str() == method || f.strip_suffix(method).is_some_and(|t| t.ends_with("__")))
        .filter(|f| arity.is_none_or(|a| arities(f) as usize == a))
        .cloned()
        .collect();
    match candidates.len() {
        0 => Qualified::Unknown,
        1 => Qualified::Function(candidates.pop().expect("one candidate")),
        _ => {
            candidates.sort();
            Qualified::Ambiguous(candidates)
        }
    }
}

/// Points the function's calls of names the generator qualifies at the
/// module's functions they mean (see `qualified`); ambiguous ones are
/// left for `check_function` to report.
pub fn resolve_calls(f: &mut Function, names: &ModuleNames) {
    let arity = |name: &str| names.functions.get(name).copied().unwrap_or(0);
    for inst in &mut f.body {
        match inst {
            Inst::Call(name) | Inst::Lea { symbol: Symbol::Function(name), .. }
                if !names.functions.contains_key(name.as_str()) =>
            {
                if let Qualified::Function(resolved) = qualified(name, None, names, arity) {
                    *name = resolved;
                }
            }
            Inst::MethodCall(call) => {
                let symbol = method_symbol(&call.type_name, &call.method);
                if names.functions.contains_key(&symbol) {
                    continue;
                }
                if let Qualified::Function(callee) = qualified(&symbol, Some(call.args.len()), names, arity) {
                    let args = std::mem::take(&mut call.args);
                    *inst = Inst::CallWith { callee, args, dst: Some(call.dst) };
                }
            }
            _ => {}
        }
    }
}

/// Checks the module's names: functions and data entries unique, an entry
/// point.
pub fn check_module(module: &Module) -> Result<ModuleNames, CompileError> {
    let data_names = module.data.iter().map(|d| &d.name).chain(module.bss.iter().map(|b| &b.name));
    if let Some(name) = module.functions.iter().map(|f| &f.name).chain(data_names).find(|n| runtime::is_reserved(n)) {
        return Err(CompileError::ReservedName(name.clone()));
    }
    let mut names = ModuleNames::default();
    for f in &module.functions {
        if names.functions.insert(f.name.clone(), f.arity).is_some() {
            return Err(CompileError::DuplicateFunction(f.name.clone()));
        }
    }
    if !names.functions.contains_key(ENTRY_POINT) {
        return Err(CompileError::NoEntryPoint(ENTRY_POINT.into()));
    }
    // Relocatable images are loaded at any multiple of some page: no
    // larger alignment can be kept.
    let target = Target::new(module.isa, module.format);
    let writer = format::writer(target);
    let max_align = writer.max_data_align(target);
    // The entries must fit the address space the format describes, laid
    // out at their alignments: sums that would wrap are refused.
    let mut extent: Option<u64> = Some(0);
    let data = module.data.iter().map(|d| (&d.name, d.align, d.bytes.len() as u64));
    for (name, align, size) in data.chain(module.bss.iter().map(|b| (&b.name, b.align, b.size))) {
        if names.data_sizes.insert(name.clone(), size).is_some() {
            return Err(CompileError::DuplicateData(name.clone()));
        }
        if align > max_align {
            return Err(CompileError::UnsupportedAlignment { entry: name.clone(), align, max_align });
        }
        extent = extent.and_then(|e| e.checked_next_multiple_of(align)).and_then(|e| e.checked_add(size));
    }
    let max_data = writer.max_data_size();
    if extent.is_none_or(|e| e > max_data) {
        return Err(CompileError::TooLarge(format!(
            "the data and bss entries need more than the {max_data} bytes a {} image can hold",
            target.format().name()
        )));
    }
    for d in &module.data {
        for r in &d.refs {
            if let Symbol::Data(name) = &r.symbol {
                if !names.data_sizes.contains_key(name) {
                    return Err(CompileError::UndefinedReference { entry: d.name.clone(), name: name.clone() });
                }
            }
        }
    }
    Ok(names)
}

/// What a function needs from beyond the module's own functions.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    /// Names it calls that are not functions of the module.
    pub unresolved: BTreeSet<String>,
    /// Whether it uses the heap (so every function must leave the heap
    /// register alone), counting the builtins it calls.
    pub allocates: bool,
}

pub fn needs(f: &Function, names: &ModuleNames) -> Needs {
    let mut needs = Needs::default();
    for inst in &f.body {
        needs.allocates |= runtime::allocates(inst);
        if let Some(name) = callee(inst) {
            // An ambiguous qualified name is `check_function`'s error.
            let arity_of = |f: &str| names.functions.get(f).copied().unwrap_or(0);
            let ambiguous = || matches!(qualified(&name, call_arity(inst), names, arity_of), Qualified::Ambiguous(_));
            if !names.functions.contains_key(&name) && !ambiguous() {
                needs.allocates |= runtime::builtin_allocates(&name);
                needs.unresolved.insert(name);
            }
        }
    }
    needs
}

/// What the module's data needs: the functions whose addresses it holds
/// that are not the module's own.
pub fn data_needs(data: &[DataEntry], names: &ModuleNames) -> Needs {
    let mut needs = Needs::default();
    for r in data.iter().flat_map(|d| &d.refs) {
        if let Symbol::Function(name) = &r.symbol {
            if !names.functions.contains_key(name) {
                needs.allocates |= runtime::builtin_allocates(name);
                needs.unresolved.insert(name.clone());
            }
        }
    }
    needs
}

/// Splits the names called but not defined into builtins and, when the
/// module allows them, stubs; fails naming the rest. The backend's own
/// routines are never the program's to call, not even as stubs.
pub fn resolve(
    unresolved: BTreeSet<String>,
    allow_stubs: bool,
) -> Result<(BTreeSet<String>, BTreeSet<String>), CompileError> {
    let mut builtins = BTreeSet::new();
    let mut stubs = BTreeSet::new();
    let mut missing = Vec::new();
    if let Some(name) = unresolved.iter().find(|name| runtime::is_reserved(name)) {
        return Err(CompileError::ReservedName(name.clone()));
    }
    for name in unresolved {
        if runtime::is_builtin(&name) {
            builtins.insert(name);
        } else if allow_stubs {
            stubs.insert(name);
        } else {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        return Err(CompileError::UnresolvedSymbols(missing));
    }
    Ok((builtins, stubs))
}

/// How many arguments a call passes, when the instruction says.
fn call_arity(inst: &Inst) -> Option<usize> {
    match inst {
        Inst::MethodCall(call) => Some(call.args.len()),
        _ => None,
    }
}

/// The function a call instruction names, or whose address it takes.
fn callee(inst: &Inst) -> Option<String> {
    match inst {
        Inst::Call(name) | Inst::Lea { symbol: Symbol::Function(name), .. } => Some(name.clone()),
        Inst::MethodCall(call) => Some(method_symbol(&call.type_name, &call.method)),
        _ => None,
    }
}

/// Every label of `f` is defined exactly once (liveness and lowering
/// follow each branch to its label).
pub fn check_labels(f: &Function) -> Result<(), CompileError> {
    let mut defined = vec![false; f.labels.len()];
    for inst in &f.body {
        if let Inst::Label(l) = inst {
            if std::mem::replace(&mut defined[l.0 as usize], true) {
                return Err(CompileError::DuplicateLabel {
                    function: f.name.clone(),
                    label: f.labels[l.0 as usize].clone(),
                });
            }
        }
    }
    if let Some(l) = defined.iter().position(|d| !d) {
        return Err(CompileError::UndefinedLabel { function: f.name.clone(), label: f.labels[l].clone() });
    }
    Ok(())
}

/// Checks one function; `heap_reserved` says whether the program uses the
/// heap register.
pub fn check_function(
    target: Target,
    f: &Function,
    names: &ModuleNames,
    heap_reserved: bool,
) -> Result<(), CompileError> {
    let cc = target.cc;
    let reserved = if heap_reserved { cc.reserved.with(cc.heap) } else { cc.reserved };
    if f.params.len() > cc.args.len() {
        return Err(CompileError::InvalidFunction {
            function: f.name.clone(),
            reason: format!("{} parameters; at most {} are passed in registers", f.params.len(), cc.args.len()),
        });
    }
    if f.params.iter().any(|p| matches!(p, Reg::P(_))) {
        return Err(CompileError::InvalidFunction {
            function: f.name.clone(),
            reason: "parameters must be vregs".into(),
        });
    }
    check_labels(f)?;
    // A jcc tests the flags of the cmp right before it (other jccs,
    // comments and nops may come between): anything else may change them.
    let mut flags_from_cmp = false;
    for (i, inst) in f.body.iter().enumerate() {
        match inst {
            Inst::Cmp { .. } => flags_from_cmp = true,
            Inst::Jcc(..) if !flags_from_cmp => {
                return Err(CompileError::JccWithoutCmp { function: f.name.clone(), index: i + 1 })
            }
            Inst::Jcc(..) | Inst::Nop => {}
            _ => flags_from_cmp = false,
        }
    }
    for (i, inst) in f.body.iter().enumerate() {
        let index = i + 1;
        let mut bad_reg = None;
        for_each_reg(inst, |r, _| {
            if let Reg::P(p) = r {
                if reserved.contains(p) && bad_reg.is_none() {
                    bad_reg = Some(p);
                }
            }
        });
        if let Some(p) = bad_reg {
            return Err(CompileError::ReservedRegister {
                function: f.name.clone(),
                index,
                register: preg_name(target.isa, p),
            });
        }
        let data_name = match inst {
            Inst::Lea { symbol: Symbol::Data(name), .. } => Some(name),
            Inst::StringLit { source: StrSource::Data(name, _), .. } => Some(name),
            _ => None,
        };
        if let Some(name) = data_name {
            let Some(&size) = names.data_sizes.get(name) else {
                return Err(CompileError::UndefinedData { function: f.name.clone(), index, name: name.clone() });
            };
            if let Inst::StringLit { source: StrSource::Data(_, Some(len)), .. } = inst {
                if *len > size {
                    return Err(CompileError::InvalidOperand {
                        function: f.name.clone(),
                        index,
                        reason: format!("string length {len} exceeds the {size} bytes of {name}"),
                    });
                }
            }
        }
        if let Some(name) = callee(inst).filter(|name| !names.functions.contains_key(name)) {
            if runtime::is_builtin(&name) && !runtime::provides_builtin(target, &name) {
                let format = target.format().name();
                return Err(CompileError::UnavailableBuiltin { function: f.name.clone(), index, name, format });
            }
            let arity_of = |f: &str| names.functions.get(f).copied().unwrap_or(0);
            if let Qualified::Ambiguous(candidates) = qualified(&name, call_arity(inst), names, arity_of) {
                return Err(CompileError::AmbiguousCall { function: f.name.clone(), index, name, candidates });
            }
        }
        if let Inst::MethodCall(call) = inst {
            let args = &call.args;
            if args.len() > cc.args.len() {
                return Err(CompileError::InvalidOperand {
                    function: f.name.clone(),
                    index,
                    reason: format!("{} arguments; at most {} are passed in registers", args.len(), cc.args.len()),
                });
            }
        }
    }
    Ok(())
}
