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

#define COM1_THR    0x3f8           /* transmit holding register */
#define COM1_LSR    0x3fd           /* line status register */
#define LSR_THRE    0x20            /* THR empty: ready for the next byte */
#define DEBUG_EXIT  0xf4
#define I8042_CMD   0x64
#define I8042_RESET 0xfe

    .code16
    .section .text.entry, "ax"
    .globl _start
_start:
    cld                             /* lodsb must walk forwards */
    mov     $msg, %si
    call    puts

    mov     $0x10, %al
    outb    %al, $DEBUG_EXIT

    /* Only reached if no debug-exit device consumed the write above. */
    mov     $I8042_RESET, %al
    outb    %al, $I8042_CMD
halt:
    cli
    hlt
    jmp     halt

/* puts: print the NUL-terminated string at DS:SI.  Clobbers AX, DX, SI. */
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
    .asciz  "vessel real mode ok\n"

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
