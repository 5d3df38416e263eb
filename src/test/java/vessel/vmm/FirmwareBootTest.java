package vessel.vmm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

import vessel.boot.acpi.Aml;
import vessel.boot.firmware.FirmwareAcpi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A firmware-booted VM gets a PC's ACPI tables, not the hardware-reduced ones of a direct boot: SeaBIOS
 * leaves IRQ 0 on vector 8 with LINT0 in virtual-wire mode, and only on a PC platform does Linux reprogram
 * the 8259s before it enables interrupts (the nested-KVM boot of the Debian disk double-faulted without).
 */
class FirmwareBootTest {
    private static final int FADT_FLAGS = 112;
    private static final int FADT_SCI_INT = 46;
    private static final int FADT_PM1A_EVT_BLK = 56;
    private static final int FADT_X_FIRMWARE_CTRL = 132;
    private static final int FADT_X_DSDT = 140;
    private static final int HW_REDUCED_ACPI = 1 << 20;
    private static final int FADT_RESET_REG = 116;

    /** The tables by signature, each as its bytes, from the file SeaBIOS gets (offsets for addresses). */
    private static Map<String, ByteBuffer> tables(FirmwareAcpi acpi) {
        ByteBuffer blob = ByteBuffer.wrap(acpi.tables()).order(ByteOrder.LITTLE_ENDIAN);
        int xsdt = (int) ByteBuffer.wrap(acpi.rsdp()).order(ByteOrder.LITTLE_ENDIAN).getLong(24);
        Map<String, ByteBuffer> found = new HashMap<>();
        for (int at = xsdt + 36; at < xsdt + blob.getInt(xsdt + 4); at += 8) {
            int table = (int) blob.getLong(at);
            found.put(signature(acpi.tables(), table), blob.slice(table, blob.getInt(table + 4)).order(ByteOrder.LITTLE_ENDIAN));
        }
        ByteBuffer fadt = found.get("FACP");
        int dsdt = (int) fadt.getLong(FADT_X_DSDT);
        found.put("DSDT", blob.slice(dsdt, blob.getInt(dsdt + 4)).order(ByteOrder.LITTLE_ENDIAN));
        return found;
    }

    private static String signature(byte[] b, int at) {
        return new String(b, at, 4, StandardCharsets.US_ASCII);
    }

    @Test
    void firmwareVmsGetAPcFadtWithAnSciAndItsMadtOverrideAndNoS3() {
        byte[] bridge = Aml.device("PCI0", Aml.name("_HID", Aml.eisaId("PNP0A03")));
        Map<String, ByteBuffer> t = tables(FirmwareAcpi.build(FirmwareBoot.acpiPlatform(2, bridge)));

        ByteBuffer fadt = t.get("FACP");
        assertEquals(0, fadt.getInt(FADT_FLAGS) & HW_REDUCED_ACPI, "the FADT must not be hardware-reduced");
        assertEquals(9, fadt.getShort(FADT_SCI_INT), "SCI on ISA IRQ 9, as on a PC");
        assertEquals(0x600, fadt.getInt(FADT_PM1A_EVT_BLK), "PM1a event block (AcpiPm1Device)");
        assertNotEquals(0, fadt.getLong(FADT_X_FIRMWARE_CTRL), "a FACS");
        // The firmware reports a VGA text console, so Linux's vgacon writes 0..15 to VGA's port 0x3C0 (the
        // direct boot's reset register, reset value 1): a nested boot reset silently there.
        assertEquals(0x606, fadt.getLong(FADT_RESET_REG + 4), "the reset register is off the VGA ports");
        assertEquals(0x606, vessel.devices.legacy.AcpiPowerDevice.PC_PORT, "where Vessel serves it");

        ByteBuffer madt = t.get("APIC");
        boolean pit = false;
        boolean sci = false;
        for (int at = 44; at + 2 <= madt.limit(); at += madt.get(at + 1) & 0xff) {
            if (madt.get(at) == 2) { // interrupt source override: bus, source IRQ, GSI, flags
                int irq = madt.get(at + 3);
                int gsi = madt.getInt(at + 4);
                pit |= irq == 0 && gsi == 2;
                sci |= irq == 9 && gsi == 9 && (madt.getShort(at + 8) & 0xf) == 0b1101;
            }
        }
        assertTrue(pit, "IRQ 0 on GSI 2");
        assertTrue(sci, "the SCI on GSI 9, level-triggered active high");

        byte[] dsdt = new byte[t.get("DSDT").limit()];
        t.get("DSDT").get(0, dsdt);
        String aml = new String(dsdt, StandardCharsets.ISO_8859_1);
        assertTrue(aml.contains("_S5_"), "soft off");
        assertFalse(aml.contains("_S3_"), "no suspend to RAM: the VMM cannot wake a firmware-placed FACS");
        assertTrue(aml.contains("PCI0"), "the host bridge handed in");
    }
}
