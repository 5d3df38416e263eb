package vessel.boot.acpi;

/**
 * The Firmware ACPI Control Structure (ACPI 6.5, 5.2.10): where the OS leaves the address the boot CPU
 * restarts at when the machine wakes from S3 (the firmware waking vector), and the global lock the OS
 * shares with firmware (unused here: no firmware runs beside the guest). Unlike the other tables it has
 * no standard header and no checksum, and it must start on a 64-byte boundary.
 */
public record Facs(int hardwareSignature) {
    static final String SIGNATURE = "FACS";
    public static final int LENGTH = 64;
    public static final int ALIGNMENT = 64;
    /** Version 2: the 64-bit X_Firmware_Waking_Vector and the OSPM flags exist. */
    static final int VERSION = 2;

    /** Real-mode wake: the boot CPU starts at CS = vector >> 4, IP = vector & 0xF. */
    public static final int FIRMWARE_WAKING_VECTOR_OFFSET = 12;
    public static final int GLOBAL_LOCK_OFFSET = 16;
    public static final int FLAGS_OFFSET = 20;
    /** When non-zero, it wins over the 32-bit vector; entered in 32-bit protected mode, paging off. */
    public static final int X_FIRMWARE_WAKING_VECTOR_OFFSET = 24;
    public static final int VERSION_OFFSET = 32;
    public static final int OSPM_FLAGS_OFFSET = 36;

    public byte[] toBytes() {
        return new ByteWriter()
                .ascii(SIGNATURE, 4)
                .u32(LENGTH)
                .u32(hardwareSignature & 0xffff_ffffL)
                .u32(0) // Firmware_Waking_Vector: the OS writes it before it sleeps
                .u32(0) // Global_Lock: free
                // Flags: no S4BIOS_F, and no 64BIT_WAKE_SUPPORTED_F: a 64-bit waking environment is not offered
                .u32(0)
                .u64(0) // X_Firmware_Waking_Vector
                .u8(VERSION)
                .zeros(3)
                .u32(0) // OSPM flags
                .zeros(24)
                .toByteArray();
    }
}
