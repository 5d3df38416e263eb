/*
 * fbpaint.c - the guest of the VNC benchmark (bench/vnc/qemu.sh): a multiboot
 * (v1) kernel that sets a bochs-display adapter (PCI 1234:1111, which QEMU
 * and Vessel both offer) to 1024x768x32 and repaints it on command, so both
 * VMMs' VNC servers are measured against the same guest and the same changes.
 *
 * Finds the adapter on bus 0 through 0xCF8/0xCFC and puts its BARs where
 * bochs.S does (video memory at 0xC0000000, registers at 0xC1000000; a
 * 64-bit BAR's upper half, or QEMU's unused BAR1 and BAR3, written 0).
 * Builds 16 lines of text-like pixels (glyph-sized runs of two colours),
 * then reads commands, a byte each, from COM1:
 *   'f'  repaints the whole screen: line y shows pattern (y + n) % 16 shifted
 *        by 8 n pixels, so every repaint changes every line, as a scrolling
 *        terminal does
 *   'l'  repaints one line, the next of 768 (line n % 768), with one of the
 *        text rows of the patterns in a colour of its own (0x40xxxx, xxxx = n)
 *   'q'  exits (debug-exit port 0xf4, then an i8042 reset)
 * and answers each repaint with "k" once the last pixel is written.  Prints
 * "fbpaint ready\n" after the mode is set; "fbpaint: no bochs-display\n" and
 * exits if there is none.  Lines are copied with rep movsl: on a host whose
 * KVM emulates guest code, a per-pixel loop would measure the emulator.
 */
#include <stdint.h>

#include "console.h"

#define PCI_ADDR        0xcf8
#define PCI_DATA        0xcfc
#define VRAM            0xc0000000u
#define REGS            0xc1000000u
#define WIDTH           1024
#define HEIGHT          768
#define PATTERNS        16
#define SHIFT_RANGE     64      /* pixels a pattern can be shifted by */

#define COM1_RBR        0x3f8
#define LSR_DR          0x01

/* The VBE "dispi" registers, 16 bits each at 0x500 of the register BAR. */
enum { DISPI_ID, DISPI_XRES, DISPI_YRES, DISPI_BPP, DISPI_ENABLE, DISPI_BANK, DISPI_VIRT_WIDTH,
       DISPI_VIRT_HEIGHT, DISPI_X_OFFSET, DISPI_Y_OFFSET };
#define DISPI_ENABLED   0x01
#define DISPI_LFB       0x40

static uint32_t patterns[PATTERNS][WIDTH + SHIFT_RANGE];
static uint32_t linebuf[WIDTH];

static void outl(uint16_t port, uint32_t value)
{
    __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

static uint32_t inl(uint16_t port)
{
    uint32_t value;
    __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static uint32_t cfg_read(uint32_t dev, uint32_t reg)
{
    outl(PCI_ADDR, 0x80000000u | dev << 11 | reg);
    return inl(PCI_DATA);
}

static void cfg_write(uint32_t dev, uint32_t reg, uint32_t value)
{
    outl(PCI_ADDR, 0x80000000u | dev << 11 | reg);
    outl(PCI_DATA, value);
}

static void dispi(int reg, uint16_t value)
{
    *(volatile uint16_t *)(REGS + 0x500 + 2 * reg) = value;
}

static void copy_line(int y, const uint32_t *from)
{
    void *to = (void *)(VRAM + (uint32_t)y * WIDTH * 4);
    uint32_t n = WIDTH;

    __asm__ volatile("rep movsl" : "+D"(to), "+S"(from), "+c"(n) : : "memory");
}

static void quit(uint8_t value)
{
    outb(0xf4, value);
    outb(0x64, 0xfe);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* Line r of a glyph row: 8-pixel cells, 70% of them "characters" with a few lit pixels per line. */
static void build_patterns(void)
{
    uint32_t seed = 12345;

    for (int r = 0; r < PATTERNS; r++) {
        for (int x = 0; x < WIDTH + SHIFT_RANGE; x += 8) {
            seed = seed * 1103515245u + 12345u;
            uint32_t bits = (seed >> 16) % 10 < 7 && r > 1 && r < 14 ? seed >> 8 : 0;
            for (int i = 0; i < 8; i++)
                patterns[r][x + i] = bits >> i & 1 ? 0x00aaaaaa : 0x00000000;
        }
    }
}

void kmain(uint32_t magic, uint32_t info)
{
    uint32_t dev;

    (void)magic;
    (void)info;
    for (dev = 0; dev < 32; dev++) {
        if (cfg_read(dev, 0) == 0x11111234u)
            break;
    }
    if (dev == 32) {
        puts("fbpaint: no bochs-display\n");
        quit(0x13);
    }
    cfg_write(dev, 0x04, 0);            /* decoding off while the BARs move */
    cfg_write(dev, 0x10, VRAM);
    cfg_write(dev, 0x14, 0);
    cfg_write(dev, 0x18, REGS);
    cfg_write(dev, 0x1c, 0);
    cfg_write(dev, 0x04, 0x02);         /* memory decoding on */

    dispi(DISPI_ENABLE, 0);             /* Linux's bochs_hw_setmode */
    dispi(DISPI_BPP, 32);
    dispi(DISPI_XRES, WIDTH);
    dispi(DISPI_YRES, HEIGHT);
    dispi(DISPI_BANK, 0);
    dispi(DISPI_VIRT_WIDTH, WIDTH);
    dispi(DISPI_VIRT_HEIGHT, HEIGHT);
    dispi(DISPI_X_OFFSET, 0);
    dispi(DISPI_Y_OFFSET, 0);
    dispi(DISPI_ENABLE, DISPI_ENABLED | DISPI_LFB);

    build_patterns();
    for (int y = 0; y < HEIGHT; y++)
        copy_line(y, patterns[y % PATTERNS]);
    puts("fbpaint ready\n");

    uint32_t full = 0, line = 0;
    for (;;) {
        while (!(inb(COM1_LSR) & LSR_DR))
            ;
        switch (inb(COM1_RBR)) {
        case 'f':
            full++;
            for (int y = 0; y < HEIGHT; y++)
                copy_line(y, patterns[(y + full) % PATTERNS] + (full * 8) % SHIFT_RANGE);
            putc('k');
            break;
        case 'l':
            /* A colour no pixel had before: QEMU's server compares pixels and sends nothing for an equal line. */
            for (int x = 0; x < WIDTH; x++)
                linebuf[x] = patterns[2 + line % 12][x + 8] ? 0x00400000 | (line & 0xffff) : 0;
            copy_line(line % HEIGHT, linebuf);
            line++;
            putc('k');
            break;
        case 'q':
            quit(0x2a);
        }
    }
}
