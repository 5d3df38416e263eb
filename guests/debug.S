/*
 * debug.S - debug exceptions (#DB, vector 1) for the `long` mode: hardware
 * breakpoints, single-step and icebp.
 *
 * Entered like long.S: 64-bit long mode, identity-mapped, code selector
 * 0x08, RIP=0x10000, RSP=0xFFF0, interrupts off, no IDT.
 *
 * Installs a handler for each exception vector, then:
 *   1. DR0 = bp_target, DR7 enables it as an execution breakpoint; calls
 *      bp_target: one #DB (a fault: DR6.B0, RIP = bp_target; the handler sets
 *      RFLAGS.RF so the return does not hit the breakpoint again);
 *   2. DR1 = watched, DR7 enables it as an 8-byte write watchpoint; stores to
 *      it once: one #DB (a trap: DR6.B1) on a CPU.  Reported, not required:
 *      a host whose KVM emulates guest code (kvm_pvm) checks no data
 *      breakpoints, and nothing a VMM sees of the store could complete it;
 *   3. sets RFLAGS.TF with popfq, runs STEP_INSNS instructions, clears it with
 *      popfq: one single-step trap (DR6.BS) after each instruction from the
 *      one after the first popfq through the clearing popfq;
 *   4. icebp (0xF1): one #DB, a trap, whose frame RIP is after_icebp.
 * Prints the counts and ends:
 *   "debug hw 1 watch W step 6 icebp 1\n" "vessel debug ok\n"  debug-exit 0x14 (status 41)
 *      (W is 1 on a CPU, 0 where the host does not check data breakpoints)
 *   the counts then "debug counts wrong\n"                      debug-exit 0x7c (status 249)
 *   "unexpected vector N\n"                                     debug-exit 0x7f (status 255)
 *
 * gdb_target is where a host debugger (the GDB stub's test) puts its own
 * breakpoint: a function, called once before the counts are printed, that
 * sets RAX to 0x5eed and returns.  The guest uses no debug register there.
 */

#include "console.inc"
#include "idt64.inc"

#define DR7_L0          (1 << 0)
#define DR7_L1          (1 << 2)
#define DR7_RW1_WRITE   (1 << 20)   /* R/W1 = 01: data writes */
#define DR7_LEN1_8      (2 << 22)   /* LEN1 = 10: 8 bytes (long mode) */
#define DR6_B0          (1 << 0)
#define DR6_B1          (1 << 1)
#define DR6_BS          (1 << 14)
#define DR6_CLEAR       0xffff0ff0  /* DR6's value with no condition recorded */
#define RFLAGS_TF       (1 << 8)
#define RFLAGS_RF       (1 << 16)
#define STEP_EXPECTED   6           /* the 5 instructions between the popfqs and the clearing popfq */

    .code64
    .section .text.entry, "ax"
    .globl _start
_start:
    cld
    exception_gates
    lidt    idtr(%rip)

    /* 1. Execution breakpoint on bp_target. */
    lea     bp_target(%rip), %rax
    mov     %rax, %dr0
    mov     $DR7_L0, %eax
    mov     %rax, %dr7
    call    bp_target
    xor     %eax, %eax
    mov     %rax, %dr7

    /* 2. Write watchpoint on `watched`. */
    lea     watched(%rip), %rax
    mov     %rax, %dr1
    mov     $(DR7_L1 | DR7_RW1_WRITE | DR7_LEN1_8), %eax
    mov     %rax, %dr7
    movq    $1, watched(%rip)
    xor     %eax, %eax
    mov     %rax, %dr7

    /* 3. Single-step. */
    pushfq
    orq     $RFLAGS_TF, (%rsp)
    popfq                           /* TF on: the trap comes after the next instruction */
    nop
    nop
    nop
    pushfq
    andq    $~RFLAGS_TF, (%rsp)
    popfq                           /* TF still set while this runs: it traps too */

    /* 4. icebp. */
    .byte   0xf1
after_icebp:
    call    gdb_target

    lea     hw_msg(%rip), %rsi
    call    puts
    mov     hw_hits(%rip), %rax
    call    put_dec
    lea     watch_msg(%rip), %rsi
    call    puts
    mov     watch_hits(%rip), %rax
    call    put_dec
    lea     step_msg(%rip), %rsi
    call    puts
    mov     step_hits(%rip), %rax
    call    put_dec
    lea     icebp_msg(%rip), %rsi
    call    puts
    mov     icebp_hits(%rip), %rax
    call    put_dec
    mov     $10, %al
    call    putc

    cmpq    $1, hw_hits(%rip)
    jne     wrong
    cmpq    $1, watch_hits(%rip)
    ja      wrong
    cmpq    $STEP_EXPECTED, step_hits(%rip)
    jne     wrong
    cmpq    $1, icebp_hits(%rip)
    jne     wrong
    lea     after_icebp(%rip), %rax
    cmp     %rax, icebp_rip(%rip)
    jne     wrong
    lea     ok_msg(%rip), %rsi
    call    puts
    mov     $0x14, %al
    jmp     exit

wrong:
    lea     wrong_msg(%rip), %rsi
    call    puts
    mov     $0x7c, %al
    jmp     exit

    .globl bp_target
bp_target:
    nop
    ret

    .globl gdb_target
gdb_target:
    mov     $0x5eed, %eax
    ret

/* The entry stubs (idt64.inc) jump here with the vector on top of the CPU's frame. */
    idt64_routines

/* Frame: 0 vector, 8 error code, 16 RIP, 24 CS, 32 RFLAGS; 8 more below each push. */
common_handler:
    cmpq    $1, (%rsp)
    jne     unexpected
    push    %rax
    mov     %dr6, %rax
    test    $DR6_B0, %eax
    jz      1f
    incq    hw_hits(%rip)
    orq     $RFLAGS_RF, 40(%rsp)    /* a fault: resume without hitting it again */
    jmp     3f
1:  test    $DR6_B1, %eax
    jz      2f
    incq    watch_hits(%rip)
    jmp     3f
2:  test    $DR6_BS, %eax
    jz      4f
    incq    step_hits(%rip)
    jmp     3f
4:  incq    icebp_hits(%rip)        /* #DB with no condition in DR6 */
    mov     24(%rsp), %rax
    mov     %rax, icebp_rip(%rip)
3:  mov     $DR6_CLEAR, %eax
    mov     %rax, %dr6
    pop     %rax
    add     $16, %rsp               /* drop vector and error code */
    iretq

/* Not coming back: print "unexpected vector N\n" and stop. */
unexpected:
    lea     unexpected_msg(%rip), %rsi
    call    puts
    mov     (%rsp), %rax
    call    put_dec
    mov     $10, %al                /* '\n' */
    call    putc
    mov     $0x7f, %al
    jmp     exit

    console_routines
    put_dec_routine

    .section .rodata.str, "a"
hw_msg:         .asciz "debug hw "
watch_msg:      .asciz " watch "
step_msg:       .asciz " step "
icebp_msg:      .asciz " icebp "
ok_msg:         .asciz "vessel debug ok\n"
wrong_msg:      .asciz "debug counts wrong\n"
unexpected_msg: .asciz "unexpected vector "

    .data
    .balign 8
idtr:
    .word   NVEC * GATE_SIZE - 1    /* limit */
    .quad   idt                     /* base */
hw_hits:        .quad 0
watch_hits:     .quad 0
step_hits:      .quad 0
icebp_hits:     .quad 0
icebp_rip:      .quad 0
watched:        .quad 0

    .bss
    .balign 16
idt:
    .skip   NVEC * GATE_SIZE        /* filled in by _start */

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
