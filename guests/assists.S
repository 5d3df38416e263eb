/*
 * assists.S - each emulation assist, executed by the assist, in long mode.
 *
 * Entered like long.S: 64-bit long mode, identity-mapped, code selector
 * 0x08, RIP=0x10000, RSP=0xFFF0, interrupts off, no IDT.
 *
 * The VMM completes int n, clac, stac, fwait, ldmxcsr, stmxcsr, popcnt,
 * movbe and the SSE2 register forms (movd/movq, movdqa/movdqu, paddd/paddq,
 * pand/por/pxor, punpck*dq, shifts by immediate, pshufd) itself when the host's KVM fails on them (KVM_EXIT_INTERNAL_ERROR).
 * A host CPU that runs them natively never gets there, so every case here
 * is preceded by an `out` to the assist probe port (ASSIST below): a test
 * hook of the VMM, present only when a test installs it, that has the
 * assist complete the instruction right after the `out` exactly as after
 * an emulation failure there.  Without the probe the CPU runs them and the
 * guest passes just the same: the test proves the assist ran by its
 * per-kind counts, the guest checks that what ran got the result right.
 *
 *   "vessel assists ok\n"                     debug-exit 0x15 (status 43)
 *   "assist case failed: N\n"                 debug-exit N, 0x21..0x46 but 0x3f
 *   "unexpected vector N\n"                   debug-exit 0x3f (status 127)
 *
 * and after the debug-exit write, an i8042 reset.
 */

#include "console.inc"
#include "idt64.inc"
#define ASSIST_PROBE 0xe0           /* GuestRunTest's VirtualMachine.installAssistProbe port */

#define SOFT_VECTOR  0x40           /* the vector of the int n case */
#define IDT_ENTRIES  (SOFT_VECTOR + 1)

#define RFLAGS_CF    0x1
#define RFLAGS_ZF    0x40
#define RFLAGS_AC    0x40000
#define CR0_EM       0x4
#define CR0_TS       0x8
#define CR0_WP       0x10000
#define PF_PAGE      0x400000       /* a 2 MiB page of the VMM's identity map, unused here */
#define CR4_OSFXSR   0x200
#define MXCSR_SLOT   24             /* MXCSR in the fxsave area */

/* The instruction after this one is completed by the VMM's assist. */
.macro ASSIST
    outb    %al, $ASSIST_PROBE
.endm

/*
 * XMM register \reg holds \hi:\lo, else fail with \code.  Read back with
 * movdqu to memory and 64-bit compares: the only SSE instruction here that
 * is not assisted is movdqu, which every KVM emulator met so far runs.
 */
.macro EXPECT_XMM reg, lo, hi, code
    movdqu  \reg, xmm_out(%rip)
    movabs  $\lo, %rax
    cmp     %rax, xmm_out(%rip)
    EXPECT_EQ \code
    movabs  $\hi, %rax
    cmp     %rax, xmm_out + 8(%rip)
    EXPECT_EQ \code
.endm

/* After a cmp: go on if equal, else fail with \code. */
.macro EXPECT_EQ code
    je      .Lok\@
    mov     $\code, %al
    jmp     fail
.Lok\@:
.endm

    .code64
    .section .text.entry, "ax"
    .globl _start
_start:
    cld
    /* SSE state on (fxsave must see MXCSR), no x87 emulation or task-switched trap. */
    mov     %cr0, %rax
    and     $~(CR0_EM | CR0_TS), %rax
    mov     %rax, %cr0
    mov     %cr4, %rax
    or      $CR4_OSFXSR, %rax
    mov     %rax, %cr4

    /* One interrupt gate per exception vector, and one for SOFT_VECTOR. */
    exception_gates
    lea     idt + SOFT_VECTOR * GATE_SIZE(%rip), %rdi
    lea     stub_soft(%rip), %rax
    call    set_gate
    lidt    idtr(%rip)

/* int n: the gate's handler runs, sees the vector and the address after the int. */
case_int:
    movq    $SOFT_VECTOR, expected_vector(%rip)
    movq    $-1, seen_vector(%rip)
    ASSIST
    int     $SOFT_VECTOR
after_int:
    cmpq    $SOFT_VECTOR, seen_vector(%rip)
    EXPECT_EQ 0x21
    lea     after_int(%rip), %rax
    cmp     %rax, seen_rip(%rip)
    EXPECT_EQ 0x22

/* stac sets EFLAGS.AC, clac clears it (no SMAP needed: the assist does not check CR4). */
case_stac_clac:
    pushfq
    andq    $~RFLAGS_AC, (%rsp)
    popfq
    ASSIST
    stac
    pushfq
    pop     %rax
    and     $RFLAGS_AC, %eax
    cmp     $RFLAGS_AC, %eax
    EXPECT_EQ 0x23
    ASSIST
    clac
    pushfq
    pop     %rax
    and     $RFLAGS_AC, %eax
    cmp     $0, %eax
    EXPECT_EQ 0x24

/* fwait with no x87 exception pending: nothing but the next instruction. */
case_fwait:
    movabs  $0x1234567887654321, %rbx
    ASSIST
    fwait
    movabs  $0x1234567887654321, %rax
    cmp     %rax, %rbx
    EXPECT_EQ 0x25

/* ldmxcsr, RIP-relative; fxsave (not an assisted instruction) reads MXCSR back. */
case_ldmxcsr_rip:
    ASSIST
    ldmxcsr mx_a(%rip)
    call    read_mxcsr
    cmp     $0x3f80, %eax
    EXPECT_EQ 0x26

/* stmxcsr, base + index * 8: exactly four bytes written. */
case_stmxcsr_sib:
    movabs  $0xaaaaaaaaaaaaaaaa, %rax
    mov     %rax, slots + 8(%rip)
    lea     slots(%rip), %rbx
    mov     $1, %ecx
    ASSIST
    stmxcsr (%rbx,%rcx,8)
    cmpl    $0x3f80, slots + 8(%rip)
    EXPECT_EQ 0x27
    cmpl    $0xaaaaaaaa, slots + 12(%rip)
    EXPECT_EQ 0x28

/* ldmxcsr, displacement + base + index * 4. */
case_ldmxcsr_sib:
    lea     mx_table(%rip), %rsi
    mov     $2, %edx
    ASSIST
    ldmxcsr 4(%rsi,%rdx,4)          /* mx_table + 12: 0x7f80 */
    call    read_mxcsr
    cmp     $0x7f80, %eax
    EXPECT_EQ 0x29

/* stmxcsr, RIP-relative. */
case_stmxcsr_rip:
    movl    $0, mx_out(%rip)
    ASSIST
    stmxcsr mx_out(%rip)
    cmpl    $0x7f80, mx_out(%rip)
    EXPECT_EQ 0x2a

/* ldmxcsr of a reserved bit: #GP(0) on the ldmxcsr itself, MXCSR unchanged. */
case_ldmxcsr_gp:
    movq    $13, expected_vector(%rip)
    movq    $-1, seen_vector(%rip)
    movq    $-1, seen_error(%rip)
    lea     after_bad_ldmxcsr(%rip), %rax
    mov     %rax, resume_rip(%rip)  /* where the #GP handler goes back to */
    ASSIST
bad_ldmxcsr:
    ldmxcsr mx_bad(%rip)
after_bad_ldmxcsr:
    movq    $0, resume_rip(%rip)
    cmpq    $13, seen_vector(%rip)
    EXPECT_EQ 0x2b
    cmpq    $0, seen_error(%rip)
    EXPECT_EQ 0x2c
    lea     bad_ldmxcsr(%rip), %rax
    cmp     %rax, seen_rip(%rip)
    EXPECT_EQ 0x2d
    call    read_mxcsr
    cmp     $0x7f80, %eax
    EXPECT_EQ 0x2e

/* popcnt, 64-bit register source: the count, ZF and CF clear (CF was set). */
case_popcnt_reg:
    movabs  $0xf0f0000000000101, %rbx
    mov     $-1, %rax
    stc
    ASSIST
    popcnt  %rbx, %rax
    pushfq
    pop     %rcx
    cmp     $10, %rax
    EXPECT_EQ 0x2f
    and     $(RFLAGS_CF | RFLAGS_ZF), %ecx
    cmp     $0, %ecx
    EXPECT_EQ 0x30

/* popcnt, 32-bit memory source at base + index * 4: the result zero-extends. */
case_popcnt_mem32:
    lea     pop_data(%rip), %rbx
    mov     $1, %ecx
    mov     $-1, %rdx
    ASSIST
    popcnt  (%rbx,%rcx,4), %edx     /* 0xffff0001: 17 */
    pushfq
    pop     %r8
    mov     $17, %eax
    cmp     %rax, %rdx
    EXPECT_EQ 0x31
    and     $RFLAGS_ZF, %r8d
    cmp     $0, %r8d
    EXPECT_EQ 0x32

/* popcnt, 16-bit RIP-relative source of zero: ZF set, the upper bits kept. */
case_popcnt_zero:
    movabs  $0x1111222233334444, %rdx
    ASSIST
    popcnt  pop_zero(%rip), %dx
    pushfq
    pop     %r8
    movabs  $0x1111222233330000, %rax
    cmp     %rax, %rdx
    EXPECT_EQ 0x33
    and     $RFLAGS_ZF, %r8d
    cmp     $RFLAGS_ZF, %r8d
    EXPECT_EQ 0x34

/* movbe load, 32-bit RIP-relative: bytes swapped, the result zero-extends. */
case_movbe_load32:
    mov     $-1, %rax
    ASSIST
    movbe   be_data(%rip), %eax     /* 0x11223344 in memory */
    mov     $0x44332211, %ecx
    cmp     %rcx, %rax
    EXPECT_EQ 0x35

/* movbe store, 64-bit register to memory at a base register. */
case_movbe_store64:
    movabs  $0x0102030405060708, %rcx
    lea     be_out(%rip), %rdi
    ASSIST
    movbe   %rcx, (%rdi)
    movabs  $0x0807060504030201, %rax
    cmp     %rax, be_out(%rip)
    EXPECT_EQ 0x36

/* movbe load, 16-bit: the low word swapped, the rest of the register kept. */
case_movbe_load16:
    movabs  $0x5555666677778888, %rbx
    ASSIST
    movbe   be_data(%rip), %bx      /* bytes 44 33 */
    movabs  $0x5555666677774433, %rax
    cmp     %rax, %rbx
    EXPECT_EQ 0x37

/*
 * SSE2 register forms, on the inputs A and B below; the expected values
 * are what a CPU gives (AssistsTest has the same ones).
 */
/* movd %ecx,%xmm15, as the kernel's BLAKE2s has it: zero-extended to 128 bits. */
case_movd_in:
    movdqu  ones(%rip), %xmm15
    movabs  $0xffffffff12345678, %rcx
    ASSIST
    movd    %ecx, %xmm15
    EXPECT_XMM %xmm15, 0x12345678, 0, 0x38

/* movq %xmm9,%r10 and movd %xmm2,%eax. */
case_movq_out:
    movdqu  xmm_a(%rip), %xmm9
    ASSIST
    movq    %xmm9, %r10
    movabs  $0x0123456789abcdef, %rax
    cmp     %rax, %r10
    EXPECT_EQ 0x39
    movdqu  xmm_a(%rip), %xmm2
    mov     $-1, %rax
    ASSIST
    movd    %xmm2, %eax
    mov     $0x89abcdef, %ecx
    cmp     %rcx, %rax
    EXPECT_EQ 0x39

/* paddd %xmm1,%xmm15, then pxor %xmm15,%xmm1 (REX.R, then REX.B). */
case_padd_pxor:
    movdqu  xmm_a(%rip), %xmm15
    movdqu  xmm_b(%rip), %xmm1
    ASSIST
    paddd   %xmm1, %xmm15
    EXPECT_XMM %xmm15, 0xf205182a3e516476, 0x7e4b17e4b17e4b18, 0x3a
    movdqu  xmm_a(%rip), %xmm1
    movdqu  xmm_b(%rip), %xmm15
    ASSIST
    pxor    %xmm15, %xmm1
    EXPECT_XMM %xmm1, 0xf1c297a43d0e5b68, 0x81b2e7d44d7e2b18, 0x3a

/* psrld $7, then psrldq $4, each on A. */
case_shifts:
    movdqu  xmm_a(%rip), %xmm1
    ASSIST
    psrld   $7, %xmm1
    EXPECT_XMM %xmm1, 0x0002468a0113579b, 0x01fdb97500eca864, 0x3b
    movdqu  xmm_a(%rip), %xmm12
    ASSIST
    psrldq  $4, %xmm12
    EXPECT_XMM %xmm12, 0x7654321001234567, 0x00000000fedcba98, 0x3b

/* pshufd $0x93,%xmm1,%xmm2. */
case_pshufd:
    movdqu  xmm_a(%rip), %xmm1
    ASSIST
    pshufd  $0x93, %xmm1, %xmm2
    EXPECT_XMM %xmm2, 0x89abcdeffedcba98, 0x7654321001234567, 0x3c

/* movdqa %xmm8,%xmm0 and movq %xmm0,%xmm4 (upper half cleared). */
case_moves:
    movdqu  xmm_a(%rip), %xmm8
    movdqu  xmm_b(%rip), %xmm0
    ASSIST
    movdqa  %xmm8, %xmm0
    EXPECT_XMM %xmm0, 0x0123456789abcdef, 0xfedcba9876543210, 0x3d
    movdqu  xmm_b(%rip), %xmm4
    ASSIST
    movq    %xmm0, %xmm4
    EXPECT_XMM %xmm4, 0x0123456789abcdef, 0, 0x3d

/* punpckldq %xmm5,%xmm4. */
case_punpck:
    movdqu  xmm_a(%rip), %xmm4
    movdqu  xmm_b(%rip), %xmm5
    ASSIST
    punpckldq %xmm5, %xmm4
    EXPECT_XMM %xmm4, 0xb4a5968789abcdef, 0xf0e1d2c301234567, 0x3e

/*
 * An assisted instruction's memory operand gets the page fault the CPU
 * would raise.  stmxcsr into a read-only page with CR0.WP set: #PF with
 * error code 3 (present, write), CR2 the address, nothing written.
 */
case_pf_read_only:
    mov     %cr0, %rax
    or      $CR0_WP, %rax
    mov     %rax, %cr0
    call    pf_page_pde             /* RDI = its page-directory entry */
    andq    $~2, (%rdi)             /* R/W clear */
    invlpg  PF_PAGE
    movq    $14, expected_vector(%rip)
    movq    $-1, seen_vector(%rip)
    movq    $-1, seen_error(%rip)
    lea     after_pf_read_only(%rip), %rax
    mov     %rax, resume_rip(%rip)
    ASSIST
    stmxcsr PF_PAGE + 0x10
after_pf_read_only:
    movq    $0, resume_rip(%rip)
    cmpq    $14, seen_vector(%rip)
    EXPECT_EQ 0x45
    cmpq    $3, seen_error(%rip)
    EXPECT_EQ 0x45
    mov     %cr2, %rax
    cmp     $PF_PAGE + 0x10, %rax
    EXPECT_EQ 0x45
    orq     $2, (%rdi)
    invlpg  PF_PAGE
    cmpl    $0, PF_PAGE + 0x10
    EXPECT_EQ 0x45

/* ldmxcsr from a page not present: #PF with error code 0 (read, supervisor). */
case_pf_not_present:
    andq    $~1, (%rdi)             /* P clear */
    invlpg  PF_PAGE
    movq    $14, expected_vector(%rip)
    movq    $-1, seen_vector(%rip)
    movq    $-1, seen_error(%rip)
    lea     after_pf_not_present(%rip), %rax
    mov     %rax, resume_rip(%rip)
    ASSIST
    ldmxcsr PF_PAGE + 0x20
after_pf_not_present:
    movq    $0, resume_rip(%rip)
    orq     $1, (%rdi)
    invlpg  PF_PAGE
    cmpq    $14, seen_vector(%rip)
    EXPECT_EQ 0x46
    cmpq    $0, seen_error(%rip)
    EXPECT_EQ 0x46
    mov     %cr2, %rax
    cmp     $PF_PAGE + 0x20, %rax
    EXPECT_EQ 0x46

    lea     ok_msg(%rip), %rsi
    call    puts
    mov     $0x15, %al
    jmp     exit

/* pf_page_pde: RDI = the address of PF_PAGE's 2 MiB page-directory entry, from CR3. */
pf_page_pde:
    mov     %cr3, %rdi
    and     $~0xfff, %rdi
    mov     (%rdi), %rdi            /* PML4[0] */
    and     $~0xfff, %rdi
    mov     (%rdi), %rdi            /* PDPT[0] */
    and     $~0xfff, %rdi
    add     $(PF_PAGE >> 21) * 8, %rdi
    ret

/* read_mxcsr: EAX = MXCSR, through fxsave.  Clobbers nothing else. */
read_mxcsr:
    fxsave64 fx_area(%rip)
    mov     fx_area + MXCSR_SLOT(%rip), %eax
    ret

/*
 * Entry stubs (idt64.inc), and one more for SOFT_VECTOR in the same frame:
 * 0(%rsp) vector, 8(%rsp) error code, 16(%rsp) RIP for common_handler.
 */
    idt64_routines
stub_soft:
    pushq   $0
    pushq   $SOFT_VECTOR
    jmp     common_handler

/*
 * Records the vector, error code and return RIP of the one vector the
 * current case expects, and returns to resume_rip if set (a fault's RIP is
 * the faulting instruction), else where the CPU would.
 */
common_handler:
    push    %rax                    /* vector 8(%rsp), error 16(%rsp), RIP 24(%rsp) */
    mov     8(%rsp), %rax
    cmp     expected_vector(%rip), %rax
    jne     unexpected
    mov     %rax, seen_vector(%rip)
    mov     16(%rsp), %rax
    mov     %rax, seen_error(%rip)
    mov     24(%rsp), %rax
    mov     %rax, seen_rip(%rip)
    mov     resume_rip(%rip), %rax
    test    %rax, %rax
    jz      1f
    mov     %rax, 24(%rsp)
1:  movq    $-1, expected_vector(%rip)
    pop     %rax
    add     $16, %rsp
    iretq

/* Not coming back: print "unexpected vector N\n" and stop. */
unexpected:
    lea     unexpected_msg(%rip), %rsi
    call    puts
    mov     8(%rsp), %rax
    call    put_dec
    mov     $10, %al
    call    putc
    mov     $0x3f, %al
    jmp     exit

/* fail: print "assist case failed: N\n" and exit with N (in AL). */
fail:
    movzbl  %al, %ebx
    lea     fail_msg(%rip), %rsi
    call    puts
    mov     %rbx, %rax
    call    put_dec
    mov     $10, %al
    call    putc
    mov     %bl, %al
    jmp     exit

    console_routines
    put_dec_routine

    .section .rodata.str, "a"
ok_msg:         .asciz "vessel assists ok\n"
fail_msg:       .asciz "assist case failed: "
unexpected_msg: .asciz "unexpected vector "

    .data
    .balign 8
idtr:
    .word   IDT_ENTRIES * GATE_SIZE - 1
    .quad   idt
expected_vector: .quad -1
seen_vector:    .quad -1
seen_error:     .quad -1
seen_rip:       .quad 0
resume_rip:     .quad 0
slots:          .quad 0, 0
be_out:         .quad 0
mx_a:           .long 0x3f80        /* round down, all exceptions masked */
mx_table:       .long 0, 0, 0, 0x7f80   /* round toward zero */
mx_bad:         .long 0x11f80       /* bit 16 is reserved */
mx_out:         .long 0
pop_data:       .long 0, 0xffff0001
be_data:        .long 0x11223344
pop_zero:       .word 0
    .balign 16
xmm_a:          .quad 0x0123456789abcdef, 0xfedcba9876543210
xmm_b:          .quad 0xf0e1d2c3b4a59687, 0x7f6e5d4c3b2a1908
ones:           .quad -1, -1
xmm_out:        .quad 0, 0

    .bss
    .balign 16
idt:
    .skip   IDT_ENTRIES * GATE_SIZE
    .balign 16
fx_area:
    .skip   512

    .section .note.GNU-stack, "", @progbits
