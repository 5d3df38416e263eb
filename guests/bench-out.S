/*
 * bench-out.S - guest for the port-I/O exit-rate benchmark.
 *
 * Entered like real.S (16-bit real mode, CS=DS=0x1000, IP=0, SS=0,
 * SP=0xFFF0).  Executes `out %al,$0xe0` exactly 1,000,000 times; no device
 * claims port 0xe0, so every one is a plain I/O exit the VMM ignores.
 * Then writes 0 to the debug-exit port (status 1) and falls back to an
 * i8042 reset (status 0 without the debug-exit device).
 *
 * Prints nothing: console output would add exits of its own.
 */

#define BENCH_PORT  0xe0
#define ITERATIONS  1000000         /* > 0xFFFF, so the counter is ECX */
#include "console.inc"

    .code16
    .section .text.entry, "ax"
    .globl _start
_start:
    xor     %al, %al                /* the value written is irrelevant */
    mov     $ITERATIONS, %ecx       /* operand-size prefix: 32-bit count */
1:  outb    %al, $BENCH_PORT
    dec     %ecx                    /* 32-bit dec: `loop` would use CX */
    jnz     1b

    xor     %al, %al
    jmp     exit

    console_routines

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
