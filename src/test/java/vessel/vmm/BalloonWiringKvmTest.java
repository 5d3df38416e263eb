package vessel.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.boot.EntryMode;
import vessel.devices.DeviceMetrics;
import vessel.devices.virtio.VirtioBalloon;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;

/**
 * A VM made with a balloon has it on its PCI bus, with the features and queues its configuration asks
 * for, and reports its counters; a balloon larger than the guest is refused before KVM is touched.
 */
@vessel.testkit.KvmTest
@Timeout(120)
class BalloonWiringKvmTest {
    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    @Test
    void theBalloonIsOnTheBusAndCounted() throws Exception {
        VmConfig config = VmConfig.builder().kernel(TestGuests.get("long.bin")).entry(EntryMode.LONG).memory("16M")
                .debugExit(true).balloon(new BalloonConfig(4, true, 2, false, true)).build();
        GuestRunTest.Console console = new GuestRunTest.Console();
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            VirtioBalloon balloon = vm.balloon();
            assertEquals(4 * 256, balloon.targetPages());
            assertEquals((1L << VirtioBalloon.F_STATS_VQ) | (1L << VirtioBalloon.F_DEFLATE_ON_OOM)
                    | (1L << VirtioBalloon.F_REPORTING), balloon.deviceFeatures());
            assertEquals(4, balloon.queueCount());
            vm.start();
            assertTrue(vm.awaitExit(60_000) != null, console.text());
            balloon.setTargetPages(8 * 256); // no driver: the target is kept, nothing is interrupted
            assertEquals(8 * 256, balloon.readConfig(0, 4));
            List<DeviceMetrics> metrics = vm.deviceMetrics();
            assertTrue(metrics.stream().anyMatch(m -> m instanceof DeviceMetrics.Balloon b && b.id().equals("balloon")),
                    metrics.toString());
        }
    }

    @Test
    void aBalloonLargerThanTheGuestIsRefused() {
        ConfigException e = assertThrows(ConfigException.class, () -> VmConfig.builder()
                .kernel(TestGuests.get("long.bin")).memory("16M").balloon(new BalloonConfig(17, false, 0, false, false))
                .build());
        assertTrue(e.getMessage().contains("more than the guest's memory"), e.getMessage());
    }
}
