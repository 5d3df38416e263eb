package vessel.devices.legacy;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import vessel.boot.acpi.Dsdt;
import vessel.boot.acpi.Fadt;

import static org.junit.jupiter.api.Assertions.assertEquals;

class AcpiPm1DeviceTest {
    private final List<String> events = new ArrayList<>();
    private final AcpiPm1Device device = new AcpiPm1Device(new AcpiPm1Device.Sleep() {
        @Override
        public void suspend() {
            events.add("S3");
        }

        @Override
        public void powerOff() {
            events.add("S5");
        }
    });

    private static int control(int sleepType, boolean enable) {
        return (sleepType << 10) | (enable ? 1 << 13 : 0);
    }

    @Test
    void linuxsTwoStepS3WriteSuspendsOnceOnSleepEnable() {
        // acpi_hw_legacy_sleep: SLP_TYP first, then SLP_TYP | SLP_EN, both 16-bit writes with SCI_EN kept
        device.write(4, 2, 1 | control(Dsdt.S3_SLEEP_TYPE, false));
        assertEquals(List.of(), events);
        device.write(4, 2, 1 | control(Dsdt.S3_SLEEP_TYPE, true));
        assertEquals(List.of("S3"), events);
        assertEquals(1 | control(Dsdt.S3_SLEEP_TYPE, false), device.read(4, 2), "SLP_EN reads 0, SLP_TYP stays");
    }

    @Test
    void s5PowersOffAndOtherTypesDoNothing() {
        for (int type = 0; type < 8; type++) {
            if (type != Dsdt.S3_SLEEP_TYPE && type != Dsdt.S5_SLEEP_TYPE) {
                device.write(4, 2, control(type, true));
            }
        }
        assertEquals(List.of(), events);
        device.write(4, 2, control(Dsdt.S5_SLEEP_TYPE, true));
        assertEquals(List.of("S5"), events);
    }

    @Test
    void sleepEnableInTheHighByteAloneUsesTheStoredType() {
        device.write(4, 2, control(Dsdt.S3_SLEEP_TYPE, false));
        device.write(5, 1, control(Dsdt.S3_SLEEP_TYPE, true) >> 8);
        assertEquals(List.of("S3"), events);
    }

    @Test
    void wakeSetsWakeStatusWhichTheGuestClearsByWritingOne() {
        assertEquals(0, device.read(0, 2));
        device.wake();
        assertEquals(0x8000, device.read(0, 2));
        device.write(0, 2, 0x0001); // another bit: WAK_STS stays
        assertEquals(0x8000, device.read(0, 2));
        device.write(0, 2, 0x8000);
        assertEquals(0, device.read(0, 2));
    }

    @Test
    void enableKeepsDefinedBitsAndSciEnableAlwaysReadsOne() {
        device.write(2, 2, 0xffff);
        assertEquals(0x4721, device.read(2, 2), "TMR, GBL, PWRBTN, SLPBTN, RTC, PCIEXP_WAKE_DIS");
        device.write(4, 2, 0);
        assertEquals(1, device.read(4, 2) & 1);
        // a 32-bit read of the event block: status low, enable high
        device.wake();
        assertEquals(0x4721_8000L, device.read(0, 4));
        assertEquals(0xff, device.read(6, 1), "outside the block");
    }

    /** The two layers cannot see each other's constants, so this test holds them in step. */
    @Test
    void agreesWithWhatTheFadtAndDsdtTellTheGuest() {
        assertEquals(Fadt.PM1A_EVENT_PORT, AcpiPm1Device.PORT);
        assertEquals(Fadt.PM1A_CONTROL_PORT, AcpiPm1Device.PORT + AcpiPm1Device.CONTROL_OFFSET);
        assertEquals(Fadt.PM1_EVENT_LENGTH + Fadt.PM1_CONTROL_LENGTH, AcpiPm1Device.LENGTH);
        assertEquals(Dsdt.S3_SLEEP_TYPE, AcpiPm1Device.SUSPEND_SLEEP_TYPE);
        assertEquals(Dsdt.S5_SLEEP_TYPE, AcpiPm1Device.SOFT_OFF_SLEEP_TYPE);
    }
}
