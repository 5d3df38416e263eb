/*
 * kernel.c - a multiboot (v1) kernel that reports what its loader passed.
 *
 * Prints, on COM1:
 *   multiboot ok
 *   cmdline: <cmdline>                          (info flag bit 2)
 *   mem_lower=<N>K mem_upper=<N>K               (bit 0)
 *   mods=<count>                                (bit 3)
 *   mod <i>: <size> bytes: <up to 16 bytes>     (bit 3, one per module)
 *   mmap entries=<n>                            (bit 6)
 * then writes 0x2A to the debug-exit port (status 85) if everything could
 * be parsed, 0x7D (status 251) if a module or memory-map entry was
 * malformed, or 0x7E (status 253) after "bad magic" if EAX did not hold
 * the multiboot magic.  Then it falls back to an i8042 reset, which ends
 * the VM with status 0 when there is no debug-exit device.
 *
 * Freestanding: no libc, paging off, so the physical addresses in the info
 * structure are used directly as pointers.
 */
#include <stdint.h>

#include "console.h"

#define MB_BOOT_MAGIC   0x2BADB002u     /* what the loader leaves in EAX */

#define MB_INFO_MEMORY  (1u << 0)       /* mem_lower, mem_upper valid */
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MODS    (1u << 3)
#define MB_INFO_MMAP    (1u << 6)

#define DEBUG_EXIT      0xf4
#define I8042_CMD       0x64
#define I8042_RESET     0xfe

#define EXIT_OK         0x2a
#define EXIT_MALFORMED  0x7d
#define EXIT_BAD_MAGIC  0x7e

#define MOD_PREVIEW     16              /* bytes of each module to show */

/* The multiboot information structure, up to the fields we read. */
struct mb_info {
    uint32_t flags;
    uint32_t mem_lower;                 /* KiB below 1 MiB */
    uint32_t mem_upper;                 /* KiB above 1 MiB */
    uint32_t boot_device;
    uint32_t cmdline;                   /* physical address, NUL-terminated */
    uint32_t mods_count;
    uint32_t mods_addr;                 /* physical address of mb_module[] */
    uint32_t syms[4];                   /* a.out or ELF symbols; unused */
    uint32_t mmap_length;               /* bytes in the memory map buffer */
    uint32_t mmap_addr;
};

struct mb_module {
    uint32_t mod_start;                 /* first byte */
    uint32_t mod_end;                   /* one past the last byte */
    uint32_t string;
    uint32_t reserved;
};

/*
 * A memory map entry.  `size` counts the bytes after itself, so the next
 * entry starts size + 4 bytes further on; it is at least 20 (the three
 * fields below) but a loader may make entries longer.
 */
struct mb_mmap_entry {
    uint32_t size;
    uint64_t base_addr;
    uint64_t length;
    uint32_t type;
} __attribute__((packed));

static const void *phys(uint32_t addr)
{
    return (const void *)(uintptr_t)addr;
}

static __attribute__((noreturn)) void exit_vm(uint8_t code)
{
    outb(DEBUG_EXIT, code);
    /* Still here: there is no debug-exit device. */
    outb(I8042_CMD, I8042_RESET);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* Print the start of a module as text; returns 0 if the module is bogus. */
static int print_module(uint32_t index, const struct mb_module *mod)
{
    puts("mod ");
    put_u32(index);
    puts(": ");
    if (mod->mod_end < mod->mod_start) {
        puts("bad range\n");
        return 0;
    }

    uint32_t size = mod->mod_end - mod->mod_start;
    const char *data = phys(mod->mod_start);
    put_u32(size);
    puts(" bytes: ");
    for (uint32_t i = 0; i < size && i < MOD_PREVIEW; i++) {
        char c = data[i];
        if (c == '\n' || c == '\0')
            break;
        /* Keep the console readable if the module is binary. */
        putc(c >= 0x20 && c < 0x7f ? c : '.');
    }
    putc('\n');
    return 1;
}

/* Count memory map entries; returns -1 if the map is malformed. */
static int32_t count_mmap(uint32_t addr, uint32_t length)
{
    uint32_t offset = 0;
    int32_t entries = 0;

    while (offset < length) {
        const struct mb_mmap_entry *e = phys(addr + offset);
        if (length - offset < sizeof e->size ||
            e->size < sizeof *e - sizeof e->size ||
            e->size > length - offset - sizeof e->size)
            return -1;
        offset += e->size + sizeof e->size;
        entries++;
    }
    return entries;
}

__attribute__((noreturn)) void kmain(uint32_t magic, const struct mb_info *info);

__attribute__((noreturn)) void kmain(uint32_t magic, const struct mb_info *info)
{
    int ok = 1;

    if (magic != MB_BOOT_MAGIC) {
        puts("bad magic\n");
        exit_vm(EXIT_BAD_MAGIC);
    }
    puts("multiboot ok\n");

    if (info->flags & MB_INFO_CMDLINE) {
        puts("cmdline: ");
        if (info->cmdline)
            puts(phys(info->cmdline));
        putc('\n');
    }

    if (info->flags & MB_INFO_MEMORY) {
        puts("mem_lower=");
        put_u32(info->mem_lower);
        puts("K mem_upper=");
        put_u32(info->mem_upper);
        puts("K\n");
    }

    if (info->flags & MB_INFO_MODS) {
        const struct mb_module *mods = phys(info->mods_addr);
        puts("mods=");
        put_u32(info->mods_count);
        putc('\n');
        for (uint32_t i = 0; i < info->mods_count; i++)
            ok &= print_module(i, &mods[i]);
    }

    if (info->flags & MB_INFO_MMAP) {
        int32_t entries = count_mmap(info->mmap_addr, info->mmap_length);
        if (entries < 0) {
            puts("mmap malformed\n");
            ok = 0;
        } else {
            puts("mmap entries=");
            put_u32((uint32_t)entries);
            putc('\n');
        }
    }

    exit_vm(ok ? EXIT_OK : EXIT_MALFORMED);
}
