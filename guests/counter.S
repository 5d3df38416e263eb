/*
 * counter.S - a guest that counts, for snapshot and restore tests.
 *
 * Entered in 64-bit long mode (like long.S).  It keeps a number only its
 * own run could know in R12 (the TSC at start, also stored at STAMP), then
 * counts in RBX, mirroring the count at COUNTER, with one I/O exit per
 * iteration (port 0xe0, which no device claims) so a pause lands between
 * iterations.  When RBX equals the value at TARGET (0 at boot, so never
 * until a host writes one) it prints "stamp=<R12> count=<RBX>" on COM1 and
 * leaves through the debug-exit port with 0x05 (status 11).  A restored
 * guest that prints the stamp its first run stored, and the target the
 * host set, went on from its registers and memory as they were saved.
 */
#include "console.inc"

#define COUNTER 0x20000
#define TARGET  0x20008
#define STAMP   0x20010

    .code64
    .section .text.entry, "ax"
    .globl _start
_start:
    cld
    lea     hello(%rip), %rsi
    call    puts
    rdtsc
    shl     $32, %rdx
    or      %rdx, %rax
    mov     %rax, %r12
    mov     %r12, STAMP
    xor     %ebx, %ebx
1:  inc     %rbx
    mov     %rbx, COUNTER
    outb    %al, $0xe0
    cmp     TARGET, %rbx
    jne     1b

    lea     stamp(%rip), %rsi
    call    puts
    mov     %r12, %rax
    call    put_dec
    lea     count(%rip), %rsi
    call    puts
    mov     %rbx, %rax
    call    put_dec
    mov     $'\n', %al
    call    putc
    mov     $0x05, %al
    jmp     exit

    console_routines
    put_dec_routine

    .section .rodata
hello:
    .asciz  "counter started\n"
stamp:
    .asciz  "stamp="
count:
    .asciz  " count="
