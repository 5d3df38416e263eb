/*
 * s3-wake.S - the real-mode code s3.c copies to its firmware waking vector
 * (0x7008: CS = 0x700, IP = 8).  Position-independent: only relative jumps
 * and calls, and immediates.  Prints "woke at <cs>:<ip>\n" and ends through the
 * debug-exit port: 0x2a if CS = 0x700, IP = 8 and PM1 status (port 0x600,
 * as the FADT says; s3.c checked) has WAK_STS set, else 0x7c; without a
 * debug-exit device, through an i8042 reset.
 */
#define COM1        0x3f8
#define DEBUG_EXIT  0xf4
#define PM1_STATUS  0x600

    .macro putc_imm c
    mov     $\c, %al
    call    putc                    /* relative: still right once copied */
    .endm

    .section .rodata, "a"
    .globl s3_wake_start, s3_wake_end
    .code16
s3_wake_start:
    cli
    xor     %ax, %ax                /* a stack below the code: SS:SP = 0:0x7000 */
    mov     %ax, %ss
    mov     $0x7000, %sp
    call    1f                      /* IP of 1f, to report where we started */
1:  pop     %bx
    sub     $(1b - s3_wake_start), %bx
    mov     %cs, %si
    putc_imm 'w'
    putc_imm 'o'
    putc_imm 'k'
    putc_imm 'e'
    putc_imm ' '
    putc_imm 'a'
    putc_imm 't'
    putc_imm ' '
    mov     %si, %cx
    call    puthex
    putc_imm ':'
    mov     %bx, %cx
    call    puthex
    putc_imm '\n'
    mov     $0x7c, %al
    cmp     $0x700, %si
    jne     2f
    cmp     $8, %bx
    jne     2f
    mov     $PM1_STATUS, %dx
    in      %dx, %ax
    test    $0x8000, %ax
    mov     $0x7c, %al
    jz      2f
    mov     $0x2a, %al
2:  out     %al, $DEBUG_EXIT
    mov     $0xfe, %al              /* still here: no debug-exit device; an i8042 reset ends the VM */
    out     %al, $0x64
3:  hlt
    jmp     3b

/* Prints CX as four hex digits. */
puthex:
    mov     $4, %di
4:  rol     $4, %cx
    mov     %cl, %al
    and     $0xf, %al
    add     $'0', %al
    cmp     $'9', %al
    jbe     5f
    add     $('a' - '0' - 10), %al
5:  call    putc
    dec     %di
    jnz     4b
    ret

/* Prints AL on COM1 once the transmitter is empty. */
putc:
    push    %dx
    push    %ax
    mov     $(COM1 + 5), %dx
6:  in      %dx, %al
    test    $0x20, %al
    jz      6b
    pop     %ax
    mov     $COM1, %dx
    out     %al, %dx
    pop     %dx
    ret
s3_wake_end:

    .section .note.GNU-stack, "", @progbits
