package vessel.devices.pci;

import vessel.devices.BusDevice;

/**
 * Configuration mechanism #1: the address register at 0xCF8 and the data window at 0xCFC-0xCFF.
 * Linux uses it to find the bus before it reads the MCFG table, and where ECAM is not reserved.
 */
public final class PciConfigIo implements BusDevice, vessel.devices.Snapshottable<PciConfigIo.State> {
    public static final int PORT = 0xcf8;
    public static final int LENGTH = 8;
    private static final int ENABLE = 0x8000_0000;

    private final PciRoot root;
    private int address;

    /** The address register: a guest may be between its write to 0xCF8 and its access to 0xCFC. */
    public record State(int address) { }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public State saveState() {
        return new State(address);
    }

    @Override
    public void restoreState(State s) {
        address = s.address();
    }

    public PciConfigIo(PciRoot root) {
        this.root = root;
    }

    @Override
    public long read(long offset, int size) {
        if (offset < 4) {
            return offset == 0 && size == 4 ? Integer.toUnsignedLong(address) : allOnes(size);
        }
        if ((address & ENABLE) == 0) {
            return allOnes(size);
        }
        int v = root.readConfig(bus(), device(), function(), register() + (int) (offset - 4), size);
        return Integer.toUnsignedLong(v) & allOnes(size);
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset < 4) {
            if (offset == 0 && size == 4) {
                address = (int) value;
            }
            return;
        }
        if ((address & ENABLE) != 0) {
            root.writeConfig(bus(), device(), function(), register() + (int) (offset - 4), size, (int) value);
        }
    }

    private int bus() {
        return (address >>> 16) & 0xff;
    }

    private int device() {
        return (address >>> 11) & 0x1f;
    }

    private int function() {
        return (address >>> 8) & 0x7;
    }

    /** The dword register; bits 27:24 extend it to 4 KiB as AMD's extended configuration access does. */
    private int register() {
        return (address & 0xfc) | ((address >>> 16) & 0xf00);
    }

    private static long allOnes(int size) {
        return size >= 8 ? -1L : (1L << (size * 8)) - 1;
    }
}
