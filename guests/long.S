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

#define COM1_THR    0x3f8
#define COM1_LSR    0x3fd
#define LSR_THRE    0x20            /* THR empty: ready for the next byte */
#define DEBUG_EXIT  0xf4
#define I8042_CMD   0x64
#define I8042_RESET 0xfe

    .code64
    .section .text.entry, "ax"
    .globl _start
_start:
    cld
    lea     msg(%rip), %rsi
    call    puts

    mov     $0x12, %al
    outb    %al, $DEBUG_EXIT

    /* Only reached if no debug-exit device consumed the write above. */
    mov     $I8042_RESET, %al
    outb    %al, $I8042_CMD
halt:
    cli
    hlt
    jmp     halt

/* puts: print the NUL-terminated string at RSI.  Clobbers RAX, RDX, RSI. */
puts:
    lodsb
    test    %al, %al
    jz      1f
    call    putc
    jmp     puts
1:  ret

/* putc: print AL once the transmitter is ready.  Clobbers AH, DX. */
putc:
    mov     %al, %ah                /* inb overwrites AL */
    mov     $COM1_LSR, %dx
1:  inb     %dx, %al
    test    $LSR_THRE, %al
    jz      1b
    mov     $COM1_THR, %dx
    mov     %ah, %al
    outb    %al, %dx
    ret

    .section .rodata
msg:
    .asciz  "vessel long mode ok\n"

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
