package vessel.boot.acpi;

import java.util.List;

/**
 * The Differentiated System Description Table: the AML namespace. It holds the COM1 UART under
 * {@code \_SB}, any further system-bus devices the VMM adds (a PCI host bridge, later), and the sleep
 * states the guest may enter by writing their SLP_TYP with SLP_EN to the sleep control register (PM1a
 * control, or a hardware-reduced platform's SLEEP_CONTROL_REG): {@code \_S5} (soft off) always, and
 * {@code \_S3} (suspend to RAM) when {@code suspendToRam}, which only a FADT with sleep states backs.
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

    /** Each element is one AML term (normally a {@code Device}) to place in the {@code \_SB} scope. */
    public Dsdt {
        systemBusDevices = List.copyOf(systemBusDevices);
    }

    public byte[] toBytes() {
        byte[][] devices = new byte[systemBusDevices.size() + 1][];
        devices[0] = com1();
        for (int i = 0; i < systemBusDevices.size(); i++) {
            devices[i + 1] = systemBusDevices.get(i);
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
}
