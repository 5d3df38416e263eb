/*
 * console.h - port I/O and COM1 output for the multiboot test kernels
 * (freestanding 32-bit C: no libc).
 */
#ifndef VESSEL_GUEST_CONSOLE_H
#define VESSEL_GUEST_CONSOLE_H

#include <stdint.h>

#define COM1_THR        0x3f8
#define COM1_LSR        0x3fd
#define LSR_THRE        0x20            /* THR empty: ready for next byte */

static inline void outb(uint16_t port, uint8_t value)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static inline void putc(char c)
{
    while (!(inb(COM1_LSR) & LSR_THRE))
        ;
    outb(COM1_THR, (uint8_t)c);
}

static inline void puts(const char *s)
{
    while (*s)
        putc(*s++);
}

static inline void put_u32(uint32_t n)
{
    char digits[10];                    /* 4294967295 has 10 */
    int i = 0;

    do {
        digits[i++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    while (i)
        putc(digits[--i]);
}

#endif
