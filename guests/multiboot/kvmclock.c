/*
 * kvmclock.c - a multiboot kernel that checks KVM's paravirtual clock as
 * Documentation/virt/kvm/x86/msr.rst and cpuid.rst describe it, on the boot CPU.
 *
 * It reads CPUID 0x40000000 ("KVMKVMKVM\0\0\0") and 0x40000001 (features),
 * needs KVM_FEATURE_CLOCKSOURCE2 (bit 3), writes MSR_KVM_WALL_CLOCK_NEW
 * (0x4b564d00) and MSR_KVM_SYSTEM_TIME_NEW (0x4b564d01, enable bit 0) with
 * its own wall-clock and pvclock structures, and checks:
 *   - the wall clock: even version, seconds after 2020;
 *   - the pvclock page: a non-zero even version once KVM filled it, a non-zero
 *     multiplier, and a time read by the version protocol (retry while the
 *     version is odd or changed) that never goes backwards over 20000 reads
 *     and advances over them;
 *   - PVCLOCK_TSC_STABLE_BIT (flags bit 0), when CPUID offers
 *     KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (bit 24): reported, not required, as
 *     KVM sets it only when the host's TSC allows a master clock.
 * Prints "kvmclock: ..." lines and "kvmclock ok\n", then ends through the
 * debug-exit port with 0x2a (status 85); a failed check prints why and ends
 * with 0x7d (status 251).
 */
#include <stdint.h>

#include "console.h"

#define DEBUG_EXIT      0xf4
#define I8042_CMD       0x64
#define I8042_RESET     0xfe
#define EXIT_OK         0x2a
#define EXIT_FAILED     0x7d

#define MSR_KVM_WALL_CLOCK_NEW  0x4b564d00u
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (1u << 24)
#define PVCLOCK_TSC_STABLE_BIT  1u

#define READS           20000u
#define SECONDS_2020    1577836800u

struct pvclock_vcpu_time_info {
    uint32_t version;
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad[2];
} __attribute__((packed));

struct pvclock_wall_clock {
    uint32_t version;
    uint32_t sec;
    uint32_t nsec;
} __attribute__((packed));

/* KVM wants the structures 4-byte aligned and not crossing a page; give each its own. */
static volatile struct pvclock_vcpu_time_info clock __attribute__((aligned(64)));
static volatile struct pvclock_wall_clock wall __attribute__((aligned(64)));

static __attribute__((noreturn)) void exit_vm(uint8_t code)
{
    outb(DEBUG_EXIT, code);
    outb(I8042_CMD, I8042_RESET);
    for (;;)
        __asm__ volatile("cli; hlt");
}

static __attribute__((noreturn)) void fail(const char *why)
{
    puts("kvmclock failed: ");
    puts(why);
    putc('\n');
    exit_vm(EXIT_FAILED);
}

static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static void wrmsr(uint32_t msr, uint64_t value)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)) : "memory");
}

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static void put_hex(uint32_t v)
{
    puts("0x");
    for (int i = 28; i >= 0; i -= 4)
        putc("0123456789abcdef"[(v >> i) & 0xf]);
}

/* (delta << shift) * mul >> 32, as pvclock_scale_delta, without a 128-bit product. */
static uint64_t scale(uint64_t delta, uint32_t mul, int8_t shift)
{
    if (shift < 0)
        delta >>= -shift;
    else
        delta <<= shift;
    uint64_t lo = (uint64_t)(uint32_t)delta * mul;
    uint64_t hi = (delta >> 32) * mul;
    return hi + (lo >> 32);
}

static uint32_t odd_versions_seen;

/* Nanoseconds of guest time through the version protocol. */
static uint64_t read_clock(uint8_t *flags)
{
    for (;;) {
        uint32_t version = clock.version;
        __asm__ volatile("" ::: "memory");
        if (version & 1) {
            odd_versions_seen++;
            continue;
        }
        uint64_t tsc = rdtsc();
        uint64_t ns = clock.system_time + scale(tsc - clock.tsc_timestamp, clock.tsc_to_system_mul, clock.tsc_shift);
        *flags = clock.flags;
        __asm__ volatile("" ::: "memory");
        if (clock.version == version)
            return ns;
    }
}

__attribute__((noreturn)) void kmain(uint32_t magic, const void *info);

__attribute__((noreturn)) void kmain(uint32_t magic, const void *info)
{
    (void)magic;
    (void)info;
    uint32_t a, b, c, d;
    cpuid(0x40000000u, &a, &b, &c, &d);
    if (b != 0x4b4d564bu || c != 0x564b4d56u || d != 0x4du)
        fail("no KVM signature at CPUID 0x40000000");
    uint32_t max_leaf = a;
    cpuid(0x40000001u, &a, &b, &c, &d);
    uint32_t features = a;
    puts("kvmclock: max leaf ");
    put_hex(max_leaf);
    puts(" features ");
    put_hex(features);
    putc('\n');
    if (!(features & KVM_FEATURE_CLOCKSOURCE2))
        fail("no KVM_FEATURE_CLOCKSOURCE2");

    wrmsr(MSR_KVM_WALL_CLOCK_NEW, (uint32_t)(uintptr_t)&wall);
    if (wall.version & 1)
        fail("wall clock version odd after the MSR write");
    if (wall.sec < SECONDS_2020)
        fail("wall clock before 2020");
    puts("kvmclock: wall clock sec ");
    put_u32(wall.sec);
    putc('\n');

    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint32_t)(uintptr_t)&clock | 1);
    /* KVM fills the page before the vCPU next enters the guest: right after the WRMSR. */
    if (clock.version == 0 || (clock.version & 1))
        fail("pvclock version zero or odd after enabling");
    if (clock.tsc_to_system_mul == 0)
        fail("pvclock multiplier zero");
    uint8_t flags;
    uint64_t first = read_clock(&flags), last = first;
    uint32_t backwards = 0, unstable = 0;
    for (uint32_t i = 0; i < READS; i++) {
        uint64_t now = read_clock(&flags);
        if (now < last)
            backwards++;
        if (!(flags & PVCLOCK_TSC_STABLE_BIT))
            unstable++;
        last = now;
    }
    puts("kvmclock: version ");
    put_u32(clock.version);
    puts(" mul ");
    put_hex(clock.tsc_to_system_mul);
    puts(" shift ");
    put_u32((uint32_t)(int32_t)clock.tsc_shift);
    puts(" flags ");
    put_hex(clock.flags);
    putc('\n');
    puts("kvmclock: stable bit offered ");
    put_u32((features & KVM_FEATURE_CLOCKSOURCE_STABLE_BIT) != 0);
    puts(" set ");
    put_u32((flags & PVCLOCK_TSC_STABLE_BIT) != 0);
    puts(" reads without it ");
    put_u32(unstable);
    putc('\n');
    puts("kvmclock: ");
    put_u32(READS);
    puts(" reads took ");
    put_u32((uint32_t)((last - first) >> 10));      /* no 64-bit division without libgcc */
    puts(" x 1024 ns, backwards ");
    put_u32(backwards);
    puts(", odd versions seen ");
    put_u32(odd_versions_seen);
    putc('\n');
    if (backwards)
        fail("time went backwards");
    if (last <= first)
        fail("time did not advance");
    puts("kvmclock ok\n");
    exit_vm(EXIT_OK);
}
