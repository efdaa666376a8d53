//! `print_float` against an independent oracle: the shortest round-trip
//! digits of Ryu (the `ryu` crate), laid out as V prints them (see
//! `print_float` in docs/ir-spec.md). One program per ISA prints every
//! value of a table in its data, x86_64 natively and arm64 under
//! qemu-aarch64, and each line is compared with the oracle.
//!
//! `VBEAM_FLOAT_COUNT` sets how many random values each ISA prints (default
//! 200000) and `VBEAM_FLOAT_SEED` which ones, e.g. for millions locally:
//! `VBEAM_FLOAT_COUNT=5000000 cargo test --release -p vbeam_native_core --test float_text`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use vbeam_native_core::compile_module;
use vbeam_native_core::ir::*;

const TABLE: &str = "floats";

/// A program printing each of `values` (bit patterns) with `print_float`.
fn printing_program(isa: Isa, values: &[u64]) -> Module {
    let (table, index, value) = (Reg::V(0), Reg::V(1), Reg::V(2));
    let (top, done) = (Label(0), Label(1));
    let body = vec![
        Inst::Lea { dst: table, symbol: Symbol::Data(TABLE.into()) },
        Inst::Mov { dst: Dst::Reg(index), src: Operand::Imm(0) },
        Inst::Label(top),
        Inst::Cmp { a: index, b: Src::Imm(values.len() as i64) },
        Inst::Jcc(Cond::Ge, done),
        Inst::Load { width: Width::W64, dst: value, base: table, offset: 0 },
        Inst::PrintFloat(Src::Reg(value)),
        Inst::Bin { op: BinOp::Add, dst: table, a: table, b: Src::Imm(8) },
        Inst::Bin { op: BinOp::Add, dst: index, a: index, b: Src::Imm(1) },
        Inst::Jmp(top),
        Inst::Label(done),
        Inst::Ret,
    ];
    let main = Function {
        name: "main".into(),
        arity: 0,
        exported: true,
        params: Vec::new(),
        locals: 3,
        body,
        labels: vec!["top".into(), "done".into()],
        ..Default::default()
    };
    let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
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

/// Programs written so far: each gets a file of its own, as tests run side
/// by side.
static PROGRAMS: AtomicUsize = AtomicUsize::new(0);

fn write_executable(isa: Isa, values: &[u64]) -> PathBuf {
    let binary = compile_module(&printing_program(isa, values)).unwrap();
    let number = PROGRAMS.fetch_add(1, Ordering::Relaxed);
    let exe = std::env::temp_dir().join(format!("vbeam_float_text_{}_{number}", std::process::id()));
    common::write_executable(&exe, &binary);
    exe
}

/// Compiles and runs a program printing `values`, handing each output line
/// to `check` as it comes (the output of millions of values is not kept).
fn print_each(isa: Isa, values: &[u64], mut check: impl FnMut(u64, &str)) {
    let exe = write_executable(isa, values);
    let mut child = common::when_not_busy(|| common::command(isa, &exe).stdout(Stdio::piped()).spawn());
    let mut lines = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(&bits) = values.get(lines) {
            check(bits, &line);
        }
        lines += 1;
    }
    let status = child.wait().unwrap();
    std::fs::remove_file(&exe).unwrap();
    assert!(status.success(), "{isa:?}: {status}");
    assert_eq!(lines, values.len(), "{isa:?}: lines printed");
}

/// 1000000000000000.25 (issue 12) and others exactly halfway between the
/// two shortest candidates: the even last digit wins.
#[test]
fn exact_ties_print_the_even_digit() {
    // x.25 and x.75 (bit patterns are 1/8 apart below 2^50, 1/4 above),
    // and 2^-25 = 2.98023223876953125e-08.
    let ties: &[(u64, &str)] = &[
        (1e15_f64.to_bits() + 2, "1000000000000000.2"),
        (1e15_f64.to_bits() + 6, "1000000000000000.8"),
        (1e15_f64.to_bits() + 10, "1000000000000001.2"),
        ((-1e15_f64).to_bits() + 2, "-1000000000000000.2"),
        (2_f64.powi(50).to_bits() + 1, "1125899906842624.2"),
        (2e15_f64.to_bits() + 1, "2000000000000000.2"),
        (2e15_f64.to_bits() + 3, "2000000000000000.8"),
        (6e14_f64.to_bits() + 2, "600000000000000.2"),
        (7e14_f64.to_bits() + 6, "700000000000000.8"),
        ((1023 - 25) << 52, "2.9802322387695312e-08"),
    ];
    let values: Vec<u64> = ties.iter().map(|(bits, _)| *bits).collect();
    for isa in [Isa::X86_64, Isa::Arm64] {
        let mut wrong = Vec::new();
        print_each(isa, &values, |bits, line| {
            let want = ties.iter().find(|(b, _)| *b == bits).unwrap().1;
            if line != want {
                wrong.push(format!("{bits}: {line} (want {want})"));
            }
        });
        assert!(wrong.is_empty(), "{isa:?}:\n{}", wrong.join("\n"));
    }
}

/// Ryu's shortest digits of a positive finite `x`, without leading or
/// trailing zeros, and k with x = 0.DIGITS * 10^k.
fn ryu_digits(x: f64) -> (String, i32) {
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(x);
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = format!("{int}{frac}");
    let significant = all.trim_start_matches('0');
    let k = int.len() as i32 + exponent.parse::<i32>().unwrap() - (all.len() - significant.len()) as i32;
    (significant.trim_end_matches('0').to_string(), k)
}

/// The V text of the float with bits `bits`, from Ryu's digits.
fn oracle(bits: u64) -> String {
    let x = f64::from_bits(bits);
    if x.is_nan() {
        return "nan".into();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x.is_infinite() {
        return format!("{sign}inf");
    }
    if x == 0.0 {
        return format!("{sign}0.0");
    }
    let (digits, k) = ryu_digits(x.abs());
    let n = digits.len() as i32;
    if (1..=16).contains(&k) {
        // 1 <= |x| < 1e16: plain, at least one decimal.
        let int = format!("{digits:0<width$}", width = k as usize);
        let frac = if n > k { &digits[k as usize..] } else { "0" };
        format!("{sign}{}.{frac}", &int[..k as usize])
    } else if (-4..=0).contains(&k) {
        // 1e-5 <= |x| < 1.
        format!("{sign}0.{}{digits}", "0".repeat(-k as usize))
    } else {
        let rest = if n > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        let e = k - 1;
        format!("{sign}{}{rest}e{}{:02}", &digits[..1], if e < 0 { '-' } else { '+' }, e.abs())
    }
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
    /// Uniform in lo..=hi.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn sign(&mut self) -> u64 {
        self.next() & (1 << 63)
    }
}

/// Every power of two and of ten, the largest normal and subnormal, with
/// their neighbours one bit pattern away, and the specials.
fn edges() -> Vec<u64> {
    let normal_powers_of_two = (1..=2046_u64).map(|biased| f64::from_bits(biased << 52));
    let subnormal_powers_of_two = (0..52).map(|bit| f64::from_bits(1 << bit));
    let powers_of_ten = (-323..=308).map(|e| format!("1e{e}").parse::<f64>().unwrap());
    let extremes = [f64::MAX, f64::from_bits((1 << 52) - 1)];
    let mut values: Vec<u64> = subnormal_powers_of_two
        .chain(normal_powers_of_two)
        .chain(powers_of_ten)
        .chain(extremes)
        .flat_map(|x| [x.to_bits() - 1, x.to_bits(), x.to_bits() + 1])
        .collect();
    values.extend([0, 1 << 63, f64::INFINITY.to_bits(), f64::NEG_INFINITY.to_bits(), f64::NAN.to_bits()]);
    values
}

/// `count` values, a fifth of each kind: any bit pattern; [5e14, 1e18],
/// where the ties are; exact ties (x.25 and x.75 in [2^49, 2^51)) and their
/// neighbours; decimals of 17 digits ending in 5 (near ties at every scale)
/// and their neighbours; subnormals.
fn random_values(count: usize, seed: u64) -> Vec<u64> {
    let mut random = Random(seed);
    let tie_zone = (5e14_f64.to_bits(), 1e18_f64.to_bits());
    (0..count)
        .map(|i| match i % 5 {
            0 => random.next(),
            1 => random.between(tie_zone.0, tie_zone.1) | random.sign(),
            2 => {
                let whole = random.between(1 << 49, (1 << 51) - 1) as f64;
                let tie = whole + if random.next() & 1 == 0 { 0.25 } else { 0.75 };
                (tie.to_bits() + random.between(0, 4) - 2) | random.sign()
            }
            3 => {
                let digits = random.between(1_000_000_000_000_000, 9_999_999_999_999_999);
                let text = format!("{digits}5e{}", random.between(0, 631) as i64 - 340);
                let near = text.parse::<f64>().unwrap().to_bits();
                (near + random.between(0, 2)).saturating_sub(1) | random.sign()
            }
            _ => random.between(1, (1 << 52) - 1) | random.sign(),
        })
        .collect()
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name}={v}: not a number")))
}

/// Prints the edges and `count` random values on `isa`: a line per value
/// that differs from the oracle (at most 20), and their count.
fn disagreements(isa: Isa, count: usize, seed: u64) -> Vec<String> {
    let mut values = edges();
    values.extend(random_values(count, seed));
    let started = Instant::now();
    let (mut lines, mut wrong) = (Vec::new(), 0);
    print_each(isa, &values, |bits, line| {
        let want = oracle(bits);
        if line != want {
            wrong += 1;
            if wrong <= 20 {
                lines.push(format!("{isa:?} {bits:#018x}: {line} (want {want})"));
            }
        }
    });
    println!("{isa:?}: {} values, {wrong} wrong, {:.1?}", values.len(), started.elapsed());
    if wrong > 20 {
        lines.push(format!("{isa:?}: {wrong} wrong in all"));
    }
    lines
}

#[test]
fn print_float_agrees_with_ryu() {
    let count = env_number("VBEAM_FLOAT_COUNT", 200_000) as usize;
    let seed = env_number("VBEAM_FLOAT_SEED", 12);
    // Side by side: the arm64 run, under qemu, takes the longest.
    let failures = std::thread::scope(|scope| {
        [(Isa::X86_64, seed), (Isa::Arm64, !seed)]
            .map(|(isa, isa_seed)| scope.spawn(move || disagreements(isa, count, isa_seed)))
            .map(|run| run.join().unwrap())
            .concat()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
