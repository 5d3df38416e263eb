/*
 * long.S - smoke test for the `long` boot mode.
 *
 * Entered by the VMM in 64-bit long mode with the first 4 GiB identity
 * mapped, code selector 0x08, data selector 0x10, RIP=0x10000,
 * RSP=0xFFF0, interrupts off, no IDT.  Linked at 0x10000.
 *
 * Prints "vessel long mode ok\n" on COM1, writes 0x12 to the debug-exit
 * port (status 37), then falls back to an i8042 reset (status 0 without
 * the debug-exit device).
 */

#include "console.inc"

    .code64
    .section .text.entry, "ax"
    .globl _start
_start:
    cld
    lea     msg(%rip), %rsi
    call    puts

    mov     $0x12, %al
    jmp     exit

    console_routines

    .section .rodata
msg:
    .asciz  "vessel long mode ok\n"

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
