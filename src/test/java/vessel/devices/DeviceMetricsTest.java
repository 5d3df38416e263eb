package vessel.devices;

import org.junit.jupiter.api.Test;

import vessel.devices.virtio.VirtioInput;
import vessel.devices.virtio.VirtioRng;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** Each device samples its own counters through {@code VirtioDevice.metrics}, under the id it is given. */
class DeviceMetricsTest {
    @Test
    void aDeviceWithCountersGivesItsOwnRecordUnderTheGivenId() {
        VirtioRng rng = new VirtioRng(buffer -> java.util.Arrays.fill(buffer, (byte) 7));
        assertEquals(new DeviceMetrics.Entropy("entropy", 0, 0, 0), rng.metrics("entropy"));
        assertEquals("rng0", rng.metrics("rng0").id());
    }

    @Test
    void aKindWithoutMetricsGivesNone() {
        assertNull(new VirtioInput(VirtioInput.Kind.KEYBOARD, "kbd").metrics("keyboard"));
    }
}
