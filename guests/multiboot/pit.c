/*
 * pit.c - a multiboot kernel that checks where the PIT's interrupt arrives:
 * on I/O APIC pin 2, as the MADT's interrupt source override (ISA IRQ 0 ->
 * GSI 2) tells an OS, the wiring Linux relies on whenever it uses the PIT.
 *
 * With interrupts off (no IDT is needed), it masks both 8259s, enables its
 * local APIC, points I/O APIC pin 2 at vector 0x40 (fixed, edge, active high,
 * APIC ID 0) with every other pin masked, and starts PIT channel 0 in mode 2
 * at about 1 kHz.  Then it polls the local APIC's IRR for vector 0x40.  It
 * prints "pit: irq 0 on ioapic pin 2 after N polls\n" and ends through the
 * debug-exit port with 0x2a (status 85), or "pit: no interrupt on ioapic
 * pin 2\n" and 0x7d (status 251) when none came within 2^20 polls (about
 * 3 s where guest code is emulated; the interrupt comes after a few hundred).
 */
#include <stdint.h>

#include "console.h"

#define DEBUG_EXIT      0xf4
#define I8042_CMD       0x64
#define I8042_RESET     0xfe

#define LAPIC           0xfee00000u
#define LAPIC_SVR       0xf0
#define LAPIC_IRR       0x200
#define SVR_ENABLE      0x100
#define IOAPIC          0xfec00000u
#define IOAPIC_WINDOW   0x10
#define IOAPIC_VERSION  0x01
#define IOAPIC_REDIR    0x10
#define REDIR_MASKED    0x10000u

#define PIT_PIN         2
#define VECTOR          0x40
#define PIT_CH0         0x40
#define PIT_MODE        0x43
#define PIT_HZ          1193182u
#define MAX_POLLS       (1u << 20)

static __attribute__((noreturn)) void exit_vm(uint8_t code)
{
    outb(DEBUG_EXIT, code);
    outb(I8042_CMD, I8042_RESET);
    for (;;)
        __asm__ volatile("cli; hlt");
}

static inline uint32_t mmio_read(uint32_t address)
{
    return *(volatile uint32_t *)address;
}

static inline void mmio_write(uint32_t address, uint32_t value)
{
    *(volatile uint32_t *)address = value;
}

static void ioapic_write(uint32_t reg, uint32_t value)
{
    mmio_write(IOAPIC, reg);
    mmio_write(IOAPIC + IOAPIC_WINDOW, value);
}

static uint32_t ioapic_read(uint32_t reg)
{
    mmio_write(IOAPIC, reg);
    return mmio_read(IOAPIC + IOAPIC_WINDOW);
}

void kmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    __asm__ volatile("cli");
    outb(0x21, 0xff);                   /* both 8259s masked: the PIT may reach only the I/O APIC */
    outb(0xa1, 0xff);
    mmio_write(LAPIC + LAPIC_SVR, SVR_ENABLE | 0xff);

    uint32_t pins = ((ioapic_read(IOAPIC_VERSION) >> 16) & 0xff) + 1;
    if (pins > 24)
        pins = 24;
    for (uint32_t pin = 0; pin < pins; pin++) {
        ioapic_write(IOAPIC_REDIR + 2 * pin + 1, 0);
        ioapic_write(IOAPIC_REDIR + 2 * pin, pin == PIT_PIN ? VECTOR : REDIR_MASKED | VECTOR);
    }

    uint16_t count = PIT_HZ / 1000;
    outb(PIT_MODE, 0x34);               /* channel 0, low then high byte, mode 2 (rate generator) */
    outb(PIT_CH0, count & 0xff);
    outb(PIT_CH0, count >> 8);

    uint32_t irr = LAPIC + LAPIC_IRR + 0x10 * (VECTOR / 32);
    for (uint32_t polls = 0; polls < MAX_POLLS; polls++) {
        if (mmio_read(irr) & (1u << (VECTOR % 32))) {
            puts("pit: irq 0 on ioapic pin 2 after ");
            put_u32(polls);
            puts(" polls\n");
            exit_vm(0x2a);
        }
    }
    puts("pit: no interrupt on ioapic pin 2\n");
    exit_vm(0x7d);
}
