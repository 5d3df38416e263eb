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
#include "idt64.inc"

    .code64
    .section .text.entry, "ax"
    .globl _start
_start:
    cld

    /* One interrupt gate per exception vector. */
    exception_gates
    lidt    idtr(%rip)

    int3                            /* 0xCC, not `int $3` (0xCD 0x03) */
after_int3:                         /* where #BP must return to */
    lea     ok_msg(%rip), %rsi
    call    puts
    mov     $0x13, %al
    jmp     exit

/* The entry stubs (idt64.inc) jump here with the vector on top of the CPU's frame. */
    idt64_routines

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
