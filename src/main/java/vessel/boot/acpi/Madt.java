package vessel.boot.acpi;

/**
 * The Multiple APIC Description Table (ACPI 6.5, 5.2.12): one local APIC per vCPU, the I/O APIC, the
 * ISA interrupt overrides (the PIT's, and the SCI's when the platform has one), and where each local
 * APIC's NMI line is. The CPUs' APIC IDs are their indexes, as the VMM programs them.
 */
public record Madt(int cpus, long localApicAddress, long ioApicAddress, int ioApicId, boolean sci) {
    static final String SIGNATURE = "APIC";
    static final int REVISION = 6;

    /** The architectural default addresses, where KVM's in-kernel local APICs and I/O APIC sit. */
    public static final long DEFAULT_LOCAL_APIC_ADDRESS = 0xfee0_0000L;
    public static final long DEFAULT_IO_APIC_ADDRESS = 0xfec0_0000L;
    /**
     * The I/O APIC's ID register after reset in KVM's in-kernel I/O APIC (a 4-bit field), so the table
     * agrees with the hardware. On x86-64 Linux takes the table's ID as given; xAPIC systems keep I/O APIC
     * and local APIC IDs in separate spaces.
     */
    public static final int DEFAULT_IO_APIC_ID = 0;
    /**
     * APIC IDs fit in a byte and 0xff means all processors, so xAPIC entries describe at most 255 CPUs
     * (more would need x2APIC entries).
     */
    public static final int MAX_CPUS = 255;

    /** MADT flags: the machine also has dual 8259 PICs, which the guest must mask to use the APICs. */
    static final int PCAT_COMPAT = 1;

    static final int TYPE_LOCAL_APIC = 0;
    static final int TYPE_IO_APIC = 1;
    static final int TYPE_INTERRUPT_SOURCE_OVERRIDE = 2;
    static final int TYPE_LOCAL_APIC_NMI = 4;
    static final int LOCAL_APIC_LENGTH = 8;
    static final int IO_APIC_LENGTH = 12;
    static final int INTERRUPT_SOURCE_OVERRIDE_LENGTH = 10;
    static final int LOCAL_APIC_NMI_LENGTH = 6;

    static final int LOCAL_APIC_ENABLED = 1;
    /** MPS INTI flags: polarity active high (bits 0-1 = 01), trigger edge (bits 2-3 = 01). */
    static final int EDGE_ACTIVE_HIGH = 0b0101;
    static final int ISA_BUS = 0;
    /** The PIT's IRQ 0 reaches the I/O APIC on pin 2: pin 0 is the 8259's cascade (ExtINT) line. */
    static final int PIT_IRQ = 0;
    static final int PIT_GSI = 2;
    /** MPS INTI flags: polarity active high (01), trigger level (bits 2-3 = 11). */
    static final int LEVEL_ACTIVE_HIGH = 0b1101;
    /**
     * The FADT's SCI (ISA IRQ 9) on I/O APIC pin 9, level-triggered active high as KVM's I/O APIC models
     * lines; without an override Linux would program the SCI active low.
     */
    static final int SCI_IRQ = Fadt.SCI_IRQ;
    static final int ALL_PROCESSORS = 0xff;
    /** Local APIC input LINT1 is wired to NMI, as on every PC. */
    static final int NMI_LINT = 1;

    public Madt {
        if (cpus < 1 || cpus > MAX_CPUS) {
            throw new IllegalArgumentException("the MADT describes 1 to " + MAX_CPUS + " CPUs, not " + cpus);
        }
        if (ioApicId < 0 || ioApicId > 0xff) {
            throw new IllegalArgumentException("bad I/O APIC ID " + ioApicId);
        }
        requireBelow4G("local APIC", localApicAddress);
        requireBelow4G("I/O APIC", ioApicAddress);
    }

    /** The table for {@code cpus} vCPUs on KVM's default interrupt controllers. */
    public static Madt forCpus(int cpus) {
        return new Madt(cpus, DEFAULT_LOCAL_APIC_ADDRESS, DEFAULT_IO_APIC_ADDRESS, DEFAULT_IO_APIC_ID, false);
    }

    public byte[] toBytes() {
        ByteWriter body = new ByteWriter().u32(localApicAddress).u32(PCAT_COMPAT);
        for (int cpu = 0; cpu < cpus; cpu++) {
            body.u8(TYPE_LOCAL_APIC).u8(LOCAL_APIC_LENGTH)
                    .u8(cpu) // ACPI processor UID
                    .u8(cpu) // APIC ID
                    .u32(LOCAL_APIC_ENABLED);
        }
        body.u8(TYPE_IO_APIC).u8(IO_APIC_LENGTH)
                .u8(ioApicId).u8(0)
                .u32(ioApicAddress)
                .u32(0); // global system interrupt base: its pins are GSIs 0-23
        body.u8(TYPE_INTERRUPT_SOURCE_OVERRIDE).u8(INTERRUPT_SOURCE_OVERRIDE_LENGTH)
                .u8(ISA_BUS).u8(PIT_IRQ).u32(PIT_GSI).u16(EDGE_ACTIVE_HIGH);
        if (sci) {
            body.u8(TYPE_INTERRUPT_SOURCE_OVERRIDE).u8(INTERRUPT_SOURCE_OVERRIDE_LENGTH)
                    .u8(ISA_BUS).u8(SCI_IRQ).u32(SCI_IRQ).u16(LEVEL_ACTIVE_HIGH);
        }
        body.u8(TYPE_LOCAL_APIC_NMI).u8(LOCAL_APIC_NMI_LENGTH)
                .u8(ALL_PROCESSORS).u16(EDGE_ACTIVE_HIGH).u8(NMI_LINT);
        return TableHeader.table(SIGNATURE, REVISION, body.toByteArray());
    }

    private static void requireBelow4G(String what, long address) {
        if (address < 0 || address > 0xffff_ffffL) {
            throw new IllegalArgumentException(what + " address must be 32-bit: 0x" + Long.toHexString(address));
        }
    }
}
