/*
 * fill.S - a guest that touches all of its RAM once, for bench/dedicated (huge pages and KSM).
 *
 * Entered in 32-bit protected mode, paging off, flat segments (like protected.S). Reads its RAM size
 * from CMOS (0x34/0x35: 64 KiB units above 16 MiB, as a PC BIOS does), prints "fill\n", then writes
 * one word into every 4 KiB page from 1 MiB to the top of RAM (at most 3 GiB): the page's own
 * address at its start, the rest left zero. So every page is touched (resident, a fault each), the
 * pages of one VM all differ, and two VMs of the same size hold the same pages (what KSM merges).
 * Prints "filled\n" and halts with interrupts off: no exits, no CPU from then on.
 */

#include "console.inc"

#define CMOS_INDEX  0x70
#define CMOS_DATA   0x71
#define PAGE        4096
#define FILL_START  0x100000
#define FILL_CAP    0xc0000000      /* below the PCI hole */

    .code32
    .section .text.entry, "ax"
    .globl _start
_start:
    cld
    mov     $start_msg, %esi
    call    puts

    /* top = 16 MiB + CMOS[0x35:0x34] * 64 KiB */
    mov     $0x35, %al
    outb    %al, $CMOS_INDEX
    inb     $CMOS_DATA, %al
    movzbl  %al, %ebx
    shl     $8, %ebx
    mov     $0x34, %al
    outb    %al, $CMOS_INDEX
    inb     $CMOS_DATA, %al
    movzbl  %al, %eax
    or      %eax, %ebx
    shl     $16, %ebx
    add     $0x1000000, %ebx
    cmp     $FILL_CAP, %ebx
    jbe     1f
    mov     $FILL_CAP, %ebx
1:
    mov     $FILL_START, %edi
2:  cmp     %ebx, %edi
    jae     3f
    mov     %edi, (%edi)
    add     $PAGE, %edi
    jmp     2b
3:
    mov     $done_msg, %esi
    call    puts
4:  cli
    hlt
    jmp     4b

    console_routines

    .section .rodata
start_msg:
    .asciz  "fill\n"
done_msg:
    .asciz  "filled\n"

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
