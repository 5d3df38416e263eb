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
 * read by the version protocol, never goes backwards and advances; then a second vCPU, started by INIT
 * and SIPI, registers its own page, and the two take turns reading their own clocks: with the stable
 * bit set, no read may be earlier than the other vCPU's read before it.
 */
@vessel.testkit.KvmTest
@Timeout(120)
class KvmclockKvmTest {
    private static final Pattern TWO_CPUS = Pattern.compile(
            "two cpus, \\d+ turns: cpu1 page version (\\d+) flags 0x(\\p{XDigit}+), backwards on cpu0 (\\d+) on cpu1 (\\d+), "
            + "turns without the stable bit (\\d+)");
    private static final Pattern STABLE = Pattern.compile("stable bit offered (\\d) set (\\d) reads without it (\\d+)");

    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    @Test
    void pvclockPagesFollowTheVersionProtocolAndTimeOnlyGoesForwardOnEachVcpuAndAcrossThem() throws Exception {
        GuestRunTest.Console console = new GuestRunTest.Console();
        VmExit exit;
        try (VirtualMachine vm = VirtualMachine.create(VmConfig.builder().kernel(TestGuests.get("kvmclock.elf"))
                .memory("32M").cpus(2).cmdline("smp").debugExit(true).build(), console)) {
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
        Matcher two = TWO_CPUS.matcher(out);
        assertTrue(two.find(), "the second vCPU's check did not run:\n" + out);
        assertTrue(Integer.parseInt(two.group(1)) > 0 && Integer.parseInt(two.group(1)) % 2 == 0, out);
        if (two.group(5).equals("0")) { // both pages stable on every turn: KVM promises one clock
            assertEquals("0", two.group(3), out);
            assertEquals("0", two.group(4), out);
        }
        System.out.println(out.lines().filter(l -> l.startsWith("kvmclock:")).reduce("", (a, b) -> a + b + "\n"));
    }
}
