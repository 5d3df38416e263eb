/*
 * protected.S - smoke test for the `protected` boot mode.
 *
 * Entered by the VMM in 32-bit protected mode, paging off, flat code
 * segment 0x08 and flat data segments 0x10, EIP=0x10000, ESP=0xFFF0,
 * interrupts off, no IDT.  Linked at 0x10000, where the image is loaded.
 *
 * Prints "vessel protected mode ok\n" on COM1, writes 0x11 to the
 * debug-exit port (status 35), then falls back to an i8042 reset
 * (status 0 without the debug-exit device).
 */

#include "console.inc"

    .code32
    .section .text.entry, "ax"
    .globl _start
_start:
    cld
    mov     $msg, %esi
    call    puts

    mov     $0x11, %al
    jmp     exit

    console_routines

    .section .rodata
msg:
    .asciz  "vessel protected mode ok\n"

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
