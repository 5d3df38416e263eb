/*
 * ps2.S - drives the i8042's PS/2 keyboard and mouse by polling, as a driver's probe does.
 *
 * Entered in 64-bit long mode (like long.S), interrupts off.  With the
 * controller's interrupts off it resets and enables the keyboard and
 * enables the mouse's reporting, checking each reply; then it turns the
 * interrupts on, prints "ps2 ready", and waits for what the host injects:
 * a key (printed as its scancode) and a 3-byte mouse packet.  After each it
 * prints whether the 8259's request register latched IRQ 1 / IRQ 12 (the
 * CPU never takes them: IF stays 0; the request may trail the byte a little), then exits with 0x12 (status 37).
 * A reply it did not expect prints "ps2 bad reply N" and exits with 0x13.
 */

#include "console.inc"

#define KBC_DATA    0x60
#define KBC_STATUS  0x64
#define STR_OBF     0x01
#define STR_AUXDATA 0x20
#define PIC1_CMD    0x20
#define PIC2_CMD    0xa0

    .code64
    .section .text.entry, "ax"
    .globl _start
_start:
    cld
    mov     $0x60, %al              /* write the command byte: */
    outb    %al, $KBC_STATUS
    mov     $0x44, %al              /* translate, system flag, no interrupts */
    outb    %al, $KBC_DATA
    mov     $0x0a, %al              /* 8259s: OCW3, reads return the IRR */
    outb    %al, $PIC1_CMD
    outb    %al, $PIC2_CMD

    mov     $0xff, %al              /* keyboard reset: ACK, then BAT passed */
    outb    %al, $KBC_DATA
    mov     $0xfa, %bl
    call    expect_kbd
    mov     $0xaa, %bl
    call    expect_kbd
    mov     $0xf4, %al              /* keyboard: enable scanning */
    outb    %al, $KBC_DATA
    mov     $0xfa, %bl
    call    expect_kbd

    mov     $0xd4, %al              /* mouse: enable reporting */
    outb    %al, $KBC_STATUS
    mov     $0xf4, %al
    outb    %al, $KBC_DATA
    mov     $0xfa, %bl
    call    expect_aux

    mov     $0x60, %al              /* now with both interrupts on */
    outb    %al, $KBC_STATUS
    mov     $0x47, %al
    outb    %al, $KBC_DATA

    lea     ready(%rip), %rsi
    call    puts

    call    read_kbd                /* the injected key */
    movzbl  %al, %ebx
    lea     key(%rip), %rsi
    call    puts
    mov     %rbx, %rax
    call    put_dec
    lea     irq1(%rip), %rsi
    call    puts
    mov     $PIC1_CMD, %dx
    mov     $0x02, %cl
    call    await_irr
    call    put_dec
    mov     $'\n', %al
    call    putc

    lea     mouse(%rip), %rsi       /* the injected packet */
    call    puts
    mov     $3, %r12d
1:  call    read_aux
    movzbl  %al, %eax
    call    put_dec
    mov     $' ', %al
    call    putc
    dec     %r12d
    jnz     1b
    lea     irq12(%rip), %rsi
    call    puts
    mov     $PIC2_CMD, %dx
    mov     $0x10, %cl
    call    await_irr
    call    put_dec
    mov     $'\n', %al
    call    putc

    mov     $0x12, %al
    jmp     exit

/*
 * Whether the 8259 at DX latched the request in bit mask CL: EAX 1 or 0.  KVM injects
 * an irqfd's interrupt asynchronously, so the byte can be read before its request
 * arrives: asks up to 200000 times (an exit each, about a second).
 */
await_irr:
    mov     $200000, %r8d
1:  inb     %dx, %al
    test    %cl, %al
    jnz     2f
    dec     %r8d
    jnz     1b
    xor     %eax, %eax
    ret
2:  mov     $1, %eax
    ret

/* Waits for a keyboard byte: AL.  An aux byte instead fails. */
read_kbd:
    inb     $KBC_STATUS, %al
    test    $STR_OBF, %al
    jz      read_kbd
    test    $STR_AUXDATA, %al
    jnz     wrong_port
    inb     $KBC_DATA, %al
    ret

/* Waits for a mouse byte: AL.  A keyboard byte instead fails. */
read_aux:
    inb     $KBC_STATUS, %al
    test    $STR_OBF, %al
    jz      read_aux
    test    $STR_AUXDATA, %al
    jz      wrong_port
    inb     $KBC_DATA, %al
    ret

wrong_port:
    inb     $KBC_DATA, %al
    jmp     bad

expect_kbd:
    call    read_kbd
    cmp     %bl, %al
    jne     bad
    ret

expect_aux:
    call    read_aux
    cmp     %bl, %al
    jne     bad
    ret

bad:
    movzbl  %al, %ebx
    lea     badmsg(%rip), %rsi
    call    puts
    mov     %rbx, %rax
    call    put_dec
    mov     $'\n', %al
    call    putc
    mov     $0x13, %al
    jmp     exit

    console_routines
    put_dec_routine

    .section .rodata
ready:  .asciz  "ps2 ready\n"
key:    .asciz  "key "
irq1:   .asciz  " irq1 "
mouse:  .asciz  "mouse "
irq12:  .asciz  "irq12 "
badmsg: .asciz  "ps2 bad reply "

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
