package vessel.devices.pci;

import vessel.devices.Bus;

/**
 * PCI bus 0: up to 32 single-function devices, configuration cycles routed to them, and each memory
 * BAR kept mapped on the MMIO bus where the guest last programmed it while decoding is enabled
 * (Linux turns decoding off while it sizes a BAR, then writes the address back).
 */
public final class PciRoot {
    public static final int SLOTS = 32;

    /** Told when a BAR appears at, moves to or leaves an address (-1: not decoding). */
    public interface BarListener {
        void barMoved(PciFunction function, int bar, long from, long to);

        BarListener NONE = (function, bar, from, to) -> { };
    }

    private final PciFunction[] slots = new PciFunction[SLOTS];
    private final long[][] mapped = new long[SLOTS][6];
    private final Bus mmio;
    private final Bus pio;
    private final BarListener listener;

    public PciRoot(Bus mmio, Bus pio, BarListener listener) {
        this(mmio, pio, listener, new PciHostBridge());
    }

    /** Bus 0 with {@code hostBridge} as device 00:00.0 (firmware looks for a chipset's own there). */
    public PciRoot(Bus mmio, Bus pio, BarListener listener, PciFunction hostBridge) {
        this.mmio = mmio;
        this.pio = pio;
        this.listener = listener;
        add(0, hostBridge);
    }

    /** Puts {@code function} in {@code slot}, with its BARs mapped where its config space says. */
    public void add(int slot, PciFunction function) {
        if (slots[slot] != null) {
            throw new IllegalArgumentException("PCI slot " + slot + " is taken");
        }
        slots[slot] = function;
        java.util.Arrays.fill(mapped[slot], -1);
        remap(slot);
    }

    /** The first free slot after the host bridge. */
    public int freeSlot() {
        for (int i = 1; i < SLOTS; i++) {
            if (slots[i] == null) {
                return i;
            }
        }
        throw new IllegalStateException("no free PCI slot");
    }

    public PciFunction function(int slot) {
        return slots[slot];
    }

    /** A configuration read of bus 0; absent devices, functions and buses read as all-ones. */
    public int readConfig(int bus, int device, int function, int offset, int size) {
        PciFunction f = target(bus, device, function);
        if (f == null) {
            return size == 4 ? -1 : (1 << (size * 8)) - 1;
        }
        synchronized (f) {
            return f.config().read(offset, size);
        }
    }

    public void writeConfig(int bus, int device, int function, int offset, int size, int value) {
        PciFunction f = target(bus, device, function);
        if (f == null) {
            return;
        }
        synchronized (f) {
            f.config().write(offset, size, value);
            f.configWritten(offset, size);
            if (offset < PciConfigSpace.BAR0 + 24 && offset + size > PciConfigSpace.COMMAND) {
                remap(device);
            }
        }
    }

    /**
     * Maps every function's BARs where its configuration space now says (after a snapshot's spaces were
     * put back), telling the listener of each move as a guest's write would.
     */
    public void remapAll() {
        for (int slot = 0; slot < SLOTS; slot++) {
            PciFunction f = slots[slot];
            if (f != null) {
                synchronized (f) {
                    remap(slot);
                }
            }
        }
    }

    private PciFunction target(int bus, int device, int function) {
        return bus == 0 && function == 0 && device >= 0 && device < SLOTS ? slots[device] : null;
    }

    private void remap(int slot) {
        PciFunction f = slots[slot];
        PciConfigSpace config = f.config();
        for (int i = 0; i < 6; i++) {
            PciConfigSpace.Bar bar = config.bar(i);
            if (bar == null) {
                continue;
            }
            long want = config.decodes(i) ? config.barAddress(i) : -1;
            // An address of 0 is a BAR no one has placed yet.
            if (want == 0) {
                want = -1;
            }
            long have = mapped[slot][i];
            if (want == have) {
                continue;
            }
            Bus bus = bar.kind() == PciConfigSpace.BarKind.IO ? pio : mmio;
            if (have != -1) {
                bus.remove(have);
            }
            if (want != -1) {
                try {
                    bus.insert(want, bar.size(), f.name() + " BAR" + i, f.barDevice(i));
                } catch (IllegalArgumentException overlap) {
                    // A guest that programs a BAR over another device gets no decoding there.
                    want = -1;
                }
            }
            mapped[slot][i] = want;
            listener.barMoved(f, i, have, want);
        }
    }
}
