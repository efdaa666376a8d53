//! The test programs, in both ISAs: raw system calls, no imports.

#![allow(dead_code)]

use crate::common::Isa;

const X86_PROLOGUE: &str = "
.section __TEXT,__text,regular,pure_instructions
.globl _main
.p2align 4
";

const ARM64_PROLOGUE: &str = "
.section __TEXT,__text,regular,pure_instructions
.globl _main
.p2align 2
";

fn with_prologue(isa: Isa, body: &str) -> String {
    let prologue = match isa {
        Isa::X86_64 => X86_PROLOGUE,
        Isa::Arm64 => ARM64_PROLOGUE,
    };
    format!("{prologue}{body}")
}

/// Writes "hello\n" (pc-relative address), returns 42.
pub fn hello(isa: Isa) -> String {
    with_prologue(
        isa,
        match isa {
            Isa::X86_64 => {
                "_main:
  movl $1, %edi
  leaq msg(%rip), %rsi
  movl $6, %edx
  movl $0x2000004, %eax
  syscall
  movl $42, %eax
  ret
.section __TEXT,__cstring
msg: .asciz \"hello\\n\"
"
            }
            Isa::Arm64 => {
                "_main:
  mov x0, #1
  adrp x1, msg@PAGE
  add x1, x1, msg@PAGEOFF
  mov x2, #6
  mov x16, #4
  svc #0x80
  mov w0, #42
  ret
.section __TEXT,__cstring
msg: .asciz \"hello\\n\"
"
            }
        },
    )
}

/// Reads a pointer to "hello\n" from `__DATA` (it needs a rebase), loads a
/// byte through it (faulting if it was not rebased), writes it, returns 7.
pub fn rebased(isa: Isa) -> String {
    with_prologue(
        isa,
        match isa {
            Isa::X86_64 => {
                "_main:
  movq ptr(%rip), %rsi
  movzbl (%rsi), %eax
  movl $1, %edi
  movl $6, %edx
  movl $0x2000004, %eax
  syscall
  movl $7, %eax
  ret
.section __TEXT,__cstring
msg: .asciz \"hello\\n\"
.section __DATA,__data
.p2align 3
ptr: .quad msg
"
            }
            Isa::Arm64 => {
                "_main:
  adrp x1, ptr@PAGE
  ldr x1, [x1, ptr@PAGEOFF]
  ldrb w9, [x1]
  mov x0, #1
  mov x2, #6
  mov x16, #4
  svc #0x80
  mov w0, #7
  ret
.section __TEXT,__cstring
msg: .asciz \"hello\\n\"
.section __DATA,__data
.p2align 3
ptr: .quad msg
"
            }
        },
    )
}

/// `exit(3)` by system call.
pub fn exit3(isa: Isa) -> String {
    with_prologue(
        isa,
        match isa {
            Isa::X86_64 => "_main:\n  movl $3, %edi\n  movl $0x2000001, %eax\n  syscall\n  ud2\n",
            Isa::Arm64 => "_main:\n  mov x0, #3\n  mov x16, #1\n  svc #0x80\n  brk #1\n",
        },
    )
}

/// Stores a byte into its own code.
pub fn write_text(isa: Isa) -> String {
    with_prologue(
        isa,
        match isa {
            Isa::X86_64 => "_main:\n  leaq _main(%rip), %rax\n  movb $0, (%rax)\n  xorl %eax, %eax\n  ret\n",
            Isa::Arm64 => "_main:\n  adr x0, _main\n  strb wzr, [x0]\n  mov w0, #0\n  ret\n",
        },
    )
}

/// Jumps into `__DATA`.
pub fn exec_data(isa: Isa) -> String {
    with_prologue(
        isa,
        match isa {
            Isa::X86_64 => {
                "_main:\n  leaq code(%rip), %rax\n  jmp *%rax\n.section __DATA,__data\ncode: .byte 0xc3\n"
            }
            Isa::Arm64 => {
                "_main:\n  adrp x9, code@PAGE\n  add x9, x9, code@PAGEOFF\n  br x9\n.section __DATA,__data\n.p2align 2\ncode: ret\n"
            }
        },
    )
}

/// BSD system call 999, which does not exist.
pub fn unknown_syscall(isa: Isa) -> String {
    with_prologue(
        isa,
        match isa {
            Isa::X86_64 => "_main:\n  movl $0x20003e7, %eax\n  syscall\n  xorl %eax, %eax\n  ret\n",
            Isa::Arm64 => "_main:\n  mov x16, #999\n  svc #0x80\n  mov w0, #0\n  ret\n",
        },
    )
}

/// x86_64: Linux's exit (60) without the BSD class.
pub const LINUX_EXIT_X86: &str =
    ".section __TEXT,__text\n.globl _main\n_main:\n  movl $60, %eax\n  xorl %edi, %edi\n  syscall\n  ret\n";

/// Returns `argc << 4 | (stack pointer & 15)`.
pub fn stack_alignment(isa: Isa) -> String {
    with_prologue(
        isa,
        match isa {
            Isa::X86_64 => "_main:\n  movq %rsp, %rax\n  andl $15, %eax\n  shll $4, %edi\n  orl %edi, %eax\n  ret\n",
            Isa::Arm64 => "_main:\n  mov x9, sp\n  and w9, w9, #15\n  lsl w0, w0, #4\n  orr w0, w0, w9\n  ret\n",
        },
    )
}

/// Prints argv[1], envp[0] and apple[0], each on its own line.
pub fn print_args(isa: Isa) -> String {
    with_prologue(
        isa,
        match isa {
            Isa::X86_64 => {
                "_main:
  pushq %rbx
  pushq %r12
  pushq %r13
  movq %rsi, %rbx
  movq %rdx, %r12
  movq %rcx, %r13
  movq 8(%rbx), %rdi
  call puts
  movq (%r12), %rdi
  call puts
  movq (%r13), %rdi
  call puts
  popq %r13
  popq %r12
  popq %rbx
  xorl %eax, %eax
  ret
puts:
  movq %rdi, %rsi
  xorl %edx, %edx
1:
  cmpb $0, (%rsi,%rdx)
  je 2f
  incq %rdx
  jmp 1b
2:
  movl $1, %edi
  movl $0x2000004, %eax
  syscall
  leaq nl(%rip), %rsi
  movl $1, %edx
  movl $1, %edi
  movl $0x2000004, %eax
  syscall
  ret
.section __TEXT,__cstring
nl: .asciz \"\\n\"
"
            }
            Isa::Arm64 => {
                "_main:
  stp x29, x30, [sp, #-48]!
  stp x19, x20, [sp, #16]
  str x21, [sp, #32]
  mov x19, x1
  mov x20, x2
  mov x21, x3
  ldr x0, [x19, #8]
  bl puts
  ldr x0, [x20]
  bl puts
  ldr x0, [x21]
  bl puts
  ldr x21, [sp, #32]
  ldp x19, x20, [sp, #16]
  ldp x29, x30, [sp], #48
  mov w0, #0
  ret
puts:
  mov x1, x0
  mov x2, #0
1:
  ldrb w9, [x1, x2]
  cbz w9, 2f
  add x2, x2, #1
  b 1b
2:
  mov x0, #1
  mov x16, #4
  svc #0x80
  adrp x1, nl@PAGE
  add x1, x1, nl@PAGEOFF
  mov x2, #1
  mov x0, #1
  mov x16, #4
  svc #0x80
  ret
.section __TEXT,__cstring
nl: .asciz \"\\n\"
"
            }
        },
    )
}

/// Copies up to 64 bytes of stdin to stdout; returns 99 if read failed.
pub fn cat(isa: Isa) -> String {
    with_prologue(
        isa,
        match isa {
            Isa::X86_64 => {
                "_main:
  subq $72, %rsp
  xorl %edi, %edi
  movq %rsp, %rsi
  movl $64, %edx
  movl $0x2000003, %eax
  syscall
  jc 1f
  movq %rax, %rdx
  movl $1, %edi
  movq %rsp, %rsi
  movl $0x2000004, %eax
  syscall
  addq $72, %rsp
  xorl %eax, %eax
  ret
1:
  addq $72, %rsp
  movl $99, %eax
  ret
"
            }
            Isa::Arm64 => {
                "_main:
  sub sp, sp, #64
  mov x0, #0
  mov x1, sp
  mov x2, #64
  mov x16, #3
  svc #0x80
  b.cs 1f
  mov x2, x0
  mov x0, #1
  mov x1, sp
  mov x16, #4
  svc #0x80
  add sp, sp, #64
  mov w0, #0
  ret
1:
  add sp, sp, #64
  mov w0, #99
  ret
"
            }
        },
    )
}

/// Floating point works: returns (int)(n + n) for n = 3.0 on x86_64
/// (6) and n = 1.5 on arm64 (3).
pub fn float(isa: Isa) -> String {
    with_prologue(
        isa,
        match isa {
            Isa::X86_64 => {
                "_main:\n  movl $3, %eax\n  cvtsi2sd %eax, %xmm0\n  addsd %xmm0, %xmm0\n  cvttsd2si %xmm0, %eax\n  ret\n"
            }
            Isa::Arm64 => "_main:\n  fmov d0, #1.5\n  fadd d0, d0, d0\n  fcvtzs w0, d0\n  ret\n",
        },
    )
}

/// mmap semantics, returning 0 if all hold, else the failing step:
/// 1. anonymous 1 MiB is zeroed and writable at both ends;
/// 2. Linux flags (MAP_PRIVATE|0x20, no MAP_ANON) fail with EBADF (9);
/// 3. 8 GiB anonymous fails with ENOMEM (12) under the default 4 GiB limit;
/// 4. munmap of the 1 MiB succeeds.
pub fn mmap_probe(isa: Isa) -> String {
    with_prologue(
        isa,
        match isa {
            Isa::X86_64 => {
                "_main:
  pushq %rbx
  xorl %edi, %edi
  movl $0x100000, %esi
  movl $3, %edx
  movl $0x1002, %r10d
  movq $-1, %r8
  xorl %r9d, %r9d
  movl $0x20000c5, %eax
  syscall
  jc fail1
  movq %rax, %rbx
  cmpb $0, 0xfffff(%rbx)
  jne fail1
  movb $1, (%rbx)
  movb $1, 0xfffff(%rbx)
  xorl %edi, %edi
  movl $0x1000, %esi
  movl $3, %edx
  movl $0x22, %r10d
  movq $-1, %r8
  xorl %r9d, %r9d
  movl $0x20000c5, %eax
  syscall
  jnc fail2
  cmpq $9, %rax
  jne fail2
  xorl %edi, %edi
  movabsq $0x200000000, %rsi
  movl $3, %edx
  movl $0x1002, %r10d
  movq $-1, %r8
  xorl %r9d, %r9d
  movl $0x20000c5, %eax
  syscall
  jnc fail3
  cmpq $12, %rax
  jne fail3
  movq %rbx, %rdi
  movl $0x100000, %esi
  movl $0x2000049, %eax
  syscall
  jc fail4
  xorl %eax, %eax
  popq %rbx
  ret
fail1:
  movl $1, %eax
  popq %rbx
  ret
fail2:
  movl $2, %eax
  popq %rbx
  ret
fail3:
  movl $3, %eax
  popq %rbx
  ret
fail4:
  movl $4, %eax
  popq %rbx
  ret
"
            }
            Isa::Arm64 => {
                "_main:
  mov x0, #0
  mov x1, #0x100000
  mov x2, #3
  mov x3, #0x1002
  mov x4, #-1
  mov x5, #0
  mov x16, #197
  svc #0x80
  b.cs fail1
  mov x19, x0
  mov x9, #0xfffff
  ldrb w10, [x19, x9]
  cbnz w10, fail1
  mov w10, #1
  strb w10, [x19]
  strb w10, [x19, x9]
  mov x0, #0
  mov x1, #0x1000
  mov x2, #3
  mov x3, #0x22
  mov x4, #-1
  mov x5, #0
  mov x16, #197
  svc #0x80
  b.cc fail2
  cmp x0, #9
  b.ne fail2
  mov x0, #0
  mov x1, #0x200000000
  mov x2, #3
  mov x3, #0x1002
  mov x4, #-1
  mov x5, #0
  mov x16, #197
  svc #0x80
  b.cc fail3
  cmp x0, #12
  b.ne fail3
  mov x0, x19
  mov x1, #0x100000
  mov x16, #73
  svc #0x80
  b.cs fail4
  mov w0, #0
  ret
fail1:
  mov w0, #1
  ret
fail2:
  mov w0, #2
  ret
fail3:
  mov w0, #3
  ret
fail4:
  mov w0, #4
  ret
"
            }
        },
    )
}

/// Appends 8-byte words to a buffer until it holds 100 MiB, doubling it
/// with mmap + copy + munmap when full, as a growing array does. Returns 0,
/// or 1 if an mmap failed.
pub fn append_100_mib(isa: Isa) -> String {
    with_prologue(
        isa,
        match isa {
            // rbx = buffer, r12 = capacity, r13 = length, r14 = old buffer
            Isa::X86_64 => {
                "_main:
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movl $0x1000, %r12d
  movq %r12, %rsi
  call alloc
  movq %rax, %rbx
  xorl %r13d, %r13d
append:
  cmpq %r12, %r13
  jne store
  movq %rbx, %r14
  leaq (%r12,%r12), %rsi
  call alloc
  movq %rax, %rbx
  xorl %ecx, %ecx
copy:
  movq (%r14,%rcx), %rdx
  movq %rdx, (%rbx,%rcx)
  addq $8, %rcx
  cmpq %r12, %rcx
  jne copy
  movq %r14, %rdi
  movq %r12, %rsi
  movl $0x2000049, %eax
  syscall
  addq %r12, %r12
store:
  movq %r13, (%rbx,%r13)
  addq $8, %r13
  cmpq $0x6400000, %r13
  jne append
  xorl %eax, %eax
done:
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  ret
alloc:
  xorl %edi, %edi
  movl $3, %edx
  movl $0x1002, %r10d
  movq $-1, %r8
  xorl %r9d, %r9d
  movl $0x20000c5, %eax
  syscall
  jc oom
  ret
oom:
  movl $1, %edi
  movl $0x2000001, %eax
  syscall
"
            }
            // x19 = buffer, x20 = capacity, x21 = length, x22 = old buffer
            Isa::Arm64 => {
                "_main:
  stp x29, x30, [sp, #-48]!
  stp x19, x20, [sp, #16]
  stp x21, x22, [sp, #32]
  mov x20, #0x4000
  mov x1, x20
  bl alloc
  mov x19, x0
  mov x21, #0
  mov x23, #0x6400000
append:
  cmp x21, x20
  b.ne store
  mov x22, x19
  lsl x1, x20, #1
  bl alloc
  mov x19, x0
  mov x9, #0
copy:
  ldr x10, [x22, x9]
  str x10, [x19, x9]
  add x9, x9, #8
  cmp x9, x20
  b.ne copy
  mov x0, x22
  mov x1, x20
  mov x16, #73
  svc #0x80
  lsl x20, x20, #1
store:
  str x21, [x19, x21]
  add x21, x21, #8
  cmp x21, x23
  b.ne append
  ldp x21, x22, [sp, #32]
  ldp x19, x20, [sp, #16]
  ldp x29, x30, [sp], #48
  mov w0, #0
  ret
alloc:
  mov x0, #0
  mov x2, #3
  mov x3, #0x1002
  mov x4, #-1
  mov x5, #0
  mov x16, #197
  svc #0x80
  b.cs oom
  ret
oom:
  mov x0, #1
  mov x16, #1
  svc #0x80
"
            }
        },
    )
}

/// Keeps the address of a libSystem function in `__DATA` (a bind).
pub fn imports_data(isa: Isa) -> String {
    let ret = match isa {
        Isa::X86_64 => "  xorl %eax, %eax\n  ret\n",
        Isa::Arm64 => "  mov w0, #0\n  ret\n",
    };
    with_prologue(isa, &format!("_main:\n{ret}.section __DATA,__data\n.p2align 3\nslot: .quad _imported_function\n"))
}

/// Calls a libSystem function through a stub (a lazy bind).
pub fn imports_call(isa: Isa) -> String {
    with_prologue(
        isa,
        match isa {
            Isa::X86_64 => "_main:\n  pushq %rax\n  call _imported_function\n  popq %rcx\n  xorl %eax, %eax\n  ret\n",
            Isa::Arm64 => {
                "_main:\n  stp x29, x30, [sp, #-16]!\n  bl _imported_function\n  ldp x29, x30, [sp], #16\n  mov w0, #0\n  ret\n"
            }
        },
    )
}

/// System-call errors and conventions; returns 0, or the failing step:
/// 1. write to fd 5 is EBADF; 2. write from page zero is EFAULT;
/// 3. read from fd 1 is EBADF; 4. getentropy of 257 bytes is EINVAL;
/// 5. getentropy of 32 bytes fills the buffer; 6. getpid succeeds, the
///    second result register changes and (x86_64) rcx holds the return address.
pub fn syscall_conventions(isa: Isa) -> String {
    with_prologue(
        isa,
        match isa {
            Isa::X86_64 => {
                "_main:
  subq $40, %rsp
  movl $5, %edi
  movq %rsp, %rsi
  movl $1, %edx
  movl $0x2000004, %eax
  syscall
  jnc f1
  cmpq $9, %rax
  jne f1
  movl $1, %edi
  movl $0x10, %esi
  movl $4, %edx
  movl $0x2000004, %eax
  syscall
  jnc f2
  cmpq $14, %rax
  jne f2
  movl $1, %edi
  movq %rsp, %rsi
  movl $4, %edx
  movl $0x2000003, %eax
  syscall
  jnc f3
  cmpq $9, %rax
  jne f3
  movq %rsp, %rdi
  movl $257, %esi
  movl $0x20001f4, %eax
  syscall
  jnc f4
  cmpq $22, %rax
  jne f4
  movq $0, (%rsp)
  movq %rsp, %rdi
  movl $32, %esi
  movl $0x20001f4, %eax
  syscall
  jc f5
  testq %rax, %rax
  jne f5
  cmpq $0, (%rsp)
  je f5
  movl $5, %edx
  movl $0x2000014, %eax
  syscall
after_getpid:
  jc f6
  testq %rax, %rax
  je f6
  cmpq $5, %rdx
  je f6
  leaq after_getpid(%rip), %r8
  cmpq %r8, %rcx
  jne f6
  xorl %eax, %eax
  jmp out
f1:
  movl $1, %eax
  jmp out
f2:
  movl $2, %eax
  jmp out
f3:
  movl $3, %eax
  jmp out
f4:
  movl $4, %eax
  jmp out
f5:
  movl $5, %eax
  jmp out
f6:
  movl $6, %eax
out:
  addq $40, %rsp
  ret
"
            }
            Isa::Arm64 => {
                "_main:
  sub sp, sp, #32
  mov x0, #5
  mov x1, sp
  mov x2, #1
  mov x16, #4
  svc #0x80
  b.cc f1
  cmp x0, #9
  b.ne f1
  mov x0, #1
  mov x1, #0x10
  mov x2, #4
  mov x16, #4
  svc #0x80
  b.cc f2
  cmp x0, #14
  b.ne f2
  mov x0, #1
  mov x1, sp
  mov x2, #4
  mov x16, #3
  svc #0x80
  b.cc f3
  cmp x0, #9
  b.ne f3
  mov x0, sp
  mov x1, #257
  mov x16, #500
  svc #0x80
  b.cc f4
  cmp x0, #22
  b.ne f4
  str xzr, [sp]
  mov x0, sp
  mov x1, #32
  mov x16, #500
  svc #0x80
  b.cs f5
  cbnz x0, f5
  ldr x9, [sp]
  cbz x9, f5
  mov x1, #5
  mov x16, #20
  svc #0x80
  b.cs f6
  cbz x0, f6
  cmp x1, #5
  b.eq f6
  mov w0, #0
  b out
f1:
  mov w0, #1
  b out
f2:
  mov w0, #2
  b out
f3:
  mov w0, #3
  b out
f4:
  mov w0, #4
  b out
f5:
  mov w0, #5
  b out
f6:
  mov w0, #6
out:
  add sp, sp, #32
  ret
"
            }
        },
    )
}
