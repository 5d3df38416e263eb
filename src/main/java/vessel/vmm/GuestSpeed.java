package vessel.vmm;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import vessel.boot.BootEntry;
import vessel.boot.EntryMode;
import vessel.boot.GuestLayout;
import vessel.boot.X86Cpu;
import vessel.kvm.ExitReason;
import vessel.kvm.Kvm;
import vessel.kvm.KvmRun;
import vessel.kvm.VcpuFd;
import vessel.kvm.VcpuKick;
import vessel.kvm.VmFd;
import vessel.memory.GuestMemory;
import vessel.memory.MemoryRegion;
import vessel.sys.Errno;

/**
 * How fast this host's KVM runs ordinary guest code, measured with a tiny VM that counts down a loop.
 * Hardware virtualization runs it at the CPU's own speed (thousands of millions of instructions a
 * second); a KVM that runs guest code in its instruction emulator (kvm_pvm on a host that is itself a
 * PVM guest) manages about 1.6 million, so a stock Linux boot takes many minutes there. Whether
 * /dev/kvm opens says nothing about this; the measurement does, and the launcher and the test script
 * choose where guests run by it.
 */
public record GuestSpeed(long instructions, long nanos) {
    /** Loop iterations: two instructions each: about 0.15 s where guest code is emulated, well under a millisecond on hardware. */
    static final int ITERATIONS = 100_000;
    /**
     * Below this many guest instructions a second, KVM emulates guest code. Measured on the project's
     * 2-core hosts (2026-12-03): kvm_pvm 0.6-1.6 million/s; the nested-KVM VM under QEMU's emulation
     * (scripts/nested-kvm.sh, where a stock boot takes about a minute) 9.8-11.9 million/s; hardware
     * virtualization runs thousands. The line sits where a nested VM boots Linux faster than the host.
     */
    public static final double EMULATED_BELOW_MIPS = 5;
    private static final long GIVE_UP_MILLIS = 20_000;
    private static final int DONE_PORT = 0xf4;

    /** What a host's KVM gives a guest, by measurement. */
    public enum HostKvm {
        /** Guest code runs on the CPU, or is translated fast enough to boot Linux in a minute or so. */
        FAST,
        /** Guest code runs in KVM's instruction emulator: correct, but a stock boot takes many minutes. */
        EMULATED
    }

    private static final System.Logger LOG = System.getLogger("vessel.vmm");
    private static volatile GuestSpeed host;

    /**
     * This host's speed, measured once per process; the first measurement that finds guest code emulated
     * says so in one warning, with what to expect, before a Linux guest's silent minutes begin.
     */
    public static GuestSpeed ofHost(Kvm kvm) throws IOException {
        GuestSpeed s = host;
        if (s == null) {
            synchronized (GuestSpeed.class) {
                if (host == null) {
                    host = measure(kvm);
                    if (host.hostKvm() == HostKvm.EMULATED) {
                        LOG.log(System.Logger.Level.WARNING, host.describe()
                                + " (with qemu-system-x86 busybox-static cpio kmod installed, ./vessel boots it in a faster nested-KVM VM)");
                    }
                }
                s = host;
            }
        }
        return s;
    }

    /**
     * What this host's KVM gives guests, as {@code vessel host} prints it: {@code KIND: why}, KIND being
     * fast, emulated or none (no usable /dev/kvm).
     */
    public static String hostLine() throws IOException {
        String unavailable = Kvm.unavailableReason();
        if (unavailable != null) {
            return "none: " + unavailable;
        }
        try (Kvm kvm = Kvm.open()) {
            GuestSpeed speed = measure(kvm);
            return speed.hostKvm().name().toLowerCase(java.util.Locale.ROOT) + ": " + speed.describe();
        }
    }

    public double mips() {
        return nanos <= 0 ? Double.POSITIVE_INFINITY : instructions * 1000.0 / nanos;
    }

    public HostKvm hostKvm() {
        return mips() < EMULATED_BELOW_MIPS ? HostKvm.EMULATED : HostKvm.FAST;
    }

    /** One line for a person: what was measured and what it means. */
    public String describe() {
        return switch (hostKvm()) {
            case FAST -> "guest code runs at %s million instructions/s, measured".formatted(format(mips()));
            case EMULATED -> ("this host's KVM emulates guest code instruction by instruction (%s million "
                    + "instructions/s measured, hardware virtualization gives thousands): a stock Linux boot "
                    + "takes many minutes here").formatted(format(mips()));
        };
    }

    private static String format(double mips) {
        return mips >= 100 ? String.valueOf(Math.round(mips)) : String.format("%.1f", mips);
    }

    /** The loop, as 64-bit code: mov $ITERATIONS,%ecx; 1: dec %ecx; jnz 1b; mov $1,%al; out %al,$0xf4; hlt. */
    static byte[] loopCode() {
        int n = ITERATIONS;
        return new byte[] {
            (byte) 0xb9, (byte) n, (byte) (n >> 8), (byte) (n >> 16), (byte) (n >> 24),
            (byte) 0xff, (byte) 0xc9,
            (byte) 0x75, (byte) 0xfc,
            (byte) 0xb0, 0x01, (byte) 0xe6, (byte) DONE_PORT, (byte) 0xf4};
    }

    /**
     * Runs the loop in a fresh VM and times it from the vCPU's first entry to the guest's port write.
     * The VM's set-up is not timed: only guest execution and one exit.
     */
    public static GuestSpeed measure(Kvm kvm) throws IOException {
        try (VmFd vm = kvm.createVm();
             GuestMemory memory = GuestMemory.allocate(GuestLayout.ramRanges(4L << 20))) {
            vm.setTssAddr(GuestLayout.KVM_TSS);
            for (MemoryRegion r : memory.regions()) {
                vm.setUserMemoryRegion(r.slot(), r.guestBase(), r.host(), 0);
            }
            memory.write(GuestLayout.FLAT_LOAD_ADDRESS, loopCode());
            try (VcpuFd vcpu = vm.createVcpu(0)) {
                vcpu.setCpuid(X86Cpu.cpuidFor(kvm.supportedCpuid(), 0, 1));
                X86Cpu.enter(vcpu, memory, BootEntry.at(EntryMode.LONG, GuestLayout.FLAT_LOAD_ADDRESS));
                return timeLoop(vcpu);
            }
        }
    }

    private static GuestSpeed timeLoop(VcpuFd vcpu) throws IOException {
        CompletableFuture<Long> elapsed = new CompletableFuture<>();
        long[] thread = new long[1];
        Thread t = Thread.ofPlatform().name("probe-guest-speed").daemon(true).start(() -> {
            try {
                synchronized (thread) {
                    thread[0] = VcpuKick.armCurrentThread(vcpu);
                }
                KvmRun run = vcpu.kvmRun();
                long t0 = System.nanoTime();
                int r = vcpu.run();
                long t1 = System.nanoTime();
                if (r < 0) {
                    throw new IOException("KVM_RUN: " + Errno.describe(-r));
                }
                if (run.exitReason() != ExitReason.IO || run.ioPort() != DONE_PORT) {
                    throw new IOException("the speed probe's guest stopped early (exit reason " + run.exitReason() + ")");
                }
                elapsed.complete(t1 - t0);
            } catch (Throwable e) {
                elapsed.completeExceptionally(e);
            } finally {
                synchronized (thread) {
                    thread[0] = 0;
                }
                VcpuKick.consumePending(); // a pending kick must not outlive the thread
            }
        });
        try {
            return new GuestSpeed(2L * ITERATIONS + 3, elapsed.get(GIVE_UP_MILLIS, TimeUnit.MILLISECONDS));
        } catch (TimeoutException e) {
            synchronized (thread) {
                if (thread[0] != 0) {
                    VcpuKick.kick(thread[0]);
                }
            }
            // 20 s for half a million instructions: slower than any emulator met; call it emulated.
            return new GuestSpeed(2L * ITERATIONS + 3, TimeUnit.MILLISECONDS.toNanos(GIVE_UP_MILLIS));
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io
                    : new IOException("guest speed probe failed: " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("guest speed probe interrupted", e);
        } finally {
            try {
                t.join(GIVE_UP_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
