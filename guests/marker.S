/*
 * marker.S - shows "VESSEL 4711" on the boot framebuffer of `--display 640x480x32`, for OCR.
 *
 * A multiboot (v1) kernel, so `vessel run --kernel` and the API's boot-source
 * both boot it: entered in 32-bit protected mode, paging off, flat segments,
 * interrupts off, with no stack of its own.  The framebuffer is at 0xe1000000 (GuestLayout.FRAMEBUFFER),
 * 640 x 480 pixels of x8r8g8b8, 2560 bytes a line.
 *
 * Paints the screen white and the marker in black in its middle, in an 8x16
 * console font (font8x16.inc, Terminus Bold) drawn four times its size: big
 * and clean enough for tesseract.  Prints "drawn\n" on COM1 (not the marker:
 * a test reading the marker must have read it off the display, not off a
 * serial console shown next to it), then halts with interrupts off, so the
 * screen stays as it is and the vCPU costs nothing until the VM is ended.
 */

#include "console.inc"

#define FB          0xe1000000
#define WIDTH       640
#define HEIGHT      480
#define STRIDE      (WIDTH * 4)
#define SCALE       4               /* the unrolled pixel stores below are for 4 */
#define WHITE       0x00ffffff
#define BLACK       0
/* The marker's 11 characters, 8 * SCALE pixels each, centred. */
#define X0          ((WIDTH - 11 * 8 * SCALE) / 2)
#define Y0          ((HEIGHT - 16 * SCALE) / 2)

#define MB_HEADER_MAGIC 0x1BADB002
#define MB_FLAGS        0           /* an ELF file: the loader reads the addresses from it */

    .section .multiboot, "a"        /* first in the file (multiboot/linker.ld) */
    .balign 4
    .long   MB_HEADER_MAGIC
    .long   MB_FLAGS
    .long   -(MB_HEADER_MAGIC + MB_FLAGS)

    .code32
    .text
    .globl _start
_start:
    cld
    mov     $stack_top, %esp        /* for puts */
    mov     $FB, %edi
    mov     $(WIDTH * HEIGHT), %ecx
    mov     $WHITE, %eax
    rep stosl

    mov     $marker, %esi
    mov     $X0, %ebp               /* x of the current character */
next_char:
    xor     %eax, %eax
    lodsb
    test    %al, %al
    jz      drawn_all
    sub     $0x20, %eax             /* the font holds 0x20 to 0x7e */
    shl     $4, %eax
    lea     font8x16(%eax), %ebx    /* the glyph: 16 rows of 8 pixels */
    xor     %edx, %edx              /* screen row within the character */
glyph_row:
    mov     %edx, %edi
    add     $Y0, %edi
    imul    $STRIDE, %edi, %edi
    lea     FB(%edi,%ebp,4), %edi
    mov     %edx, %eax
    shr     $2, %eax                /* font row = screen row / SCALE */
    movzbl  (%ebx,%eax), %ecx       /* CL: the row's pixels, leftmost in bit 7 */
    mov     $8, %ch
glyph_pixel:
    mov     $WHITE, %eax
    shl     $1, %cl
    jnc     1f
    mov     $BLACK, %eax
1:  mov     %eax, (%edi)
    mov     %eax, 4(%edi)
    mov     %eax, 8(%edi)
    mov     %eax, 12(%edi)
    add     $(4 * SCALE), %edi
    dec     %ch
    jnz     glyph_pixel
    inc     %edx
    cmp     $(16 * SCALE), %edx
    jb      glyph_row
    add     $(8 * SCALE), %ebp
    jmp     next_char

drawn_all:
    mov     $drawn, %esi
    call    puts
    jmp     halt

    console_routines

    .section .rodata
marker:
    .asciz  "VESSEL 4711"
drawn:
    .asciz  "drawn\n"
#include "font8x16.inc"

    .bss
    .balign 16
    .skip   4096
stack_top:

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
