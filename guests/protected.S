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

#define COM1_THR    0x3f8
#define COM1_LSR    0x3fd
#define LSR_THRE    0x20            /* THR empty: ready for the next byte */
#define DEBUG_EXIT  0xf4
#define I8042_CMD   0x64
#define I8042_RESET 0xfe

    .code32
    .section .text.entry, "ax"
    .globl _start
_start:
    cld
    mov     $msg, %esi
    call    puts

    mov     $0x11, %al
    outb    %al, $DEBUG_EXIT

    /* Only reached if no debug-exit device consumed the write above. */
    mov     $I8042_RESET, %al
    outb    %al, $I8042_CMD
halt:
    cli
    hlt
    jmp     halt

/* puts: print the NUL-terminated string at ESI.  Clobbers EAX, EDX, ESI. */
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
    .asciz  "vessel protected mode ok\n"

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
