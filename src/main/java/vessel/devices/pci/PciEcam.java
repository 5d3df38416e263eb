package vessel.devices.pci;

import vessel.devices.BusDevice;

/**
 * Enhanced configuration access (PCIe ECAM): 4 KiB of configuration space per function, memory
 * mapped at bus << 20 | device << 15 | function << 12 | register. The ACPI MCFG table points here.
 */
public final class PciEcam implements BusDevice {
    /** One bus's worth: 32 devices x 8 functions x 4 KiB. */
    public static final long BUS_SIZE = 1L << 20;

    private final PciRoot root;

    public PciEcam(PciRoot root) {
        this.root = root;
    }

    @Override
    public long read(long offset, int size) {
        if (size > 4 || (offset & (size - 1)) != 0) {
            return size >= 8 ? -1L : (1L << (size * 8)) - 1;
        }
        return Integer.toUnsignedLong(root.readConfig((int) (offset >>> 20), (int) (offset >>> 15) & 0x1f,
                (int) (offset >>> 12) & 7, (int) offset & 0xfff, size)) & ((1L << (size * 8)) - 1);
    }

    @Override
    public void write(long offset, int size, long value) {
        if (size > 4 || (offset & (size - 1)) != 0) {
            return;
        }
        root.writeConfig((int) (offset >>> 20), (int) (offset >>> 15) & 0x1f, (int) (offset >>> 12) & 7,
                (int) offset & 0xfff, size, (int) value);
    }
}
