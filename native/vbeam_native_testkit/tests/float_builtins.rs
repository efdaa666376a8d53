//! The interpreter's `exp`, `log`, `pow`, `sin`, `cos`, `atof64` and
//! `string__f64` agree bit for bit with the backend's on many inputs (their
//! accuracy is the core crate's tests' business: `libm.rs` against MPFR,
//! `parse_float.rs` against Rust's parser). One program calls them on a
//! table of inputs and prints every result's bits; it runs compiled
//! (x86_64 natively, arm64 under qemu-aarch64) and interpreted.
//!
//! `VBEAM_FLOAT_BUILTINS_COUNT` sets the number of random inputs per
//! function (default 2000).

use std::process::Command;

use vbeam_native_core::compile_module;
use vbeam_native_core::ir::*;
use vbeam_native_core::regs::call_conv;
use vbeam_native_testkit::interp;

/// The builtins, and whether each takes a string.
const FUNCTIONS: [(&str, bool); 7] = [
    ("exp", false),
    ("log", false),
    ("pow", false),
    ("sin", false),
    ("cos", false),
    ("atof64", true),
    ("string__f64", true),
];

/// A program calling, for each (function, x, y) of the table, the function
/// on x and y, or on the string of y bytes at offset x of the texts.
fn program(isa: Isa, table: &[[u64; 3]], texts: &[u8]) -> Module {
    let cc = call_conv(isa);
    let v = Reg::V;
    let (row, index, id, x, y, r, header) = (v(0), v(1), v(2), v(3), v(4), v(5), v(6));
    let (top, done, got) = (Label(0), Label(1), Label(2));
    let mut labels: Vec<String> = vec!["top".into(), "done".into(), "got".into()];
    let mov = |dst: Reg, src: Reg| Inst::Mov { dst: Dst::Reg(dst), src: Operand::Reg(src) };
    let load = |dst: Reg, offset: i32| Inst::Load { width: Width::W64, dst, base: row, offset };
    let mut body = vec![
        Inst::Lea { dst: row, symbol: Symbol::Data("table".into()) },
        Inst::Lea { dst: header, symbol: Symbol::Data("header".into()) },
        Inst::Mov { dst: Dst::Reg(index), src: Operand::Imm(0) },
        Inst::Label(top),
        Inst::Cmp { a: index, b: Src::Imm(table.len() as i64) },
        Inst::Jcc(Cond::Ge, done),
        load(id, 0),
        load(x, 8),
        load(y, 16),
    ];
    for (i, (name, string)) in FUNCTIONS.iter().enumerate() {
        let next = Label(labels.len() as u32);
        labels.push(format!("not_{i}"));
        body.extend([Inst::Cmp { a: id, b: Src::Imm(i as i64) }, Inst::Jcc(Cond::Ne, next)]);
        if *string {
            body.extend([
                Inst::Lea { dst: r, symbol: Symbol::Data("texts".into()) },
                Inst::Bin { op: BinOp::Add, dst: r, a: r, b: Src::Reg(x) },
                Inst::Store { width: Width::W64, base: header, offset: 0, src: Src::Reg(r) },
                Inst::Store { width: Width::W64, base: header, offset: 8, src: Src::Reg(y) },
                mov(Reg::P(cc.args[0]), header),
            ]);
        } else {
            body.extend([mov(Reg::P(cc.args[0]), x), mov(Reg::P(cc.args[1]), y)]);
        }
        body.extend([Inst::Call((*name).into()), mov(r, Reg::P(cc.result)), Inst::Jmp(got), Inst::Label(next)]);
    }
    body.extend([
        Inst::Ret,
        Inst::Label(got),
        Inst::PrintInt(Src::Reg(r)),
        Inst::Bin { op: BinOp::Add, dst: row, a: row, b: Src::Imm(24) },
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
        locals: 7,
        body,
        labels,
        ..Default::default()
    };
    let data = |name: &str, bytes: Vec<u8>| DataEntry { name: name.into(), align: 8, bytes, refs: Vec::new() };
    let rows = table.iter().flatten().flat_map(|w| w.to_le_bytes()).collect();
    let mut texts = texts.to_vec();
    texts.push(0);
    Module {
        isa,
        format: Format::Elf64,
        functions: vec![main],
        data: vec![data("table", rows), data("texts", texts), data("header", vec![0; 16])],
        bss: Vec::new(),
        imports: Vec::new(),
        allow_stubs: false,
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
    /// A double of any kind: any bits, or a moderate value.
    fn double(&mut self) -> u64 {
        match self.next() % 4 {
            0 => self.next(),
            1 => ((self.next() >> 11) as f64 / (1u64 << 53) as f64 * 40.0 - 20.0).to_bits(),
            2 => ((self.next() >> 11) as f64 / (1u64 << 53) as f64 * 2000.0 - 1000.0).to_bits(),
            _ => ((self.next() % 200) as f64 - 100.0).to_bits(),
        }
    }
}

#[test]
fn interpreter_and_backend_agree_on_the_float_builtins() {
    let count = std::env::var("VBEAM_FLOAT_BUILTINS_COUNT").map_or(2000, |v| v.parse().unwrap());
    let mut random = Random(3);
    let mut table = Vec::new();
    let mut texts = Vec::new();
    for (i, (_, string)) in FUNCTIONS.iter().enumerate() {
        for _ in 0..count {
            if *string {
                let x = f64::from_bits(random.double());
                let text = match random.next() % 4 {
                    0 => format!("{x:e}"),
                    1 => format!("{x:.30e}"),
                    2 => format!("{x}x"),
                    _ => format!("{:?}", x.to_bits() as i64 as f64 / 7.0),
                };
                table.push([i as u64, texts.len() as u64, text.len() as u64]);
                texts.extend(text.into_bytes());
            } else {
                table.push([i as u64, random.double(), random.double()]);
            }
        }
    }
    for isa in [Isa::X86_64, Isa::Arm64] {
        let module = program(isa, &table, &texts);
        let expected = interp::run(&module, u64::MAX).unwrap();
        let exe = std::env::temp_dir().join(format!("vbeam_float_builtins_{}_{isa:?}", std::process::id()));
        std::fs::write(&exe, compile_module(&module).unwrap()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = match isa {
            Isa::X86_64 => Command::new(&exe).output(),
            Isa::Arm64 => Command::new("qemu-aarch64").arg(&exe).output(),
        }
        .unwrap();
        std::fs::remove_file(&exe).unwrap();
        assert!(out.status.success(), "{isa:?}: {}", out.status);
        let (got, want) = (String::from_utf8(out.stdout).unwrap(), String::from_utf8(expected.stdout).unwrap());
        let differ: Vec<String> = got
            .lines()
            .zip(want.lines())
            .zip(&table)
            .filter(|((g, w), _)| g != w)
            .take(10)
            .map(|((g, w), row)| {
                format!("{isa:?} {} {row:x?}: compiled {g}, interpreted {w}", FUNCTIONS[row[0] as usize].0)
            })
            .collect();
        assert!(differ.is_empty(), "{}", differ.join("\n"));
        assert_eq!(got.lines().count(), table.len(), "{isa:?}: results printed");
        assert_eq!(want.lines().count(), table.len(), "{isa:?}: results interpreted");
    }
}
