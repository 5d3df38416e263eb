package vessel.boot.acpi;

/**
 * The Root System Description Pointer (ACPI 6.5, 5.2.5), in its ACPI 2.0+ form: where the guest finds
 * the XSDT. Its first 20 bytes (the ACPI 1.0 structure) have their own checksum; the extended checksum
 * covers all 36. The 32-bit RSDT address is zero: a 2.0+ guest uses the XSDT alone.
 */
public record Rsdp(long xsdtAddress) {
    public static final int LENGTH = 36;
    /** The revision that marks the ACPI 2.0+ structure, with a length and the XSDT address. */
    static final int REVISION = 2;
    static final String SIGNATURE = "RSD PTR ";
    static final int V1_LENGTH = 20;
    static final int CHECKSUM_OFFSET = 8;
    static final int EXTENDED_CHECKSUM_OFFSET = 32;
    static final int XSDT_ADDRESS_OFFSET = 24;

    public byte[] toBytes() {
        byte[] rsdp = new ByteWriter()
                .ascii(SIGNATURE, 8)
                .u8(0) // checksum
                .ascii(TableHeader.OEM_ID, 6)
                .u8(REVISION)
                .u32(0) // RSDT address
                .u32(LENGTH)
                .u64(xsdtAddress)
                .u8(0) // extended checksum
                .zeros(3)
                .toByteArray();
        rsdp[CHECKSUM_OFFSET] = ByteWriter.checksum(rsdp, 0, V1_LENGTH);
        rsdp[EXTENDED_CHECKSUM_OFFSET] = ByteWriter.checksum(rsdp, 0, LENGTH);
        return rsdp;
    }
}
