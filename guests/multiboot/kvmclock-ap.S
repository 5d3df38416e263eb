/*
 * kvmclock-ap.S - the second CPU's way into kvmclock.c: real-mode code that
 * kvmclock.c copies to AP_TRAMPOLINE (0x8000, SIPI vector 0x08).  It loads its
 * own flat GDT, enters 32-bit protected mode, and jumps to ap_entry32 (linked
 * in the kernel), which takes the AP stack and calls ap_main().
 */
#define AP_TRAMPOLINE 0x8000
#define AT(sym) ((sym) - ap_trampoline_start + AP_TRAMPOLINE)

    .section .rodata, "a"
    .globl ap_trampoline_start, ap_trampoline_end
    .code16
ap_trampoline_start:
    cli
    xor     %ax, %ax
    mov     %ax, %ds
    lgdtl   AT(gdt_pointer)
    mov     %cr0, %eax
    or      $1, %eax
    mov     %eax, %cr0
    ljmpl   $0x08, $ap_entry32

    .balign 8
gdt:
    .quad   0
    .quad   0x00cf9b000000ffff      /* 0x08: flat 32-bit code */
    .quad   0x00cf93000000ffff      /* 0x10: flat data */
gdt_pointer:
    .word   gdt_pointer - gdt - 1
    .long   AT(gdt)
ap_trampoline_end:

    .text
    .code32
    .globl ap_entry32
ap_entry32:
    mov     $0x10, %ax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss
    mov     $ap_stack_top, %esp
    cld
    call    ap_main
1:  cli
    hlt
    jmp     1b

    .bss
    .balign 16
    .skip   8192
ap_stack_top:

    .section .note.GNU-stack, "", @progbits
