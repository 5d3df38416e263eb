package vessel.vmm;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

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

    @Test
    void hostOptionsAreAddedOnceToTheUsersCommandLine() {
        assertEquals("console=ttyS0 noxsave quiet clearcpuid=308",
                VirtualMachine.linuxCmdline("console=ttyS0 noxsave quiet", List.of("noxsave", "clearcpuid=308")));
        assertEquals(vessel.boot.KernelLoader.DEFAULT_LINUX_CMDLINE, VirtualMachine.linuxCmdline("  ", List.of()));
    }
}
