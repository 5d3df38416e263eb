/*
 * real.S - smoke test for the `real` boot mode.
 *
 * Entered by the VMM in 16-bit real mode with CS=DS=ES=0x1000 (base
 * 0x10000), IP=0, SS=0, SP=0xFFF0, interrupts off and no BIOS.  The image
 * is linked at offset 0 (FLAT_BASE=0) because every address below is an
 * offset within segment 0x1000.
 *
 * Prints "vessel real mode ok\n" on COM1, writes 0x10 to the debug-exit
 * port (status (0x10<<1)|1 = 33), then asks the i8042 for a reset, which
 * ends the VM with status 0 when there is no debug-exit device.
 */

#include "console.inc"

    .code16
    .section .text.entry, "ax"
    .globl _start
_start:
    cld                             /* lodsb must walk forwards */
    mov     $msg, %si
    call    puts

    mov     $0x10, %al
    jmp     exit

    console_routines

    .section .rodata
msg:
    .asciz  "vessel real mode ok\n"

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
