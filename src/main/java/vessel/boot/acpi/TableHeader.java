package vessel.boot.acpi;

/**
 * The 36-byte header every ACPI system description table starts with (ACPI 6.5, 5.2.6): signature,
 * length, revision, checksum over the whole table, and the OEM and creator identities.
 */
final class TableHeader {
    static final int LENGTH = 36;
    static final int CHECKSUM_OFFSET = 9;
    /** The OEM ID in every table and the RSDP. */
    static final String OEM_ID = "VESSEL";
    /** The creator ID is the tool that built the table; a compiler puts its own here, a VMM its name. */
    static final String CREATOR_ID = "VSSL";
    static final int OEM_REVISION = 1;
    static final int CREATOR_REVISION = 1;

    private TableHeader() {}

    /** A complete table: the header for {@code body}, then the body, with the checksum set. */
    static byte[] table(String signature, int revision, byte[] body) {
        if (signature.length() != 4) {
            throw new IllegalArgumentException("a table signature has four characters: " + signature);
        }
        byte[] table = new ByteWriter()
                .ascii(signature, 4)
                .u32(LENGTH + body.length)
                .u8(revision)
                .u8(0) // checksum, set below
                .ascii(OEM_ID, 6)
                .ascii(oemTableId(signature), 8)
                .u32(OEM_REVISION)
                .ascii(CREATOR_ID, 4)
                .u32(CREATOR_REVISION)
                .bytes(body)
                .toByteArray();
        table[CHECKSUM_OFFSET] = ByteWriter.checksum(table, 0, table.length);
        return table;
    }

    /** "VSSL" and the signature, so each table's OEM table ID names the table (for example VSSLAPIC). */
    static String oemTableId(String signature) {
        return CREATOR_ID + signature;
    }
}
