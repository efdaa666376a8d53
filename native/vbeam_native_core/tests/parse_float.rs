//! The builtins `atof64(s)` and `string__f64(s)` against an independent
//! reading of V's rules (below) and Rust's `str::parse::<f64>`, which
//! rounds correctly, on texts of every kind: the shortest and longer
//! decimals of random doubles, random digit strings at every scale, the
//! exact decimal midpoints between neighbouring doubles (up to 767
//! significant digits) and texts a little either side of them, and texts
//! V rejects. One program per ISA parses every text of a table in its data
//! and prints the results' bits (x86_64 natively, arm64 under
//! qemu-aarch64); every result must be the oracle's, bit for bit.
//!
//! `VBEAM_ATOF_COUNT` sets how many random texts each ISA parses (default
//! 3000) and `VBEAM_ATOF_SEED` which ones, e.g. for millions locally:
//! `VBEAM_ATOF_COUNT=1000000 cargo test --release -p vbeam_native_core
//! --test parse_float -- --nocapture`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use vbeam_native_core::compile_module;
use vbeam_native_core::ir::*;
use vbeam_native_core::regs::call_conv;

const TEXTS: &str = "texts";
const TABLE: &str = "table";
const HEADER: &str = "header";
const FUNCTIONS: [&str; 2] = ["atof64", "string__f64"];

/// A program that, for each (function, offset, length) of the table, makes
/// the string header of those bytes of the texts, calls the function and
/// prints the result's bits.
fn program(isa: Isa, cases: &[(usize, String)]) -> Module {
    let cc = call_conv(isa);
    let (table, index, id, text, len, header, r) =
        (Reg::V(0), Reg::V(1), Reg::V(2), Reg::V(3), Reg::V(4), Reg::V(5), Reg::V(6));
    let (top, done, got, second) = (Label(0), Label(1), Label(2), Label(3));
    let labels = vec!["top".into(), "done".into(), "got".into(), "second".into()];
    let load = |dst: Reg, offset: i32| Inst::Load { width: Width::W64, dst, base: table, offset };
    let store = |offset: i32, src: Reg| Inst::Store { width: Width::W64, base: header, offset, src: Src::Reg(src) };
    let mov = |dst: Reg, src: Reg| Inst::Mov { dst: Dst::Reg(dst), src: Operand::Reg(src) };
    let body = vec![
        Inst::Lea { dst: table, symbol: Symbol::Data(TABLE.into()) },
        Inst::Lea { dst: header, symbol: Symbol::Data(HEADER.into()) },
        Inst::Mov { dst: Dst::Reg(index), src: Operand::Imm(0) },
        Inst::Label(top),
        Inst::Cmp { a: index, b: Src::Imm(cases.len() as i64) },
        Inst::Jcc(Cond::Ge, done),
        load(id, 0),
        load(text, 8),
        load(len, 16),
        Inst::Lea { dst: r, symbol: Symbol::Data(TEXTS.into()) },
        Inst::Bin { op: BinOp::Add, dst: text, a: text, b: Src::Reg(r) },
        store(0, text),
        store(8, len),
        mov(Reg::P(cc.args[0]), header),
        Inst::Cmp { a: id, b: Src::Imm(0) },
        Inst::Jcc(Cond::Ne, second),
        Inst::Call(FUNCTIONS[0].into()),
        Inst::Jmp(got),
        Inst::Label(second),
        Inst::Call(FUNCTIONS[1].into()),
        Inst::Label(got),
        mov(r, Reg::P(cc.result)),
        Inst::PrintInt(Src::Reg(r)),
        Inst::Bin { op: BinOp::Add, dst: table, a: table, b: Src::Imm(24) },
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
        locals: 7,
        body,
        labels,
        ..Default::default()
    };
    let mut texts = Vec::new();
    let mut table = Vec::new();
    for (function, text) in cases {
        for word in [*function as u64, texts.len() as u64, text.len() as u64] {
            table.extend(word.to_le_bytes());
        }
        texts.extend(text.as_bytes());
    }
    texts.push(0);
    let data = |name: &str, bytes: Vec<u8>| DataEntry { name: name.into(), align: 8, bytes, refs: Vec::new() };
    Module {
        isa,
        format: Format::Elf64,
        functions: vec![main],
        data: vec![data(TEXTS, texts), data(TABLE, table), data(HEADER, vec![0; 16])],
        bss: Vec::new(),
        imports: Vec::new(),
        allow_stubs: false,
    }
}

static PROGRAMS: AtomicUsize = AtomicUsize::new(0);

fn write_executable(isa: Isa, cases: &[(usize, String)]) -> PathBuf {
    let binary = compile_module(&program(isa, cases)).unwrap();
    let number = PROGRAMS.fetch_add(1, Ordering::Relaxed);
    let exe = std::env::temp_dir().join(format!("vbeam_parse_float_{}_{number}", std::process::id()));
    common::write_executable(&exe, &binary);
    exe
}

/// V's reading of `s` (`strconv.atof64`, and with `allow_extra` the
/// prefix `s.f64()` reads): the end of the number and whether it is one,
/// or a special value.
enum Reading {
    Invalid,
    Special(f64),
    /// The number is s[..end] (underscores in it).
    Number(usize),
}

fn v_read(s: &[u8]) -> Reading {
    if s.is_empty() {
        return Reading::Invalid;
    }
    let start = usize::from(s[0] == b'+' || s[0] == b'-');
    if start < s.len() && matches!(s[start].to_ascii_lowercase(), b'i' | b'n') {
        match s.to_ascii_lowercase().as_slice() {
            b"inf" | b"+inf" | b"infinity" | b"+infinity" => return Reading::Special(f64::INFINITY),
            b"-inf" | b"-infinity" => return Reading::Special(f64::NEG_INFINITY),
            b"nan" => return Reading::Special(f64::NAN),
            _ => {}
        }
    }
    let float_digit = |i: usize| {
        s[i].is_ascii_digit()
            || (s[i] == b'_' && i > 0 && i + 1 < s.len() && s[i - 1].is_ascii_digit() && s[i + 1].is_ascii_digit())
    };
    let mut i = start;
    if i == s.len() {
        return Reading::Invalid;
    }
    let mut digits = 0;
    while i < s.len() && float_digit(i) {
        digits += usize::from(s[i] != b'_');
        i += 1;
    }
    if i < s.len() && s[i] == b'.' {
        i += 1;
        while i < s.len() && float_digit(i) {
            digits += usize::from(s[i] != b'_');
            i += 1;
        }
    }
    if digits == 0 {
        return Reading::Invalid;
    }
    if i < s.len() && (s[i] == b'e' || s[i] == b'E') {
        i += 1;
        if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
            i += 1;
        }
        let before = i;
        while i < s.len() && float_digit(i) {
            i += 1;
        }
        if i == before {
            return Reading::Invalid;
        }
    }
    Reading::Number(i)
}

/// The bits `function` must return for `text`.
fn oracle(function: usize, text: &str) -> u64 {
    let s = text.as_bytes();
    match v_read(s) {
        Reading::Invalid => 0,
        Reading::Special(x) => x.to_bits(),
        Reading::Number(end) if end == s.len() || function == 1 => {
            let number: String = text[..end].chars().filter(|c| *c != '_').collect();
            number.parse::<f64>().unwrap_or_else(|e| panic!("{number}: {e}")).to_bits()
        }
        Reading::Number(_) => 0,
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
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A decimal big integer, base 10^9 limbs, least significant first.
struct Decimal(Vec<u64>);

impl Decimal {
    fn new(v: u64) -> Decimal {
        Decimal(vec![v % 1_000_000_000, v / 1_000_000_000 % 1_000_000_000, v / 1_000_000_000_000_000_000])
    }
    fn mul(&mut self, k: u64) {
        let mut carry = 0;
        for limb in &mut self.0 {
            let t = *limb * k + carry;
            *limb = t % 1_000_000_000;
            carry = t / 1_000_000_000;
        }
        while carry > 0 {
            self.0.push(carry % 1_000_000_000);
            carry /= 1_000_000_000;
        }
    }
    fn digits(&self) -> String {
        let mut s: String = self.0.iter().rev().map(|l| format!("{l:09}")).collect();
        let trimmed = s.trim_start_matches('0').len();
        s.drain(..s.len() - trimmed.max(1));
        s
    }
}

/// The exact decimal of the midpoint above the positive finite double
/// with bits `bits`: digits and exponent.
fn midpoint(bits: u64) -> (String, i64) {
    let (fraction, exponent) = (bits & ((1 << 52) - 1), (bits >> 52) as i64);
    let (m, e) = if exponent == 0 { (fraction, -1074) } else { (fraction | 1 << 52, exponent - 1075) };
    // (2m + 1) 2^(e - 1)
    let mut d = Decimal::new(2 * m + 1);
    if e >= 1 {
        for _ in 0..e - 1 {
            d.mul(2);
        }
        (d.digits(), 0)
    } else {
        for _ in 0..1 - e {
            d.mul(5);
        }
        (d.digits(), e - 1)
    }
}

/// `digits` times 10^exponent written in a random V form.
fn write(random: &mut Random, digits: &str, exponent: i64) -> String {
    let sign = ["", "-", "+"][random.below(3) as usize];
    let n = digits.len() as i64;
    match random.below(3) {
        0 => format!("{sign}{digits}e{exponent}"),
        1 => format!("{sign}{}.{}e{}", &digits[..1], &digits[1..], exponent + n - 1),
        _ if (-30..=30).contains(&(exponent + n)) && exponent < 0 => {
            let point = exponent + n;
            if point <= 0 {
                format!("{sign}0.{}{digits}", "0".repeat(-point as usize))
            } else {
                format!("{sign}{}.{}", &digits[..point as usize], &digits[point as usize..])
            }
        }
        _ => format!("{sign}{digits}E+{exponent}"),
    }
}

fn random_double(random: &mut Random) -> f64 {
    loop {
        let x = f64::from_bits(random.next() >> 1);
        if x.is_finite() {
            return x;
        }
    }
}

/// Random texts: a fifth of each kind.
fn random_texts(count: usize, seed: u64) -> Vec<String> {
    let mut random = Random(seed);
    (0..count)
        .map(|i| match i % 5 {
            0 => {
                let x = random_double(&mut random);
                match random.below(3) {
                    0 => format!("{x:e}"),
                    1 => format!("{x:.17e}"),
                    _ => format!("{x:.25e}"),
                }
            }
            1 => {
                let n = 1 + random.below(40) as usize;
                let digits: String = (0..n).map(|_| (b'0' + random.below(10) as u8) as char).collect();
                let exponent = random.below(700) as i64 - 360;
                write(&mut random, &digits, exponent)
            }
            2 | 3 => {
                // A midpoint, exactly or a little either side.
                let x = random_double(&mut random).abs();
                let (mut digits, mut exponent) = midpoint(x.to_bits());
                match random.below(3) {
                    0 => {}
                    // Above it by a little...
                    1 => {
                        digits.push_str("000000000000000000001");
                        exponent -= 21;
                    }
                    // ...or below.
                    _ if !digits.ends_with('0') => {
                        let last = digits.pop().unwrap();
                        digits.push((last as u8 - 1) as char);
                        digits.push('9');
                        exponent -= 1;
                    }
                    _ => {}
                }
                write(&mut random, &digits, exponent)
            }
            _ => {
                // Short decimals with underscores, points, exponents.
                let whole = random.below(1_000_000);
                let frac = random.below(1000);
                let text = format!("{}_{:03}.{frac}", whole, random.below(1000));
                match random.below(3) {
                    0 => text,
                    1 => format!("{text}e-{}", random.below(30)),
                    _ => format!("{}", random.below(1 << 53)),
                }
            }
        })
        .collect()
}

/// Fixed texts: V's grammar's corners and the hardest roundings.
fn fixed_texts() -> Vec<String> {
    let mut texts: Vec<String> = [
        "",
        "+",
        "-",
        ".",
        "e5",
        "1e",
        "1e+",
        "1e-",
        "1_",
        "_1",
        "1__0",
        "1_0",
        "1._5",
        "1_.5",
        "1.5.3",
        " 1",
        "1 ",
        "1e5x",
        "1ex",
        "1.e5",
        ".5e-3",
        "00012.5000",
        "-0",
        "-0.0e0",
        "+0",
        "0",
        "0.0",
        "000",
        "0e999999999999999999999",
        "1e400",
        "1e-400",
        "-1e400",
        "1e99999999999999999999999999",
        "1e-99999999999999999999999999",
        "inf",
        "-inf",
        "+inf",
        "INF",
        "Infinity",
        "-INFINITY",
        "+infinity",
        "nan",
        "NaN",
        "NAN",
        "+nan",
        "-nan",
        "infx",
        "nanx",
        "in",
        "0x10",
        "1e1_0",
        "1e_10",
        "1_000_000.000_1",
        "3.14",
        "2.5",
        "0.1",
        "0.2",
        "0.3",
        "1.1",
        "123456789",
        "2.4703282292062327e-324",
        "2.4703282292062328e-324",
        "4.9406564584124654e-324",
        "5e-324",
        "1e-323",
        "2.2250738585072011e-308",
        "2.2250738585072014e-308",
        "2.2250738585072012e-308",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "1.7976931348623159e308",
        "1.797693134862315807e308",
        "9007199254740993",
        "9007199254740993.0000000000000001",
        "9007199254740995",
        "9007199254740992.5",
        "1e22",
        "1e23",
        "8.9884656743115795e307",
        "4.35679e-10",
        "123456789012345678901234567890",
        "0.000000000000000000000000000000000000000000001",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "1.00000000000000011102230246251565404236316680908203126",
        "7.2057594037927933e16",
        "9223372036854775807",
        "9223372036854775808",
        "9999999999999999999",
        "-9.692394196567633798e-3",
        "18446744073709551615",
        "18446744073709551616",
        "9007199254740992",
        "3.0517578125e-5",
        "1e0",
        "1E0",
        "1e+0",
        "1e-0",
        "12e",
        "1.2.3",
        "--1",
        "+-1",
        "1+",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Long texts: 800 digits (beyond the exact digits kept) and long runs
    // of zeros.
    texts.push(format!("1{}e-800", "0".repeat(799)));
    texts.push(format!("0.{}1", "0".repeat(330)));
    texts.push(format!("0.{}25e330", "0".repeat(700)));
    texts.push(format!("{}e-1000", "9".repeat(1000)));
    // The midpoint above 1, then with a nonzero digit after 800 zeros.
    let (digits, exponent) = midpoint(1f64.to_bits());
    texts.push(format!("{digits}e{exponent}"));
    texts.push(format!("{digits}{}1e{}", "0".repeat(800), exponent - 801));
    // Midpoints around the smallest normal and subnormals.
    for bits in [0, 1, 2, (1 << 52) - 1, 1 << 52, (1 << 52) + 1, 0x7fef_ffff_ffff_ffff] {
        let (digits, exponent) = midpoint(bits);
        texts.push(format!("{digits}e{exponent}"));
    }
    texts
}

/// Runs every text through both functions on `isa`; the disagreements.
fn check(isa: Isa, count: usize, seed: u64) -> Vec<String> {
    let texts: Vec<String> = fixed_texts().into_iter().chain(random_texts(count, seed)).collect();
    let cases: Vec<(usize, String)> = texts.iter().flat_map(|t| [(0, t.clone()), (1, t.clone())]).collect();
    let started = Instant::now();
    let exe = write_executable(isa, &cases);
    let mut child = common::when_not_busy(|| common::command(isa, &exe).stdout(Stdio::piped()).spawn());
    let mut failures = Vec::new();
    let mut lines = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let got = line.unwrap().parse::<i64>().unwrap() as u64;
        if let Some((function, text)) = cases.get(lines) {
            let want = oracle(*function, text);
            let same = got == want || (f64::from_bits(got).is_nan() && f64::from_bits(want).is_nan());
            if !same && failures.len() < 20 {
                let shown: String = text.chars().take(80).collect();
                failures.push(format!(
                    "{isa:?} {}({shown:?}) = {:e} ({got:#x}), want {:e} ({want:#x})",
                    FUNCTIONS[*function],
                    f64::from_bits(got),
                    f64::from_bits(want)
                ));
            }
        }
        lines += 1;
    }
    let status = child.wait().unwrap();
    std::fs::remove_file(&exe).unwrap();
    assert!(status.success(), "{isa:?}: {status}");
    assert_eq!(lines, cases.len(), "{isa:?}: results printed");
    println!("{isa:?}: {} texts, {} calls, {:.1?}", texts.len(), cases.len(), started.elapsed());
    failures
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name}={v}: not a number")))
}

#[test]
fn atof_agrees_with_rust() {
    let count = env_number("VBEAM_ATOF_COUNT", 3000) as usize;
    let seed = env_number("VBEAM_ATOF_SEED", 5);
    let failures = std::thread::scope(|scope| {
        [(Isa::X86_64, seed), (Isa::Arm64, !seed)]
            .map(|(isa, isa_seed)| scope.spawn(move || check(isa, count, isa_seed)))
            .map(|run| run.join().unwrap())
            .concat()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
