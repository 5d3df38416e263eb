/*
 * bootsector.S - a PC boot sector: what firmware loads from a disk's first 512 bytes.
 *
 * The BIOS reads sector 0 to 0x7C00 and jumps there in real mode with DL holding the drive number;
 * it checks only the 0x55 0xAA signature in the last two bytes. The image is linked at 0x7C00 and
 * uses no BIOS service (no int instructions): it prints "vessel boot sector ok\n" on COM1 and writes
 * 0x21 to the debug-exit port (status (0x21<<1)|1 = 67), or resets through the i8042 without one.
 */

#include "console.inc"

    .code16
    .section .text.entry, "ax"
    .globl _start
_start:
    ljmp    $0, $1f                 /* some BIOSes enter at 07C0:0000: make CS 0 */
1:  cli
    xor     %ax, %ax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss
    mov     $0x7c00, %sp            /* the stack grows down below the sector */
    cld                             /* lodsb must walk forwards */
    mov     $msg, %si
    call    puts
    mov     $0x21, %al
    jmp     exit

    console_routines

msg:
    .asciz  "vessel boot sector ok\n"

    .org    510                     /* everything above must fit before the signature */
    .byte   0x55, 0xaa

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
