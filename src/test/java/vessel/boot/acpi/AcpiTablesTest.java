package vessel.boot.acpi;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import vessel.memory.GuestMemory;
import vessel.memory.MemoryRegion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static vessel.boot.acpi.TablesInMemory.ascii;
import static vessel.boot.acpi.TablesInMemory.readInt;
import static vessel.boot.acpi.TablesInMemory.readLong;

class AcpiTablesTest {
    static final long BASE = 0xe0000;

    private final Arena arena = Arena.ofConfined();
    private final GuestMemory memory = GuestMemory.wrap(List.of(new MemoryRegion(0, 0, arena.allocate(2L << 20, 4096))));

    @AfterEach
    void close() {
        arena.close();
    }

    static int sum(byte[] data, int from, int to) {
        int sum = 0;
        for (int i = from; i < to; i++) {
            sum += data[i];
        }
        return sum & 0xff;
    }

    private TablesInMemory tablesFrom(long rsdpAddress) {
        return TablesInMemory.read(memory, rsdpAddress);
    }

    @Test
    void rsdpAtTheBaseLeadsThroughTheXsdtToEveryTable() {
        AcpiTables.Placement placement = AcpiTables.write(memory, BASE, AcpiPlatform.forCpus(2)
                .withPciEcam(new Mcfg(0xe000_0000L, 0, 0)));
        assertEquals(BASE, placement.rsdpAddress());
        assertEquals(BASE, placement.start());
        Map<String, TablesInMemory.Found> tables = tablesFrom(placement.rsdpAddress()).tables();
        assertEquals(List.of("XSDT", "FACP", "APIC", "MCFG", "DSDT"), new ArrayList<>(tables.keySet()));
        for (var entry : tables.entrySet()) {
            TablesInMemory.Found t = entry.getValue();
            assertEquals(0, t.address() % AcpiTables.ALIGNMENT, entry.getKey() + " aligned");
            assertTrue(t.address() >= placement.start() + Rsdp.LENGTH, entry.getKey() + " after the RSDP");
            assertTrue(t.address() + t.bytes().length <= placement.end(), entry.getKey() + " inside the range");
        }
        assertTrue(placement.end() <= 0x100000, "all below 1 MiB, in the reserved BIOS area: " + placement);
    }

    @Test
    void everyTableSumsToZeroAndCarriesVesselsIds() {
        AcpiTables.Placement placement = AcpiTables.write(memory, BASE, AcpiPlatform.forCpus(4)
                .withPciEcam(new Mcfg(0xe000_0000L, 0, 255)));
        TablesInMemory found = tablesFrom(placement.rsdpAddress());
        byte[] rsdp = found.rsdp();
        assertEquals(0, sum(rsdp, 0, 20), "RSDP checksum over the ACPI 1.0 part");
        assertEquals(0, sum(rsdp, 0, 36), "RSDP extended checksum");
        assertEquals(2, rsdp[15], "RSDP revision");
        assertEquals(36, memory.readInt(placement.rsdpAddress() + 20), "RSDP length");
        assertEquals("VESSEL", ascii(rsdp, 9, 6));
        for (var entry : found.tables().entrySet()) {
            byte[] t = entry.getValue().bytes();
            assertEquals(0, sum(t, 0, t.length), entry.getKey() + " checksum");
            assertEquals("VESSEL", ascii(t, 10, 6), entry.getKey() + " OEM ID");
            assertEquals("VSSL" + entry.getKey(), ascii(t, 16, 8), entry.getKey() + " OEM table ID");
            assertEquals("VSSL", ascii(t, 28, 4), entry.getKey() + " creator ID");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 7, 255})
    void madtHasOneEnabledLocalApicPerCpuWithIdEqualToIndex(int cpus) {
        byte[] madt = tablesFrom(AcpiTables.write(memory, BASE, AcpiPlatform.forCpus(cpus).withSleepStates())
                .rsdpAddress()).bytes("APIC");
        assertEquals(0xfee0_0000, readInt(madt, 36), "local APIC address");
        assertEquals(Madt.PCAT_COMPAT, readInt(madt, 40));
        List<Integer> apicIds = new ArrayList<>();
        Map<Integer, Integer> countByType = new LinkedHashMap<>();
        for (int offset = 44; offset < madt.length; offset += madt[offset + 1] & 0xff) {
            int type = madt[offset];
            countByType.merge(type, 1, Integer::sum);
            switch (type) {
                case Madt.TYPE_LOCAL_APIC -> {
                    assertEquals(apicIds.size(), madt[offset + 2] & 0xff, "processor UID");
                    apicIds.add(madt[offset + 3] & 0xff);
                    assertEquals(1, readInt(madt, offset + 4), "enabled");
                }
                case Madt.TYPE_IO_APIC -> {
                    assertEquals(0, madt[offset + 2], "I/O APIC ID");
                    assertEquals(0xfec0_0000, readInt(madt, offset + 4));
                    assertEquals(0, readInt(madt, offset + 8), "GSI base");
                }
                case Madt.TYPE_INTERRUPT_SOURCE_OVERRIDE -> {
                    if (madt[offset + 3] == 0) { // the PIT
                        assertEquals(2, readInt(madt, offset + 4), "GSI 2");
                        assertEquals(0b0101, madt[offset + 8], "edge, active high");
                    } else {
                        assertEquals(9, madt[offset + 3], "source: ISA IRQ 9, the SCI");
                        assertEquals(9, readInt(madt, offset + 4), "GSI 9");
                        assertEquals(0b1101, madt[offset + 8], "level, active high");
                    }
                }
                case Madt.TYPE_LOCAL_APIC_NMI -> {
                    assertEquals(0xff, madt[offset + 2] & 0xff, "all processors");
                    assertEquals(1, madt[offset + 5], "LINT1");
                }
                default -> throw new AssertionError("unexpected MADT entry type " + type);
            }
        }
        assertEquals(cpus, apicIds.size());
        for (int i = 0; i < cpus; i++) {
            assertEquals(i, apicIds.get(i));
        }
        assertEquals(Map.of(0, cpus, 1, 1, 2, 2, 4, 1), countByType); // overrides: PIT and SCI
    }

    @Test
    void fadtHasPm1aBlocksAnSciAFacsAndTheResetRegisterAtPort3c0() {
        byte[] fadt = Fadt.withSleepStates(0x12345678L, 0xe1040L).toBytes();
        assertEquals(Fadt.LENGTH, fadt.length);
        assertEquals(6, fadt[8], "revision");
        assertEquals(5, fadt[131], "minor revision");
        int flags = readInt(fadt, Fadt.FLAGS_OFFSET);
        assertEquals(1 | (1 << 2) | (1 << 4) | (1 << 5) | (1 << 10), flags,
                "WBINVD | PROC_C1 | PWR_BUTTON | SLP_BUTTON | RESET_REG_SUP, and not HW_REDUCED_ACPI (bit 20)");
        int bootArch = (fadt[Fadt.IAPC_BOOT_ARCH_OFFSET] & 0xff) | (fadt[Fadt.IAPC_BOOT_ARCH_OFFSET + 1] & 0xff) << 8;
        assertEquals(0b0110, bootArch, "8042 present, VGA not present, MSI allowed");
        assertEquals(1, fadt[Fadt.RESET_REG_OFFSET], "system I/O");
        assertEquals(8, fadt[Fadt.RESET_REG_OFFSET + 1], "8 bits wide");
        assertEquals(0x3c0, readLong(fadt, Fadt.RESET_REG_OFFSET + 4));
        assertEquals(1, fadt[Fadt.RESET_VALUE_OFFSET]);
        assertEquals(0x12345678L, readLong(fadt, Fadt.X_DSDT_OFFSET));
        assertEquals(0xe1040L, readInt(fadt, Fadt.FIRMWARE_CTRL_OFFSET) & 0xffff_ffffL);
        assertEquals(0xe1040L, readLong(fadt, Fadt.X_FIRMWARE_CTRL_OFFSET));
        assertEquals(9, fadt[Fadt.SCI_INT_OFFSET]);
        assertEquals(0x600, readInt(fadt, Fadt.PM1A_EVT_BLK_OFFSET));
        assertEquals(0x604, readInt(fadt, Fadt.PM1A_CNT_BLK_OFFSET));
        assertEquals(4, fadt[Fadt.PM1_EVT_LEN_OFFSET]);
        assertEquals(2, fadt[Fadt.PM1_CNT_LEN_OFFSET]);
        assertEquals(0x600, readLong(fadt, Fadt.X_PM1A_EVT_BLK_OFFSET + 4));
        assertEquals(32, fadt[Fadt.X_PM1A_EVT_BLK_OFFSET + 1]);
        assertEquals(0x604, readLong(fadt, Fadt.X_PM1A_CNT_BLK_OFFSET + 4));
        assertEquals(16, fadt[Fadt.X_PM1A_CNT_BLK_OFFSET + 1]);
        for (int i = Fadt.SLEEP_CONTROL_REG_OFFSET; i < Fadt.SLEEP_CONTROL_REG_OFFSET + 24; i++) {
            assertEquals(0, fadt[i], "no hardware-reduced sleep registers");
        }
        assertEquals(0, sum(fadt, 0, fadt.length), "checksum");
        assertThrows(IllegalArgumentException.class, () -> Fadt.withSleepStates(0x1000, 0xe1010L), "FACS not 64-byte aligned");
        assertThrows(IllegalArgumentException.class, () -> Fadt.withSleepStates(0x1000, 0), "no FACS");
    }

    @Test
    void byDefaultTheFadtIsHardwareReducedWithTheSleepAndResetRegisterAtPort3c0AndThereIsNoFacs() {
        byte[] fadt = Fadt.hardwareReduced(0x12345678L).toBytes();
        assertEquals(Fadt.LENGTH, fadt.length);
        int flags = readInt(fadt, Fadt.FLAGS_OFFSET);
        assertEquals((1 << 20) | (1 << 10), flags, "HW_REDUCED_ACPI | RESET_REG_SUP");
        int bootArch = (fadt[Fadt.IAPC_BOOT_ARCH_OFFSET] & 0xff) | (fadt[Fadt.IAPC_BOOT_ARCH_OFFSET + 1] & 0xff) << 8;
        assertEquals(0b0110, bootArch, "8042 present, VGA not present, MSI allowed");
        for (int gas : new int[] {Fadt.RESET_REG_OFFSET, Fadt.SLEEP_CONTROL_REG_OFFSET, Fadt.SLEEP_STATUS_REG_OFFSET}) {
            assertEquals(1, fadt[gas], "system I/O");
            assertEquals(8, fadt[gas + 1], "8 bits wide");
            assertEquals(1, fadt[gas + 3], "byte access");
            assertEquals(0x3c0, readLong(fadt, gas + 4));
        }
        assertEquals(0, readInt(fadt, Fadt.FIRMWARE_CTRL_OFFSET));
        assertEquals(0, readLong(fadt, Fadt.X_FIRMWARE_CTRL_OFFSET));
        assertEquals(0, fadt[Fadt.SCI_INT_OFFSET]);
        assertEquals(0, readInt(fadt, Fadt.PM1A_EVT_BLK_OFFSET));
        assertEquals(0, readInt(fadt, Fadt.PM1A_CNT_BLK_OFFSET));
        assertEquals(0, sum(fadt, 0, fadt.length), "checksum");

        AcpiTables.Placement placement = AcpiTables.write(memory, BASE, AcpiPlatform.forCpus(2));
        assertEquals(0, placement.facsAddress());
        TablesInMemory found = tablesFrom(placement.rsdpAddress());
        assertEquals(null, found.facs());
        byte[] dsdt = found.bytes("DSDT");
        assertTrue(indexOf(dsdt, new byte[] {0x08, '_', 'S', '3', '_'}) < 0, "no \\_S3 without PM1 blocks");
        assertTrue(indexOf(dsdt, new byte[] {0x08, '_', 'S', '5', '_'}) >= 0);
        byte[] madt = found.bytes("APIC");
        assertTrue(indexOf(madt, new byte[] {2, 10, 0, 9}) < 0, "no SCI override");
        assertTrue(indexOf(madt, new byte[] {2, 10, 0, 0, 2, 0, 0, 0}) >= 0, "the PIT's override");
    }

    @Test
    void facsFollowsTheTablesOnA64ByteBoundaryAndTheFadtPointsAtIt() {
        AcpiTables.Placement placement = AcpiTables.write(memory, BASE, AcpiPlatform.forCpus(1).withSleepStates());
        long facs = placement.facsAddress();
        assertEquals(0, facs % 64);
        assertEquals(placement.end(), facs + Facs.LENGTH);
        byte[] fadt = tablesFrom(placement.rsdpAddress()).bytes("FACP");
        assertEquals(facs, readLong(fadt, Fadt.X_FIRMWARE_CTRL_OFFSET));
        byte[] bytes = memory.read(facs, Facs.LENGTH);
        assertEquals("FACS", TablesInMemory.ascii(bytes, 0, 4));
        assertEquals(64, readInt(bytes, 4), "length");
        assertEquals(0, readInt(bytes, Facs.FIRMWARE_WAKING_VECTOR_OFFSET));
        assertEquals(0, readInt(bytes, Facs.GLOBAL_LOCK_OFFSET));
        assertEquals(0, readInt(bytes, Facs.FLAGS_OFFSET), "no S4BIOS, no 64-bit waking environment");
        assertEquals(0, readLong(bytes, Facs.X_FIRMWARE_WAKING_VECTOR_OFFSET));
        assertEquals(2, bytes[Facs.VERSION_OFFSET]);
    }

    @Test
    void dsdtOffersS3AndS5() {
        byte[] dsdt = new Dsdt(List.of(), true).toBytes();
        // NameOp "_S3_" PackageOp len 6 (four elements): ByteConst... as AML encodes {1, 0, 0, 0}
        assertTrue(indexOf(dsdt, new byte[] {0x08, '_', 'S', '3', '_', 0x12, 0x06, 0x04, 0x01, 0x00, 0x00, 0x00}) >= 0);
        assertTrue(indexOf(dsdt, new byte[] {0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0a, 0x05, 0x00, 0x00, 0x00}) >= 0);
    }

    @Test
    void extraSystemBusDevicesLandInTheDsdtAndEcamInTheMcfg() {
        byte[] pci = Aml.device("PCI0", Aml.name("_HID", Aml.eisaId("PNP0A08")));
        AcpiPlatform platform = AcpiPlatform.forCpus(1).withSystemBusDevice(pci)
                .withPciEcam(new Mcfg(0xb000_0000L, 0, 255));
        TablesInMemory found = tablesFrom(AcpiTables.write(memory, BASE, platform).rsdpAddress());
        byte[] dsdt = found.bytes("DSDT");
        assertTrue(indexOf(dsdt, Dsdt.com1()) > 0, "COM1 in the DSDT");
        assertTrue(indexOf(dsdt, pci) > indexOf(dsdt, Dsdt.com1()), "the extra device follows COM1");
        byte[] mcfg = found.bytes("MCFG");
        assertEquals(60, mcfg.length);
        assertEquals(0xb000_0000L, readLong(mcfg, 44));
        assertEquals(255, mcfg[55] & 0xff, "end bus");
        assertEquals(256L << 20, new Mcfg(0xb000_0000L, 0, 255).windowSize());
    }

    @Test
    void withoutEcamThereIsNoMcfg() {
        TablesInMemory found = tablesFrom(AcpiTables.write(memory, BASE, AcpiPlatform.forCpus(1)).rsdpAddress());
        assertEquals(List.of("XSDT", "FACP", "APIC", "DSDT"), new ArrayList<>(found.tables().keySet()));
    }

    @Test
    void badInputsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> AcpiTables.write(memory, BASE + 8, AcpiPlatform.forCpus(1)));
        assertThrows(IllegalArgumentException.class, () -> AcpiPlatform.forCpus(0));
        assertThrows(IllegalArgumentException.class, () -> AcpiPlatform.forCpus(256));
        assertThrows(IllegalArgumentException.class, () -> new Mcfg(0xb000_1000L, 0, 255));
        assertThrows(IllegalArgumentException.class, () -> new Mcfg(0xb000_0000L, 1, 0));
    }

    static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
