package vessel.boot.acpi;

/**
 * The Fixed ACPI Description Table (ACPI 6.5, 5.2.9), in one of two shapes:
 * <ul>
 * <li>{@link #hardwareReduced}: no PM1 event or control blocks, no PM timer, no GPE blocks, no SCI and
 * no FACS; a one-byte sleep control/status register for power-off. Linux then sets up neither the
 * 8259s nor the PIT: the shape Firecracker and Cloud Hypervisor use, and Vessel's default.</li>
 * <li>{@link #withSleepStates}: the PM1a event and control blocks (at {@link #PM1A_EVENT_PORT}; the
 * devices layer's {@code AcpiPm1Device}), an SCI on ISA IRQ 9 that nothing raises, and a FACS; no PM
 * timer, no GPE blocks, no SMI command port (ACPI is always on). Sleeping and waking need the FACS,
 * which ACPICA, and so Linux, ignores on a hardware-reduced platform (acpi_tb_parse_fadt): there the OS
 * could not leave a waking vector.</li>
 * </ul>
 * Both have the reset register, one byte at {@link #POWER_REGISTER_PORT} (the {@code AcpiPowerDevice}); a
 * {@link #pc} table, the second shape for a firmware boot, has it at {@link #PC_RESET_PORT} instead.
 *
 * @param facsAddress where the FACS is, or 0 for a hardware-reduced platform (which has none)
 * @param resetPort   the reset register's I/O port: {@link #POWER_REGISTER_PORT}, or {@link #PC_RESET_PORT}
 *                    on a {@link #pc} platform
 */
public record Fadt(long dsdtAddress, long facsAddress, int resetPort) {
    static final String SIGNATURE = "FACP";
    /** FADT revision 6, minor 5: ACPI 6.5. */
    static final int REVISION = 6;
    static final int MINOR_REVISION = 5;
    public static final int LENGTH = 276;

    /**
     * The I/O port of the reset register, and on a hardware-reduced platform of the sleep control and
     * status registers (VGA's, free: there is no VGA).
     */
    public static final int POWER_REGISTER_PORT = 0x3c0;
    /**
     * The reset register of a PC platform booted through firmware, just after the PM1a blocks: not
     * {@link #POWER_REGISTER_PORT}, VGA's attribute port, which Linux's VGA text console writes 0 to 15 to
     * when the firmware reports a VGA text mode (SeaBIOS's serial console does), and 1 is the reset value.
     */
    public static final int PC_RESET_PORT = 0x606;
    /** PM1a_EVT_BLK: PM1 status (2 bytes) then PM1 enable (2 bytes); PM1a_CNT_BLK follows (2 bytes). */
    public static final int PM1A_EVENT_PORT = 0x600;
    public static final int PM1_EVENT_LENGTH = 4;
    public static final int PM1A_CONTROL_PORT = PM1A_EVENT_PORT + PM1_EVENT_LENGTH;
    public static final int PM1_CONTROL_LENGTH = 2;
    /** The SCI's ISA IRQ (as on PCs); the MADT gives it a level-triggered, active-high override. */
    public static final int SCI_IRQ = 9;
    /** What the guest writes to the reset register to reset the machine. */
    public static final int RESET_VALUE = 1;

    /** IAPC_BOOT_ARCH: an i8042 at ports 0x60/0x64 (Linux probes for one only when this is set). */
    static final int BOOT_ARCH_8042 = 1 << 1;
    /** IAPC_BOOT_ARCH: do not probe for VGA. */
    static final int BOOT_ARCH_NO_VGA = 1 << 2;
    /** Flags: WBINVD works (required of every ACPI machine since 2.0), and C1 (HLT) works on every CPU. */
    static final int FLAG_WBINVD = 1;
    static final int FLAG_PROC_C1 = 1 << 2;
    /** Flags: no fixed-feature power or sleep button. */
    static final int FLAG_PWR_BUTTON = 1 << 4;
    static final int FLAG_SLP_BUTTON = 1 << 5;
    /** Flags: RESET_REG describes a usable reset register. */
    static final int FLAG_RESET_REG_SUP = 1 << 10;

    /** C2 and C3 latencies above 100 and 1000 microseconds say the states are not supported. */
    static final int NO_C2_LATENCY = 101;
    static final int NO_C3_LATENCY = 1001;

    static final int FIRMWARE_CTRL_OFFSET = 36;
    static final int SCI_INT_OFFSET = 46;
    static final int PM1A_EVT_BLK_OFFSET = 56;
    static final int PM1A_CNT_BLK_OFFSET = 64;
    static final int PM1_EVT_LEN_OFFSET = 88;
    static final int PM1_CNT_LEN_OFFSET = 89;
    static final int IAPC_BOOT_ARCH_OFFSET = 109;
    static final int FLAGS_OFFSET = 112;
    static final int RESET_REG_OFFSET = 116;
    static final int RESET_VALUE_OFFSET = 128;
    static final int X_FIRMWARE_CTRL_OFFSET = 132;
    static final int X_DSDT_OFFSET = 140;
    static final int X_PM1A_EVT_BLK_OFFSET = 148;
    static final int X_PM1A_CNT_BLK_OFFSET = 172;
    static final int SLEEP_CONTROL_REG_OFFSET = 244;
    static final int SLEEP_STATUS_REG_OFFSET = 256;
    /** Flags: the fixed hardware (PM1, GPE, SCI) does not exist; sleep goes through SLEEP_CONTROL_REG. */
    static final int FLAG_HW_REDUCED_ACPI = 1 << 20;

    /** Generic Address Structure: address space ID for system I/O, and access size 1 (byte). */
    private static final int GAS_SYSTEM_IO = 1;
    private static final int GAS_BYTE_ACCESS = 1;
    private static final int GAS_WORD_ACCESS = 2;

    public Fadt {
        if (resetPort != POWER_REGISTER_PORT && resetPort != PC_RESET_PORT) {
            throw new IllegalArgumentException("no reset register at port 0x" + Integer.toHexString(resetPort));
        }
        if (resetPort == PC_RESET_PORT && facsAddress == 0) {
            throw new IllegalArgumentException("a hardware-reduced platform has its reset register at 0x"
                    + Integer.toHexString(POWER_REGISTER_PORT));
        }
        if (facsAddress != 0 && (facsAddress < 0 || facsAddress > 0xffff_ffffL || facsAddress % Facs.ALIGNMENT != 0)) {
            throw new IllegalArgumentException("the FACS needs a 64-byte-aligned address below 4 GiB, not 0x"
                    + Long.toHexString(facsAddress));
        }
    }

    /** A hardware-reduced platform's table: no fixed hardware, no FACS, no sleep but S5. */
    public static Fadt hardwareReduced(long dsdtAddress) {
        return new Fadt(dsdtAddress, 0, POWER_REGISTER_PORT);
    }

    /** A table with PM1a blocks, an SCI and the FACS at {@code facsAddress}: what S3 needs. */
    public static Fadt withSleepStates(long dsdtAddress, long facsAddress) {
        if (facsAddress == 0) {
            throw new IllegalArgumentException("sleep states need a FACS");
        }
        return new Fadt(dsdtAddress, facsAddress, POWER_REGISTER_PORT);
    }

    /** A PC's table, as {@link #withSleepStates} but with the reset register at {@link #PC_RESET_PORT}. */
    public static Fadt pc(long dsdtAddress, long facsAddress) {
        if (facsAddress == 0) {
            throw new IllegalArgumentException("a PC platform has a FACS");
        }
        return new Fadt(dsdtAddress, facsAddress, PC_RESET_PORT);
    }

    public boolean isHardwareReduced() {
        return facsAddress == 0;
    }

    public byte[] toBytes() {
        return isHardwareReduced() ? hardwareReducedBytes() : sleepStatesBytes();
    }

    private byte[] hardwareReducedBytes() {
        byte[] power = io(POWER_REGISTER_PORT, 8, GAS_BYTE_ACCESS);
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
                .bytes(power) // RESET_REG
                .u8(RESET_VALUE)
                .u16(0) // ARM_BOOT_ARCH
                .u8(MINOR_REVISION)
                .u64(0) // X_FIRMWARE_CTRL
                .u64(dsdtAddress) // X_DSDT
                .zeros(8 * 12) // X_ PM1a/b event, PM1a/b control, PM2 control, PM timer, GPE0, GPE1
                .bytes(power) // SLEEP_CONTROL_REG
                .bytes(power) // SLEEP_STATUS_REG
                .ascii(TableHeader.OEM_ID, 8); // hypervisor vendor identity
        return TableHeader.table(SIGNATURE, REVISION, body.toByteArray());
    }

    private byte[] sleepStatesBytes() {
        ByteWriter body = new ByteWriter()
                .u32(facsAddress) // FIRMWARE_CTRL; X_FIRMWARE_CTRL holds the same address
                .u32(0) // DSDT: zero, the guest reads X_DSDT
                .u8(0) // reserved (was INT_MODEL)
                .u8(0) // Preferred_PM_Profile: unspecified
                .u16(SCI_IRQ) // SCI_INT
                .u32(0) // SMI_CMD: no SMM, ACPI is always enabled
                .u8(0).u8(0).u8(0).u8(0) // ACPI_ENABLE, ACPI_DISABLE, S4BIOS_REQ, PSTATE_CNT
                .u32(PM1A_EVENT_PORT) // PM1a_EVT_BLK
                .u32(0) // PM1b_EVT_BLK
                .u32(PM1A_CONTROL_PORT) // PM1a_CNT_BLK
                .zeros(4 * 5) // PM1b control, PM2 control, PM timer, GPE0, GPE1 blocks: none
                .u8(PM1_EVENT_LENGTH).u8(PM1_CONTROL_LENGTH)
                .zeros(6) // PM2_CNT_LEN, PM_TMR_LEN, GPE0/1_BLK_LEN, GPE1_BASE, CST_CNT
                .u16(NO_C2_LATENCY).u16(NO_C3_LATENCY) // P_LVL2_LAT, P_LVL3_LAT
                .u16(0).u16(0) // FLUSH_SIZE, FLUSH_STRIDE
                .u8(0).u8(0) // DUTY_OFFSET, DUTY_WIDTH
                .u8(0).u8(0).u8(0) // DAY_ALRM, MON_ALRM, CENTURY: no RTC alarm described
                .u16(BOOT_ARCH_8042 | BOOT_ARCH_NO_VGA) // IAPC_BOOT_ARCH; MSI stays allowed
                .u8(0) // reserved
                .u32(FLAG_WBINVD | FLAG_PROC_C1 | FLAG_PWR_BUTTON | FLAG_SLP_BUTTON | FLAG_RESET_REG_SUP)
                .bytes(io(resetPort, 8, GAS_BYTE_ACCESS)) // RESET_REG
                .u8(RESET_VALUE)
                .u16(0) // ARM_BOOT_ARCH
                .u8(MINOR_REVISION)
                .u64(facsAddress) // X_FIRMWARE_CTRL
                .u64(dsdtAddress) // X_DSDT
                .bytes(io(PM1A_EVENT_PORT, 8 * PM1_EVENT_LENGTH, GAS_WORD_ACCESS)) // X_PM1a_EVT_BLK
                .zeros(12) // X_PM1b_EVT_BLK
                .bytes(io(PM1A_CONTROL_PORT, 8 * PM1_CONTROL_LENGTH, GAS_WORD_ACCESS)) // X_PM1a_CNT_BLK
                .zeros(12 * 5) // X_ PM1b control, PM2 control, PM timer, GPE0, GPE1
                .zeros(12 * 2) // SLEEP_CONTROL_REG, SLEEP_STATUS_REG: for hardware-reduced platforms only
                .ascii(TableHeader.OEM_ID, 8); // hypervisor vendor identity
        return TableHeader.table(SIGNATURE, REVISION, body.toByteArray());
    }

    /** A Generic Address Structure for {@code bits} of system I/O at {@code port}. */
    private static byte[] io(int port, int bits, int accessSize) {
        return new ByteWriter()
                .u8(GAS_SYSTEM_IO)
                .u8(bits) // register bit width
                .u8(0) // bit offset
                .u8(accessSize)
                .u64(port)
                .toByteArray();
    }
}
