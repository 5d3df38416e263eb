/*
 * framebuffer.S - draws on the boot framebuffer of `--display 320x200x32`.
 *
 * Entered in 32-bit protected mode (flat segments, paging off) like
 * protected.S.  The framebuffer is at 0xe1000000 (GuestLayout.FRAMEBUFFER),
 * 320 x 200 pixels of x8r8g8b8, 1280 bytes a line.
 *
 * Fills the screen with a coordinate pattern: pixel (x, y) is
 * red = x & 0xff, green = y & 0xff, blue = 0x40.  Prints "drawn\n" on COM1,
 * then serves commands read from COM1:
 *   'l'  paints line 100 white and prints "line\n"
 *   'q'  exits through the debug-exit port (status 39)
 */

#include "console.inc"

#define FB          0xe1000000
#define WIDTH       320
#define HEIGHT      200
#define COM1_RBR    0x3f8
#define LSR_DR      0x01

    .code32
    .section .text.entry, "ax"
    .globl _start
_start:
    cld
    mov     $FB, %edi
    xor     %ebx, %ebx              /* y */
1:  xor     %ecx, %ecx              /* x */
2:  mov     %ecx, %eax
    and     $0xff, %eax
    shl     $16, %eax
    mov     %bl, %ah                /* green = y & 0xff */
    mov     $0x40, %al
    stosl
    inc     %ecx
    cmp     $WIDTH, %ecx
    jb      2b
    inc     %ebx
    cmp     $HEIGHT, %ebx
    jb      1b
    mov     $drawn, %esi
    call    puts

command:
    mov     $COM1_LSR, %dx
3:  inb     %dx, %al
    test    $LSR_DR, %al
    jz      3b
    mov     $COM1_RBR, %dx
    inb     %dx, %al
    cmp     $'l', %al
    je      line
    cmp     $'q', %al
    jne     command
    mov     $0x13, %al
    jmp     exit

line:
    mov     $(FB + 100 * WIDTH * 4), %edi
    mov     $WIDTH, %ecx
    mov     $0x00ffffff, %eax
    rep stosl
    mov     $lined, %esi
    call    puts
    jmp     command

    console_routines

    .section .rodata
drawn:
    .asciz  "drawn\n"
lined:
    .asciz  "line\n"

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
