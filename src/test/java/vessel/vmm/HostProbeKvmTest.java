package vessel.vmm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.kvm.Kvm;
import vessel.testkit.RequiresKvm;
import vessel.vmm.HostProbe.Candidate;
import vessel.vmm.HostProbe.Verdict;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * The probe guests on the real /dev/kvm. Which verdicts come out is the host's business; what must hold
 * on any host is that a probe of a feature the host CPU has does not fault: a fault there would be a
 * wrong encoding or a missing CR4/XCR0 setup in the probe, and the probe would then hide nothing.
 */
@vessel.testkit.KvmTest
@Timeout(120)
class HostProbeKvmTest {
    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    /** /proc/cpuinfo's name for the feature each SIMD probe runs. */
    private static final Map<Candidate, String> CPUINFO_FLAG = Map.of(
            Candidate.SSE2, "sse2", Candidate.SSSE3, "ssse3", Candidate.SSE4_1, "sse4_1",
            Candidate.SSE4_2, "sse4_2", Candidate.PCLMULQDQ, "pclmulqdq", Candidate.AES, "aes",
            Candidate.SHA_NI, "sha_ni", Candidate.AVX, "avx", Candidate.AVX2, "avx2");

    @Test
    void simdProbesOfFeaturesTheHostHasDoNotFault() throws Exception {
        Set<String> flags = hostFlags();
        Map<Candidate, Verdict> verdicts = new EnumMap<>(Candidate.class);
        StringBuilder where = new StringBuilder();
        try (Kvm kvm = Kvm.open()) {
            for (Candidate c : CPUINFO_FLAG.keySet()) {
                HostProbe.Stop stop = HostProbe.run(kvm, c.name(), c.code);
                verdicts.put(c, stop.verdict());
                if (stop.verdict() == Verdict.EMULATION_FAILURE) {
                    where.append(' ').append(c).append("@0x")
                            .append(Long.toHexString(stop.rip() - vessel.boot.GuestLayout.FLAT_LOAD_ADDRESS));
                }
            }
        }
        System.out.println("SIMD probe verdicts on this host: " + verdicts + "; emulation failures at code offset:" + where);
        for (Map.Entry<Candidate, Verdict> e : verdicts.entrySet()) {
            if (flags.contains(CPUINFO_FLAG.get(e.getKey()))) {
                assertNotEquals(Verdict.FAULTS, e.getValue(), e.getKey() + ": the host CPU has "
                        + CPUINFO_FLAG.get(e.getKey()) + " but its probe faulted");
            }
            assertNotEquals(Verdict.HANGS, e.getValue(), e.getKey() + " never came back");
        }
    }

    /**
     * The CR4 (and XCR0) setup the SIMD probes start with runs on any KVM (whose CPU has the feature),
     * so a SIMD probe that fails fails on its SIMD instruction, not on the setup.
     */
    @Test
    void theSimdProbesSetupAloneWorks() throws Exception {
        try (Kvm kvm = Kvm.open()) {
            assertEquals(Verdict.WORKS, HostProbe.run(kvm, "sse-on", HostProbe.probeCode(HostProbe.Snippet.SSE_ON)).verdict());
            if (hostFlags().contains("avx")) {
                assertEquals(Verdict.WORKS, HostProbe.run(kvm, "avx-on", HostProbe.probeCode(HostProbe.Snippet.AVX_ON)).verdict());
            }
        }
    }

    private static Set<String> hostFlags() throws Exception {
        return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
                .filter(l -> l.startsWith("flags"))
                .findFirst()
                .map(l -> Arrays.stream(l.substring(l.indexOf(':') + 1).trim().split("\\s+")).collect(Collectors.toSet()))
                .orElse(Set.of());
    }
}
