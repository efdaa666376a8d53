//! x86_64 machine instructions: the forms the lowerer emits. All integer
//! operations are 64-bit unless the variant says otherwise. `Gpr` values are
//! hardware numbers (rax=0 … r15=15, see `crate::regs::x86`); `Xmm` values
//! are xmm0 … xmm15.

use crate::code::RelocTarget;
use crate::ir::PReg;

pub type Gpr = PReg;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Xmm(pub u8);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    S1,
    S2,
    S4,
    S8,
}

/// A memory operand `[base + index*scale + disp]`. Any base is allowed
/// (rsp/r12 need a SIB byte, rbp/r13 a displacement); rsp is not a valid index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amode {
    pub base: Gpr,
    pub index: Option<(Gpr, Scale)>,
    pub disp: i32,
}

impl Amode {
    pub fn base_disp(base: Gpr, disp: i32) -> Amode {
        Amode { base, index: None, disp }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    Add,
    Or,
    And,
    Sub,
    Xor,
    Cmp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShiftOp {
    Shl,
    Shr,
    Sar,
}

/// Condition codes, numbered as the hardware numbers them (the low nibble of
/// Jcc/SETcc/CMOVcc opcodes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CC {
    O = 0,
    NO = 1,
    B = 2,
    AE = 3,
    E = 4,
    NE = 5,
    BE = 6,
    A = 7,
    S = 8,
    NS = 9,
    P = 10,
    NP = 11,
    L = 12,
    GE = 13,
    LE = 14,
    G = 15,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SseOp {
    Add,
    Sub,
    Mul,
    Div,
    /// `sqrtsd dst, src`: the square root of src (dst's value unused).
    Sqrt,
}

/// Widths of the narrow memory accesses (loads zero-extend to 64 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Narrow {
    B8,
    B16,
    B32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inst {
    /// `mov dst, src`
    MovRR {
        dst: Gpr,
        src: Gpr,
    },
    /// Loads any 64-bit constant with the shortest encoding: `mov r32, imm32`
    /// (zero-extends) for 0..=u32::MAX, `mov r64, simm32` for other values
    /// that fit i32, `movabs r64, imm64` otherwise.
    MovRI {
        dst: Gpr,
        imm: i64,
    },
    /// `mov dst, qword [mem]`
    Load {
        dst: Gpr,
        mem: Amode,
    },
    /// `mov qword [mem], src`
    Store {
        mem: Amode,
        src: Gpr,
    },
    /// `mov qword [mem], simm32`
    StoreImm {
        mem: Amode,
        imm: i32,
    },
    /// Zero-extending narrow load: `movzx r32, byte/word [mem]` or
    /// `mov r32, dword [mem]`.
    LoadNarrow {
        width: Narrow,
        dst: Gpr,
        mem: Amode,
    },
    /// Narrow store of the low bits of src: `mov byte/word/dword [mem], src`
    /// (a REX prefix makes sil/dil/spl/bpl addressable).
    StoreNarrow {
        width: Narrow,
        mem: Amode,
        src: Gpr,
    },
    /// `lea dst, [mem]`
    Lea {
        dst: Gpr,
        mem: Amode,
    },
    /// `lea dst, [rip + disp32]` with a `X86Rel32` fixup to `target`.
    LeaRip {
        dst: Gpr,
        target: RelocTarget,
    },
    /// `op dst, src`
    AluRR {
        op: AluOp,
        dst: Gpr,
        src: Gpr,
    },
    /// `op dst, qword [rip + disp32]` with a `X86Rel32` fixup to `target`.
    AluRRip {
        op: AluOp,
        dst: Gpr,
        target: RelocTarget,
    },
    /// `op dst, imm` (imm8 form when the value fits i8).
    AluRI {
        op: AluOp,
        dst: Gpr,
        imm: i32,
    },
    /// `test a, b`
    TestRR {
        a: Gpr,
        b: Gpr,
    },
    /// `imul dst, src`
    ImulRR {
        dst: Gpr,
        src: Gpr,
    },
    /// `imul dst, src, imm` (imm8 form when the value fits i8).
    ImulRRI {
        dst: Gpr,
        src: Gpr,
        imm: i32,
    },
    /// `neg reg`
    Neg {
        reg: Gpr,
    },
    /// `not reg`
    Not {
        reg: Gpr,
    },
    /// `op dst, cl`
    ShiftCl {
        op: ShiftOp,
        dst: Gpr,
    },
    /// `op dst, amount` (amount < 64; the 1-count form for 1, as assemblers do).
    ShiftImm {
        op: ShiftOp,
        dst: Gpr,
        amount: u8,
    },
    /// `cqo` (sign-extend rax into rdx:rax)
    Cqo,
    /// `idiv src` (signed rdx:rax / src)
    Idiv {
        src: Gpr,
    },
    /// `imul src` (one operand: rdx:rax := rax * src, signed)
    ImulWide {
        src: Gpr,
    },
    /// `setcc dst8` (writes the low byte only)
    Setcc {
        cc: CC,
        dst: Gpr,
    },
    /// `movzx dst32, src8` (zero-extends the low byte to 64 bits)
    MovzxRR8 {
        dst: Gpr,
        src: Gpr,
    },
    /// `cmovcc dst, src`
    Cmov {
        cc: CC,
        dst: Gpr,
        src: Gpr,
    },
    /// `jmp rel32` to a local label.
    Jmp {
        target: u32,
    },
    /// `jcc rel32` to a local label.
    Jcc {
        cc: CC,
        target: u32,
    },
    /// `call rel32` to a function symbol (`RelocTarget::Function`).
    Call {
        target: RelocTarget,
    },
    /// `call reg`
    CallR {
        reg: Gpr,
    },
    Ret,
    /// `push reg`
    Push {
        reg: Gpr,
    },
    /// `push simm32` (pushes 8 bytes, sign-extended; imm8 form when it fits)
    PushImm {
        imm: i32,
    },
    /// `pop reg`
    Pop {
        reg: Gpr,
    },
    Syscall,
    /// `ud2`
    Ud2,
    /// `movq xmm, r64`
    MovqToXmm {
        dst: Xmm,
        src: Gpr,
    },
    /// `movq r64, xmm`
    MovqFromXmm {
        dst: Gpr,
        src: Xmm,
    },
    /// `addsd/subsd/mulsd/divsd dst, src`
    SseBin {
        op: SseOp,
        dst: Xmm,
        src: Xmm,
    },
    /// `cvtsi2sd dst, r64`
    Cvtsi2sd {
        dst: Xmm,
        src: Gpr,
    },
    /// `cvttsd2si r64, src`
    Cvttsd2si {
        dst: Gpr,
        src: Xmm,
    },
    /// `movsd dst, qword [mem]`
    MovsdLoad {
        dst: Xmm,
        mem: Amode,
    },
    /// `movsd qword [mem], src`
    MovsdStore {
        mem: Amode,
        src: Xmm,
    },
    /// `movups dst, xmmword [mem]` (16 bytes, any alignment)
    MovupsLoad {
        dst: Xmm,
        mem: Amode,
    },
    /// `movups xmmword [mem], src`
    MovupsStore {
        mem: Amode,
        src: Xmm,
    },
    /// `movapd dst, src`: a register copy without movsd's merge into the
    /// destination's upper half.
    Movapd {
        dst: Xmm,
        src: Xmm,
    },
    /// `xorpd dst, src` (`xorpd x, x` is +0.0).
    Xorpd {
        dst: Xmm,
        src: Xmm,
    },
    /// `ucomisd a, b`
    Ucomisd {
        a: Xmm,
        b: Xmm,
    },
    /// Verbatim bytes.
    Raw(Vec<u8>),
}
