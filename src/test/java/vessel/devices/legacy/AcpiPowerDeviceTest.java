package vessel.devices.legacy;

import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import vessel.boot.acpi.Dsdt;
import vessel.boot.acpi.Fadt;

import static org.junit.jupiter.api.Assertions.assertEquals;

class AcpiPowerDeviceTest {
    private final AtomicInteger powerOffs = new AtomicInteger();
    private final AtomicInteger resets = new AtomicInteger();
    private final AcpiPowerDevice device = new AcpiPowerDevice(powerOffs::incrementAndGet, resets::incrementAndGet);

    @Test
    void sleepTypeFiveWithSleepEnablePowersOff() {
        device.write(0, 1, (5 << 2) | (1 << 5)); // 0x34, what Linux writes for \_S5 {5, ...}
        assertEquals(1, powerOffs.get());
        assertEquals(0, resets.get());
    }

    @Test
    void sleepTypeFiveWithoutSleepEnableDoesNothing() {
        device.write(0, 1, 5 << 2);
        assertEquals(0, powerOffs.get());
    }

    @Test
    void otherSleepTypesAndTheWakeStatusClearDoNothing() {
        for (int type = 0; type < 8; type++) {
            if (type != 5) {
                device.write(0, 1, (type << 2) | (1 << 5));
            }
        }
        device.write(0, 1, 0x80); // WAK_STS write-to-clear, before every sleep
        assertEquals(0, powerOffs.get());
        assertEquals(0, resets.get());
    }

    @Test
    void resetValueResets() {
        device.write(0, 1, 1);
        assertEquals(1, resets.get());
        assertEquals(0, powerOffs.get());
    }

    @Test
    void onlyTheLowByteOfAWiderWriteCounts() {
        device.write(0, 4, 0x1234_0001L);
        assertEquals(1, resets.get());
    }

    @Test
    void readsReturnZeroSoWakeStatusIsNeverSet() {
        assertEquals(0, device.read(0, 1));
    }

    /** The two layers cannot see each other's constants, so this test holds them in step. */
    @Test
    void agreesWithWhatTheFadtAndDsdtTellTheGuest() {
        assertEquals(Fadt.POWER_REGISTER_PORT, AcpiPowerDevice.PORT);
        assertEquals(1, AcpiPowerDevice.LENGTH);
        device.write(0, 1, Fadt.RESET_VALUE);
        assertEquals(1, resets.get());
        device.write(0, 1, (Dsdt.S5_SLEEP_TYPE << 2) | (1 << 5));
        assertEquals(1, powerOffs.get());
    }
}
