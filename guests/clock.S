/*
 * clock.S - a guest that reads its clocks without end, for restore tests.
 *
 * Entered in 64-bit long mode (like counter.S).  It registers a pvclock page
 * with KVM (MSR_KVM_SYSTEM_TIME_NEW, Documentation/virt/kvm/x86/msr.rst) and
 * then, in a loop with one I/O exit per pass (port 0xe0, which no device
 * claims, so a pause lands between passes), reads the TSC and the kvmclock
 * time (the page by its version protocol: tsc_timestamp, system_time,
 * tsc_to_system_mul, tsc_shift) and stores both, the pass count, and how
 * many reads of each were earlier than the read before.  The last reads stay
 * in R13 (kvmclock) and R14 (TSC), so a snapshot keeps them: a restored
 * guest whose clock restarted behind where it was counts backward reads
 * from its first pass, as a Linux guest's clock would stand still (pvclock
 * never returns less than its last value) until the clock caught up.
 */
#include "console.inc"

#define TSC_NOW        0x20000     /* the last TSC read */
#define CLOCK_NOW      0x20008     /* the last kvmclock read, ns */
#define PASSES         0x20010
#define TSC_BACK       0x20018     /* TSC reads below the one before */
#define CLOCK_BACK     0x20020     /* kvmclock reads below the one before */
#define CLOCK_BACK_BY  0x20028     /* the largest such step back, ns */
#define PVCLOCK        0x21000     /* struct pvclock_vcpu_time_info, 32 bytes */
#define PV_VERSION     (PVCLOCK + 0)
#define PV_TSC_STAMP   (PVCLOCK + 8)
#define PV_SYSTEM_TIME (PVCLOCK + 16)
#define PV_MUL         (PVCLOCK + 24)
#define PV_SHIFT       (PVCLOCK + 28)
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

    .code64
    .section .text.entry, "ax"
    .globl _start
_start:
    cld
    lea     hello(%rip), %rsi
    call    puts
    mov     $MSR_KVM_SYSTEM_TIME_NEW, %ecx
    mov     $(PVCLOCK | 1), %eax            /* bit 0: enabled */
    xor     %edx, %edx
    wrmsr
    xor     %r13d, %r13d
    xor     %r14d, %r14d

pass:
    /* kvmclock: retry while KVM is updating the page (odd version) or updated it meanwhile */
1:  mov     PV_VERSION, %r8d
    test    $1, %r8d
    jnz     1b
    lfence
    rdtsc
    shl     $32, %rdx
    or      %rdx, %rax
    mov     %rax, %r9                       /* the TSC of this read */
    sub     PV_TSC_STAMP, %rax
    movsbl  PV_SHIFT, %ecx
    test    %ecx, %ecx
    js      2f
    shl     %cl, %rax
    jmp     3f
2:  neg     %ecx
    shr     %cl, %rax
3:  mov     PV_MUL, %edx
    mul     %rdx                            /* RDX:RAX = delta * mul */
    shrd    $32, %rdx, %rax
    add     PV_SYSTEM_TIME, %rax
    lfence
    cmp     PV_VERSION, %r8d
    jne     1b

    mov     %r9, TSC_NOW
    mov     %rax, CLOCK_NOW
    cmp     %r14, %r9
    jae     4f
    incq    TSC_BACK
4:  mov     %r9, %r14
    cmp     %r13, %rax
    jae     5f
    incq    CLOCK_BACK
    mov     %r13, %rdx
    sub     %rax, %rdx
    cmp     CLOCK_BACK_BY, %rdx
    jbe     5f
    mov     %rdx, CLOCK_BACK_BY
5:  mov     %rax, %r13
    incq    PASSES
    outb    %al, $0xe0
    jmp     pass

    console_routines

    .section .rodata
hello:
    .asciz  "clock started\n"
