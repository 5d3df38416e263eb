package vessel.boot.acpi;

/**
 * The PCI Express memory-mapped configuration table (PCI Firmware Specification 3.2, 4.1.2): where the
 * ECAM window for PCI segment 0 lies and which buses it covers. Each bus takes 1 MiB (32 devices x
 * 8 functions x 4 KiB); bus B's configuration space is at {@code ecamBase + (B << 20)}, so the base is
 * where bus 0's would be even when {@code startBus} is higher.
 */
public record Mcfg(long ecamBase, int startBus, int endBus) {
    static final String SIGNATURE = "MCFG";
    static final int REVISION = 1;
    /** The segment group every Vessel guest has: one PCI domain. */
    static final int SEGMENT = 0;

    public Mcfg {
        if (startBus < 0 || endBus > 255 || startBus > endBus) {
            throw new IllegalArgumentException("bad PCI bus range " + startBus + "-" + endBus);
        }
        if ((ecamBase & ((1L << 20) - 1)) != 0) {
            throw new IllegalArgumentException("the ECAM base must be 1 MiB-aligned: 0x" + Long.toHexString(ecamBase));
        }
    }

    /** Bytes of configuration space the covered buses take, from {@code ecamBase + (startBus << 20)}. */
    public long windowSize() {
        return (long) (endBus - startBus + 1) << 20;
    }

    public byte[] toBytes() {
        ByteWriter body = new ByteWriter()
                .zeros(8) // reserved
                .u64(ecamBase)
                .u16(SEGMENT)
                .u8(startBus)
                .u8(endBus)
                .zeros(4);
        return TableHeader.table(SIGNATURE, REVISION, body.toByteArray());
    }
}
