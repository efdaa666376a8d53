//! Fault signals as XNU delivers them: programs install a handler with the
//! raw `sigaltstack` and `sigaction` system calls (their own trampoline,
//! no libc), then fault. The trampoline reports what it was entered with
//! and what the siginfo, ucontext and machine context hold; each is checked
//! against XNU's `sendsig` on both ISAs.

mod common;

use common::{Isa, Signing};
use vbeam_native_macho_loader::{run, Options, Outcome, Run};

const SIGILL: u64 = 4;
const SIGFPE: u64 = 8;
const SIGBUS: u64 = 10;
const SIGSEGV: u64 = 11;
const SA_ONSTACK: u32 = 0x1;
const SA_RESTART: u64 = 0x2;
const SA_NODEFER: u32 = 0x10;
const SA_SIGINFO: u32 = 0x40;
const SA_VALIDATE_SIGRETURN_FROM_SIGTRAMP: u32 = 0x400;
const SS_DISABLE: u64 = 0x4;
/// The trampoline's `infostyle` with `SA_SIGINFO`.
const UC_FLAVOR: u64 = 30;
const EPERM: u64 = 1;
const ENOMEM: u64 = 12;
const EINVAL: u64 = 22;
/// `si_code`s.
const SEGV_MAPERR: u64 = 1;
const SEGV_ACCERR: u64 = 2;
const BUS_ADRALN: u64 = 1;
const BUS_ADRERR: u64 = 2;
const ILL_ILLOPC: u64 = 1;
const ILL_ILLTRP: u64 = 2;
const FPE_INTDIV: u64 = 7;
/// Frame sizes: siginfo, ucontext, the machine contexts, the red zone.
const SIGINFO_SIZE: u64 = 104;
const UCONTEXT_SIZE: u64 = 56;
const X86_MCONTEXT_SIZE: u64 = 712;
const ARM64_MCONTEXT_SIZE: u64 = 816;
const RED_ZONE: u64 = 128;
/// The programs' alternate stack.
const ALT_STACK_SIZE: u64 = 65536;
/// The main stack: top (`USRSTACK64`, unslid here) and usable size.
const X86_STACK_TOP: u64 = 0x7ffe_efc0_0000;
const ARM64_STACK_TOP: u64 = 0x1_6fe0_0000;
const STACK_SIZE: u64 = 8 << 20;
/// What the reporting trampoline exits with.
const REPORTED: i32 = 77;
/// An address in page zero: nothing is mapped there.
const UNMAPPED: u64 = 0x40;

/// The words the reporting trampoline writes, by index.
mod slot {
    pub const CATCHER: usize = 0;
    pub const INFOSTYLE: usize = 1;
    pub const SIGNAL: usize = 2;
    pub const SIGINFO: usize = 3;
    pub const UCONTEXT: usize = 4;
    pub const TOKEN: usize = 5;
    pub const ENTRY_SP: usize = 6;
    pub const HANDLER: usize = 7;
    pub const FAULT_HERE: usize = 8;
    pub const SI_SIGNO: usize = 9;
    pub const SI_CODE: usize = 10;
    pub const SI_ADDR: usize = 11;
    pub const UC_MCONTEXT: usize = 12;
    /// The exception state's fault address (`__faultvaddr` / `__far`).
    pub const MC_FAULT_ADDRESS: usize = 13;
    pub const MC_PC: usize = 14;
    pub const MC_SP: usize = 15;
    /// rbp / x29.
    pub const MC_FP: usize = 16;
    pub const UC_STACK_SP: usize = 17;
    pub const UC_STACK_SIZE: usize = 18;
    pub const UC_ONSTACK: usize = 19;
    pub const UC_SIGMASK: usize = 20;
    /// x86_64: `__trapno`; arm64: `__lr`.
    pub const MC_TRAPNO_OR_LR: usize = 21;
    /// x86_64: `__err`; arm64: `__esr`.
    pub const MC_ERR_OR_ESR: usize = 22;
    /// Stored by `main` just before the fault.
    pub const SP_BEFORE: usize = 23;
    pub const ALT_STACK: usize = 24;
    pub const EXPECTED_ADDRESS: usize = 25;
    pub const SI_PAD0: usize = 26;
    pub const UC_MCSIZE: usize = 27;
    pub const COUNT: usize = 28;
}

/// rbp / x29 as `main` leaves it at the fault.
const FRAME_MARKER: u64 = 0x5eed_0000_fee1;

/// What the trampoline does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trampoline {
    /// Write the report to stdout and exit with `REPORTED`.
    Report,
    /// Fault again (the same way as `main`).
    FaultAgain,
    /// Count the signal, step the saved pc past the faulting instruction
    /// and `sigreturn` with the token XORed with this value.
    Sigreturn { token_xor: u32 },
}

struct Program<'a> {
    signal: u64,
    flags: u32,
    alt_stack: bool,
    /// Code before the fault; may store the expected `si_addr` in the
    /// report (x86_64: `movq %rax, 200(%r10)`, arm64: `str x0, [x9, #200]`).
    setup: &'a str,
    /// The faulting instruction, at label `fault_here`.
    fault: &'a str,
    /// More code after `main` (e.g. a recursive function).
    extra: &'a str,
    trampoline: Trampoline,
}

fn x86_64_source(p: &Program) -> String {
    let alt = if p.alt_stack {
        "  leaq ss(%rip), %rdi\n  xorl %esi, %esi\n  movl $0x2000035, %eax\n  syscall\n  jc fail\n"
    } else {
        ""
    };
    let tramp = match p.trampoline {
        Trampoline::Report => X86_REPORT.to_string(),
        Trampoline::FaultAgain => format!("tramp:\n{}\n{}\n", p.setup, p.fault),
        Trampoline::Sigreturn { token_xor } => X86_SIGRETURN.replace("@XOR@", &token_xor.to_string()),
    };
    X86_MAIN
        .replace("@ALT@", alt)
        .replace("@SIGNAL@", &p.signal.to_string())
        .replace("@FLAGS@", &p.flags.to_string())
        .replace("@SETUP@", p.setup)
        .replace("@FAULT@", p.fault)
        .replace("@EXTRA@", p.extra)
        .replace("@TRAMP@", &tramp)
        .replace("@REPORT_BYTES@", &(slot::COUNT * 8).to_string())
        .replace("@ALT_SIZE@", &ALT_STACK_SIZE.to_string())
}

fn arm64_source(p: &Program) -> String {
    let alt = if p.alt_stack {
        "  adrp x0, ss@PAGE\n  add x0, x0, ss@PAGEOFF\n  mov x1, #0\n  mov x16, #53\n  svc #0x80\n  b.cs fail\n"
    } else {
        ""
    };
    let tramp = match p.trampoline {
        Trampoline::Report => ARM64_REPORT.to_string(),
        Trampoline::FaultAgain => format!("tramp:\n{}\n{}\n", p.setup, p.fault),
        Trampoline::Sigreturn { token_xor } => ARM64_SIGRETURN.replace("@XOR@", &token_xor.to_string()),
    };
    ARM64_MAIN
        .replace("@ALT@", alt)
        .replace("@SIGNAL@", &p.signal.to_string())
        .replace("@FLAGS@", &p.flags.to_string())
        .replace("@SETUP@", p.setup)
        .replace("@FAULT@", p.fault)
        .replace("@EXTRA@", p.extra)
        .replace("@TRAMP@", &tramp)
        .replace("@REPORT_BYTES@", &(slot::COUNT * 8).to_string())
        .replace("@ALT_SIZE@", &ALT_STACK_SIZE.to_string())
}

/// Installs the handler (and the alternate stack), records the stack
/// pointer, sets rbp to `FRAME_MARKER` and faults at `fault_here`. The
/// sigreturn trampoline resumes after the fault: `main` then exits with
/// the number of signals handled, or 1 if rbx was not restored.
const X86_MAIN: &str = "
.section __TEXT,__text,regular,pure_instructions
.globl _main
.p2align 4
_main:
  pushq %rbp
  pushq %rbx
@ALT@
  movl $@SIGNAL@, %edi
  leaq act(%rip), %rsi
  xorl %edx, %edx
  movl $0x200002e, %eax
  syscall
  jc fail
  leaq report(%rip), %r10
@SETUP@
  leaq report(%rip), %r10
  movq %rsp, 184(%r10)
  leaq altstack(%rip), %r11
  movq %r11, 192(%r10)
  movabsq $0x5eed0000fee1, %rbp
  movl $0x123, %ebx
fault_here:
@FAULT@
  cmpl $0x123, %ebx
  jne fail_rbx
  movl handled(%rip), %edi
  movl $0x2000001, %eax
  syscall
fail_rbx:
  movl $1, %edi
  movl $0x2000001, %eax
  syscall
fail:
  movl $98, %edi
  movl $0x2000001, %eax
  syscall
handler:
  ret
@EXTRA@
@TRAMP@
.section __DATA,__data
.p2align 3
act: .quad handler, tramp
  .long 0, @FLAGS@
ss: .quad altstack, @ALT_SIZE@
  .long 0, 0
handled: .quad 0
report: .space 256
.p2align 4
altstack: .space @ALT_SIZE@
";

const X86_REPORT: &str = "
tramp:
  leaq report(%rip), %rax
  movq %rdi, 0(%rax)
  movq %rsi, 8(%rax)
  movq %rdx, 16(%rax)
  movq %rcx, 24(%rax)
  movq %r8, 32(%rax)
  movq %r9, 40(%rax)
  movq %rsp, 48(%rax)
  leaq handler(%rip), %r10
  movq %r10, 56(%rax)
  leaq fault_here(%rip), %r10
  movq %r10, 64(%rax)
  movl 0(%rcx), %r10d
  movq %r10, 72(%rax)
  movl 8(%rcx), %r10d
  movq %r10, 80(%rax)
  movq 24(%rcx), %r10
  movq %r10, 88(%rax)
  movq 48(%r8), %r11
  movq %r11, 96(%rax)
  movq 8(%r11), %r10
  movq %r10, 104(%rax)
  movq 144(%r11), %r10
  movq %r10, 112(%rax)
  movq 72(%r11), %r10
  movq %r10, 120(%rax)
  movq 64(%r11), %r10
  movq %r10, 128(%rax)
  movq 8(%r8), %r10
  movq %r10, 136(%rax)
  movq 16(%r8), %r10
  movq %r10, 144(%rax)
  movl 0(%r8), %r10d
  movq %r10, 152(%rax)
  movl 4(%r8), %r10d
  movq %r10, 160(%rax)
  movzwl 0(%r11), %r10d
  movq %r10, 168(%rax)
  movl 4(%r11), %r10d
  movq %r10, 176(%rax)
  movq 48(%rcx), %r10
  movq %r10, 208(%rax)
  movq 40(%r8), %r10
  movq %r10, 216(%rax)
  movl $1, %edi
  movq %rax, %rsi
  movl $@REPORT_BYTES@, %edx
  movl $0x2000004, %eax
  syscall
  movl $77, %edi
  movl $0x2000001, %eax
  syscall
";

/// Counts the signal, clobbers rbx, skips the 2-byte faulting instruction
/// (`ud2`) in the saved rip and returns through `sigreturn(uctx,
/// UC_FLAVOR, token ^ @XOR@)`; exits with 100 + errno if that fails.
const X86_SIGRETURN: &str = "
tramp:
  incl handled(%rip)
  movl $0xbad, %ebx
  movq 48(%r8), %r11
  addq $2, 144(%r11)
  movq %r8, %rdi
  movl $30, %esi
  movq %r9, %rdx
  xorq $@XOR@, %rdx
  movl $0x20000b8, %eax
  syscall
  leaq 100(%rax), %rdi
  movl $0x2000001, %eax
  syscall
";

const ARM64_MAIN: &str = "
.section __TEXT,__text,regular,pure_instructions
.globl _main
.p2align 2
_main:
  stp x29, x30, [sp, #-32]!
  str x19, [sp, #16]
@ALT@
  mov x0, #@SIGNAL@
  adrp x1, act@PAGE
  add x1, x1, act@PAGEOFF
  mov x2, #0
  mov x16, #46
  svc #0x80
  b.cs fail
  adrp x9, report@PAGE
  add x9, x9, report@PAGEOFF
@SETUP@
  adrp x9, report@PAGE
  add x9, x9, report@PAGEOFF
  mov x10, sp
  str x10, [x9, #184]
  adrp x10, altstack@PAGE
  add x10, x10, altstack@PAGEOFF
  str x10, [x9, #192]
  movz x29, #0xfee1
  movk x29, #0x5eed, lsl #32
  mov x19, #0x123
fault_here:
@FAULT@
  cmp x19, #0x123
  b.ne fail_x19
  adrp x0, handled@PAGE
  ldr x0, [x0, handled@PAGEOFF]
  mov x16, #1
  svc #0x80
fail_x19:
  mov x0, #1
  mov x16, #1
  svc #0x80
fail:
  mov x0, #98
  mov x16, #1
  svc #0x80
handler:
  ret
@EXTRA@
@TRAMP@
.section __DATA,__data
.p2align 3
act: .quad handler, tramp
  .long 0, @FLAGS@
ss: .quad altstack, @ALT_SIZE@
  .long 0, 0
handled: .quad 0
report: .space 256
.p2align 4
altstack: .space @ALT_SIZE@
";

const ARM64_REPORT: &str = "
tramp:
  adrp x9, report@PAGE
  add x9, x9, report@PAGEOFF
  stp x0, x1, [x9, #0]
  stp x2, x3, [x9, #16]
  stp x4, x5, [x9, #32]
  mov x10, sp
  str x10, [x9, #48]
  adr x10, handler
  str x10, [x9, #56]
  adr x10, fault_here
  str x10, [x9, #64]
  ldr w10, [x3, #0]
  str x10, [x9, #72]
  ldr w10, [x3, #8]
  str x10, [x9, #80]
  ldr x10, [x3, #24]
  str x10, [x9, #88]
  ldr x11, [x4, #48]
  str x11, [x9, #96]
  ldr x10, [x11, #0]
  str x10, [x9, #104]
  ldr x10, [x11, #272]
  str x10, [x9, #112]
  ldr x10, [x11, #264]
  str x10, [x9, #120]
  ldr x10, [x11, #248]
  str x10, [x9, #128]
  ldr x10, [x4, #8]
  str x10, [x9, #136]
  ldr x10, [x4, #16]
  str x10, [x9, #144]
  ldr w10, [x4, #0]
  str x10, [x9, #152]
  ldr w10, [x4, #4]
  str x10, [x9, #160]
  ldr x10, [x11, #256]
  str x10, [x9, #168]
  ldr w10, [x11, #8]
  str x10, [x9, #176]
  ldr x10, [x3, #48]
  str x10, [x9, #208]
  ldr x10, [x4, #40]
  str x10, [x9, #216]
  mov x0, #1
  mov x1, x9
  mov x2, #@REPORT_BYTES@
  mov x16, #4
  svc #0x80
  mov x0, #77
  mov x16, #1
  svc #0x80
";

/// As `X86_SIGRETURN`, skipping a 4-byte instruction; clobbers x19.
const ARM64_SIGRETURN: &str = "
tramp:
  adrp x9, handled@PAGE
  add x9, x9, handled@PAGEOFF
  ldr x10, [x9]
  add x10, x10, #1
  str x10, [x9]
  mov x19, #0xbad
  ldr x11, [x4, #48]
  ldr x10, [x11, #272]
  add x10, x10, #4
  str x10, [x11, #272]
  mov x0, x4
  mov x1, #30
  mov x10, #@XOR@
  eor x2, x5, x10
  mov x16, #184
  svc #0x80
  add x0, x0, #100
  mov x16, #1
  svc #0x80
";

fn build(isa: Isa, label: &str, p: &Program) -> Vec<u8> {
    let source = match isa {
        Isa::X86_64 => x86_64_source(p),
        Isa::Arm64 => arm64_source(p),
    };
    common::build(isa, Signing::AdHoc, label, &source)
}

fn run_ok(image: &[u8]) -> Run {
    run(image, &Options::default()).unwrap_or_else(|e| panic!("refused: {e}"))
}

/// Runs a reporting program: it must exit through the trampoline.
fn report(isa: Isa, label: &str, p: &Program) -> Vec<u64> {
    let r = run_ok(&build(isa, label, p));
    assert_eq!(r.outcome, Outcome::Exited(REPORTED), "{isa:?} {label}: {r:?}");
    assert_eq!(r.stdout.len(), slot::COUNT * 8, "{isa:?} {label}");
    r.stdout.chunks(8).map(|w| u64::from_le_bytes(w.try_into().unwrap())).collect()
}

fn expect_fault(r: &Run, needles: &[&str]) -> String {
    match &r.outcome {
        Outcome::Fault(what) => {
            for needle in needles {
                assert!(what.contains(needle), "fault {what:?} does not mention {needle:?}");
            }
            what.clone()
        }
        other => panic!("expected a fault mentioning {needles:?}, got {other:?}"),
    }
}

/// The frame's layout relative to the stack it was built on (`base`: the
/// interrupted sp or the alternate stack's top), as `sendsig` lays it out.
fn check_frame(isa: Isa, w: &[u64], base: u64) {
    let mcontext = w[slot::UC_MCONTEXT];
    match isa {
        Isa::X86_64 => {
            assert_eq!(w[slot::UCONTEXT], base - RED_ZONE - UCONTEXT_SIZE, "ucontext below the red zone");
            assert_eq!(w[slot::SIGINFO], w[slot::UCONTEXT] - SIGINFO_SIZE, "siginfo below the ucontext");
            assert_eq!(mcontext, w[slot::SIGINFO] - X86_MCONTEXT_SIZE, "mcontext below the siginfo");
            assert_eq!(w[slot::ENTRY_SP], ((mcontext - 16) & !15) - 8, "entry rsp");
            assert_eq!(w[slot::ENTRY_SP] % 16, 8, "rsp as after a call");
            assert_eq!(w[slot::UC_MCSIZE], X86_MCONTEXT_SIZE);
            assert_eq!(w[slot::UC_STACK_SP], w[slot::ENTRY_SP], "uc_stack.ss_sp is the entry rsp");
        }
        Isa::Arm64 => {
            let frame = (base - SIGINFO_SIZE - UCONTEXT_SIZE - ARM64_MCONTEXT_SIZE - RED_ZONE) & !15;
            assert_eq!(w[slot::ENTRY_SP], frame, "entry sp");
            assert_eq!(w[slot::SIGINFO], frame, "siginfo at sp");
            assert_eq!(w[slot::UCONTEXT], frame + SIGINFO_SIZE, "ucontext after the siginfo");
            assert_eq!(mcontext, frame + SIGINFO_SIZE + UCONTEXT_SIZE, "mcontext after the ucontext");
            assert_eq!(w[slot::UC_MCSIZE], ARM64_MCONTEXT_SIZE);
            assert_eq!(w[slot::UC_STACK_SP], frame, "uc_stack.ss_sp is the entry sp");
        }
    }
    assert_ne!(w[slot::TOKEN], 0, "a sigreturn token");
}

/// Loads `UNMAPPED` and reads through it.
fn unmapped_read(isa: Isa) -> (&'static str, &'static str) {
    match isa {
        Isa::X86_64 => ("  movl $0x40, %eax\n  movq %rax, 200(%r10)", "  movq (%rax), %rax"),
        Isa::Arm64 => ("  mov x0, #0x40\n  str x0, [x9, #200]", "  ldr x0, [x0]"),
    }
}

#[test]
fn unmapped_read_raises_sigsegv_on_the_alternate_stack() {
    for isa in Isa::ALL {
        let (setup, fault) = unmapped_read(isa);
        let p = Program {
            signal: SIGSEGV,
            flags: SA_SIGINFO | SA_ONSTACK,
            alt_stack: true,
            setup,
            fault,
            extra: "",
            trampoline: Trampoline::Report,
        };
        let w = report(isa, "segv_altstack", &p);
        assert_eq!(w[slot::CATCHER], w[slot::HANDLER], "{isa:?}: the handler is passed to the trampoline");
        assert_eq!(w[slot::INFOSTYLE], UC_FLAVOR, "{isa:?}");
        assert_eq!(w[slot::SIGNAL], SIGSEGV, "{isa:?}");
        assert_eq!(w[slot::SI_SIGNO], SIGSEGV, "{isa:?}");
        // arm64's sendsig reports every SIGSEGV as SEGV_ACCERR.
        let code = if isa == Isa::X86_64 { SEGV_MAPERR } else { SEGV_ACCERR };
        assert_eq!(w[slot::SI_CODE], code, "{isa:?}");
        assert_eq!(w[slot::SI_ADDR], UNMAPPED, "{isa:?}");
        assert_eq!(w[slot::MC_FAULT_ADDRESS], UNMAPPED, "{isa:?}");
        assert_eq!(w[slot::MC_PC], w[slot::FAULT_HERE], "{isa:?}: the saved pc is the faulting instruction");
        assert_eq!(w[slot::MC_SP], w[slot::SP_BEFORE], "{isa:?}");
        assert_eq!(w[slot::MC_FP], FRAME_MARKER, "{isa:?}");
        let alt_top = w[slot::ALT_STACK] + ALT_STACK_SIZE;
        check_frame(isa, &w, alt_top);
        assert_eq!(w[slot::UC_STACK_SIZE], ALT_STACK_SIZE, "{isa:?}");
        assert_eq!(w[slot::UC_ONSTACK], 0, "{isa:?}: not on the alternate stack before");
        assert_eq!(w[slot::UC_SIGMASK], 0, "{isa:?}: the mask before delivery");
        match isa {
            Isa::X86_64 => {
                assert_eq!(w[slot::MC_TRAPNO_OR_LR], 14, "page fault");
                assert_eq!(w[slot::MC_ERR_OR_ESR], 0x4, "user read of a page not present");
                assert_eq!(w[slot::SI_PAD0], w[slot::SP_BEFORE], "x86_64 keeps the interrupted rsp in __pad[0]");
            }
            Isa::Arm64 => {
                assert_eq!(w[slot::MC_ERR_OR_ESR] >> 26, 0x24, "a data abort from EL0");
                assert_eq!(w[slot::SI_PAD0], 0);
            }
        }
    }
}

#[test]
fn write_to_text_raises_sigbus_on_the_main_stack() {
    for isa in Isa::ALL {
        let (setup, fault) = match isa {
            Isa::X86_64 => ("  leaq _main(%rip), %rax\n  movq %rax, 200(%r10)", "  movb $0, (%rax)"),
            Isa::Arm64 => ("  adr x0, _main\n  str x0, [x9, #200]", "  strb wzr, [x0]"),
        };
        let p = Program {
            signal: SIGBUS,
            flags: SA_SIGINFO,
            alt_stack: false,
            setup,
            fault,
            extra: "",
            trampoline: Trampoline::Report,
        };
        let w = report(isa, "bus_text", &p);
        assert_eq!(w[slot::SIGNAL], SIGBUS, "{isa:?}");
        assert_eq!(w[slot::SI_SIGNO], SIGBUS, "{isa:?}");
        let code = if isa == Isa::X86_64 { BUS_ADRERR } else { BUS_ADRALN };
        assert_eq!(w[slot::SI_CODE], code, "{isa:?}");
        assert_eq!(w[slot::SI_ADDR], w[slot::EXPECTED_ADDRESS], "{isa:?}: si_addr is the faulting address");
        assert_eq!(w[slot::MC_FAULT_ADDRESS], w[slot::EXPECTED_ADDRESS], "{isa:?}");
        assert_eq!(w[slot::MC_PC], w[slot::FAULT_HERE], "{isa:?}");
        // No alternate stack: the frame goes below the interrupted sp.
        check_frame(isa, &w, w[slot::SP_BEFORE]);
        assert_eq!(w[slot::UC_STACK_SIZE], 0, "{isa:?}");
        match isa {
            Isa::X86_64 => assert_eq!(w[slot::MC_ERR_OR_ESR], 0x7, "user write, protection violation"),
            Isa::Arm64 => {
                let esr = w[slot::MC_ERR_OR_ESR];
                assert_eq!((esr >> 26, esr & (1 << 6) != 0), (0x24, true), "a write data abort: 0x{esr:x}");
            }
        }
    }
}

#[test]
fn undefined_instruction_raises_sigill_at_its_address() {
    for isa in Isa::ALL {
        let fault = match isa {
            Isa::X86_64 => "  ud2",
            Isa::Arm64 => "  udf #0",
        };
        let p = Program {
            signal: SIGILL,
            flags: SA_SIGINFO | SA_ONSTACK,
            alt_stack: true,
            setup: "",
            fault,
            extra: "",
            trampoline: Trampoline::Report,
        };
        let w = report(isa, "ill", &p);
        assert_eq!((w[slot::SIGNAL], w[slot::SI_SIGNO]), (SIGILL, SIGILL), "{isa:?}");
        let code = if isa == Isa::X86_64 { ILL_ILLOPC } else { ILL_ILLTRP };
        assert_eq!(w[slot::SI_CODE], code, "{isa:?}");
        assert_eq!(w[slot::SI_ADDR], w[slot::FAULT_HERE], "{isa:?}: si_addr is the instruction's address");
        assert_eq!(w[slot::MC_PC], w[slot::FAULT_HERE], "{isa:?}");
        check_frame(isa, &w, w[slot::ALT_STACK] + ALT_STACK_SIZE);
        if isa == Isa::X86_64 {
            assert_eq!(w[slot::MC_TRAPNO_OR_LR], 6, "invalid opcode");
        }
    }
}

#[test]
fn x86_64_division_by_zero_raises_sigfpe() {
    let p = Program {
        signal: SIGFPE,
        flags: SA_SIGINFO,
        alt_stack: false,
        setup: "  xorl %ecx, %ecx\n  movl $1, %eax\n  cltd",
        fault: "  idivl %ecx",
        extra: "",
        trampoline: Trampoline::Report,
    };
    let w = report(Isa::X86_64, "fpe", &p);
    assert_eq!((w[slot::SIGNAL], w[slot::SI_SIGNO], w[slot::SI_CODE]), (SIGFPE, SIGFPE, FPE_INTDIV));
    assert_eq!(w[slot::SI_ADDR], w[slot::FAULT_HERE]);
    assert_eq!(w[slot::MC_PC], w[slot::FAULT_HERE]);
    assert_eq!(w[slot::MC_TRAPNO_OR_LR], 0, "divide error");
    check_frame(Isa::X86_64, &w, w[slot::SP_BEFORE]);
}

/// How far below its last good stack pointer a frame of `recursion` writes.
const RECURSION_REACH: u64 = 2 * 4096;

/// Infinite recursion, 4 KiB a frame, touching each frame.
fn recursion(isa: Isa) -> (&'static str, &'static str) {
    match isa {
        Isa::X86_64 => (
            "  call recurse",
            "recurse:\n  pushq %rbp\n  movq %rsp, %rbp\n  subq $4096, %rsp\n  movq $0, (%rsp)\n  call recurse\n",
        ),
        Isa::Arm64 => (
            "  bl recurse",
            "recurse:\n  stp x29, x30, [sp, #-16]!\n  mov x29, sp\n  sub sp, sp, #4096\n  str xzr, [sp]\n  bl recurse\n",
        ),
    }
}

#[test]
fn stack_overflow_hits_the_guard_and_raises_sigsegv() {
    for isa in Isa::ALL {
        let (fault, extra) = recursion(isa);
        let p = Program {
            signal: SIGSEGV,
            flags: SA_SIGINFO | SA_ONSTACK,
            alt_stack: true,
            setup: "",
            fault,
            extra,
            trampoline: Trampoline::Report,
        };
        let w = report(isa, "overflow", &p);
        assert_eq!((w[slot::SIGNAL], w[slot::SI_SIGNO]), (SIGSEGV, SIGSEGV), "{isa:?}");
        // The guard is mapped without access: a protection failure, which
        // XNU turns from SIGBUS into SIGSEGV for the stack.
        assert_eq!(w[slot::SI_CODE], SEGV_ACCERR, "{isa:?}");
        let top = if isa == Isa::X86_64 { X86_STACK_TOP } else { ARM64_STACK_TOP };
        let bottom = top - STACK_SIZE;
        let address = w[slot::SI_ADDR];
        // Within one recursion frame (4 KiB and a little) of the stack's end.
        let near = bottom - RECURSION_REACH..bottom;
        assert!(near.contains(&address), "{isa:?}: 0x{address:x} just below the stack");
        assert_eq!(w[slot::MC_FAULT_ADDRESS], address, "{isa:?}");
        let sp = w[slot::MC_SP];
        assert!((bottom - RECURSION_REACH..bottom + RECURSION_REACH).contains(&sp), "{isa:?}: sp 0x{sp:x}");
        check_frame(isa, &w, w[slot::ALT_STACK] + ALT_STACK_SIZE);
    }
}

#[test]
fn stack_overflow_without_an_alternate_stack_handler_is_fatal() {
    for isa in Isa::ALL {
        let (fault, extra) = recursion(isa);
        // A handler, but not SA_ONSTACK: XNU forces the default action.
        let p = Program {
            signal: SIGSEGV,
            flags: SA_SIGINFO,
            alt_stack: true,
            setup: "",
            fault,
            extra,
            trampoline: Trampoline::Report,
        };
        let r = run_ok(&build(isa, "overflow_no_onstack", &p));
        expect_fault(&r, &["the stack guard", "SIGSEGV", "stack overflow"]);
        assert!(r.stdout.is_empty(), "{isa:?}");
    }
}

#[test]
fn a_fault_without_a_handler_is_fatal() {
    for isa in Isa::ALL {
        let (setup, fault) = unmapped_read(isa);
        // The handler is for another signal.
        let p = Program {
            signal: SIGBUS,
            flags: SA_SIGINFO,
            alt_stack: false,
            setup,
            fault,
            extra: "",
            trampoline: Trampoline::Report,
        };
        let r = run_ok(&build(isa, "segv_no_handler", &p));
        expect_fault(&r, &["read of unmapped memory", "page zero", "(SIGSEGV)"]);
        assert!(r.stdout.is_empty(), "{isa:?}");
    }
}

#[test]
fn a_fault_in_its_own_handler_is_fatal_unless_nodefer() {
    for isa in Isa::ALL {
        let (setup, fault) = unmapped_read(isa);
        let mut p = Program {
            signal: SIGSEGV,
            flags: SA_SIGINFO | SA_ONSTACK,
            alt_stack: true,
            setup,
            fault,
            extra: "",
            trampoline: Trampoline::FaultAgain,
        };
        let r = run_ok(&build(isa, "segv_twice", &p));
        expect_fault(&r, &["SIGSEGV blocked"]);
        // With SA_NODEFER the handler is entered again and again, each frame
        // below the last on the alternate stack, until it is exhausted.
        p.flags |= SA_NODEFER;
        let r = run_ok(&build(isa, "segv_nodefer", &p));
        expect_fault(&r, &["not writable, so SIGILL"]);
    }
}

#[test]
fn sigreturn_resumes_the_interrupted_context() {
    for isa in Isa::ALL {
        let fault = match isa {
            Isa::X86_64 => "  ud2\n  ud2",
            Isa::Arm64 => "  udf #0\n  udf #0",
        };
        for flags in [SA_SIGINFO, SA_SIGINFO | SA_VALIDATE_SIGRETURN_FROM_SIGTRAMP] {
            let p = Program {
                signal: SIGILL,
                flags,
                alt_stack: true,
                setup: "",
                fault,
                extra: "",
                trampoline: Trampoline::Sigreturn { token_xor: 0 },
            };
            // Two faults, two handled signals (SIGILL is unblocked again),
            // and rbx / x19 restored.
            let r = run_ok(&build(isa, "sigreturn", &p));
            assert_eq!(r.outcome, Outcome::Exited(2), "{isa:?} flags 0x{flags:x}");
        }
        let bad_token = |flags| Program {
            signal: SIGILL,
            flags,
            alt_stack: true,
            setup: "",
            fault,
            extra: "",
            trampoline: Trampoline::Sigreturn { token_xor: 16 },
        };
        let validated =
            run_ok(&build(isa, "sigreturn_bad_token", &bad_token(SA_SIGINFO | SA_VALIDATE_SIGRETURN_FROM_SIGTRAMP)));
        assert_eq!(validated.outcome, Outcome::Exited(100 + EINVAL as i32), "{isa:?}: the token is checked");
        let unchecked = run_ok(&build(isa, "sigreturn_unchecked", &bad_token(SA_SIGINFO)));
        assert_eq!(unchecked.outcome, Outcome::Exited(2), "{isa:?}: without validation it is not");
    }
}

/// A program that makes the system calls in `table` (rows of `.quad
/// number, arg0, arg1, arg2`, ended by `.quad 0`), stores each result (or
/// minus the errno) and writes the results followed by `data` to stdout.
fn syscall_script(isa: Isa, table: &str, data: &str) -> String {
    let code = match isa {
        Isa::X86_64 => {
            "
.section __TEXT,__text,regular,pure_instructions
.globl _main
.p2align 4
_main:
  pushq %rbx
  pushq %r12
  pushq %r13
  leaq table(%rip), %rbx
  leaq results(%rip), %r12
1:
  movq (%rbx), %rax
  testq %rax, %rax
  je 2f
  movq 8(%rbx), %rdi
  movq 16(%rbx), %rsi
  movq 24(%rbx), %rdx
  orq $0x2000000, %rax
  syscall
  jnc 3f
  negq %rax
3:
  movq %rax, (%r12)
  addq $8, %r12
  addq $32, %rbx
  jmp 1b
2:
  movl $1, %edi
  leaq results(%rip), %rsi
  leaq end(%rip), %rdx
  subq %rsi, %rdx
  movl $0x2000004, %eax
  syscall
  popq %r13
  popq %r12
  popq %rbx
  xorl %eax, %eax
  ret
handler:
  ret
tramp:
  ret
"
        }
        Isa::Arm64 => {
            "
.section __TEXT,__text,regular,pure_instructions
.globl _main
.p2align 2
_main:
  stp x19, x20, [sp, #-16]!
  adrp x19, table@PAGE
  add x19, x19, table@PAGEOFF
  adrp x20, results@PAGE
  add x20, x20, results@PAGEOFF
1:
  ldr x16, [x19]
  cbz x16, 2f
  ldp x0, x1, [x19, #8]
  ldr x2, [x19, #24]
  svc #0x80
  b.cc 3f
  neg x0, x0
3:
  str x0, [x20], #8
  add x19, x19, #32
  b 1b
2:
  mov x0, #1
  adrp x1, results@PAGE
  add x1, x1, results@PAGEOFF
  adrp x2, end@PAGE
  add x2, x2, end@PAGEOFF
  sub x2, x2, x1
  mov x16, #4
  svc #0x80
  ldp x19, x20, [sp], #16
  mov w0, #0
  ret
handler:
  ret
tramp:
  ret
"
        }
    };
    let rows = table.lines().filter(|l| l.contains(".quad")).count();
    format!(
        "{code}
.section __DATA,__data
.p2align 3
table:
{table}
  .quad 0
results: .space {}
{data}
end:
",
        rows * 8
    )
}

fn words(bytes: &[u8]) -> Vec<u64> {
    bytes.chunks(8).map(|w| u64::from_le_bytes(w.try_into().unwrap())).collect()
}

/// Minus an errno, as the script stores a failed call's result.
fn failed(errno: u64) -> u64 {
    errno.wrapping_neg()
}

#[test]
fn sigaction_stores_and_reports_actions() {
    let table = "
  .quad 46, 9, act, 0
  .quad 46, 17, act, 0
  .quad 46, 32, act, 0
  .quad 46, 11, act, old1
  .quad 46, 11, 0, old2
  .quad 46, 11, 0, 0x40
  .quad 46, 11, 0x40, 0
";
    let data = "
act: .quad handler, tramp
  .long 0x108, 0x7d
old1: .space 16
old2: .space 16
handler_address: .quad handler
";
    for isa in Isa::ALL {
        let image = common::build(isa, Signing::AdHoc, "sigaction", &syscall_script(isa, table, data));
        let r = run_ok(&image);
        assert_eq!(r.outcome, Outcome::Exited(0), "{isa:?}");
        let w = words(&r.stdout);
        // The results, `act` (3 words), then the two old actions.
        let (results, old1, old2, handler) = (&w[..7], &w[10..12], &w[12..14], w[14]);
        assert_eq!(results, [failed(EINVAL), failed(EINVAL), failed(EINVAL), 0, 0, failed(14), failed(14)], "{isa:?}");
        // Never set: SIG_DFL, no mask, SA_RESTART (its ps_sigintr bit is clear).
        assert_eq!(old1, [0, SA_RESTART << 32], "{isa:?}");
        // As set, without the trampoline: the mask without SIGKILL's bit
        // (0x100), the flags (0x7d) without SA_RESETHAND, SA_NOCLDSTOP and
        // SA_NOCLDWAIT (not reported for SIGSEGV).
        assert_eq!(old2, [handler, 0x8 | (0x51 << 32)], "{isa:?}");
    }
}

#[test]
fn sigaltstack_sets_queries_and_disables() {
    let table = "
  .quad 53, 0, query0, 0
  .quad 53, small, 0, 0
  .quad 53, onstack_flag, 0, 0
  .quad 53, stack, query1, 0
  .quad 53, 0, query2, 0
  .quad 53, disable, 0, 0
  .quad 53, 0, query3, 0
  .quad 53, 0x40, 0, 0
";
    let data = "
small: .quad 0x1000, 0x1fff
  .long 0, 0
onstack_flag: .quad 0x1000, 0x10000
  .long 1, 0
stack: .quad 0x5000, 0x10000
  .long 0, 0
disable: .quad 0, 0
  .long 4, 0
query0: .space 24
query1: .space 24
query2: .space 24
query3: .space 24
";
    for isa in Isa::ALL {
        let image = common::build(isa, Signing::AdHoc, "sigaltstack", &syscall_script(isa, table, data));
        let r = run_ok(&image);
        assert_eq!(r.outcome, Outcome::Exited(0), "{isa:?}");
        let w = words(&r.stdout);
        let results = &w[..8];
        assert_eq!(results, [0, failed(ENOMEM), failed(EINVAL), 0, 0, 0, 0, failed(14)], "{isa:?}");
        let stacks: Vec<&[u64]> = w[8 + 12..].chunks(3).collect();
        assert_eq!(stacks[0], [0, 0, SS_DISABLE], "{isa:?}: none at first");
        assert_eq!(stacks[1], [0, 0, SS_DISABLE], "{isa:?}: the old one comes back");
        assert_eq!(stacks[2], [0x5000, 0x10000, 0], "{isa:?}: set");
        assert_eq!(stacks[3], [0x5000, 0x10000, SS_DISABLE], "{isa:?}: disabled, base and size kept");
    }
}

#[test]
fn sigaltstack_cannot_change_the_stack_a_handler_runs_on() {
    // The reporting trampoline is replaced by one that tries to replace and
    // to disable the alternate stack it runs on, and exits with both errnos.
    for isa in Isa::ALL {
        let (setup, fault) = unmapped_read(isa);
        let p = Program {
            signal: SIGSEGV,
            flags: SA_SIGINFO | SA_ONSTACK,
            alt_stack: true,
            setup,
            fault,
            extra: "",
            trampoline: Trampoline::Report,
        };
        let tramp = match isa {
            Isa::X86_64 => {
                "tramp:
  leaq ss(%rip), %rdi
  xorl %esi, %esi
  movl $0x2000035, %eax
  syscall
  movq %rax, %rbx
  leaq disable(%rip), %rdi
  xorl %esi, %esi
  movl $0x2000035, %eax
  syscall
  imull $100, %ebx, %edi
  addl %eax, %edi
  movl $0x2000001, %eax
  syscall
disable: .quad 0, 0
  .long 4, 0
"
            }
            Isa::Arm64 => {
                "tramp:
  adrp x0, ss@PAGE
  add x0, x0, ss@PAGEOFF
  mov x1, #0
  mov x16, #53
  svc #0x80
  mov x19, x0
  adr x0, disable
  mov x1, #0
  mov x16, #53
  svc #0x80
  mov x10, #100
  madd x0, x19, x10, x0
  mov x16, #1
  svc #0x80
.p2align 3
disable: .quad 0, 0
  .long 4, 0
"
            }
        };
        let source = match isa {
            Isa::X86_64 => x86_64_source(&p),
            Isa::Arm64 => arm64_source(&p),
        };
        let report_code = if isa == Isa::X86_64 { X86_REPORT } else { ARM64_REPORT };
        let report_code = report_code.replace("@REPORT_BYTES@", &(slot::COUNT * 8).to_string());
        let source = source.replace(&report_code, tramp);
        let r = run_ok(&common::build(isa, Signing::AdHoc, "sigaltstack_in_use", &source));
        // EPERM to replace it, EINVAL to disable it: 1 * 100 + 22, as a byte.
        assert_eq!(r.outcome, Outcome::Exited(((EPERM * 100 + EINVAL) & 0xff) as i32), "{isa:?}");
    }
}
