package vessel.boot.acpi;

import java.util.List;

/**
 * The Differentiated System Description Table: the AML namespace. It holds the COM1 UART and the
 * i8042's keyboard and mouse under {@code \_SB}, any further system-bus devices the VMM adds (a PCI host
 * bridge, later), and the sleep states the guest may enter by writing their SLP_TYP with SLP_EN to the
 * sleep control register (PM1a control, or a hardware-reduced platform's SLEEP_CONTROL_REG): {@code \_S5}
 * (soft off) always, and {@code \_S3} (suspend to RAM) when {@code suspendToRam}, which only a FADT with
 * sleep states backs.
 */
public record Dsdt(List<byte[]> systemBusDevices, boolean suspendToRam) {
    static final String SIGNATURE = "DSDT";
    /** Revision 2 and above: AML integers are 64 bits wide. */
    static final int REVISION = 2;

    /** The SLP_TYP value for S5 (soft off); the devices layer's {@code AcpiPowerDevice} powers off on it. */
    public static final int S5_SLEEP_TYPE = 5;
    /** The SLP_TYP value for S3 (suspend to RAM); the devices layer's {@code AcpiPm1Device} suspends on it. */
    public static final int S3_SLEEP_TYPE = 1;

    static final int COM1_PORT = 0x3f8;
    static final int COM1_PORTS = 8;
    static final int COM1_IRQ = 4;
    static final int I8042_DATA_PORT = 0x60;
    static final int I8042_COMMAND_PORT = 0x64;
    static final int KEYBOARD_IRQ = 1;
    static final int MOUSE_IRQ = 12;

    /** Each element is one AML term (normally a {@code Device}) to place in the {@code \_SB} scope. */
    public Dsdt {
        systemBusDevices = List.copyOf(systemBusDevices);
    }

    public byte[] toBytes() {
        byte[][] devices = new byte[systemBusDevices.size() + 3][];
        devices[0] = com1();
        devices[1] = ps2Keyboard();
        devices[2] = ps2Mouse();
        for (int i = 0; i < systemBusDevices.size(); i++) {
            devices[i + 3] = systemBusDevices.get(i);
        }
        // SLP_TYPa, SLP_TYPb, then two reserved; there is no PM1b control block, so SLP_TYPb is unused
        byte[] s3 = suspendToRam ? Aml.name("_S3", Aml.packageOf(
                Aml.integer(S3_SLEEP_TYPE), Aml.integer(0), Aml.integer(0), Aml.integer(0))) : new byte[0];
        byte[] aml = Aml.concat(
                Aml.scope("\\_SB", devices),
                s3,
                Aml.name("_S5", Aml.packageOf(
                        Aml.integer(S5_SLEEP_TYPE), Aml.integer(0), Aml.integer(0), Aml.integer(0))));
        return TableHeader.table(SIGNATURE, REVISION, aml);
    }

    /** The first 16550 UART: PNP0501 at ports 0x3f8-0x3ff, ISA IRQ 4. */
    static byte[] com1() {
        return Aml.device("COM1",
                Aml.name("_HID", Aml.eisaId("PNP0501")),
                Aml.name("_UID", Aml.integer(0)),
                Aml.name("_CRS", new ResourceTemplate()
                        .io(ResourceTemplate.IoDecode.DECODE16, COM1_PORT, COM1_PORT, 0, COM1_PORTS)
                        .irqNoFlags(COM1_IRQ)
                        .toAml()));
    }

    /**
     * The i8042's keyboard: PNP0303 at ports 0x60 and 0x64, ISA IRQ 1, as QEMU describes it. Linux's i8042
     * driver looks for this device (and the mouse below) first; with neither it probes the ports only when
     * the FADT's IAPC_BOOT_ARCH says there is an 8042, and a DSDT that lists them leaves no doubt.
     */
    static byte[] ps2Keyboard() {
        return Aml.device("KBD",
                Aml.name("_HID", Aml.eisaId("PNP0303")),
                Aml.name("_CRS", new ResourceTemplate()
                        .io(ResourceTemplate.IoDecode.DECODE16, I8042_DATA_PORT, I8042_DATA_PORT, 1, 1)
                        .io(ResourceTemplate.IoDecode.DECODE16, I8042_COMMAND_PORT, I8042_COMMAND_PORT, 1, 1)
                        .irqNoFlags(KEYBOARD_IRQ)
                        .toAml()));
    }

    /** The i8042's aux port: a PS/2 mouse, PNP0F13, on ISA IRQ 12 (its ports are the keyboard's). */
    static byte[] ps2Mouse() {
        return Aml.device("MOU",
                Aml.name("_HID", Aml.eisaId("PNP0F13")),
                Aml.name("_CRS", new ResourceTemplate().irqNoFlags(MOUSE_IRQ).toAml()));
    }
}
