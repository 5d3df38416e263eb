package vessel.boot.acpi;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

import vessel.memory.GuestMemory;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * ACPI tables found in guest memory the way a guest finds them: the RSDP leads to the XSDT, the XSDT
 * lists the tables, and the FADT leads to the DSDT and, on a platform with sleep states, the FACS
 * ({@code facsAddress} 0 and {@code facs} null on a hardware-reduced one). Each pointer is checked on the way.
 */
record TablesInMemory(byte[] rsdp, Map<String, TablesInMemory.Found> tables, long facsAddress, byte[] facs) {
    /** A table read back out of guest memory, and where it was. */
    record Found(long address, byte[] bytes) {}

    static TablesInMemory read(GuestMemory memory, long rsdpAddress) {
        byte[] rsdp = memory.read(rsdpAddress, Rsdp.LENGTH);
        assertEquals("RSD PTR ", ascii(rsdp, 0, 8));
        Found xsdt = table(memory, readLong(rsdp, Rsdp.XSDT_ADDRESS_OFFSET));
        assertEquals("XSDT", ascii(xsdt.bytes(), 0, 4));
        Map<String, Found> tables = new LinkedHashMap<>();
        tables.put("XSDT", xsdt);
        for (int offset = TableHeader.LENGTH; offset < xsdt.bytes().length; offset += 8) {
            Found t = table(memory, readLong(xsdt.bytes(), offset));
            tables.put(ascii(t.bytes(), 0, 4), t);
        }
        Found fadt = tables.get("FACP");
        assertEquals(Fadt.LENGTH, fadt.bytes().length);
        Found dsdt = table(memory, readLong(fadt.bytes(), Fadt.X_DSDT_OFFSET));
        assertEquals("DSDT", ascii(dsdt.bytes(), 0, 4));
        tables.put("DSDT", dsdt);
        long facsAddress = readLong(fadt.bytes(), Fadt.X_FIRMWARE_CTRL_OFFSET);
        assertEquals(facsAddress, readInt(fadt.bytes(), Fadt.FIRMWARE_CTRL_OFFSET) & 0xffff_ffffL);
        if (facsAddress == 0) {
            return new TablesInMemory(rsdp, tables, 0, null);
        }
        byte[] facs = memory.read(facsAddress, Facs.LENGTH);
        assertEquals("FACS", ascii(facs, 0, 4));
        assertEquals(Facs.LENGTH, readInt(facs, 4));
        return new TablesInMemory(rsdp, tables, facsAddress, facs);
    }

    byte[] bytes(String signature) {
        return tables.get(signature).bytes();
    }

    private static Found table(GuestMemory memory, long address) {
        return new Found(address, memory.read(address, memory.readInt(address + 4)));
    }

    static String ascii(byte[] data, int from, int length) {
        return new String(data, from, length, StandardCharsets.US_ASCII);
    }

    static int readInt(byte[] b, int offset) {
        return (b[offset] & 0xff) | (b[offset + 1] & 0xff) << 8 | (b[offset + 2] & 0xff) << 16 | (b[offset + 3] & 0xff) << 24;
    }

    static long readLong(byte[] b, int offset) {
        return (readInt(b, offset) & 0xffff_ffffL) | (long) readInt(b, offset + 4) << 32;
    }
}
