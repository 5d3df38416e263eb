package vessel.vmm;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import vessel.boot.LinuxCpuFeature;
import vessel.vmm.HostProbe.Candidate;
import vessel.vmm.HostProbe.Verdict;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the probe verdicts mean for a Linux guest (the probes themselves run in the KVM tests). */
class HostProbeTest {
    private static HostProbe.Result result(Verdict cx16, Verdict xsave, Verdict popcnt, Verdict clac, Verdict hc) {
        Map<Candidate, Verdict> v = new EnumMap<>(Candidate.class);
        v.put(Candidate.CMPXCHG16B, cx16);
        v.put(Candidate.XSAVE, xsave);
        v.put(Candidate.POPCNT, popcnt);
        v.put(Candidate.CLAC, clac);
        v.put(Candidate.HYPERCALL, hc);
        return new HostProbe.Result(v);
    }

    @Test
    void aHostThatRunsEverythingChangesNothing() {
        HostProbe.Result r = result(Verdict.WORKS, Verdict.WORKS, Verdict.WORKS, Verdict.WORKS, Verdict.WORKS);
        assertEquals(List.of(), r.kernelOptions());
        assertEquals(new vessel.boot.X86Cpu.CpuidLimits(false, false), r.cpuidLimits());
    }

    @Test
    void emulationFailuresAndHangsBecomeOptionsAndCpuidLimits() {
        HostProbe.Result r = result(Verdict.EMULATION_FAILURE, Verdict.EMULATION_FAILURE, Verdict.EMULATION_FAILURE,
                Verdict.EMULATION_FAILURE, Verdict.HANGS);
        assertEquals(List.of("noxsave", "clearcpuid=151", "clearcpuid=308"), r.kernelOptions());
        assertTrue(r.cpuidLimits().hideCmpxchg16b());
        assertTrue(r.cpuidLimits().hideHypercallFeatures());
    }

    @Test
    void aFeatureTheCpuLacksNeedsNoOption() {
        // #UD (FAULTS): the guest's CPUID does not offer it either, so a kernel will not use it.
        HostProbe.Result r = result(Verdict.WORKS, Verdict.FAULTS, Verdict.WORKS, Verdict.FAULTS, Verdict.WORKS);
        assertEquals(List.of(), r.kernelOptions());
        assertFalse(r.fails(Candidate.CLAC));
    }

    private static HostProbe.Result failing(Candidate... failed) {
        Map<Candidate, Verdict> v = new EnumMap<>(Candidate.class);
        for (Candidate c : Candidate.values()) {
            v.put(c, Verdict.WORKS);
        }
        for (Candidate c : failed) {
            v.put(c, Verdict.EMULATION_FAILURE);
        }
        return new HostProbe.Result(v);
    }

    @Test
    void linuxFeatureNumbersComeFromTheKernelsWordLayout() {
        // word 4 = CPUID.1:ECX, word 9 = CPUID.7.0:EBX (arch/x86/include/asm/cpufeatures.h)
        assertEquals(4 * 32 + 9, LinuxCpuFeature.SSSE3.linuxNumber());
        assertEquals(151, LinuxCpuFeature.POPCNT.linuxNumber());
        assertEquals(308, LinuxCpuFeature.SMAP.linuxNumber());
        assertEquals(9 * 32 + 29, LinuxCpuFeature.SHA_NI.linuxNumber());
        assertEquals("clearcpuid=156", LinuxCpuFeature.AVX.clearOption());
    }

    @Test
    void eachFailingSimdFamilyHidesItsFeatureByNumber() {
        assertEquals(List.of("clearcpuid=137", "clearcpuid=147", "clearcpuid=148"),
                failing(Candidate.SSSE3).kernelOptions(), "SSSE3 with the SSE4.x that no CPU has without it");
        assertEquals(List.of("clearcpuid=147", "clearcpuid=148"), failing(Candidate.SSE4_1).kernelOptions());
        assertEquals(List.of("clearcpuid=148"), failing(Candidate.SSE4_2).kernelOptions());
        assertEquals(List.of("clearcpuid=129"), failing(Candidate.PCLMULQDQ).kernelOptions());
        assertEquals(List.of("clearcpuid=153"), failing(Candidate.AES).kernelOptions());
        assertEquals(List.of("clearcpuid=317"), failing(Candidate.SHA_NI).kernelOptions());
        assertEquals(List.of("clearcpuid=156"), failing(Candidate.AVX).kernelOptions());
        assertEquals(List.of("clearcpuid=293", "clearcpuid=304"), failing(Candidate.AVX2).kernelOptions());
    }

    @Test
    void sse2CannotBeHiddenAndIsLeftToTheAssist() {
        HostProbe.Result r = failing(Candidate.SSE2);
        assertEquals(List.of(), r.kernelOptions());
        assertEquals(1, r.explanations().size());
        assertTrue(r.explanations().get(0).contains("cannot be hidden"), r.explanations().get(0));
    }

    @Test
    void avxNeedsNoOptionOfItsOwnWhenXsaveIsHidden() {
        // noxsave makes the kernel drop AVX and all that depends on it (cpuid_deps).
        assertEquals(List.of("noxsave"), failing(Candidate.XSAVE, Candidate.AVX, Candidate.AVX2).kernelOptions());
        assertEquals(List.of("clearcpuid=156"), failing(Candidate.AVX, Candidate.AVX2).kernelOptions());
    }

    @Test
    void theHostWhereEverySimdProbeFailsHidesEachFeatureOnce() {
        // What a kvm_pvm host gives (measured): every probe but the hypercall one fails.
        HostProbe.Result r = failing(Candidate.CMPXCHG16B, Candidate.XSAVE, Candidate.POPCNT, Candidate.CLAC,
                Candidate.SSE2, Candidate.SSSE3, Candidate.SSE4_1, Candidate.SSE4_2, Candidate.PCLMULQDQ,
                Candidate.AES, Candidate.SHA_NI, Candidate.AVX, Candidate.AVX2);
        assertEquals(List.of("noxsave", "clearcpuid=151", "clearcpuid=308", "clearcpuid=137", "clearcpuid=147",
                "clearcpuid=148", "clearcpuid=129", "clearcpuid=153", "clearcpuid=317"), r.kernelOptions());
        assertEquals(13, r.explanations().size(), String.join("\n", r.explanations()));
        assertTrue(r.explanations().contains("SSSE3 probe emulation failure: Linux guests get clearcpuid=137 (SSSE3)"
                + " clearcpuid=147 (SSE4_1) clearcpuid=148 (SSE4_2) and use other code"), String.join("\n", r.explanations()));
    }

    @Test
    void aSimdFeatureTheCpuLacksNeedsNoOption() {
        HostProbe.Result r = failing();
        r.verdicts().put(Candidate.SHA_NI, Verdict.FAULTS);
        assertEquals(List.of(), r.kernelOptions());
        assertEquals(List.of(), r.explanations());
    }

    /** The numbering a boot uses, taken from the default guest's kernel (where built) through its own table. */
    @Test
    void optionsForTheDefaultKernelAreNumberedByItsOwnTable() throws Exception {
        java.nio.file.Path vmlinuz = vessel.testkit.DefaultImage.dir().resolve("vmlinuz");
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isRegularFile(vmlinuz),
                "default guest image not built: " + vmlinuz);
        byte[] image = java.nio.file.Files.readAllBytes(vmlinuz);
        var numbers = VirtualMachine.featureNumbers(image, vmlinuz.toString(),
                vessel.boot.linux.BackgroundDecompression.start(image, vmlinuz.toString()));
        assertEquals(List.of("clearcpuid=137", "clearcpuid=147", "clearcpuid=148"),
                failing(Candidate.SSSE3).kernelOptions(numbers));
        assertEquals(LinuxCpuFeature.SHA_NI.linuxNumber(), numbers.applyAsInt(LinuxCpuFeature.SHA_NI));
        // A kernel booted through its own decompressor is not searched: the word layout numbers it.
        assertEquals(137, VirtualMachine.featureNumbers(image, vmlinuz.toString(), null).applyAsInt(LinuxCpuFeature.SSSE3));
    }

    @Test
    void hostOptionsAreAddedOnceToTheUsersCommandLine() {
        assertEquals("console=ttyS0 noxsave quiet clearcpuid=308",
                VirtualMachine.linuxCmdline("console=ttyS0 noxsave quiet", List.of("noxsave", "clearcpuid=308")));
        assertEquals(vessel.boot.KernelLoader.DEFAULT_LINUX_CMDLINE, VirtualMachine.linuxCmdline("  ", List.of()));
    }
}
