/*
 * s3.c - a multiboot kernel that sleeps in ACPI S3 and checks that it wakes
 * at its own firmware waking vector, as a PC's firmware would send it.
 *
 * It finds the RSDP in the BIOS area (0xE0000-0xFFFFF, on 16-byte boundaries,
 * checksum checked), follows RSDP -> XSDT -> FADT -> FACS (signature and
 * length checked) and FADT -> DSDT for \_S3's SLP_TYP, copies the real-mode
 * code in s3-wake.S below 1 MiB, writes its address as the FACS's firmware
 * waking vector, clears WAK_STS and writes SLP_TYP, then SLP_TYP | SLP_EN, to
 * PM1a control as Linux does.  It prints "sleeping\n" first.  Then the VMM
 * must stop it until a wake event; the wake code (not this file) prints
 * "woke at <cs>:<ip>\n" and ends through the debug-exit port: 0x2a (status
 * 85) if CS:IP is what the vector says and PM1 status has WAK_STS set, 0x7c
 * (status 249) otherwise.  Any failure here prints why and ends with 0x7d
 * (status 251); running on past the sleep write ends with 0x7e (253).
 */
#include <stdint.h>

#include "console.h"

#define DEBUG_EXIT      0xf4
#define I8042_CMD       0x64
#define I8042_RESET     0xfe

#define EXIT_FAILED     0x7d
#define EXIT_NO_SLEEP   0x7e

/* Where the wake code goes: CS = 0x700, IP = 8, so both halves of the vector count. */
#define WAKE_VECTOR     0x7008u

#define PM1_WAK_STS     0x8000u
#define PM1_SLP_TYP_SHIFT 10
#define PM1_SLP_EN      (1u << 13)

extern const uint8_t s3_wake_start[], s3_wake_end[];

static __attribute__((noreturn)) void exit_vm(uint8_t code)
{
    outb(DEBUG_EXIT, code);
    outb(I8042_CMD, I8042_RESET);
    for (;;)
        __asm__ volatile("cli; hlt");
}

static __attribute__((noreturn)) void fail(const char *why)
{
    puts("s3 failed: ");
    puts(why);
    putc('\n');
    exit_vm(EXIT_FAILED);
}

static inline void outw(uint16_t port, uint16_t value)
{
    __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t value;
    __asm__ volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static uint32_t rd32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static int same(const uint8_t *p, const char *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)s[i])
            return 0;
    return 1;
}

static uint8_t sum(const uint8_t *p, uint32_t n)
{
    uint8_t s = 0;
    for (uint32_t i = 0; i < n; i++)
        s += p[i];
    return s;
}

/* A table below 4 GiB (paging is off, so only those are reachable) with a sane length. */
static const uint8_t *table(uint64_t addr, const char *signature)
{
    if (addr == 0 || addr >= 0xfff00000u)
        return 0;
    const uint8_t *t = (const uint8_t *)(uintptr_t)addr;
    if (!same(t, signature, 4) || rd32(t + 4) < 36 || rd32(t + 4) > 0x100000 || sum(t, rd32(t + 4)) != 0)
        return 0;
    return t;
}

static const uint8_t *find_rsdp(void)
{
    for (uint32_t a = 0xe0000; a < 0x100000; a += 16) {
        const uint8_t *p = (const uint8_t *)(uintptr_t)a;
        if (same(p, "RSD PTR ", 8) && sum(p, 20) == 0 && p[15] >= 2 && sum(p, 36) == 0)
            return p;
    }
    return 0;
}

/* SLP_TYPa of \_S3: Name (_S3, Package (n) {a, ...}), a as ZeroOp, OneOp or BytePrefix. */
static int s3_sleep_type(const uint8_t *dsdt)
{
    uint32_t len = rd32(dsdt + 4);
    for (uint32_t i = 36; i + 9 <= len; i++) {
        const uint8_t *p = dsdt + i;
        if (p[0] != 0x08 || !same(p + 1, "_S3_", 4) || p[5] != 0x12)
            continue;
        const uint8_t *e = p + 8;           /* PkgLength (one byte here), NumElements */
        if (e[0] == 0x00 || e[0] == 0x01)
            return e[0];
        if (e[0] == 0x0a)
            return e[1] & 7;
        return -1;
    }
    return -1;
}

__attribute__((noreturn)) void kmain(uint32_t magic, const void *info);

__attribute__((noreturn)) void kmain(uint32_t magic, const void *info)
{
    (void)magic;
    (void)info;
    const uint8_t *rsdp = find_rsdp();
    if (!rsdp)
        fail("no RSDP in the BIOS area");
    const uint8_t *xsdt = table(rd64(rsdp + 24), "XSDT");
    if (!xsdt)
        fail("no XSDT");
    const uint8_t *fadt = 0;
    for (uint32_t off = 36; off + 8 <= rd32(xsdt + 4) && !fadt; off += 8)
        fadt = table(rd64(xsdt + off), "FACP");
    if (!fadt || rd32(fadt + 4) < 148)
        fail("no FADT");
    uint64_t facs_addr = rd64(fadt + 132);  /* X_FIRMWARE_CTRL, else FIRMWARE_CTRL */
    if (!facs_addr)
        facs_addr = rd32(fadt + 36);
    if (!facs_addr || facs_addr >= 0xfff00000u || facs_addr % 64)
        fail("no FACS address in the FADT");
    uint8_t *facs = (uint8_t *)(uintptr_t)facs_addr;
    if (!same(facs, "FACS", 4) || rd32(facs + 4) < 64)
        fail("bad FACS signature or length");
    const uint8_t *dsdt = table(rd64(fadt + 140), "DSDT");
    if (!dsdt)
        fail("no DSDT");
    int type = s3_sleep_type(dsdt);
    if (type < 0)
        fail("no _S3 in the DSDT");
    uint32_t pm1_evt = rd32(fadt + 56), pm1_cnt = rd32(fadt + 64);
    if (!pm1_evt || !pm1_cnt || pm1_evt > 0xffff || pm1_cnt > 0xffff)
        fail("no PM1a blocks");

    uint8_t *wake = (uint8_t *)(uintptr_t)WAKE_VECTOR;
    for (const uint8_t *p = s3_wake_start; p < s3_wake_end; p++)
        *wake++ = *p;
    /* Firmware_Waking_Vector; the 64-bit X one stays 0 so the real-mode vector counts. */
    *(volatile uint32_t *)(facs + 12) = WAKE_VECTOR;
    *(volatile uint64_t *)(facs + 24) = 0;

    puts("sleeping\n");
    outw((uint16_t)pm1_evt, PM1_WAK_STS);   /* write-1-to-clear */
    uint16_t cnt = inw((uint16_t)pm1_cnt) & ~(7u << PM1_SLP_TYP_SHIFT);
    cnt |= (uint16_t)(type << PM1_SLP_TYP_SHIFT);
    outw((uint16_t)pm1_cnt, cnt);
    __asm__ volatile("wbinvd" ::: "memory");
    outw((uint16_t)pm1_cnt, cnt | PM1_SLP_EN);
    /* A machine that slept never gets here: it wakes at the vector. */
    puts("still running after SLP_EN\n");
    exit_vm(EXIT_NO_SLEEP);
}
