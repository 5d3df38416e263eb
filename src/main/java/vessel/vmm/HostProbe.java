package vessel.vmm;

import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.ToIntFunction;
import java.util.stream.Collectors;

import vessel.boot.BootEntry;
import vessel.boot.EntryMode;
import vessel.boot.GuestLayout;
import vessel.boot.LinuxCpuFeature;
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
        HYPERCALL("b8 0b 00 00 00 31 db 0f 01 c1"),
        /*
         * The SIMD families Linux picks by CPU feature at run time (crypto, checksums, RAID). Each needs
         * CR4.OSFXSR; the AVX ones also XCR0 with the AVX state, as a kernel sets it.
         */
        /**
         * SSE2 register forms, as the kernel's SSSE3 BLAKE2s begins a round: movd %ecx,%xmm15; movq
         * %rcx,%xmm1; paddd; pxor; psrld $7; pshufd $0x93; movd %xmm2,%eax.
         */
        SSE2(Snippet.SSE_ON + " b9 78 56 34 12 66 44 0f 6e f9 66 48 0f 6e c9 66 44 0f fe f9 66 41 0f ef cf"
                + " 66 0f 72 d1 07 66 0f 70 d1 93 66 0f 7e d0"),
        /** pshufb %xmm1,%xmm0. */
        SSSE3(Snippet.SSE_ON + " 66 0f 38 00 c1"),
        /** pblendw $0x55,%xmm1,%xmm0. */
        SSE4_1(Snippet.SSE_ON + " 66 0f 3a 0e c1 55"),
        /** crc32 %ecx,%eax. */
        SSE4_2(Snippet.SSE_ON + " f2 0f 38 f1 c1"),
        /** pclmulqdq $0,%xmm1,%xmm0. */
        PCLMULQDQ(Snippet.SSE_ON + " 66 0f 3a 44 c1 00"),
        /** aesenc %xmm1,%xmm0. */
        AES(Snippet.SSE_ON + " 66 0f 38 dc c1"),
        /** sha256msg1 %xmm1,%xmm0. */
        SHA_NI(Snippet.SSE_ON + " 0f 38 cc c1"),
        /** vxorps %ymm1,%ymm2,%ymm0. */
        AVX(Snippet.AVX_ON + " c5 ec 57 c1"),
        /** vpaddd %ymm1,%ymm2,%ymm0. */
        AVX2(Snippet.AVX_ON + " c5 ed fe c1");

        final byte[] code;

        Candidate(String hex) {
            code = probeCode(hex);
        }

        /**
         * The features a Linux guest must not see when this probe fails, so that it picks other code.
         * Each list also names what the kernel's cpuid_deps does not clear with the feature but a
         * kernel may assume with it: no CPU has SSE4.x without SSSE3 or SSE4.2 without SSE4.1, and
         * AVX-512 code is not tied to AVX2 there.
         */
        List<LinuxCpuFeature> hides() {
            return switch (this) {
                case POPCNT -> List.of(LinuxCpuFeature.POPCNT);
                case CLAC -> List.of(LinuxCpuFeature.SMAP);
                case SSSE3 -> List.of(LinuxCpuFeature.SSSE3, LinuxCpuFeature.SSE4_1, LinuxCpuFeature.SSE4_2);
                case SSE4_1 -> List.of(LinuxCpuFeature.SSE4_1, LinuxCpuFeature.SSE4_2);
                case SSE4_2 -> List.of(LinuxCpuFeature.SSE4_2);
                case PCLMULQDQ -> List.of(LinuxCpuFeature.PCLMULQDQ);
                case AES -> List.of(LinuxCpuFeature.AES);
                case SHA_NI -> List.of(LinuxCpuFeature.SHA_NI);
                case AVX -> List.of(LinuxCpuFeature.AVX);
                case AVX2 -> List.of(LinuxCpuFeature.AVX2, LinuxCpuFeature.AVX512F);
                // CMPXCHG16B and HYPERCALL are hidden in CPUID, XSAVE with noxsave; SSE2 cannot be hidden.
                case CMPXCHG16B, XSAVE, HYPERCALL, SSE2 -> List.of();
            };
        }
    }

    /** {@code hex} followed by the write to {@link #DONE_PORT} and hlt. */
    static byte[] probeCode(String hex) {
        byte[] body = HexFormat.ofDelimiter(" ").parseHex(hex);
        byte[] done = {(byte) 0xb0, 0x01, (byte) 0xe6, (byte) DONE_PORT, (byte) 0xf4}; // mov $1,%al; out; hlt
        byte[] code = new byte[body.length + done.length];
        System.arraycopy(body, 0, code, 0, body.length);
        System.arraycopy(done, 0, code, body.length, done.length);
        return code;
    }

    /** Code the SIMD probes start with. */
    static final class Snippet {
        /** CR4 |= OSFXSR | OSXMMEXCPT: SSE instructions are #UD without it. */
        static final String SSE_ON = "0f 20 e0 48 0d 00 06 00 00 0f 22 e0";
        /** CR4 |= OSFXSR | OSXMMEXCPT | OSXSAVE; XCR0 = x87 | SSE | AVX (xsetbv): VEX code is #UD without it. */
        static final String AVX_ON = "0f 20 e0 48 0d 00 06 04 00 0f 22 e0 31 c9 b8 07 00 00 00 31 d2 0f 01 d1";
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
         * The features hidden from a Linux guest by kernel option, and which failed probe hides each.
         * With XSAVE hidden (noxsave) the kernel drops AVX and everything after it by itself, so the AVX
         * probes add nothing then; likewise AVX2 when AVX is hidden.
         */
        public Map<Candidate, List<LinuxCpuFeature>> hiddenFeatures() {
            Map<Candidate, List<LinuxCpuFeature>> hidden = new EnumMap<>(Candidate.class);
            for (Candidate c : Candidate.values()) {
                boolean coveredByXsave = (c == Candidate.AVX || c == Candidate.AVX2) && fails(Candidate.XSAVE);
                boolean coveredByAvx = c == Candidate.AVX2 && fails(Candidate.AVX);
                if (fails(c) && !c.hides().isEmpty() && !coveredByXsave && !coveredByAvx) {
                    hidden.put(c, c.hides());
                }
            }
            return hidden;
        }

        /**
         * Kernel options for what CPUID cannot hide on such hosts (they pass most of CPUID through from
         * the host regardless of the table the VMM sets), each once, numbered by the kernel's word layout.
         */
        public List<String> kernelOptions() {
            return kernelOptions(LinuxCpuFeature::linuxNumber);
        }

        /** {@link #kernelOptions()} with the feature numbers of a given kernel. */
        public List<String> kernelOptions(ToIntFunction<LinuxCpuFeature> number) {
            Set<String> options = new LinkedHashSet<>();
            if (fails(Candidate.XSAVE)) {
                options.add("noxsave");
            }
            for (List<LinuxCpuFeature> features : hiddenFeatures().values()) {
                features.forEach(f -> options.add("clearcpuid=" + number.applyAsInt(f)));
            }
            return List.copyOf(options);
        }

        /** One line per failed probe: what the guest is told, or why nothing can be hidden. */
        public List<String> explanations() {
            List<String> lines = new ArrayList<>();
            Map<Candidate, List<LinuxCpuFeature>> hidden = hiddenFeatures();
            for (Candidate c : Candidate.values()) {
                if (!fails(c)) {
                    continue;
                }
                String what = c + " probe " + verdicts.get(c).name().toLowerCase(Locale.ROOT).replace('_', ' ');
                List<LinuxCpuFeature> features = hidden.get(c);
                if (features != null) {
                    lines.add(what + ": Linux guests get " + features.stream()
                            .map(f -> f.clearOption() + " (" + f + ")").collect(Collectors.joining(" "))
                            + " and use other code");
                } else {
                    lines.add(what + switch (c) {
                        case CMPXCHG16B -> ": hidden in the guest's CPUID";
                        case HYPERCALL -> ": paravirtual features that need hypercalls hidden in CPUID";
                        case XSAVE -> ": Linux guests get noxsave (XSAVE, AVX and all after them)";
                        case SSE2 -> ": architectural on x86-64, cannot be hidden; Vessel completes the"
                                + " register forms itself (emulation assist)";
                        default -> ": hidden with XSAVE or AVX already";
                    });
                }
            }
            return lines;
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
                    for (String line : cached.explanations()) {
                        LOG.log(System.Logger.Level.INFO, "host probe: " + line);
                    }
                }
                r = cached;
            }
        }
        return r;
    }

    static Verdict run(Kvm kvm, Candidate candidate) throws Exception {
        Stop stop = run(kvm, candidate.name(), candidate.code);
        if (stop.verdict() == Verdict.EMULATION_FAILURE) {
            LOG.log(System.Logger.Level.DEBUG, () -> "host probe " + candidate + ": emulation failure at code offset 0x"
                    + Long.toHexString(stop.rip() - GuestLayout.FLAT_LOAD_ADDRESS));
        }
        return stop.verdict();
    }

    /** How a probe VM stopped, and its RIP then (the failing instruction's, for an emulation failure). */
    record Stop(Verdict verdict, long rip) {}

    /** Runs {@code code} (which ends as a {@link Candidate}'s does) in a probe VM of its own. */
    static Stop run(Kvm kvm, String name, byte[] code) throws Exception {
        try (VmFd vm = kvm.createVm();
             GuestMemory memory = GuestMemory.allocate(GuestLayout.ramRanges(4L << 20))) {
            vm.setTssAddr(GuestLayout.KVM_TSS);
            for (MemoryRegion r : memory.regions()) {
                vm.setUserMemoryRegion(r.slot(), r.guestBase(), r.host(), 0);
            }
            memory.write(GuestLayout.FLAT_LOAD_ADDRESS, code);
            try (VcpuFd vcpu = vm.createVcpu(0)) {
                vcpu.setCpuid(X86Cpu.cpuidFor(kvm.supportedCpuid(), 0, 1));
                X86Cpu.enter(vcpu, memory, BootEntry.at(EntryMode.LONG, GuestLayout.FLAT_LOAD_ADDRESS));
                CompletableFuture<Stop> verdict = new CompletableFuture<>();
                long[] thread = new long[1];
                Thread t = Thread.ofPlatform().name("probe-" + name).daemon(true).start(() -> {
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
                    return new Stop(Verdict.HANGS, 0);
                }
            }
        }
    }

    private static Stop runUntilDone(VcpuFd vcpu) throws Exception {
        KvmRun run = vcpu.kvmRun();
        for (int exits = 0; exits < 10_000; exits++) {
            int r = vcpu.run();
            if (r == -Errno.EINTR) {
                return new Stop(Verdict.HANGS, 0); // kicked by the timeout
            }
            if (r < 0) {
                return new Stop(Verdict.FAULTS, 0);
            }
            switch (run.exitReason()) {
                case ExitReason.IO -> {
                    if (run.ioPort() == DONE_PORT) {
                        return new Stop(Verdict.WORKS, vcpu.getRegs().rip);
                    }
                }
                case ExitReason.INTERNAL_ERROR -> {
                    return new Stop(Verdict.EMULATION_FAILURE, vcpu.getRegs().rip);
                }
                default -> {
                    // SHUTDOWN (triple fault on #UD with no IDT), HLT, ...
                    return new Stop(Verdict.FAULTS, 0);
                }
            }
        }
        return new Stop(Verdict.HANGS, 0);
    }
}
