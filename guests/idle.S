/*
 * idle.S - a guest that says it is up and then costs nothing: for density
 * (bench/density: many VMs in one JVM) and start-up (bench/api: process start
 * to a flat guest's first console byte) measurements.
 *
 * Entered in 16-bit real mode like real.S.  Prints "idle ready\n" on COM1,
 * then halts with interrupts off: the vCPU sleeps in the kernel's KVM_RUN
 * for good, with no exits and no CPU time, until the VMM stops it.
 */

#include "console.inc"

    .code16
    .section .text.entry, "ax"
    .globl _start
_start:
    cld
    mov     $msg, %si
    call    puts
1:  cli
    hlt
    jmp     1b

    console_routines

    .section .rodata
msg:
    .asciz  "idle ready\n"

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
