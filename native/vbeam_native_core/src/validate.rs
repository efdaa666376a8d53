//! Whole-module checks after decoding: names unique, an entry point, every
//! label and data reference defined, every call resolvable, no register the
//! backend reserves. Produces the symbol tables later passes use.

use std::collections::{BTreeSet, HashMap};

use crate::error::CompileError;
use crate::ir::*;
use crate::operands::for_each_reg;
use crate::regs::{call_conv, preg_name, RegSet};
use crate::runtime;

pub const ENTRY_POINT: &str = "main";

/// Names resolved over the whole module.
#[derive(Debug, Clone, Default)]
pub struct Symbols {
    /// User functions by name → index in `Module::functions`.
    pub functions: HashMap<String, u32>,
    /// Data then bss entries by name → index in that order.
    pub data: HashMap<String, u32>,
    /// Builtins the program calls (provided by the runtime).
    pub builtins: BTreeSet<&'static str>,
    /// Undefined functions turned into stubs returning 0 (`allow_stubs`).
    pub stubs: BTreeSet<String>,
    /// Whether the program uses the heap (so the heap register is reserved).
    pub allocates: bool,
}

/// The name `method_call` calls.
pub fn method_symbol(type_name: &str, method: &str) -> String {
    format!("{type_name}__{method}")
}

pub fn validate(module: &Module) -> Result<Symbols, CompileError> {
    let mut sym = Symbols::default();
    for (i, f) in module.functions.iter().enumerate() {
        if sym.functions.insert(f.name.clone(), i as u32).is_some() {
            return Err(CompileError::DuplicateFunction(f.name.clone()));
        }
    }
    if !sym.functions.contains_key(ENTRY_POINT) {
        return Err(CompileError::NoEntryPoint(ENTRY_POINT.into()));
    }
    let names = module.data.iter().map(|d| &d.name).chain(module.bss.iter().map(|b| &b.name));
    for (i, name) in names.enumerate() {
        if sym.data.insert(name.clone(), i as u32).is_some() {
            return Err(CompileError::DuplicateData(name.clone()));
        }
    }
    // Calls first: which builtins are used decides whether the program
    // allocates, and so whether the heap register is reserved.
    let mut unresolved = BTreeSet::new();
    for f in &module.functions {
        for inst in &f.body {
            if let Some(name) = callee(inst) {
                if !sym.functions.contains_key(&name) {
                    unresolved.insert(name);
                }
            }
        }
    }
    let mut missing = Vec::new();
    for name in unresolved {
        if let Some(b) = runtime::builtin(&name) {
            sym.builtins.insert(b);
        } else if module.allow_stubs {
            sym.stubs.insert(name);
        } else {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        return Err(CompileError::UnresolvedSymbols(missing));
    }
    sym.allocates = module.functions.iter().any(|f| f.body.iter().any(runtime::allocates))
        || sym.builtins.iter().any(|b| runtime::builtin_allocates(b));

    let cc = call_conv(module.target);
    let mut reserved = cc.reserved;
    if sym.allocates {
        reserved = reserved.with(cc.heap);
    }
    for f in &module.functions {
        check_function(module, f, &sym, reserved)?;
    }
    Ok(sym)
}

/// The function a call instruction names.
fn callee(inst: &Inst) -> Option<String> {
    match inst {
        Inst::Call(name) => Some(name.clone()),
        Inst::MethodCall { type_name, method, .. } => Some(method_symbol(type_name, method)),
        _ => None,
    }
}

fn check_function(module: &Module, f: &Function, sym: &Symbols, reserved: RegSet) -> Result<(), CompileError> {
    let cc = call_conv(module.target);
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
    let mut defined = vec![false; f.labels.len()];
    for inst in &f.body {
        if let Inst::Label(l) = inst {
            if std::mem::replace(&mut defined[l.0 as usize], true) {
                return Err(CompileError::DuplicateLabel { function: f.name.clone(), label: f.labels[l.0 as usize].clone() });
            }
        }
    }
    if let Some(l) = defined.iter().position(|d| !d) {
        return Err(CompileError::UndefinedLabel { function: f.name.clone(), label: f.labels[l].clone() });
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
                register: preg_name(module.target, p),
            });
        }
        let data_name = match inst {
            Inst::Lea { symbol, .. } => Some(symbol),
            Inst::StringLit { source: StrSource::Data(name, _), .. } => Some(name),
            _ => None,
        };
        if let Some(name) = data_name {
            let Some(&d) = sym.data.get(name) else {
                return Err(CompileError::UndefinedData { function: f.name.clone(), index, name: name.clone() });
            };
            if let Inst::StringLit { source: StrSource::Data(_, Some(len)), .. } = inst {
                let size = data_size(module, d as usize);
                if *len > size {
                    return Err(CompileError::InvalidOperand {
                        function: f.name.clone(),
                        index,
                        reason: format!("string length {len} exceeds the {size} bytes of {name}"),
                    });
                }
            }
        }
        if let Inst::MethodCall { args, .. } = inst {
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

/// Size in bytes of data-table entry `index` (data first, then bss).
pub fn data_size(module: &Module, index: usize) -> u64 {
    match module.data.get(index) {
        Some(d) => d.bytes.len() as u64,
        None => module.bss[index - module.data.len()].size,
    }
}
