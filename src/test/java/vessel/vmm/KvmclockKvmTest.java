package vessel.vmm;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * KVM's paravirtual clock as a guest of Vessel's sees it, on the real /dev/kvm, with {@code kvmclock.elf}
 * (guests/multiboot/kvmclock.c): the KVM CPUID leaves, the wall clock, and a pvclock page whose time,
 * read by the version protocol, never goes backwards and advances.
 */
@vessel.testkit.KvmTest
@Timeout(120)
class KvmclockKvmTest {
    private static final Pattern STABLE = Pattern.compile("stable bit offered (\\d) set (\\d) reads without it (\\d+)");

    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    @Test
    void pvclockPageFollowsTheVersionProtocolAndTimeOnlyGoesForward() throws Exception {
        GuestRunTest.Console console = new GuestRunTest.Console();
        VmExit exit;
        try (VirtualMachine vm = VirtualMachine.create(VmConfig.builder().kernel(TestGuests.get("kvmclock.elf"))
                .memory("32M").debugExit(true).build(), console)) {
            vm.start();
            exit = vm.awaitExit(100_000);
        }
        String out = console.text();
        assertTrue(exit != null, "kvmclock.elf did not end; console: " + out);
        assertEquals(85, exit.status(), out);
        assertTrue(out.contains("backwards 0,") && out.endsWith("kvmclock ok\n"), out);
        Matcher m = STABLE.matcher(out);
        assertTrue(m.find(), out);
        // Vessel passes KVM's CLOCKSOURCE_STABLE_BIT through; the bit in the page is KVM's to set, and when it
        // is set it must stay set for every read (no vCPU-TSC resynchronisation happens in a one-vCPU guest).
        if (m.group(2).equals("1")) {
            assertEquals("0", m.group(3), out);
        }
        System.out.println(out.lines().filter(l -> l.startsWith("kvmclock:")).reduce("", (a, b) -> a + b + "\n"));
    }
}
