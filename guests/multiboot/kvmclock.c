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
 *     KVM sets it only when the host's TSC allows a master clock;
 *   - with a second CPU (cmdline "smp"): started by INIT and SIPI through
 *     kvmclock-ap.S, it registers its own pvclock page, and the two CPUs take
 *     turns reading their own clocks; with the stable bit set in both pages,
 *     no read may be earlier than the other CPU's read before it (KVM's
 *     documented guarantee); without it violations are only counted.
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

/* The second CPU's page, in its own cache line, and the turn-taking between the two CPUs. */
static volatile struct pvclock_vcpu_time_info ap_clock __attribute__((aligned(64)));
static volatile uint32_t ap_ready, turn, rounds_left;
static volatile uint64_t handed_over;
static volatile uint32_t ap_backwards;
static volatile uint8_t ap_flags;

#define AP_TRAMPOLINE   0x8000u
#define LAPIC_ICR_LOW   0xfee00300u
#define LAPIC_ICR_HIGH  0xfee00310u
#define ROUNDS          2000u

extern const uint8_t ap_trampoline_start[], ap_trampoline_end[];

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

static volatile uint32_t odd_versions_seen;

/* Nanoseconds of guest time through the version protocol, from page p (this CPU's own). */
static uint64_t read_page(volatile struct pvclock_vcpu_time_info *p, uint8_t *flags)
{
    for (;;) {
        uint32_t version = p->version;
        __asm__ volatile("" ::: "memory");
        if (version & 1) {
            odd_versions_seen++;
            continue;
        }
        uint64_t tsc = rdtsc();
        uint64_t ns = p->system_time + scale(tsc - p->tsc_timestamp, p->tsc_to_system_mul, p->tsc_shift);
        *flags = p->flags;
        __asm__ volatile("" ::: "memory");
        if (p->version == version)
            return ns;
    }
}

static uint64_t read_clock(uint8_t *flags)
{
    return read_page(&clock, flags);
}

void ap_main(void);

/* The second CPU: its own page, then its half of the turns (turn 1 is its). */
void ap_main(void)
{
    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint32_t)(uintptr_t)&ap_clock | 1);
    ap_ready = 1;
    uint8_t flags;
    for (;;) {
        while (turn != 1)
            __asm__ volatile("pause" ::: "memory");
        if (rounds_left == 0)
            break;
        uint64_t now = read_page(&ap_clock, &flags);
        if (now < handed_over)
            ap_backwards++;
        ap_flags = flags;
        handed_over = now;
        turn = 0;
    }
    ap_ready = 2;
}

static void icr(uint32_t dest, uint32_t low)
{
    *(volatile uint32_t *)LAPIC_ICR_HIGH = dest << 24;
    *(volatile uint32_t *)LAPIC_ICR_LOW = low;
}

static void spin(uint32_t n)
{
    for (volatile uint32_t i = 0; i < n; i++)
        ;
}

/* Starts CPU 1, takes ROUNDS turns with it, and checks the clocks' order. */
static void check_two_cpus(int stable_offered)
{
    uint8_t *t = (uint8_t *)(uintptr_t)AP_TRAMPOLINE;
    for (const uint8_t *p = ap_trampoline_start; p < ap_trampoline_end; p++)
        *t++ = *p;
    icr(1, 0x4500);                                 /* INIT, assert */
    spin(10000);
    icr(1, 0x4600 | (AP_TRAMPOLINE >> 12));         /* SIPI */
    spin(10000);
    if (!ap_ready)
        icr(1, 0x4600 | (AP_TRAMPOLINE >> 12));     /* a second SIPI, as the MP spec says */
    for (uint32_t i = 0; i < 100000000u && !ap_ready; i++)
        __asm__ volatile("pause" ::: "memory");
    if (!ap_ready)
        fail("CPU 1 did not start");
    if (ap_clock.version == 0 || (ap_clock.version & 1) || ap_clock.tsc_to_system_mul == 0)
        fail("CPU 1's pvclock page was not filled");

    uint32_t backwards = 0, unstable = 0;
    uint8_t flags;
    rounds_left = ROUNDS;
    handed_over = read_clock(&flags);
    turn = 1;
    while (rounds_left) {
        while (turn != 0)
            __asm__ volatile("pause" ::: "memory");
        uint64_t now = read_clock(&flags);
        if (now < handed_over)
            backwards++;
        if (!(flags & PVCLOCK_TSC_STABLE_BIT) || !(ap_flags & PVCLOCK_TSC_STABLE_BIT))
            unstable++;
        handed_over = now;
        rounds_left--;
        turn = 1;
    }
    for (uint32_t i = 0; i < 100000000u && ap_ready != 2; i++)
        __asm__ volatile("pause" ::: "memory");
    puts("kvmclock: two cpus, ");
    put_u32(ROUNDS);
    puts(" turns: cpu1 page version ");
    put_u32(ap_clock.version);
    puts(" flags ");
    put_hex(ap_clock.flags);
    puts(", backwards on cpu0 ");
    put_u32(backwards);
    puts(" on cpu1 ");
    put_u32(ap_backwards);
    puts(", turns without the stable bit ");
    put_u32(unstable);
    putc('\n');
    if (stable_offered && unstable == 0 && (backwards || ap_backwards))
        fail("time went backwards between CPUs with the stable bit set");
}

struct mb_info {
    uint32_t flags;
    uint32_t mem_lower, mem_upper, boot_device;
    uint32_t cmdline;
};

static int cmdline_has(const struct mb_info *info, const char *word)
{
    if (!(info->flags & (1u << 2)) || !info->cmdline)
        return 0;
    const char *c = (const char *)(uintptr_t)info->cmdline;
    for (; *c; c++) {
        const char *a = c, *w = word;
        while (*w && *a == *w) {
            a++;
            w++;
        }
        if (!*w && (*a == ' ' || *a == 0) && (c == (const char *)(uintptr_t)info->cmdline || c[-1] == ' '))
            return 1;
    }
    return 0;
}

__attribute__((noreturn)) void kmain(uint32_t magic, const struct mb_info *info);

__attribute__((noreturn)) void kmain(uint32_t magic, const struct mb_info *info)
{
    (void)magic;
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
    if (cmdline_has(info, "smp"))
        check_two_cpus((features & KVM_FEATURE_CLOCKSOURCE_STABLE_BIT) != 0);
    puts("kvmclock ok\n");
    exit_vm(EXIT_OK);
}
