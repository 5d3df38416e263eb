/*
 * spin.S - a guest that never ends, for pause/resume/stop tests.
 *
 * Entered in 64-bit long mode (like long.S).  Each iteration adds one to
 * the 64-bit counter at physical 0x20000 and then writes to port 0xe0,
 * which no device claims, so every iteration is exactly one I/O exit.
 * A host that pauses the VM sees the counter stand still; one that
 * counts I/O exits can check that none was lost: exits == counter, or
 * counter - 1 if the VM stopped between the increment and the write.
 */
#define COUNTER 0x20000

    .code64
    .section .text.entry, "ax"
    .globl _start
_start:
    movq    $0, COUNTER
1:  incq    COUNTER
    outb    %al, $0xe0
    jmp     1b
