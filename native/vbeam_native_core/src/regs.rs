//! Register names and the calling convention of each target, as the register
//! allocator and the lowerers see them. Registers are hardware numbers
//! (`PReg`): x86_64 rax=0 … r15=15, arm64 x0=0 … x30=30.

use crate::ir::{Isa, PReg};

const X86_NAMES: [&str; 16] =
    ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

pub mod x86 {
    use crate::ir::PReg;
    pub const RAX: PReg = PReg(0);
    pub const RCX: PReg = PReg(1);
    pub const RDX: PReg = PReg(2);
    pub const RBX: PReg = PReg(3);
    pub const RSP: PReg = PReg(4);
    pub const RBP: PReg = PReg(5);
    pub const RSI: PReg = PReg(6);
    pub const RDI: PReg = PReg(7);
    pub const R8: PReg = PReg(8);
    pub const R9: PReg = PReg(9);
    pub const R10: PReg = PReg(10);
    pub const R11: PReg = PReg(11);
    pub const R12: PReg = PReg(12);
    pub const R13: PReg = PReg(13);
    pub const R14: PReg = PReg(14);
    pub const R15: PReg = PReg(15);
    /// xmm N is `PReg(FP_BASE + N)` (see `crate::regs::FP_BASE`).
    pub const XMM0: PReg = PReg(super::FP_BASE);
}

pub mod arm64 {
    use crate::ir::PReg;
    pub const X0: PReg = PReg(0);
    pub const X1: PReg = PReg(1);
    pub const X2: PReg = PReg(2);
    pub const X8: PReg = PReg(8);
    pub const X9: PReg = PReg(9);
    pub const X10: PReg = PReg(10);
    pub const X16: PReg = PReg(16);
    pub const X17: PReg = PReg(17);
    pub const X18: PReg = PReg(18);
    pub const X28: PReg = PReg(28);
    /// Frame pointer.
    pub const FP: PReg = PReg(29);
    /// Link register.
    pub const LR: PReg = PReg(30);
    /// Stack pointer / zero register, depending on the instruction.
    pub const SP: PReg = PReg(31);
}

/// Floating-point registers are numbered from here (xmm0 / d0), after
/// every general-purpose register, so one `RegSet` holds both classes.
pub const FP_BASE: u8 = 32;

/// The floating-point register `n` (xmm n on x86_64, d n on arm64).
pub const fn fp(n: u8) -> PReg {
    PReg(FP_BASE + n)
}

impl PReg {
    /// Whether this is a floating-point register.
    pub fn is_fp(self) -> bool {
        self.0 >= FP_BASE
    }
    /// Its number within its class (xmm3 and d3 are 3).
    pub fn fp_number(self) -> u8 {
        debug_assert!(self.is_fp());
        self.0 - FP_BASE
    }
}

/// A set of physical registers (bit N = register N).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RegSet(pub u64);

impl RegSet {
    pub const EMPTY: RegSet = RegSet(0);
    pub fn of(regs: &[PReg]) -> RegSet {
        regs.iter().fold(RegSet::EMPTY, |s, r| s.with(*r))
    }
    pub fn contains(self, r: PReg) -> bool {
        self.0 >> r.0 & 1 != 0
    }
    pub fn with(self, r: PReg) -> RegSet {
        RegSet(self.0 | 1 << r.0)
    }
    pub fn without(self, r: PReg) -> RegSet {
        RegSet(self.0 & !(1 << r.0))
    }
    pub fn union(self, o: RegSet) -> RegSet {
        RegSet(self.0 | o.0)
    }
    pub fn minus(self, o: RegSet) -> RegSet {
        RegSet(self.0 & !o.0)
    }
    pub fn intersect(self, o: RegSet) -> RegSet {
        RegSet(self.0 & o.0)
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }
    /// Registers in ascending hardware order.
    pub fn iter(self) -> impl Iterator<Item = PReg> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let r = bits.trailing_zeros() as u8;
                bits &= bits - 1;
                PReg(r)
            })
        })
    }
}

/// Everything target-specific the register allocator needs.
#[derive(Clone, Debug)]
pub struct CallConv {
    pub target: Isa,
    /// Integer argument registers, in order.
    pub args: &'static [PReg],
    pub result: PReg,
    /// Registers a call may destroy.
    pub caller_saved: RegSet,
    /// Registers every function must preserve.
    pub callee_saved: RegSet,
    /// Registers vregs may live in, in order of preference (caller-saved
    /// first, so short-lived values do not cost a save in the prologue).
    pub allocatable: &'static [PReg],
    /// Floating-point registers float values may live in. Every one is
    /// destroyed by calls (see `fp_caller_saved`), so the function never
    /// saves them.
    pub fp_allocatable: &'static [PReg],
    /// Floating-point registers any call may destroy: all of them, as far as
    /// values of the IR are concerned (none is kept across a call).
    pub fp_caller_saved: RegSet,
    /// Two floating-point registers the lowerer uses inside one instruction.
    pub fp_scratch: [PReg; 2],
    /// Registers the lowerer may use for two scratch values inside one IR
    /// instruction, in order of preference. A function takes the first two
    /// that its IR never names (saving them if they are callee-saved). None
    /// is an argument register or one an instruction needs for itself, so
    /// argument set-up and division never collide with scratch values.
    pub scratch_candidates: &'static [PReg],
    /// The bump allocator's heap pointer, reserved when the module allocates.
    pub heap: PReg,
    /// Registers the IR may not name: stack and frame pointers.
    pub reserved: RegSet,
    /// The register pointing at the current function's frame record (the
    /// caller's frame pointer, then the return address).
    pub frame_pointer: PReg,
    /// Registers the `syscall` instruction reads (number first) and the one
    /// it writes.
    pub syscall_uses: &'static [PReg],
    pub syscall_result: PReg,
    /// Registers the IR's `syscall` destroys besides its result, on every
    /// system (what the kernel destroys beyond these is saved).
    pub syscall_clobbers: RegSet,
    /// Registers signed division needs for itself (x86 idiv: rax, rdx).
    pub division_clobbers: RegSet,
    /// Registers a shift by a register amount needs (x86: the count in cl).
    pub shift_count_clobbers: RegSet,
}

static X86_64: CallConv = CallConv {
    target: Isa::X86_64,
    args: &[x86::RDI, x86::RSI, x86::RDX, x86::RCX, x86::R8, x86::R9],
    result: x86::RAX,
    caller_saved: RegSet(0b0000_1111_1100_0111), // rax rcx rdx rsi rdi r8-r11
    callee_saved: RegSet(0b1111_0000_0010_1000), // rbx rbp r12-r15
    allocatable: &[
        x86::RAX,
        x86::RCX,
        x86::RDX,
        x86::RSI,
        x86::RDI,
        x86::R8,
        x86::R9,
        x86::R10,
        x86::R11,
        x86::RBX,
        x86::R12,
        x86::R13,
        x86::R14,
        x86::R15,
    ],
    // xmm6-xmm15 are preserved in the Microsoft x64 convention firmware
    // calls efi_main with: a UEFI program reserves them (`compile`).
    fp_allocatable: &[
        fp(0),
        fp(1),
        fp(2),
        fp(3),
        fp(6),
        fp(7),
        fp(8),
        fp(9),
        fp(10),
        fp(11),
        fp(12),
        fp(13),
        fp(14),
        fp(15),
    ],
    fp_caller_saved: RegSet(0xffff << FP_BASE),
    fp_scratch: [fp(4), fp(5)],
    scratch_candidates: &[x86::R11, x86::R10, x86::R12, x86::R13, x86::R14, x86::RBX],
    heap: x86::R15,
    reserved: RegSet(1 << 4 | 1 << 5), // rsp rbp
    frame_pointer: x86::RBP,
    syscall_uses: &[x86::RAX, x86::RDI, x86::RSI, x86::RDX, x86::R10, x86::R8, x86::R9],
    syscall_result: x86::RAX,
    // The CPU's `syscall` instruction writes them; Linux's convention, the
    // IR's, says so.
    syscall_clobbers: RegSet(1 << 1 | 1 << 11), // rcx r11
    division_clobbers: RegSet(1 << 0 | 1 << 2), // rax rdx
    shift_count_clobbers: RegSet(1 << 1),       // rcx
};

static ARM64: CallConv = CallConv {
    target: Isa::Arm64,
    args: &[PReg(0), PReg(1), PReg(2), PReg(3), PReg(4), PReg(5), PReg(6), PReg(7)],
    result: PReg(0),
    // x0-x17 and lr; x18 is the platform register on macOS, never touched.
    caller_saved: RegSet(0x3_ffff | 1 << 30),
    callee_saved: RegSet(0x1ff8_0000 | 1 << 29), // x19-x28, fp
    allocatable: &[
        PReg(0),
        PReg(1),
        PReg(2),
        PReg(3),
        PReg(4),
        PReg(5),
        PReg(6),
        PReg(7),
        PReg(8),
        PReg(9),
        PReg(10),
        PReg(11),
        PReg(12),
        PReg(13),
        PReg(14),
        PReg(15),
        PReg(19),
        PReg(20),
        PReg(21),
        PReg(22),
        PReg(23),
        PReg(24),
        PReg(25),
        PReg(26),
        PReg(27),
        PReg(28),
    ],
    // d8-d15 are callee-saved in AAPCS64: left alone, so nothing is saved.
    fp_allocatable: &[
        fp(0),
        fp(1),
        fp(2),
        fp(3),
        fp(4),
        fp(5),
        fp(6),
        fp(7),
        fp(16),
        fp(17),
        fp(18),
        fp(19),
        fp(20),
        fp(21),
        fp(22),
        fp(23),
        fp(24),
        fp(25),
        fp(26),
        fp(27),
        fp(28),
        fp(29),
    ],
    fp_caller_saved: RegSet(0xffff_00ff << FP_BASE),
    fp_scratch: [fp(30), fp(31)],
    scratch_candidates: &[arm64::X17, arm64::X16, PReg(15), PReg(14), PReg(13), PReg(12), PReg(11)],
    heap: arm64::X28,
    // x18 (platform register), fp, lr (the lowerer's third scratch between
    // calls: the prologue saves it anyway), sp.
    reserved: RegSet(1 << 18 | 1 << 29 | 1 << 30 | 1 << 31),
    frame_pointer: arm64::FP,
    syscall_uses: &[arm64::X16, PReg(0), PReg(1), PReg(2), PReg(3), PReg(4), PReg(5)],
    syscall_result: PReg(0),
    syscall_clobbers: RegSet::EMPTY,
    division_clobbers: RegSet::EMPTY,
    shift_count_clobbers: RegSet::EMPTY,
};

pub fn call_conv(target: Isa) -> &'static CallConv {
    match target {
        Isa::X86_64 => &X86_64,
        Isa::Arm64 => &ARM64,
    }
}

pub fn preg_name(target: Isa, r: PReg) -> String {
    if r.is_fp() {
        return match target {
            Isa::X86_64 => format!("xmm{}", r.fp_number()),
            Isa::Arm64 => format!("d{}", r.fp_number()),
        };
    }
    match target {
        Isa::X86_64 => X86_NAMES.get(r.0 as usize).map_or_else(|| format!("r?{}", r.0), |n| n.to_string()),
        Isa::Arm64 => match r.0 {
            31 => "sp".to_string(),
            n => format!("x{n}"),
        },
    }
}

pub fn preg_from_name(target: Isa, name: &str) -> Option<PReg> {
    match target {
        Isa::X86_64 => X86_NAMES.iter().position(|n| *n == name).map(|i| PReg(i as u8)),
        Isa::Arm64 => match name {
            "fp" => Some(arm64::FP),
            "lr" => Some(arm64::LR),
            "sp" => Some(arm64::SP),
            _ => {
                let n: u8 = name.strip_prefix('x')?.parse().ok()?;
                (n <= 30 && name.len() == 1 + n.to_string().len()).then_some(PReg(n))
            }
        },
    }
}
