package vessel.boot.firmware;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

import vessel.boot.acpi.AcpiPlatform;
import vessel.boot.acpi.AcpiTables;
import vessel.boot.acpi.Mcfg;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The table-loader's commands, run as SeaBIOS's romfile_loader runs them, must leave in guest memory
 * exactly what a direct boot's {@link AcpiTables#write} puts there for the same addresses.
 */
class FirmwareAcpiTest {
    private static final AcpiPlatform PLATFORM = AcpiPlatform.forCpus(2).withPciEcam(new Mcfg(0xe000_0000L, 0, 0));
    private static final long TABLES_AT = 0x0ffe_0000L;
    private static final long RSDP_AT = 0xf5a40;

    @Test
    void theLoaderPlacesPatchesAndChecksumsTheTablesAsADirectBootWritesThem() {
        FirmwareAcpi acpi = FirmwareAcpi.build(PLATFORM);
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory loaded = TestMemory.of(arena, 256 << 20);
            Map<String, Long> placed = runLoader(acpi, loaded);
            assertEquals(TABLES_AT, placed.get(FirmwareAcpi.TABLES_FILE));
            assertEquals(RSDP_AT, placed.get(FirmwareAcpi.RSDP_FILE));

            GuestMemory direct = TestMemory.of(arena, 256 << 20);
            AcpiTables.Placement p = AcpiTables.write(direct, TABLES_AT, PLATFORM);
            int length = (int) p.size();
            assertEquals(acpi.tables().length, length);
            assertArrayEquals(direct.read(TABLES_AT + 36, length - 36), loaded.read(TABLES_AT + 36, length - 36),
                    "tables with every pointer an address and every checksum right");
            assertArrayEquals(direct.read(TABLES_AT, 36), loaded.read(RSDP_AT, 36), "the RSDP, pointing at the XSDT");
            assertEquals(0, sum(loaded.read(RSDP_AT, 20)));
            assertEquals(0, sum(loaded.read(RSDP_AT, 36)));
        }
    }

    @Test
    void commandsAre128BytesAndTheFilesComeFirst() {
        byte[] loader = FirmwareAcpi.build(PLATFORM).loader();
        assertEquals(0, loader.length % TableLoader.ENTRY_SIZE);
        assertEquals(TableLoader.ALLOCATE, loader[0]);
        assertEquals(FirmwareAcpi.TABLES_FILE, name(loader, 4));
        assertEquals(TableLoader.ALLOCATE, loader[128]);
        assertEquals(FirmwareAcpi.RSDP_FILE, name(loader, 132));
        assertEquals(TableLoader.Zone.FSEG.code, loader[128 + 4 + 56 + 4]);
    }

    /** SeaBIOS src/fw/romfile_loader.c, in short: files at fixed addresses instead of a malloc. */
    private static Map<String, Long> runLoader(FirmwareAcpi acpi, GuestMemory memory) {
        Map<String, byte[]> files = Map.of(FirmwareAcpi.TABLES_FILE, acpi.tables(), FirmwareAcpi.RSDP_FILE, acpi.rsdp());
        Map<String, Long> at = new HashMap<>();
        ByteBuffer b = ByteBuffer.wrap(acpi.loader()).order(ByteOrder.LITTLE_ENDIAN);
        for (int e = 0; e < acpi.loader().length; e += TableLoader.ENTRY_SIZE) {
            int command = b.getInt(e);
            switch (command) {
                case TableLoader.ALLOCATE -> {
                    String file = name(acpi.loader(), e + 4);
                    int zone = acpi.loader()[e + 4 + 56 + 4];
                    long address = zone == TableLoader.Zone.FSEG.code ? RSDP_AT : TABLES_AT;
                    assertEquals(0, address % b.getInt(e + 4 + 56), "alignment");
                    memory.write(address, files.get(file));
                    at.put(file, address);
                }
                case TableLoader.ADD_POINTER -> {
                    long dest = at.get(name(acpi.loader(), e + 4));
                    long source = at.get(name(acpi.loader(), e + 4 + 56));
                    int offset = b.getInt(e + 4 + 112);
                    int size = acpi.loader()[e + 4 + 116];
                    long value = 0;
                    for (int i = size - 1; i >= 0; i--) {
                        value = (value << 8) | (memory.readByte(dest + offset + i) & 0xff);
                    }
                    value += source;
                    for (int i = 0; i < size; i++) {
                        memory.writeByte(dest + offset + i, (byte) (value >>> (8 * i)));
                    }
                }
                case TableLoader.ADD_CHECKSUM -> {
                    long file = at.get(name(acpi.loader(), e + 4));
                    int field = b.getInt(e + 4 + 56);
                    int start = b.getInt(e + 4 + 60);
                    int length = b.getInt(e + 4 + 64);
                    byte s = (byte) sum(memory.read(file + start, length));
                    memory.writeByte(file + field, (byte) (memory.readByte(file + field) - s));
                }
                default -> throw new AssertionError("command " + command);
            }
        }
        assertTrue(at.size() == 2);
        return at;
    }

    private static String name(byte[] b, int at) {
        int end = at;
        while (b[end] != 0) {
            end++;
        }
        return new String(b, at, end - at, StandardCharsets.US_ASCII);
    }

    private static int sum(byte[] b) {
        int s = 0;
        for (byte x : b) {
            s += x;
        }
        return s & 0xff;
    }
}
