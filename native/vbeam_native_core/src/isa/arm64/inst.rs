//! ARM64 (A64) machine instructions: the forms the lowerer emits. All integer
//! operations are 64-bit (X registers). `Xr` values are hardware numbers
//! 0 … 30, with 31 meaning `xzr` or `sp` as each variant documents.

use crate::code::RelocTarget;
use crate::ir::PReg;

pub type Xr = PReg;

/// Register 31 read as the zero register.
pub const XZR: Xr = PReg(31);
/// Register 31 read as the stack pointer.
pub const SP: Xr = PReg(31);

/// A double-precision FP register d0 … d31.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dr(pub u8);

/// Condition codes, numbered as the hardware numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cond {
    Eq = 0,
    Ne = 1,
    Hs = 2,
    Lo = 3,
    Mi = 4,
    Pl = 5,
    Vs = 6,
    Vc = 7,
    Hi = 8,
    Ls = 9,
    Ge = 10,
    Lt = 11,
    Gt = 12,
    Le = 13,
}

impl Cond {
    pub fn invert(self) -> Cond {
        use Cond::*;
        match self {
            Eq => Ne,
            Ne => Eq,
            Hs => Lo,
            Lo => Hs,
            Mi => Pl,
            Pl => Mi,
            Vs => Vc,
            Vc => Vs,
            Hi => Ls,
            Ls => Hi,
            Ge => Lt,
            Lt => Ge,
            Gt => Le,
            Le => Gt,
        }
    }
}

/// Register-register ALU operations (shifted-register forms, shift 0).
/// Register 31 is xzr in every position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    Add,
    Sub,
    /// sets flags
    Adds,
    /// sets flags (`cmp a, b` is `subs xzr, a, b`)
    Subs,
    And,
    Orr,
    Eor,
    /// `orn` (`mvn d, m` is `orn d, xzr, m`)
    Orn,
}

/// Add/subtract immediate operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImmOp {
    Add,
    Sub,
    Adds,
    Subs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShiftOp {
    Lsl,
    Lsr,
    Asr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FpuOp {
    Fadd,
    Fsub,
    Fmul,
    Fdiv,
}

/// Memory access widths; loads zero-extend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    B8,
    B16,
    B32,
    B64,
}

impl Width {
    pub fn bytes(self) -> u32 {
        match self {
            Width::B8 => 1,
            Width::B16 => 2,
            Width::B32 => 4,
            Width::B64 => 8,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inst {
    /// `mov dst, src` as `orr dst, xzr, src` (31 = xzr).
    MovRR { dst: Xr, src: Xr },
    /// `mov dst, src` as `add dst, src, #0`: for moves to or from sp (31 = sp).
    MovSp { dst: Xr, src: Xr },
    /// `movz dst, #imm16, lsl #shift` (shift 0, 16, 32 or 48)
    Movz { dst: Xr, imm16: u16, shift: u8 },
    /// `movn dst, #imm16, lsl #shift`
    Movn { dst: Xr, imm16: u16, shift: u8 },
    /// `movk dst, #imm16, lsl #shift`
    Movk { dst: Xr, imm16: u16, shift: u8 },
    /// `op dst, a, b` (31 = xzr everywhere)
    AluRRR { op: AluOp, dst: Xr, a: Xr, b: Xr },
    /// `cmp sp, b` (`subs xzr, sp, b, uxtx`: the extended-register form,
    /// where 31 is sp as the first operand).
    CmpSp { b: Xr },
    /// `op dst, a, #imm12 {, lsl #12}`; 31 = sp for a, and for dst of Add/Sub
    /// (xzr for dst of Adds/Subs: `cmp a, #imm` is `subs xzr, a, #imm`).
    AluRRImm12 { op: ImmOp, dst: Xr, a: Xr, imm12: u16, lsl12: bool },
    /// `mul dst, a, b` (`madd dst, a, b, xzr`)
    Mul { dst: Xr, a: Xr, b: Xr },
    /// `msub dst, a, b, c`: dst = c - a*b
    Msub { dst: Xr, a: Xr, b: Xr, c: Xr },
    /// `smulh dst, a, b`: the high 64 bits of the signed 128-bit product
    Smulh { dst: Xr, a: Xr, b: Xr },
    /// `sdiv dst, a, b`
    Sdiv { dst: Xr, a: Xr, b: Xr },
    /// `lslv/lsrv/asrv dst, a, b` (shift by b mod 64)
    ShiftRRR { op: ShiftOp, dst: Xr, a: Xr, b: Xr },
    /// `lsl/lsr/asr dst, a, #amount` (amount < 64; UBFM/SBFM aliases)
    ShiftImm { op: ShiftOp, dst: Xr, a: Xr, amount: u8 },
    /// `ldr{b,h,w,} dst, [base, #offset]`: unsigned offset, a multiple of
    /// the width, below 4096 * width; 31 = sp for base.
    Load { width: Width, dst: Xr, base: Xr, offset: u32 },
    /// `str{b,h,w,} src, [base, #offset]` (same offset rules; 31 = xzr for src).
    Store { width: Width, src: Xr, base: Xr, offset: u32 },
    /// `ldur{b,h,}  dst, [base, #simm9]`
    LoadUnscaled { width: Width, dst: Xr, base: Xr, offset: i16 },
    /// `stur{b,h,} src, [base, #simm9]`
    StoreUnscaled { width: Width, src: Xr, base: Xr, offset: i16 },
    /// `ldr{b,h,w,} dst, [base, index{, lsl #log2(width)}]`
    LoadIndexed { width: Width, dst: Xr, base: Xr, index: Xr, scaled: bool },
    /// `str{b,h,w,} src, [base, index{, lsl #log2(width)}]`
    StoreIndexed { width: Width, src: Xr, base: Xr, index: Xr, scaled: bool },
    /// `str src, [sp, #-16]!` style pre-index store: `str src, [base, #offset]!`
    StorePre { src: Xr, base: Xr, offset: i16 },
    /// `ldr dst, [base], #offset` post-index load.
    LoadPost { dst: Xr, base: Xr, offset: i16 },
    /// `stp a, b, [base, #offset]!` (offset a multiple of 8 in -512..=504)
    StpPre { a: Xr, b: Xr, base: Xr, offset: i16 },
    /// `ldp a, b, [base], #offset`
    LdpPost { a: Xr, b: Xr, base: Xr, offset: i16 },
    /// `stp a, b, [base, #offset]` (signed offset, a multiple of 8 in -512..=504)
    Stp { a: Xr, b: Xr, base: Xr, offset: i16 },
    /// `ldp a, b, [base, #offset]`
    Ldp { a: Xr, b: Xr, base: Xr, offset: i16 },
    /// `adrp dst, target` with an `Arm64AdrpPage21` fixup.
    Adrp { dst: Xr, target: RelocTarget },
    /// `add dst, src, :lo12:target` with an `Arm64AddLo12` fixup.
    AddLo12 { dst: Xr, src: Xr, target: RelocTarget },
    /// `ldr dst, [base, :lo12:target]` (64-bit) with an `Arm64Load64Lo12`
    /// fixup.
    LoadLo12 { dst: Xr, base: Xr, target: RelocTarget },
    /// `b label` (`Arm64Branch26` fixup to a local label).
    B { target: u32 },
    /// `b.cond label` (`Arm64Branch19`).
    BCond { cond: Cond, target: u32 },
    /// `cbz reg, label` (`Arm64Branch19`).
    Cbz { reg: Xr, target: u32 },
    /// `cbnz reg, label` (`Arm64Branch19`).
    Cbnz { reg: Xr, target: u32 },
    /// `bl symbol` (`Arm64Branch26` fixup to a function).
    Bl { target: RelocTarget },
    /// `blr reg`
    Blr { reg: Xr },
    /// `ret` (x30)
    Ret,
    /// `svc #imm16`
    Svc { imm16: u16 },
    /// `csel dst, a, b, cond`
    Csel { dst: Xr, a: Xr, b: Xr, cond: Cond },
    /// `cset dst, cond` (`csinc dst, xzr, xzr, !cond`)
    Cset { dst: Xr, cond: Cond },
    /// `csneg dst, a, b, cond`
    Csneg { dst: Xr, a: Xr, b: Xr, cond: Cond },
    /// `brk #imm16`
    Brk { imm16: u16 },
    /// `fmov dst, src` (X to D)
    FmovToFp { dst: Dr, src: Xr },
    /// `fmov dst, src` (D to X)
    FmovFromFp { dst: Xr, src: Dr },
    /// `fadd/fsub/fmul/fdiv dst, a, b` (double precision)
    FpuRRR { op: FpuOp, dst: Dr, a: Dr, b: Dr },
    /// `scvtf dst, src` (signed X to double)
    Scvtf { dst: Dr, src: Xr },
    /// `fcvtzs dst, src` (double to signed X, toward zero)
    Fcvtzs { dst: Xr, src: Dr },
    /// `fsqrt dst, src`.
    Fsqrt { dst: Dr, src: Dr },
    /// `fcmp a, b`
    Fcmp { a: Dr, b: Dr },
    /// `fmov dst, src` (D to D)
    FmovDD { dst: Dr, src: Dr },
    /// `ldr dst, [base, #offset]` (D register; offset a multiple of 8
    /// below 32768; 31 = sp for base)
    FpLoad { dst: Dr, base: Xr, offset: u32 },
    /// `str src, [base, #offset]` (same rules)
    FpStore { src: Dr, base: Xr, offset: u32 },
    /// `ldur dst, [base, #offset]` with the whole 128-bit Q register
    /// (offset -256..=255; 31 = sp for base)
    QLoadUnscaled { dst: Dr, base: Xr, offset: i16 },
    /// `stur src, [base, #offset]` (same rules)
    QStoreUnscaled { src: Dr, base: Xr, offset: i16 },
    /// Verbatim bytes.
    Raw(Vec<u8>),
}
