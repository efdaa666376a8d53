//! The math builtins `exp`, `log`, `pow`, `sin` and `cos` against MPFR
//! (the `rug` crate), which rounds correctly at any precision: the exact
//! value is taken at 256 bits, the correctly rounded double from it.
//!
//! One program per ISA calls the builtins on every input of a table in its
//! data and prints each result's bits (x86_64 natively, arm64 under
//! qemu-aarch64). Special values (NaN, infinities, signed zeros, pow's
//! cases of C99 Annex F) must be MPFR's exactly; every other result must be
//! within `MAX_ULPS` of the exact value (the routines aim at correct
//! rounding: see runtime/libm.rs). The test prints, per function and ISA,
//! the inputs, how many results are not the correctly rounded double and
//! the largest error in ulps.
//!
//! `VBEAM_LIBM_COUNT` sets how many random inputs each function gets per
//! ISA (default 4000) and `VBEAM_LIBM_SEED` which ones, e.g. for millions
//! locally: `VBEAM_LIBM_COUNT=1000000 cargo test --release -p
//! vbeam_native_core --test libm -- --nocapture`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rug::float::Round;
use rug::ops::Pow;
use rug::Float;
use vbeam_native_core::compile_module;
use vbeam_native_core::ir::*;
use vbeam_native_core::regs::call_conv;

const TABLE: &str = "inputs";
const FUNCTIONS: [&str; 5] = ["exp", "log", "pow", "sin", "cos"];
/// The bound every result must meet: the error analysis gives 0.5 + 2^-17.
const MAX_ULPS: f64 = 0.501;
/// MPFR's working precision for the exact values.
const PRECISION: u32 = 256;

/// One call: the function's index in FUNCTIONS and its arguments' bits.
#[derive(Clone, Copy)]
struct Case {
    function: usize,
    x: u64,
    y: u64,
}

/// A program that calls the function of each case and prints the result's
/// bits with `print_int`.
fn program(isa: Isa, cases: &[Case]) -> Module {
    let cc = call_conv(isa);
    let (table, index, id, x, y, r) = (Reg::V(0), Reg::V(1), Reg::V(2), Reg::V(3), Reg::V(4), Reg::V(5));
    let (top, done, got) = (Label(0), Label(1), Label(2));
    let mut labels: Vec<String> = vec!["top".into(), "done".into(), "got".into()];
    let mov = |dst: Reg, src: Reg| Inst::Mov { dst: Dst::Reg(dst), src: Operand::Reg(src) };
    let mut body = vec![
        Inst::Lea { dst: table, symbol: Symbol::Data(TABLE.into()) },
        Inst::Mov { dst: Dst::Reg(index), src: Operand::Imm(0) },
        Inst::Label(top),
        Inst::Cmp { a: index, b: Src::Imm(cases.len() as i64) },
        Inst::Jcc(Cond::Ge, done),
        Inst::Load { width: Width::W64, dst: id, base: table, offset: 0 },
        Inst::Load { width: Width::W64, dst: x, base: table, offset: 8 },
        Inst::Load { width: Width::W64, dst: y, base: table, offset: 16 },
    ];
    for (i, name) in FUNCTIONS.iter().enumerate() {
        let next = Label(labels.len() as u32);
        labels.push(format!("not_{name}"));
        body.extend([
            Inst::Cmp { a: id, b: Src::Imm(i as i64) },
            Inst::Jcc(Cond::Ne, next),
            mov(Reg::P(cc.args[0]), x),
            mov(Reg::P(cc.args[1]), y),
            Inst::Call((*name).into()),
            mov(r, Reg::P(cc.result)),
            Inst::Jmp(got),
            Inst::Label(next),
        ]);
    }
    body.extend([
        Inst::Ret,
        Inst::Label(got),
        Inst::PrintInt(Src::Reg(r)),
        Inst::Bin { op: BinOp::Add, dst: table, a: table, b: Src::Imm(24) },
        Inst::Bin { op: BinOp::Add, dst: index, a: index, b: Src::Imm(1) },
        Inst::Jmp(top),
        Inst::Label(done),
        Inst::Ret,
    ]);
    let main = Function {
        name: "main".into(),
        arity: 0,
        exported: true,
        params: Vec::new(),
        locals: 6,
        body,
        labels,
        ..Default::default()
    };
    let bytes = cases.iter().flat_map(|c| [c.function as u64, c.x, c.y]).flat_map(u64::to_le_bytes).collect();
    Module {
        isa,
        format: Format::Elf64,
        functions: vec![main],
        data: vec![DataEntry { name: TABLE.into(), align: 8, bytes, refs: Vec::new() }],
        bss: Vec::new(),
        imports: Vec::new(),
        allow_stubs: false,
    }
}

static PROGRAMS: AtomicUsize = AtomicUsize::new(0);

fn write_executable(isa: Isa, cases: &[Case]) -> PathBuf {
    let binary = compile_module(&program(isa, cases)).unwrap();
    let number = PROGRAMS.fetch_add(1, Ordering::Relaxed);
    let exe = std::env::temp_dir().join(format!("vbeam_libm_{}_{number}", std::process::id()));
    common::write_executable(&exe, &binary);
    exe
}

/// Runs the program of `cases`, handing each result to `check` as it
/// comes.
fn run_each(isa: Isa, cases: &[Case], mut check: impl FnMut(&Case, u64)) {
    let exe = write_executable(isa, cases);
    let mut child = common::when_not_busy(|| common::command(isa, &exe).stdout(Stdio::piped()).spawn());
    let mut lines = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let bits = line.unwrap().parse::<i64>().unwrap() as u64;
        if let Some(case) = cases.get(lines) {
            check(case, bits);
        }
        lines += 1;
    }
    let status = child.wait().unwrap();
    std::fs::remove_file(&exe).unwrap();
    assert!(status.success(), "{isa:?}: {status}");
    assert_eq!(lines, cases.len(), "{isa:?}: results printed");
}

/// The function's value at 256 bits.
fn exact(case: &Case) -> Float {
    let x = Float::with_val(PRECISION, f64::from_bits(case.x));
    match FUNCTIONS[case.function] {
        "exp" => x.exp(),
        "log" => x.ln(),
        "sin" => x.sin(),
        "cos" => x.cos(),
        _ => x.pow(Float::with_val(PRECISION, f64::from_bits(case.y))),
    }
}

/// The error of `got` in ulps of the correctly rounded result (0 or
/// infinite for the special values, which must match exactly), and that
/// result.
fn ulp_error(case: &Case, got: u64) -> (f64, f64) {
    let exact = exact(case);
    let want = exact.to_f64_round(Round::Nearest);
    let got = f64::from_bits(got);
    if want.is_nan() || got.is_nan() {
        return (if want.is_nan() && got.is_nan() { 0.0 } else { f64::INFINITY }, want);
    }
    if want.is_infinite() || got.is_infinite() || want == 0.0 || got == 0.0 || exact.is_zero() {
        let same = want.to_bits() == got.to_bits() || (want == 0.0 && got == 0.0 && !exact.is_zero());
        return (if same { 0.0 } else { f64::INFINITY }, want);
    }
    let magnitude = want.abs();
    let e = if magnitude < f64::MIN_POSITIVE { -1074 } else { (magnitude.to_bits() >> 52) as i32 - 1075 };
    let ulp = Float::with_val(PRECISION, Float::i_exp(1, e));
    let difference = (Float::with_val(PRECISION, got) - &exact).abs();
    ((difference / ulp).to_f64(), want)
}

/// SplitMix64.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f64, hi: f64) -> u64 {
        (lo + (hi - lo) * ((self.next() >> 11) as f64 / (1u64 << 53) as f64)).to_bits()
    }
    fn sign(&mut self) -> u64 {
        self.next() & (1 << 63)
    }
}

fn bits(x: f64) -> u64 {
    x.to_bits()
}

/// The values every function is tried on, with their neighbours.
fn specials() -> Vec<u64> {
    let mut v = vec![0, 1 << 63, bits(f64::INFINITY), bits(f64::NEG_INFINITY), bits(f64::NAN), 0xfff8_0000_0000_0001];
    for x in [
        1.0,
        0.5,
        2.0,
        3.0,
        1.5,
        10.0,
        std::f64::consts::E,
        std::f64::consts::PI,
        std::f64::consts::FRAC_PI_2,
        std::f64::consts::FRAC_PI_4,
        std::f64::consts::LN_2,
        std::f64::consts::SQRT_2,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        f64::from_bits(0x000f_ffff_ffff_ffff),
        1e-300,
        1e300,
        1e22,
        2f64.powi(-27),
        2f64.powi(-26),
        2f64.powi(-54),
        2f64.powi(53),
        2f64.powi(64),
        709.782712893384,
        709.79,
        -708.3964185322641,
        -745.1332191019411,
        -745.1332191019412,
        -746.0,
    ] {
        for b in [bits(x) - 1, bits(x), bits(x) + 1] {
            v.extend([b, b | (1 << 63)]);
        }
    }
    v
}

/// Inputs of one function: its specials, then `count` random ones.
fn cases(function: usize, count: usize, seed: u64) -> Vec<Case> {
    let mut random = Random(seed ^ (function as u64) << 56);
    let one = |x: u64| Case { function, x, y: 0 };
    let mut cases: Vec<Case> = Vec::new();
    let name = FUNCTIONS[function];
    if name == "pow" {
        // Every pair of C99 Annex F's kinds of values.
        let kinds: Vec<u64> = [
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            1.0,
            -1.0,
            0.5,
            -0.5,
            2.0,
            -2.0,
            3.0,
            -3.0,
            1.5,
            -1.5,
            0.3,
            2f64.powi(53),
            -(2f64.powi(53)) - 2.0,
            2f64.powi(53) + 2.0,
            2f64.powi(64),
            -(2f64.powi(64)),
            1e300,
            -1e300,
            1075.0,
            -1075.0,
            1074.5,
            -1074.5,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::MAX,
            -f64::MAX,
        ]
        .iter()
        .map(|x| bits(*x))
        .collect();
        for &x in &kinds {
            for &y in &kinds {
                cases.push(Case { function, x, y });
            }
        }
        for k in -1080..1030 {
            cases.push(Case { function, x: bits(2.0), y: bits(k as f64) });
        }
        for k in -330..310 {
            cases.push(Case { function, x: bits(10.0), y: bits(k as f64) });
        }
        for y in [1023.9999, 1024.0, -1074.0, -1074.5, -1075.0, -1075.5, -1022.5, -1022.0001] {
            cases.push(Case { function, x: bits(2.0), y: bits(y) });
            cases.push(Case { function, x: bits(-2.0), y: bits(y) });
        }
        for _ in 0..count {
            let y = match random.next() % 6 {
                0 => random.uniform(-100.0, 100.0),
                1 => random.uniform(-2.0, 2.0),
                2 => random.uniform(-5000.0, 5000.0),
                3 => bits((random.uniform(-300.0, 300.0) as i64) as f64),
                4 => random.next() & !(1 << 63) | random.sign(),
                _ => bits(f64::from_bits(random.uniform(-1100.0, 1100.0)).round()),
            };
            let x = match random.next() % 5 {
                0 => random.uniform(0.0, 100.0),
                1 => random.uniform(0.99, 1.01) | random.sign(),
                2 => random.next() >> 1,
                3 => random.uniform(-10.0, 10.0),
                _ => random.next(),
            };
            cases.push(Case { function, x, y });
        }
        return cases;
    }
    cases.extend(specials().into_iter().map(one));
    match name {
        "exp" => {
            // Around multiples of ln 2 (where k changes) and the ends.
            for k in -1076..=1024 {
                let x = bits(k as f64 * std::f64::consts::LN_2);
                cases.extend([x - 1, x, x + 1].map(one));
            }
        }
        "log" => {
            for e in -1074..=1023 {
                let x = bits(2f64.powi(e));
                cases.extend([x - 1, x, x + 1].map(one));
            }
        }
        _ => {
            // The double closest to a multiple of pi/2 (|r| ~ 2^-61), its
            // neighbours, and the doubles nearest k pi/2 and k pi/4.
            let hardest = 6381956970095103.0 * 2f64.powi(797);
            cases.extend([bits(hardest) - 1, bits(hardest), bits(hardest) + 1].map(one));
            for k in 1..3000 {
                let x = bits(k as f64 * std::f64::consts::FRAC_PI_4);
                cases.extend([x - 1, x, x + 1].map(one));
            }
            for e in 0..1024 {
                let x = bits(2f64.powi(e));
                cases.extend([x, x + 1].map(one));
            }
        }
    }
    for _ in 0..count {
        let x = match (name, random.next() % 4) {
            ("exp", 0) => random.uniform(-746.0, 710.0),
            ("exp", 1) => random.uniform(-1.0, 1.0),
            ("exp", 2) => random.uniform(-0.35, 0.35),
            ("log", 0) => random.uniform(0.5, 2.0),
            ("log", 1) => random.uniform(0.0, 1e-300),
            ("log", 2) => random.next() >> 1,
            ("sin" | "cos", 0) => random.uniform(-10.0, 10.0),
            ("sin" | "cos", 1) => random.uniform(-1e6, 1e6),
            ("sin" | "cos", 2) => random.next() >> 1,
            _ => random.next(),
        };
        cases.push(one(x));
    }
    cases
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name}={v}: not a number")))
}

/// Runs every case on `isa`: a line per function, and the failures.
fn check(isa: Isa, count: usize, seed: u64) -> Vec<String> {
    let all: Vec<Case> = (0..FUNCTIONS.len()).flat_map(|f| cases(f, count, seed)).collect();
    let started = Instant::now();
    let mut failures = Vec::new();
    // Per function: inputs, results not correctly rounded, largest error.
    let mut stats = [(0usize, 0usize, 0f64); FUNCTIONS.len()];
    run_each(isa, &all, |case, got| {
        let (error, want) = ulp_error(case, got);
        let stat = &mut stats[case.function];
        stat.0 += 1;
        if got != want.to_bits() && !(want.is_nan() && f64::from_bits(got).is_nan()) {
            stat.1 += 1;
        }
        stat.2 = stat.2.max(error);
        if error > MAX_ULPS && failures.len() < 20 {
            let (x, y) = (f64::from_bits(case.x), f64::from_bits(case.y));
            let args = if FUNCTIONS[case.function] == "pow" { format!("{x:e}, {y:e}") } else { format!("{x:e}") };
            failures.push(format!(
                "{isa:?} {}({args}) = {:e} ({got:#x}), want {want:e}: {error} ulp",
                FUNCTIONS[case.function],
                f64::from_bits(got)
            ));
        }
    });
    for (name, (n, wrong, worst)) in FUNCTIONS.iter().zip(stats) {
        println!("{isa:?} {name}: {n} inputs, {wrong} not correctly rounded, largest error {worst:.6} ulp");
    }
    println!("{isa:?}: {} calls in {:.1?}", all.len(), started.elapsed());
    failures
}

#[test]
fn math_builtins_agree_with_mpfr() {
    let count = env_number("VBEAM_LIBM_COUNT", 4000) as usize;
    let seed = env_number("VBEAM_LIBM_SEED", 11);
    let failures = std::thread::scope(|scope| {
        [(Isa::X86_64, seed), (Isa::Arm64, !seed)]
            .map(|(isa, isa_seed)| scope.spawn(move || check(isa, count, isa_seed)))
            .map(|run| run.join().unwrap())
            .concat()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
