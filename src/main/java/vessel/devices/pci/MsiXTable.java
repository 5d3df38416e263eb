package vessel.devices.pci;

/**
 * MSI-X for one function: the capability's enable and function-mask bits, the vector table and the
 * pending-bit array. Delivery goes to an {@link MsiSink} (KVM GSI routes and irqfds in the VMM); a
 * masked vector's message is held as a pending bit and sent when the guest unmasks it, as PCI requires.
 * Callers hold the function's lock.
 */
public final class MsiXTable {
    public static final int CAPABILITY_ID = 0x11;
    public static final int ENTRY_SIZE = 16;
    private static final int CONTROL_ENABLE = 0x8000;
    private static final int CONTROL_FUNCTION_MASK = 0x4000;
    private static final int VECTOR_MASKED = 1;

    /** Where MSI messages go. */
    public interface MsiSink {
        /** Vector {@code vector} now sends ({@code address}, {@code data}). */
        void route(int vector, long address, int data);

        /** Sends vector {@code vector}'s message. */
        void signal(int vector);
    }

    private final int vectors;
    private final long[] address;
    private final int[] data;
    private final int[] control;
    private final long[] pending;
    private final MsiSink sink;
    private PciConfigSpace config;
    private int capability;

    public MsiXTable(int vectors, MsiSink sink) {
        if (vectors < 1 || vectors > 2048) {
            throw new IllegalArgumentException("MSI-X vector count " + vectors);
        }
        this.vectors = vectors;
        this.address = new long[vectors];
        this.data = new int[vectors];
        this.control = new int[vectors];
        this.pending = new long[(vectors + 63) / 64];
        this.sink = sink;
        java.util.Arrays.fill(control, VECTOR_MASKED);
    }

    public int vectors() {
        return vectors;
    }

    /** Adds the MSI-X capability, with table and PBA at these offsets of BAR {@code bar}. */
    public void addCapability(PciConfigSpace space, int bar, int tableOffset, int pbaOffset) {
        this.config = space;
        byte[] body = new byte[10];
        int messageControl = vectors - 1;
        body[0] = (byte) messageControl;
        body[1] = (byte) (messageControl >>> 8);
        int table = tableOffset | bar;
        int pba = pbaOffset | bar;
        for (int i = 0; i < 4; i++) {
            body[2 + i] = (byte) (table >>> (8 * i));
            body[6 + i] = (byte) (pba >>> (8 * i));
        }
        byte[] writable = new byte[10];
        writable[1] = (byte) ((CONTROL_ENABLE | CONTROL_FUNCTION_MASK) >>> 8);
        this.capability = space.addCapability(CAPABILITY_ID, body, writable);
    }

    /** The capability's offset in configuration space. */
    public int capabilityOffset() {
        return capability;
    }

    private int messageControl() {
        return config.read(capability + 2, 2);
    }

    public boolean enabled() {
        return (messageControl() & CONTROL_ENABLE) != 0;
    }

    private boolean functionMasked() {
        return (messageControl() & CONTROL_FUNCTION_MASK) != 0;
    }

    /** Sends vector {@code vector}, or marks it pending while masked. Vectors out of range are ignored. */
    public void signal(int vector) {
        if (vector < 0 || vector >= vectors) {
            return;
        }
        if (functionMasked() || (control[vector] & VECTOR_MASKED) != 0) {
            pending[vector >>> 6] |= 1L << vector;
        } else {
            sink.signal(vector);
        }
    }

    /** The capability's control word was written: sends what the function mask held back. */
    public void controlWritten() {
        if (enabled()) {
            for (int v = 0; v < vectors; v++) {
                if ((control[v] & VECTOR_MASKED) == 0) {
                    sink.route(v, address[v], data[v]);
                }
            }
            deliverPending();
        }
    }

    public long readTable(long offset, int size) {
        int vector = (int) (offset / ENTRY_SIZE);
        if (vector >= vectors || (size != 4 && size != 8)) {
            return 0;
        }
        int field = (int) (offset % ENTRY_SIZE);
        long v = switch (field) {
            case 0 -> address[vector] & 0xffff_ffffL | (size == 8 ? address[vector] & 0xffff_ffff_0000_0000L : 0);
            case 4 -> address[vector] >>> 32;
            case 8 -> Integer.toUnsignedLong(data[vector]) | (size == 8 ? (long) control[vector] << 32 : 0);
            case 12 -> control[vector];
            default -> 0;
        };
        return size == 4 ? v & 0xffff_ffffL : v;
    }

    public void writeTable(long offset, int size, long value) {
        int vector = (int) (offset / ENTRY_SIZE);
        if (vector >= vectors || (size != 4 && size != 8)) {
            return;
        }
        int field = (int) (offset % ENTRY_SIZE);
        boolean wasMasked = (control[vector] & VECTOR_MASKED) != 0;
        switch (field) {
            case 0 -> address[vector] = size == 8 ? value : (address[vector] & 0xffff_ffff_0000_0000L) | (value & 0xffff_ffffL);
            case 4 -> address[vector] = (address[vector] & 0xffff_ffffL) | (value << 32);
            case 8 -> {
                data[vector] = (int) value;
                if (size == 8) {
                    control[vector] = (int) (value >>> 32) & VECTOR_MASKED;
                }
            }
            case 12 -> control[vector] = (int) value & VECTOR_MASKED;
            default -> { }
        }
        boolean masked = (control[vector] & VECTOR_MASKED) != 0;
        if (!masked && (wasMasked || field < 12)) {
            sink.route(vector, address[vector], data[vector]);
        }
        if (wasMasked && !masked) {
            deliverPending();
        }
    }

    public long readPba(long offset, int size) {
        int word = (int) (offset / 8);
        if (word >= pending.length) {
            return 0;
        }
        long v = pending[word];
        return size == 8 ? v : (v >>> (8 * (offset % 8))) & 0xffff_ffffL;
    }

    private void deliverPending() {
        if (functionMasked()) {
            return;
        }
        for (int v = 0; v < vectors; v++) {
            long bit = 1L << v;
            if ((pending[v >>> 6] & bit) != 0 && (control[v] & VECTOR_MASKED) == 0) {
                pending[v >>> 6] &= ~bit;
                sink.signal(v);
            }
        }
    }

    /** The vector table and pending bits; enable and function-mask live in configuration space. */
    public record State(long[] address, int[] data, int[] control, long[] pending) {
        public State {
            if (address.length != data.length || address.length != control.length
                    || pending.length != (address.length + 63) / 64) {
                throw new IllegalArgumentException("MSI-X table of " + address.length + " addresses, " + data.length
                        + " data words, " + control.length + " control words and " + pending.length + " pending words");
            }
            address = address.clone();
            data = data.clone();
            control = control.clone();
            pending = pending.clone();
        }
    }

    public State state() {
        return new State(address, data, control, pending);
    }

    /**
     * Puts the table back after the configuration space (enable, function mask) was restored, and sends
     * each unmasked vector's route to the sink again: the new VM's KVM has none yet. Pending bits stay
     * pending, delivered when the guest unmasks as before; nothing is signalled now.
     */
    public void restore(State s) {
        if (s.address().length != vectors) {
            throw new IllegalArgumentException("MSI-X table of " + s.address().length + " vectors for a function with "
                    + vectors);
        }
        for (int v = 0; v < vectors; v++) {
            address[v] = s.address()[v];
            data[v] = s.data()[v];
            control[v] = s.control()[v] & VECTOR_MASKED;
        }
        System.arraycopy(s.pending(), 0, pending, 0, pending.length);
        if (vectors % 64 != 0) {
            pending[pending.length - 1] &= (1L << (vectors % 64)) - 1;
        }
        for (int v = 0; v < vectors; v++) {
            if ((control[v] & VECTOR_MASKED) == 0) {
                sink.route(v, address[v], data[v]);
            }
        }
    }
}
