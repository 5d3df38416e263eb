/*
 * int3.S - breakpoint (#BP, vector 3) delivery test for the `long` mode.
 *
 * Entered like long.S: 64-bit long mode, identity-mapped, code selector
 * 0x08, RIP=0x10000, RSP=0xFFF0, interrupts off, no IDT.
 *
 * Builds an IDT with a handler for each of the 32 exception vectors,
 * executes int3 (the one-byte 0xCC) and expects the vector 3 handler to
 * run and return with iretq.  Output and exit values:
 *
 *   "int3 handled\n" "vessel int3 ok\n"   debug-exit 0x13 (status 39)
 *   "unexpected vector N\n"               debug-exit 0x7f (status 255)
 *   "int3 handled\n" "int3 bad rip\n"     debug-exit 0x7d (status 251)
 *
 * and after the debug-exit write, an i8042 reset (status 0 without the
 * debug-exit device).
 *
 * #BP may reach us two ways: the CPU executes the 0xCC itself, or the VMM
 * (when KVM hands the int3 to it) advances RIP past the 0xCC and injects
 * vector 3 as an exception.  Both push the same frame: no error code and
 * the address *after* the int3.  The handler checks that address so a VMM
 * that got it wrong fails loudly instead of looping or jumping into the
 * middle of nowhere.
 */

#include "console.inc"

#define NVEC        32              /* the architecturally defined exceptions */
#define GATE_SIZE   16              /* a long-mode IDT gate descriptor */
#define GATE_INTR   0x8e            /* present, DPL 0, 64-bit interrupt gate */

/*
 * Vectors for which the CPU pushes an error code: #DF, #TS, #NP, #SS, #GP,
 * #PF, #AC, #CP, #VC, #SX.  Their stubs do not push a dummy one.
 */
#define ERRCODE_VECTORS ((1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | \
                         (1 << 13) | (1 << 14) | (1 << 17) | (1 << 21) | \
                         (1 << 29) | (1 << 30))

    .code64
    .section .text.entry, "ax"
    .globl _start
_start:
    cld

    /* Fill in one interrupt gate per vector from stub_table. */
    lea     idt(%rip), %rdi
    lea     stub_table(%rip), %rsi
    mov     %cs, %bx                /* the selector we run on (0x08) */
    mov     $NVEC, %ecx
1:  lodsq                           /* RAX = stub address */
    mov     %ax, 0(%rdi)            /* offset 15:0 */
    mov     %bx, 2(%rdi)            /* code selector */
    movb    $0, 4(%rdi)             /* IST 0: stay on the current stack */
    movb    $GATE_INTR, 5(%rdi)
    shr     $16, %rax
    mov     %ax, 6(%rdi)            /* offset 31:16 */
    shr     $16, %rax
    mov     %eax, 8(%rdi)           /* offset 63:32 */
    movl    $0, 12(%rdi)            /* reserved */
    add     $GATE_SIZE, %rdi
    dec     %ecx
    jnz     1b
    lidt    idtr(%rip)

    int3                            /* 0xCC, not `int $3` (0xCD 0x03) */
after_int3:                         /* where #BP must return to */
    lea     ok_msg(%rip), %rsi
    call    puts
    mov     $0x13, %al
    jmp     exit

/*
 * One entry stub per vector.  Each leaves the same frame for
 * common_handler:
 *     0(%rsp) vector, 8(%rsp) error code (0 if the CPU pushed none),
 *    16(%rsp) RIP, then CS, RFLAGS, RSP, SS as pushed by the CPU.
 * Its address goes into stub_table, in vector order.
 */
    .section .rodata
    .balign 8
stub_table:
    .text
    .irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
stub_\vec:
    .if ((ERRCODE_VECTORS >> \vec) & 1) == 0
    pushq   $0
    .endif
    pushq   $\vec
    jmp     common_handler
    .pushsection .rodata
    .quad   stub_\vec
    .popsection
    .endr

common_handler:
    cmpq    $3, (%rsp)
    jne     unexpected

    push    %rax
    push    %rdx
    push    %rsi
    /* Frame is now: RSI, RDX, RAX, vector, error code, RIP at 40(%rsp). */
    lea     after_int3(%rip), %rax
    cmp     %rax, 40(%rsp)
    jne     bad_rip
    lea     handled_msg(%rip), %rsi
    call    puts
    pop     %rsi
    pop     %rdx
    pop     %rax
    add     $16, %rsp               /* drop vector and error code */
    iretq

bad_rip:
    lea     handled_msg(%rip), %rsi
    call    puts
    lea     bad_rip_msg(%rip), %rsi
    call    puts
    mov     $0x7d, %al
    jmp     exit

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
handled_msg:    .asciz "int3 handled\n"
ok_msg:         .asciz "vessel int3 ok\n"
bad_rip_msg:    .asciz "int3 bad rip\n"
unexpected_msg: .asciz "unexpected vector "

    .data
    .balign 8
idtr:
    .word   NVEC * GATE_SIZE - 1    /* limit */
    .quad   idt                     /* base */

    .bss
    .balign 16
idt:
    .skip   NVEC * GATE_SIZE        /* filled in by _start */

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
