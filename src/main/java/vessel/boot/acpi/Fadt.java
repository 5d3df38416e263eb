package vessel.boot.acpi;

/**
 * The Fixed ACPI Description Table (ACPI 6.5, 5.2.9) of a hardware-reduced platform: no PM1 event or
 * control blocks, no PM timer, no GPE blocks, no SCI and no FACS. What remains are the boot architecture
 * flags, the DSDT, and two registers: a sleep control/status register for power-off and a reset
 * register, both one byte at {@link #POWER_REGISTER_PORT} (the device behind it is
 * the devices layer's {@code AcpiPowerDevice}).
 */
public record Fadt(long dsdtAddress) {
    static final String SIGNATURE = "FACP";
    /** FADT revision 6, minor 5: ACPI 6.5. */
    static final int REVISION = 6;
    static final int MINOR_REVISION = 5;
    public static final int LENGTH = 276;

    /** The I/O port of the sleep control, sleep status and reset registers (VGA's, free: there is no VGA). */
    public static final int POWER_REGISTER_PORT = 0x3c0;
    /** What the guest writes to the reset register to reset the machine. */
    public static final int RESET_VALUE = 1;

    /** IAPC_BOOT_ARCH: an i8042 at ports 0x60/0x64 (Linux probes for one only when this is set). */
    static final int BOOT_ARCH_8042 = 1 << 1;
    /** IAPC_BOOT_ARCH: do not probe for VGA. */
    static final int BOOT_ARCH_NO_VGA = 1 << 2;
    /** Flags: RESET_REG describes a usable reset register. */
    static final int FLAG_RESET_REG_SUP = 1 << 10;
    /** Flags: the fixed hardware (PM1, GPE, SCI) does not exist; sleep goes through SLEEP_CONTROL_REG. */
    static final int FLAG_HW_REDUCED_ACPI = 1 << 20;

    static final int IAPC_BOOT_ARCH_OFFSET = 109;
    static final int FLAGS_OFFSET = 112;
    static final int RESET_REG_OFFSET = 116;
    static final int RESET_VALUE_OFFSET = 128;
    static final int X_DSDT_OFFSET = 140;
    static final int SLEEP_CONTROL_REG_OFFSET = 244;
    static final int SLEEP_STATUS_REG_OFFSET = 256;

    /** Generic Address Structure: address space ID for system I/O, and access size 1 (byte). */
    private static final int GAS_SYSTEM_IO = 1;
    private static final int GAS_BYTE_ACCESS = 1;

    public byte[] toBytes() {
        ByteWriter body = new ByteWriter()
                .u32(0) // FIRMWARE_CTRL: no FACS, which a hardware-reduced platform may omit
                .u32(0) // DSDT: zero, the guest reads X_DSDT
                .u8(0) // reserved (was INT_MODEL)
                .u8(0) // Preferred_PM_Profile: unspecified
                .u16(0) // SCI_INT: none without fixed hardware
                .u32(0) // SMI_CMD: no SMM, ACPI is always enabled
                .u8(0).u8(0).u8(0).u8(0) // ACPI_ENABLE, ACPI_DISABLE, S4BIOS_REQ, PSTATE_CNT
                .zeros(4 * 8) // PM1a/b event, PM1a/b control, PM2 control, PM timer, GPE0, GPE1 blocks
                .zeros(8) // their lengths, GPE1_BASE, CST_CNT
                .u16(0).u16(0) // P_LVL2_LAT, P_LVL3_LAT
                .u16(0).u16(0) // FLUSH_SIZE, FLUSH_STRIDE
                .u8(0).u8(0) // DUTY_OFFSET, DUTY_WIDTH
                .u8(0).u8(0).u8(0) // DAY_ALRM, MON_ALRM, CENTURY: no RTC alarm described
                .u16(BOOT_ARCH_8042 | BOOT_ARCH_NO_VGA) // IAPC_BOOT_ARCH; MSI stays allowed
                .u8(0) // reserved
                .u32(FLAG_HW_REDUCED_ACPI | FLAG_RESET_REG_SUP)
                .bytes(powerRegister()) // RESET_REG
                .u8(RESET_VALUE)
                .u16(0) // ARM_BOOT_ARCH
                .u8(MINOR_REVISION)
                .u64(0) // X_FIRMWARE_CTRL
                .u64(dsdtAddress) // X_DSDT
                .zeros(8 * 12) // X_ PM1a/b event, PM1a/b control, PM2 control, PM timer, GPE0, GPE1
                .bytes(powerRegister()) // SLEEP_CONTROL_REG
                .bytes(powerRegister()) // SLEEP_STATUS_REG
                .ascii(TableHeader.OEM_ID, 8); // hypervisor vendor identity
        return TableHeader.table(SIGNATURE, REVISION, body.toByteArray());
    }

    /** The Generic Address Structure of {@link #POWER_REGISTER_PORT}: 8 bits of system I/O. */
    private static byte[] powerRegister() {
        return new ByteWriter()
                .u8(GAS_SYSTEM_IO)
                .u8(8) // register bit width
                .u8(0) // bit offset
                .u8(GAS_BYTE_ACCESS)
                .u64(POWER_REGISTER_PORT)
                .toByteArray();
    }
}
