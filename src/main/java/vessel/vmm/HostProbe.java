package vessel.vmm;

import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
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
 * Finds out, by running one tiny VM per candidate, which instructions this host's KVM cannot execute
 * (nested KVM that runs guests in its instruction emulator stops on some ordinary ones). The answers,
 * not a machine name, decide what a Linux guest is told: features hidden from CPUID where the host
 * honours that, kernel options where it does not. On a host with hardware virtualization every probe
 * passes in about a millisecond and nothing changes.
 */
public final class HostProbe {
    private static final System.Logger LOG = System.getLogger("vessel.vmm");
    /** Where probe data lives in the probe VM (identity-mapped, 16-byte aligned, zeroed). */
    static final int DATA = 0x20000;
    static final int DONE_PORT = 0xf4;
    static final long HANG_MILLIS = 2000;

    /** The instructions probed, each as 64-bit code that ends by writing to {@link #DONE_PORT}. */
    public enum Candidate {
        CMPXCHG16B("bf 00 00 02 00 31 c0 31 d2 31 db 31 c9 f0 48 0f c7 0f"),
        XSAVE("0f 20 e0 48 0d 00 06 04 00 0f 22 e0 31 c9 b8 03 00 00 00 31 d2 0f 01 d1"
                + " bf 00 00 02 00 b8 03 00 00 00 31 d2 0f ae 27 0f ae 2f"),
        POPCNT("bf ff 00 00 00 f3 48 0f b8 c7"),
        CLAC("0f 01 ca 0f 01 cb"),
        HYPERCALL("b8 0b 00 00 00 31 db 0f 01 c1");

        final byte[] code;

        Candidate(String hex) {
            byte[] body = HexFormat.ofDelimiter(" ").parseHex(hex);
            byte[] done = {(byte) 0xb0, 0x01, (byte) 0xe6, (byte) DONE_PORT, (byte) 0xf4}; // mov $1,%al; out; hlt
            code = new byte[body.length + done.length];
            System.arraycopy(body, 0, code, 0, body.length);
            System.arraycopy(done, 0, code, body.length, done.length);
        }
    }

    /** How a probe ended. */
    public enum Verdict {
        /** Ran to the end: the host executes it. */
        WORKS,
        /** KVM_EXIT_INTERNAL_ERROR: the host's KVM cannot emulate it. */
        EMULATION_FAILURE,
        /** The guest faulted (the CPU does not offer the feature at all, so a kernel won't use it). */
        FAULTS,
        /** Never came back (KVM hypercalls on some nested hosts). */
        HANGS
    }

    /** The verdicts, and what they mean for a Linux guest. */
    public record Result(Map<Candidate, Verdict> verdicts) {
        public boolean fails(Candidate c) {
            Verdict v = verdicts.get(c);
            return v == Verdict.EMULATION_FAILURE || v == Verdict.HANGS;
        }

        public X86Cpu.CpuidLimits cpuidLimits() {
            return new X86Cpu.CpuidLimits(fails(Candidate.CMPXCHG16B), fails(Candidate.HYPERCALL));
        }

        /**
         * Kernel options for what CPUID cannot hide on such hosts (they pass most of CPUID through from
         * the host regardless of the table the VMM sets).
         */
        public List<String> kernelOptions() {
            List<String> options = new ArrayList<>();
            if (fails(Candidate.XSAVE)) {
                options.add("noxsave");
            }
            if (fails(Candidate.POPCNT)) {
                options.add("clearcpuid=151"); // X86_FEATURE_POPCNT: every use would be an exit and an assist
            }
            if (fails(Candidate.CLAC)) {
                options.add("clearcpuid=308"); // X86_FEATURE_SMAP: clac/stac run on every interrupt entry
            }
            return options;
        }
    }

    private static volatile Result cached;

    private HostProbe() {}

    /** Probes once per process; later calls return the same answer. */
    public static Result probe(Kvm kvm) throws IOException {
        Result r = cached;
        if (r == null) {
            synchronized (HostProbe.class) {
                if (cached == null) {
                    long t0 = System.nanoTime();
                    Map<Candidate, Verdict> verdicts = new EnumMap<>(Candidate.class);
                    for (Candidate c : Candidate.values()) {
                        try {
                            verdicts.put(c, run(kvm, c));
                        } catch (IOException e) {
                            throw e;
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new IOException("host probe interrupted", e);
                        } catch (Exception e) {
                            throw new IOException("host probe " + c + " failed: " + e.getMessage(), e);
                        }
                    }
                    cached = new Result(verdicts);
                    LOG.log(System.Logger.Level.INFO, "host probe: " + verdicts + " in "
                            + (System.nanoTime() - t0) / 1_000_000 + " ms");
                }
                r = cached;
            }
        }
        return r;
    }

    static Verdict run(Kvm kvm, Candidate candidate) throws Exception {
        try (VmFd vm = kvm.createVm();
             GuestMemory memory = GuestMemory.allocate(GuestLayout.ramRanges(4L << 20))) {
            vm.setTssAddr(GuestLayout.KVM_TSS);
            for (MemoryRegion r : memory.regions()) {
                vm.setUserMemoryRegion(r.slot(), r.guestBase(), r.host(), 0);
            }
            memory.write(GuestLayout.FLAT_LOAD_ADDRESS, candidate.code);
            try (VcpuFd vcpu = vm.createVcpu(0)) {
                vcpu.setCpuid(X86Cpu.cpuidFor(kvm.supportedCpuid(), 0, 1));
                X86Cpu.enter(vcpu, memory, BootEntry.at(EntryMode.LONG, GuestLayout.FLAT_LOAD_ADDRESS));
                CompletableFuture<Verdict> verdict = new CompletableFuture<>();
                long[] thread = new long[1];
                Thread t = Thread.ofPlatform().name("probe-" + candidate).daemon(true).start(() -> {
                    try {
                        synchronized (thread) {
                            thread[0] = VcpuKick.armCurrentThread(vcpu);
                        }
                        verdict.complete(runUntilDone(vcpu));
                    } catch (Throwable e) {
                        verdict.completeExceptionally(e);
                    } finally {
                        synchronized (thread) {
                            thread[0] = 0;
                        }
                        VcpuKick.consumePending(); // see Vcpu: a pending kick must not outlive the thread
                    }
                });
                try {
                    return verdict.get(HANG_MILLIS, TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    synchronized (thread) {
                        if (thread[0] != 0) {
                            VcpuKick.kick(thread[0]);
                        }
                    }
                    t.join(HANG_MILLIS);
                    return Verdict.HANGS;
                }
            }
        }
    }

    private static Verdict runUntilDone(VcpuFd vcpu) {
        KvmRun run = vcpu.kvmRun();
        for (int exits = 0; exits < 10_000; exits++) {
            int r = vcpu.run();
            if (r == -Errno.EINTR) {
                return Verdict.HANGS; // kicked by the timeout
            }
            if (r < 0) {
                return Verdict.FAULTS;
            }
            switch (run.exitReason()) {
                case ExitReason.IO -> {
                    if (run.ioPort() == DONE_PORT) {
                        return Verdict.WORKS;
                    }
                }
                case ExitReason.INTERNAL_ERROR -> {
                    return Verdict.EMULATION_FAILURE;
                }
                default -> {
                    return Verdict.FAULTS; // SHUTDOWN (triple fault on #UD with no IDT), HLT, ...
                }
            }
        }
        return Verdict.HANGS;
    }
}
