/*
 * waiter.c - a multiboot (v1) kernel that stays up until Ctrl-Alt-Del, for
 * lifecycle tests (pause, resume, Ctrl-Alt-Del through the i8042).
 *
 * Prints "waiter ready" on COM1, then "tick <n>" about every 2^30 TSC
 * cycles (a fraction of a second), so a paused VM shows no new ticks and a
 * resumed one does.  About every 2^22 cycles it polls the i8042: when the
 * Delete key's make code (E0 53) arrives while Ctrl and Alt are held (set-1
 * scancodes, as Vessel's sendCtrlAltDel sends them) it prints
 * "ctrl-alt-del" and pulses the reset line (command 0xFE), which ends the VM
 * with status 0.  Built with entry.S, which sets up a stack and calls kmain.
 */
#include <stdint.h>

#include "console.h"

#define I8042_DATA      0x60
#define I8042_STATUS    0x64
#define I8042_OBF       0x01            /* output buffer full: a byte to read */
#define I8042_RESET     0xfe

#define TICK_CYCLES     (1ull << 30)
#define POLL_CYCLES     (1ull << 22)

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Feeds one scancode to the Ctrl/Alt/Delete tracker; returns 1 on Ctrl-Alt-Del. */
static int ctrl_alt_del(uint8_t code)
{
    static int ctrl, alt, extended;
    int was_extended = extended;

    extended = 0;
    switch (code) {
    case 0xe0: extended = 1; return 0;
    case 0x1d: ctrl = 1; return 0;      /* Ctrl make (left; E0 1D is right) */
    case 0x9d: ctrl = 0; return 0;
    case 0x38: alt = 1; return 0;       /* Alt make */
    case 0xb8: alt = 0; return 0;
    case 0x53: return was_extended && ctrl && alt;
    default: return 0;
    }
}

void kmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    uint32_t ticks = 0;
    uint64_t last_tick = rdtsc(), last_poll = last_tick;

    puts("waiter ready\n");
    for (;;) {
        uint64_t now = rdtsc();
        if (now - last_poll >= POLL_CYCLES) {
            last_poll = now;
            while (inb(I8042_STATUS) & I8042_OBF) {
                if (ctrl_alt_del(inb(I8042_DATA))) {
                    puts("ctrl-alt-del\n");
                    outb(I8042_STATUS, I8042_RESET);
                    for (;;)
                        __asm__ volatile("cli; hlt");
                }
            }
        }
        if (now - last_tick >= TICK_CYCLES) {
            last_tick = now;
            puts("tick ");
            put_u32(++ticks);
            putc('\n');
        }
        __asm__ volatile("pause");
    }
}
