package vessel.boot.firmware;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import vessel.boot.acpi.AcpiPlatform;
import vessel.boot.acpi.AcpiTables;
import vessel.memory.GuestMemory;
import vessel.memory.MemoryRegion;

/**
 * Vessel's ACPI tables in the form QEMU gives them to firmware: {@code etc/acpi/rsdp}, the tables in
 * {@code etc/acpi/tables}, and the {@code etc/table-loader} commands that place both (the RSDP in the
 * F segment) and turn every pointer into an address.
 *
 * <p>The tables are laid out by {@link AcpiTables#write} as for a direct boot, but from address 0, so
 * that each pointer field holds an offset into the tables file: exactly what the loader's ADD_POINTER
 * (which adds the file's address to the field) expects. The pointers are then found by walking what
 * was written, RSDP to XSDT to each table, so a table added to {@link AcpiTables} is covered too.
 */
public record FirmwareAcpi(byte[] rsdp, byte[] tables, byte[] loader) {
    public static final String RSDP_FILE = "etc/acpi/rsdp";
    public static final String TABLES_FILE = "etc/acpi/tables";
    public static final String LOADER_FILE = "etc/table-loader";
    /** The tables' room in a direct boot (0xE0000-0xFFFFF) bounds them here too. */
    static final int MAX_SIZE = 128 << 10;

    static final int RSDP_LENGTH = 36;
    static final int RSDP_XSDT = 24;
    static final int HEADER_LENGTH = 36;
    static final int FADT_FIRMWARE_CTRL = 36;
    static final int FADT_DSDT = 40;
    static final int FADT_X_FIRMWARE_CTRL = 132;
    static final int FADT_X_DSDT = 140;

    public static FirmwareAcpi build(AcpiPlatform platform) {
        byte[] blob;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment scratch = arena.allocate(MAX_SIZE, 4096);
            GuestMemory memory = GuestMemory.wrap(List.of(new MemoryRegion(0, 0, scratch)));
            AcpiTables.Placement p = AcpiTables.write(memory, 0, platform);
            blob = memory.read(0, (int) p.end());
        }
        byte[] rsdp = Arrays.copyOf(blob, RSDP_LENGTH);
        byte[] tables = blob.clone();
        Arrays.fill(tables, 0, RSDP_LENGTH, (byte) 0); // the RSDP lives in its own file

        TableLoader loader = new TableLoader()
                .allocate(TABLES_FILE, 64, TableLoader.Zone.HIGH)
                .allocate(RSDP_FILE, 16, TableLoader.Zone.FSEG);
        int xsdt = (int) le(rsdp, RSDP_XSDT, 8);
        int xsdtLength = tableLength(tables, xsdt);
        for (int at = xsdt + HEADER_LENGTH; at + 8 <= xsdt + xsdtLength; at += 8) {
            int table = (int) le(tables, at, 8);
            tableLength(tables, table);
            loader.addPointer(TABLES_FILE, TABLES_FILE, at, 8);
            if (signature(tables, table).equals("FACP")) {
                pointerIfSet(loader, tables, table, FADT_FIRMWARE_CTRL, 4);
                pointerIfSet(loader, tables, table, FADT_DSDT, 4);
                if (tableLength(tables, table) >= FADT_X_DSDT + 8) {
                    pointerIfSet(loader, tables, table, FADT_X_FIRMWARE_CTRL, 8);
                    pointerIfSet(loader, tables, table, FADT_X_DSDT, 8);
                }
            }
            loader.addChecksum(TABLES_FILE, table + 9, table, tableLength(tables, table));
        }
        loader.addChecksum(TABLES_FILE, xsdt + 9, xsdt, xsdtLength);
        loader.addPointer(RSDP_FILE, TABLES_FILE, RSDP_XSDT, 8);
        loader.addChecksum(RSDP_FILE, 8, 0, 20);
        loader.addChecksum(RSDP_FILE, 32, 0, RSDP_LENGTH);
        return new FirmwareAcpi(rsdp, tables, loader.toBytes());
    }

    private static void pointerIfSet(TableLoader loader, byte[] tables, int table, int field, int size) {
        if (le(tables, table + field, size) != 0) {
            loader.addPointer(TABLES_FILE, TABLES_FILE, table + field, size);
        }
    }

    private static int tableLength(byte[] tables, int table) {
        if (table < RSDP_LENGTH || table + HEADER_LENGTH > tables.length) {
            throw new IllegalStateException("ACPI table at offset " + table + " is outside the tables written");
        }
        long length = le(tables, table + 4, 4);
        if (length < HEADER_LENGTH || table + length > tables.length) {
            throw new IllegalStateException("ACPI table at offset " + table + " has length " + length);
        }
        return (int) length;
    }

    private static String signature(byte[] tables, int table) {
        return new String(tables, table, 4, StandardCharsets.US_ASCII);
    }

    static long le(byte[] b, int at, int size) {
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (b[at + i] & 0xff);
        }
        return v;
    }
}
