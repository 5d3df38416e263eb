/*
 * exits.c - baseline for Vessel's exit-rate benchmark, in plain C.
 *
 *   gcc -O2 -o exits exits.c
 *   ./exits target/guests/bench-out.bin
 *
 * Runs a flat real-mode guest (normally guests/bench-out.S, which does one
 * million `out` instructions to an unclaimed port) on a bare KVM vCPU,
 * entered exactly as Vessel's `real` boot mode enters it, and measures how
 * many I/O exits per second a minimal userspace loop can handle.  This is
 * the number the Java VMM's own exit loop is compared against.
 *
 * Prints one line:
 *   c exits=<n> seconds=<s> exits_per_sec=<r> user_ns_per_exit=<u> sys_ns_per_exit=<k>
 *     guest_ns_per_exit=<g> vmm_user_ns_per_exit=<u-g>
 * where <n> counts the KVM_EXIT_IO exits before the guest's write to the
 * debug-exit port 0xf4 (that write itself is not counted) and <u> and <k>
 * are the process's user-space and kernel CPU time over the loop divided by
 * <n> (the kernel accounts them at its tick, so they are samples: read them
 * over many exits).  Linux counts guest time (<g>) as user time: on a host
 * whose guest entry and exit are done in software (kvm_pvm) part of their
 * cost lands there, so <u-g> is this loop's own user-space work.  Without
 * /dev/kvm it prints "c skipped: /dev/kvm not present" and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define RAM_SIZE        (2u << 20)      /* 2 MiB of guest RAM at 0 */
#define LOAD_ADDR       0x10000u        /* where flat images go */
#define TSS_ADDR        0xfffbd000ul    /* 3 pages KVM needs on Intel, below 4 GiB */
#define DEBUG_EXIT_PORT 0xf4

static void die(const char *what)
{
    fprintf(stderr, "exits: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void fail(const char *message)
{
    fprintf(stderr, "exits: %s\n", message);
    exit(1);
}

/* Read the whole image into guest memory at LOAD_ADDR. */
static void load_image(const char *path, uint8_t *ram)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "exits: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t room = RAM_SIZE - LOAD_ADDR;
    size_t n = fread(ram + LOAD_ADDR, 1, room, f);
    if (ferror(f)) {
        fprintf(stderr, "exits: %s: read error\n", path);
        exit(1);
    }
    if (n == room && fgetc(f) != EOF) {
        fprintf(stderr, "exits: %s: larger than the %zu bytes of RAM above 0x%x\n",
                path, room, LOAD_ADDR);
        exit(1);
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "exits: %s: empty image\n", path);
        exit(1);
    }
}

/* Real mode segment: the hidden base is selector * 16, 64 KiB limit. */
static void real_segment(struct kvm_segment *s, uint16_t selector)
{
    s->selector = selector;
    s->base = (uint64_t)selector << 4;
    s->limit = 0xffff;
}

/* User-space (or, with kernel != 0, kernel) CPU time of this process so far, in seconds. */
static double cpu_seconds(int kernel)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        die("getrusage");
    struct timeval t = kernel ? ru.ru_stime : ru.ru_utime;
    return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

/*
 * Guest time of this process so far, in seconds: the ticks that found it in
 * guest mode (/proc/self/stat's 43rd field, guest_time).  Linux counts them in
 * the user time too, so user time minus this is the VMM's own user-space work.
 */
static double guest_seconds(void)
{
    char buf[4096];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');        /* the command name may hold spaces */
    if (!p)
        return 0;
    unsigned long long ticks = 0;
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " "))
        if (++field == 43) {
            ticks = strtoull(tok, NULL, 10);
            break;
        }
    return (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

static double now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime");
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FLAT-REAL-MODE-IMAGE\n", argv[0]);
        return 1;
    }

    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        if (errno == ENOENT) {
            printf("c skipped: /dev/kvm not present\n");
            return 0;
        }
        die("open /dev/kvm");
    }

    int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
    if (api < 0)
        die("KVM_GET_API_VERSION");
    if (api != KVM_API_VERSION) {
        fprintf(stderr, "exits: KVM API version %d, expected %d\n", api, KVM_API_VERSION);
        return 1;
    }

    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        die("KVM_CREATE_VM");
    if (ioctl(vm, KVM_SET_TSS_ADDR, TSS_ADDR) < 0)
        die("KVM_SET_TSS_ADDR");
    if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
        die("KVM_CREATE_IRQCHIP");

    uint8_t *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED)
        die("mmap guest RAM");
    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .guest_phys_addr = 0,
        .memory_size = RAM_SIZE,
        .userspace_addr = (uint64_t)(uintptr_t)ram,
    };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        die("KVM_SET_USER_MEMORY_REGION");
    load_image(argv[1], ram);

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        die("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < 0)
        die("KVM_GET_VCPU_MMAP_SIZE");
    if ((size_t)run_size < sizeof(struct kvm_run))
        fail("KVM_GET_VCPU_MMAP_SIZE: smaller than struct kvm_run");
    struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE,
                               MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        die("mmap kvm_run");

    /* Vessel's `real` entry: CS=DS=ES=0x1000, SS=0, IP=0, SP=0xFFF0. */
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        die("KVM_GET_SREGS");
    real_segment(&sregs.cs, 0x1000);
    real_segment(&sregs.ds, 0x1000);
    real_segment(&sregs.es, 0x1000);
    real_segment(&sregs.ss, 0);
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
        die("KVM_SET_SREGS");

    struct kvm_regs regs;
    memset(&regs, 0, sizeof regs);
    regs.rip = 0;
    regs.rsp = 0xfff0;
    regs.rflags = 0x2;                  /* bit 1 is reserved, always 1; IF=0 */
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        die("KVM_SET_REGS");

    uint64_t exits = 0;
    double user_start = cpu_seconds(0), sys_start = cpu_seconds(1), guest_start = guest_seconds();
    double start = now();
    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;               /* a signal: just go back in */
            die("KVM_RUN");
        }
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == DEBUG_EXIT_PORT)
                goto done;
            /*
             * Any other port (0xe0 for bench-out) has no device here: the
             * write is simply dropped, which is the cheapest possible exit.
             */
            exits++;
            break;
        case KVM_EXIT_INTR:
            break;
        case KVM_EXIT_HLT:
            fail("guest halted before writing the debug-exit port");
            break;
        case KVM_EXIT_SHUTDOWN:
            fail("guest shut down (triple fault?)");
            break;
        case KVM_EXIT_FAIL_ENTRY:
            fprintf(stderr, "exits: KVM_RUN: entry failed, hardware reason 0x%llx\n",
                    (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
            return 1;
        case KVM_EXIT_INTERNAL_ERROR:
            fprintf(stderr, "exits: KVM_RUN: internal error, suberror %u\n",
                    run->internal.suberror);
            return 1;
        default:
            fprintf(stderr, "exits: KVM_RUN: unexpected exit reason %u\n", run->exit_reason);
            return 1;
        }
    }
done:;
    double seconds = now() - start;
    double user = cpu_seconds(0) - user_start, sys = cpu_seconds(1) - sys_start;
    double guest = guest_seconds() - guest_start;
    double n = exits > 0 ? (double)exits : 1.0;
    printf("c exits=%llu seconds=%.6f exits_per_sec=%.0f user_ns_per_exit=%.0f sys_ns_per_exit=%.0f"
           " guest_ns_per_exit=%.0f vmm_user_ns_per_exit=%.0f\n",
           (unsigned long long)exits, seconds,
           seconds > 0 ? (double)exits / seconds : 0.0, user * 1e9 / n, sys * 1e9 / n,
           guest * 1e9 / n, (user - guest) * 1e9 / n);

    munmap(run, (size_t)run_size);
    munmap(ram, RAM_SIZE);
    close(vcpu);
    close(vm);
    close(kvm);
    return 0;
}
