/*
 * entry.S - multiboot (v1) header and entry point of multiboot.elf.
 *
 * The loader enters _start in 32-bit protected mode, paging off, flat
 * segments, interrupts off, with EAX = 0x2BADB002 and EBX = physical
 * address of the multiboot information structure.  Nothing else is
 * promised - in particular there is no usable stack - so we set one up
 * and hand both registers to kmain() in kernel.c.
 */

#define MB_HEADER_MAGIC 0x1BADB002
#define MB_PAGE_ALIGN   (1 << 0)    /* load modules on 4 KiB boundaries */
#define MB_MEMORY_INFO  (1 << 1)    /* we want mem_lower/upper and the mmap */
#define MB_FLAGS        (MB_PAGE_ALIGN | MB_MEMORY_INFO)

#define STACK_SIZE      16384

    /*
     * The header must be 4-byte aligned within the first 8 KiB of the
     * file; linker.ld puts this section first.  No address fields (flag
     * bit 16) are needed because this is an ELF file.
     */
    .section .multiboot, "a"
    .balign 4
    .long   MB_HEADER_MAGIC
    .long   MB_FLAGS
    .long   -(MB_HEADER_MAGIC + MB_FLAGS)   /* the three sum to 0 mod 2^32 */

    .text
    .globl _start
    .type _start, @function
_start:
    cld                             /* the C ABI assumes DF=0 */
    mov     $stack_top, %esp
    /*
     * The i386 ABI wants ESP 16-byte aligned at each call; stack_top is,
     * and we push 8 bytes of arguments, so pad with 8 more.
     */
    sub     $8, %esp
    push    %ebx                    /* info */
    push    %eax                    /* magic */
    call    kmain
    /* kmain does not return; stop here should it ever do so. */
1:  cli
    hlt
    jmp     1b
    .size _start, . - _start

    .bss
    .balign 16
stack_bottom:
    .skip   STACK_SIZE
stack_top:

    .section .note.GNU-stack, "", @progbits     /* no executable stack */
