/*
 * bochs.S - programs the bochs-display adapter as Linux's bochs driver does.
 *
 * Entered in 64-bit long mode (like long.S).  Finds PCI 1234:1111 on bus 0
 * through 0xCF8/0xCFC, moves its BARs into the 32-bit hole (BAR0, the video
 * memory, to 0xC0000000; BAR2, the registers, to 0xC1000000: the VMM must
 * move the memory slot with BAR0), reads the dispi ID, the video memory size
 * and QEMU's extended-register size, asks for an impossible mode (8 bits per
 * pixel: refused, the enable register reads back 0), sets 640x480x32 and
 * once the host writes non-zero at 0x20000, writes three pixels: red at (0,0),
 * green at (639,479), blue at (320,0).  Prints "bochs id N vram N qext N refused N enable N" and exits with 0x12
 * (status 37); no adapter: "bochs missing", 0x13.
 */

#include "console.inc"

#define PCI_ADDR    0xcf8
#define PCI_DATA    0xcfc
#define VRAM        0xc0000000
#define GO_FLAG     0x20000         /* the host writes non-zero here: draw */
#define REGS        0xc1000000
#define DISPI(i)    (0x500 + 2 * (i))(%r13)   /* R13: the registers' base */

    .code64
    .section .text.entry, "ax"
    .globl _start
_start:
    cld
    xor     %ebx, %ebx              /* device number */
1:  mov     %ebx, %eax
    shl     $11, %eax
    or      $0x80000000, %eax
    mov     %eax, %r12d             /* config address of this device, register 0 */
    mov     $PCI_ADDR, %dx
    outl    %eax, %dx
    mov     $PCI_DATA, %dx
    inl     %dx, %eax
    cmp     $0x11111234, %eax
    je      found
    inc     %ebx
    cmp     $32, %ebx
    jb      1b
    lea     missing(%rip), %rsi
    call    puts
    mov     $0x13, %al
    jmp     exit

found:
    mov     $0x04, %ecx             /* command: decoding off while the BARs move */
    xor     %eax, %eax
    call    cfg_write
    mov     $0x10, %ecx             /* BAR0 (64-bit): the video memory */
    mov     $VRAM, %eax
    call    cfg_write
    mov     $0x14, %ecx
    xor     %eax, %eax
    call    cfg_write
    mov     $0x18, %ecx             /* BAR2 (64-bit): the registers */
    mov     $REGS, %eax
    call    cfg_write
    mov     $0x1c, %ecx
    xor     %eax, %eax
    call    cfg_write
    mov     $0x04, %ecx             /* memory decoding on */
    mov     $0x02, %eax
    call    cfg_write

    mov     $REGS, %r13d
    mov     $VRAM, %r14d
    lea     idmsg(%rip), %rsi
    call    puts
    movzwl  DISPI(0), %eax
    call    put_dec
    lea     vrammsg(%rip), %rsi
    call    puts
    movzwl  DISPI(10), %eax
    call    put_dec
    lea     qextmsg(%rip), %rsi
    call    puts
    mov     0x600(%r13), %eax
    call    put_dec

    movw    $0, DISPI(4)            /* 640x480 at 8 bits per pixel: refused */
    movw    $8, DISPI(3)
    movw    $640, DISPI(1)
    movw    $480, DISPI(2)
    movw    $0x41, DISPI(4)
    lea     refusedmsg(%rip), %rsi
    call    puts
    movzwl  DISPI(4), %eax
    call    put_dec

    movw    $0, DISPI(4)            /* Linux's bochs_hw_setmode, then setbase */
    movw    $32, DISPI(3)
    movw    $640, DISPI(1)
    movw    $480, DISPI(2)
    movw    $0, DISPI(5)
    movw    $640, DISPI(6)
    movw    $480, DISPI(7)
    movw    $0, DISPI(8)
    movw    $0, DISPI(9)
    movw    $0x41, DISPI(4)
    movw    $640, DISPI(6)
    movw    $0, DISPI(8)
    movw    $0, DISPI(9)
    lea     enablemsg(%rip), %rsi
    call    puts
    movzwl  DISPI(4), %eax
    call    put_dec
    mov     $'\n', %al
    call    putc

    mov     $GO_FLAG, %eax          /* wait until the host has armed its dirty log */
2:  pause
    cmpl    $0, (%rax)
    je      2b
    movl    $0x00ff0000, (%r14)
    movl    $0x0000ff00, ((479 * 640 + 639) * 4)(%r14)
    movl    $0x000000ff, (320 * 4)(%r14)

    mov     $0x12, %al
    jmp     exit

/* Writes EAX to config register ECX of the device at R12D. Clobbers EAX, EDX. */
cfg_write:
    push    %rax
    mov     %r12d, %eax
    or      %ecx, %eax
    mov     $PCI_ADDR, %dx
    outl    %eax, %dx
    pop     %rax
    mov     $PCI_DATA, %dx
    outl    %eax, %dx
    ret

    console_routines
    put_dec_routine

    .section .rodata
missing:    .asciz  "bochs missing\n"
idmsg:      .asciz  "bochs id "
vrammsg:    .asciz  " vram "
qextmsg:    .asciz  " qext "
refusedmsg: .asciz  " refused "
enablemsg:  .asciz  " enable "

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
