//! Warnings: each kind found on small IR, none where some path writes the
//! vreg, never a change to the executable, and on random functions, the
//! fixtures and the V generator's own output exactly the reads that a
//! brute-force dataflow over single instructions finds.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use vbeam_native_core::decode::decode_module;
use vbeam_native_core::ir::{BinOp, Cond, Dst, Function, Inst, Isa, Label, Module, Operand, Reg, Src};
use vbeam_native_core::operands::{for_each_reg, Role};
use vbeam_native_core::warnings::{function_warnings, module_warnings, Register, Warning};
use vbeam_native_core::{compile_module, compile_module_with_warnings, compile_term, compile_term_with_warnings};

/// A module whose `main` has `body` (and a function `f` of one parameter
/// with `f_body`).
fn module_text(target: &str, body: &str, f_body: &str) -> String {
    let f = format!(
        "#{{name => <<\"f\">>, arity => 1, exported => false, params => [{{vreg, 0}}], locals => 8, body => [{f_body}]}}"
    );
    common::module_text(target, "elf64", &format!("{}, {f}", common::main_function(8, body)), "", "")
}

/// The warnings of a module whose `main` has `body`, checking that they
/// leave the executable as it is without them.
fn warnings(target: &str, body: &str) -> Vec<Warning> {
    warnings_with_f(target, body, "ret")
}

fn warnings_with_f(target: &str, body: &str, f_body: &str) -> Vec<Warning> {
    let term = vbeam_native_ir_text::parse(&module_text(target, body, f_body)).unwrap();
    let plain = compile_term(&&term, None, None).unwrap();
    let (binary, warnings) = compile_term_with_warnings(&&term, None, None).unwrap();
    assert!(binary == plain, "the warnings changed the executable");
    warnings
}

fn unwritten(index: usize, vreg: u32) -> Warning {
    Warning::UnwrittenRead { function: "main".into(), index, vreg }
}

const DIAMOND_HEAD: &str = "{mov_imm, {vreg, 0}, 1}, {cmp, {vreg, 0}, {imm, 0}}, {jcc, eq, <<\"else\">>}";

#[test]
fn a_read_nothing_writes_is_reported() {
    let found = warnings(
        "x86_64",
        "{mov_imm, {vreg, 1}, 2}, {add, {vreg, 2}, {vreg, 1}, {vreg, 7}}, {print_int, {vreg, 2}}, ret",
    );
    assert_eq!(found, [unwritten(2, 7)]);
    assert_eq!(found[0].to_string(), "warning: main, instruction 2: vreg 7 is read but no path writes it");
}

#[test]
fn a_read_before_the_only_write_is_reported() {
    let found = warnings(
        "arm64",
        "{print_int, {vreg, 3}}, {print_int, {vreg, 3}}, {mov_imm, {vreg, 3}, 1}, {print_int, {vreg, 3}}, ret",
    );
    assert_eq!(found, [unwritten(1, 3), unwritten(2, 3)]);
}

#[test]
fn an_instruction_reading_what_it_writes_reads_first() {
    let found =
        warnings("x86_64", "{add, {vreg, 1}, {vreg, 1}, {imm, 1}}, {neg, {vreg, 2}}, {print_int, {vreg, 1}}, ret");
    assert_eq!(found, [unwritten(1, 1), unwritten(2, 2)]);
}

#[test]
fn parameters_are_written_at_the_entry() {
    let f = "{add, {vreg, 1}, {vreg, 0}, {vreg, 2}}, {mov, {preg, rax}, {vreg, 1}}, ret";
    let found = warnings_with_f("x86_64", "ret", f);
    assert_eq!(found, [Warning::UnwrittenRead { function: "f".into(), index: 1, vreg: 2 }]);
}

#[test]
fn a_write_on_one_arm_of_a_diamond_is_a_path() {
    let one_arm = format!(
        "{DIAMOND_HEAD}, {{mov_imm, {{vreg, 1}}, 7}}, {{jmp, <<\"join\">>}}, {{label, <<\"else\">>}}, nop,
         {{label, <<\"join\">>}}, {{print_int, {{vreg, 1}}}}, ret"
    );
    assert_eq!(warnings("x86_64", &one_arm), []);
    // The other arm itself is no path from the write.
    let other_arm = format!(
        "{DIAMOND_HEAD}, {{mov_imm, {{vreg, 1}}, 7}}, {{jmp, <<\"join\">>}}, {{label, <<\"else\">>}},
         {{print_int, {{vreg, 1}}}}, {{label, <<\"join\">>}}, ret"
    );
    assert_eq!(warnings("x86_64", &other_arm), [unwritten(7, 1)]);
}

#[test]
fn a_write_on_a_loops_back_edge_is_a_path() {
    // The first turn reads vreg 2 unwritten, the later ones what the end
    // of the previous turn wrote.
    let back_edge = "{mov_imm, {vreg, 1}, 0}, {label, <<\"loop\">>}, {print_int, {vreg, 2}},
        {add, {vreg, 1}, {vreg, 1}, {imm, 1}}, {cmp, {vreg, 1}, {imm, 3}}, {jcc, ge, <<\"out\">>},
        {mov_imm, {vreg, 2}, 5}, {jmp, <<\"loop\">>}, {label, <<\"out\">>}, ret";
    assert_eq!(warnings("x86_64", back_edge), []);
    // A one-block loop whose write follows its read.
    let same_block = "{mov_imm, {vreg, 1}, 0}, {label, <<\"loop\">>}, {print_int, {vreg, 2}}, {mov_imm, {vreg, 2}, 5},
        {add, {vreg, 1}, {vreg, 1}, {imm, 1}}, {cmp, {vreg, 1}, {imm, 3}}, {jcc, lt, <<\"loop\">>}, ret";
    assert_eq!(warnings("arm64", same_block), []);
    // After the loop, where no turn wrote it.
    let after_loop = "{mov_imm, {vreg, 1}, 0}, {label, <<\"loop\">>}, {add, {vreg, 1}, {vreg, 1}, {imm, 1}},
        {cmp, {vreg, 1}, {imm, 3}}, {jcc, lt, <<\"loop\">>}, {print_int, {vreg, 2}}, {mov_imm, {vreg, 2}, 5}, ret";
    assert_eq!(warnings("x86_64", after_loop), [unwritten(6, 2)]);
}

#[test]
fn unreachable_code_is_not_looked_at() {
    // Its read never runs; its write never happens.
    let found = warnings(
        "x86_64",
        "{jmp, <<\"l\">>}, {print_int, {vreg, 4}}, {mov_imm, {vreg, 1}, 1}, {label, <<\"l\">>}, {print_int, {vreg, 1}}, ret",
    );
    assert_eq!(found, [unwritten(5, 1)]);
}

#[test]
fn a_cmp_of_a_register_with_itself_is_reported() {
    let found = warnings(
        "x86_64",
        "{mov_imm, {vreg, 1}, 2}, {cmp, {vreg, 1}, {vreg, 1}}, {jcc, eq, <<\"a\">>}, {label, <<\"a\">>},
         {cmp, {preg, rax}, {preg, rax}}, {cmp, {vreg, 1}, {vreg, 2}}, {cmp, {preg, rax}, {imm, 0}}, ret",
    );
    let cmp = |index, reg| Warning::CmpWithItself { function: "main".into(), index, reg };
    assert_eq!(found, [cmp(2, Register::Vreg(1)), cmp(5, Register::Preg("rax".into())), unwritten(6, 2)]);
    assert_eq!(found[1].to_string(), "warning: main, instruction 5: cmp of rax with itself");
    assert_eq!(warnings("arm64", "{cmp, {preg, x3}, {preg, x3}}, ret"), [cmp(1, Register::Preg("x3".into()))]);
}

#[test]
fn the_module_paths_give_the_same_executable() {
    let text = module_text("arm64", "{print_int, {vreg, 5}}, {cmp, {vreg, 5}, {vreg, 5}}, ret", "ret");
    let module = decode_module(&&vbeam_native_ir_text::parse(&text).unwrap(), None, None).unwrap();
    let (binary, warnings) = compile_module_with_warnings(&module).unwrap();
    assert!(binary == compile_module(&module).unwrap());
    let cmp = Warning::CmpWithItself { function: "main".into(), index: 2, reg: Register::Vreg(5) };
    assert_eq!(warnings, [unwritten(1, 5), unwritten(2, 5), cmp]);
}

#[test]
fn a_module_that_does_not_compile_gives_its_error() {
    let text = module_text("x86_64", "{jmp, <<\"nowhere\">>}", "ret");
    let term = vbeam_native_ir_text::parse(&text).unwrap();
    assert_eq!(
        compile_term_with_warnings(&&term, None, None).unwrap_err().to_string(),
        compile_term(&&term, None, None).unwrap_err().to_string()
    );
}

/// The unwritten reads of `f` as (1-based index, vreg), by brute force:
/// for each instruction the entry reaches, the set of vregs some path from
/// the entry writes before it.
fn unwritten_by_dataflow(f: &Function) -> BTreeSet<(usize, u32)> {
    let n = f.body.len();
    let label_at: HashMap<Label, usize> = f
        .body
        .iter()
        .enumerate()
        .filter_map(|(i, inst)| if let Inst::Label(l) = inst { Some((*l, i)) } else { None })
        .collect();
    let succs = |i: usize| -> Vec<usize> {
        match &f.body[i] {
            Inst::Jmp(l) => vec![label_at[l]],
            Inst::Jcc(_, l) => [label_at[l], i + 1].into_iter().filter(|&s| s < n).collect(),
            Inst::Ret | Inst::Trap => vec![],
            _ => (i + 1..n).take(1).collect(),
        }
    };
    let regs = |i: usize, want: Role| {
        let mut vregs = Vec::new();
        for_each_reg(&f.body[i], |r, role| {
            if let (Reg::V(v), true) = (r, role == want) {
                vregs.push(v);
            }
        });
        vregs
    };
    let mut before: Vec<Option<BTreeSet<u32>>> = vec![None; n];
    let mut work = Vec::new();
    if n > 0 {
        before[0] = Some(f.params.iter().filter_map(|r| if let Reg::V(v) = r { Some(*v) } else { None }).collect());
        work.push(0);
    }
    while let Some(i) = work.pop() {
        let mut after = before[i].clone().unwrap();
        after.extend(regs(i, Role::Def));
        for s in succs(i) {
            let into = before[s].get_or_insert_with(BTreeSet::new);
            let size = into.len();
            into.extend(after.iter().copied());
            if into.len() > size || size == 0 && !work.contains(&s) {
                work.push(s);
            }
        }
    }
    let mut found = BTreeSet::new();
    for (i, written) in before.iter().enumerate() {
        if let Some(written) = written {
            found.extend(regs(i, Role::Use).into_iter().filter(|v| !written.contains(v)).map(|v| (i + 1, v)));
        }
    }
    found
}

/// The unwritten reads `warnings` reports for function `name`.
fn reported(warnings: &[Warning], name: &str) -> BTreeSet<(usize, u32)> {
    warnings
        .iter()
        .filter_map(|w| match w {
            Warning::UnwrittenRead { function, index, vreg } if function == name => Some((*index, *vreg)),
            _ => None,
        })
        .collect()
}

/// Every function's reported reads are the brute-force ones; returns the
/// warnings.
fn check_module(module: &Module, what: &str) -> Vec<Warning> {
    let warnings = module_warnings(module).unwrap_or_else(|e| panic!("{what}: {e}"));
    for f in &module.functions {
        assert_eq!(reported(&warnings, &f.name), unwritten_by_dataflow(f), "{what}, function {}", f.name);
    }
    warnings
}

/// A random function over vregs `0..VREGS` (vreg 0 a parameter), its
/// labels placed once each, branches going forward and back among them.
fn random_function(seed: u64, len: usize) -> Function {
    const LABELS: u32 = 6;
    const VREGS: u64 = 6;
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut body = Vec::new();
    let mut to_place: Vec<u32> = (0..LABELS).collect();
    for _ in 0..len {
        let v = |k: u64| Reg::V(k as u32);
        match next(12) {
            0 | 1 if !to_place.is_empty() => {
                let l = to_place.swap_remove(next(to_place.len() as u64) as usize);
                body.push(Inst::Label(Label(l)));
            }
            2 => body.push(Inst::Jmp(Label(next(LABELS as u64) as u32))),
            3 | 4 => {
                body.push(Inst::Cmp { a: v(next(VREGS)), b: Src::Imm(3) });
                body.push(Inst::Jcc(Cond::Lt, Label(next(LABELS as u64) as u32)));
            }
            5 => body.push(Inst::Ret),
            6 | 7 => body.push(Inst::Mov { dst: Dst::Reg(v(next(VREGS))), src: Operand::Imm(1) }),
            _ => {
                let b = if next(3) == 0 { Src::Imm(1) } else { Src::Reg(v(next(VREGS))) };
                body.push(Inst::Bin { op: BinOp::Add, dst: v(next(VREGS)), a: v(next(VREGS)), b });
            }
        }
    }
    body.extend(to_place.into_iter().map(|l| Inst::Label(Label(l))));
    body.push(Inst::Ret);
    Function {
        name: "f".into(),
        arity: 1,
        exported: false,
        params: vec![Reg::V(0)],
        locals: VREGS as u32,
        body,
        labels: (0..LABELS).map(|l| format!("l{l}")).collect(),
        ..Default::default()
    }
}

#[test]
fn random_functions_warn_of_exactly_the_unwritten_reads() {
    let mut warned = 0;
    for seed in 0..3000 {
        let f = random_function(seed, 5 + seed as usize % 60);
        let warnings = function_warnings(Isa::X86_64, &f).unwrap();
        assert_eq!(reported(&warnings, "f"), unwritten_by_dataflow(&f), "seed {seed}: {:#?}", f.body);
        warned += warnings.len();
    }
    // The functions exercise both answers.
    assert!(warned > 1000, "{warned} warnings");
}

fn ir_files(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ir"))
        .collect();
    paths.sort();
    paths
}

fn decode_file(path: &Path) -> Module {
    let term = vbeam_native_ir_text::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    decode_module(&&term, None, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_fixtures_give_no_warning() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures");
    let paths = ir_files(&dir);
    assert!(paths.len() >= 16, "fixtures missing from {}", dir.display());
    for path in paths {
        let warnings = check_module(&decode_file(&path), &path.display().to_string());
        let text: Vec<String> = warnings.iter().map(Warning::to_string).collect();
        assert!(warnings.is_empty(), "{}:\n{}", path.display(), text.join("\n"));
    }
}

/// The V generator's output for V's examples (`test/corpus/irgen-examples`)
/// shows both of its known bugs. Prints what each file gives:
/// `--nocapture` shows it.
#[test]
fn the_generators_output_warns_of_exactly_the_unwritten_reads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/corpus/irgen-examples");
    let dir = dir.as_path();
    let (mut reads, mut cmps, mut files_warned) = (0, 0, 0);
    let paths = ir_files(dir);
    for path in &paths {
        let warnings = check_module(&decode_file(path), &path.display().to_string());
        let unwritten = warnings.iter().filter(|w| matches!(w, Warning::UnwrittenRead { .. })).count();
        let cmp = warnings.len() - unwritten;
        if !warnings.is_empty() {
            files_warned += 1;
            let name = path.file_name().unwrap().to_string_lossy();
            println!("{name}: {unwritten} unwritten reads, {cmp} cmp R, R");
            for w in &warnings {
                println!("  {w}");
            }
        }
        reads += unwritten;
        cmps += cmp;
    }
    println!("{} files, {files_warned} with warnings: {reads} unwritten reads, {cmps} cmp R, R", paths.len());
    assert_eq!((paths.len(), files_warned, reads, cmps), (57, 15, 12, 39));
}
