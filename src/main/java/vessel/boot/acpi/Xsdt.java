package vessel.boot.acpi;

import java.util.List;

/** The Extended System Description Table (ACPI 6.5, 5.2.8): the 64-bit addresses of every other table. */
public record Xsdt(List<Long> tableAddresses) {
    static final String SIGNATURE = "XSDT";
    static final int REVISION = 1;

    public Xsdt {
        tableAddresses = List.copyOf(tableAddresses);
    }

    public static int length(int tables) {
        return TableHeader.LENGTH + 8 * tables;
    }

    public byte[] toBytes() {
        ByteWriter body = new ByteWriter();
        tableAddresses.forEach(body::u64);
        return TableHeader.table(SIGNATURE, REVISION, body.toByteArray());
    }
}
