package vessel.devices.pci;

/**
 * A type-0 PCI function's 4 KiB configuration space: the stored bytes plus, per byte, which bits the
 * guest may write. BAR sizing needs no special case: a BAR's writable mask is its size's alignment,
 * so the all-ones a driver writes reads back as the size mask.
 */
public final class PciConfigSpace {
    public static final int SIZE = 4096;
    public static final int VENDOR_ID = 0x00;
    public static final int DEVICE_ID = 0x02;
    public static final int COMMAND = 0x04;
    public static final int STATUS = 0x06;
    public static final int REVISION = 0x08;
    public static final int CLASS_PROG_IF = 0x09;
    public static final int HEADER_TYPE = 0x0e;
    public static final int BAR0 = 0x10;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2c;
    public static final int SUBSYSTEM_ID = 0x2e;
    public static final int CAPABILITIES_POINTER = 0x34;
    public static final int INTERRUPT_LINE = 0x3c;
    public static final int INTERRUPT_PIN = 0x3d;

    public static final int COMMAND_IO = 1;
    public static final int COMMAND_MEMORY = 2;
    public static final int COMMAND_BUS_MASTER = 4;
    public static final int COMMAND_INTX_DISABLE = 0x400;
    static final int STATUS_CAPABILITIES = 0x10;
    static final int FIRST_CAPABILITY = 0x40;
    private static final int BAR_COUNT = 6;

    /** What a BAR decodes. */
    public enum BarKind { MEMORY32, MEMORY64, IO }

    /** A BAR the function has: index, kind and size (a power of two). */
    public record Bar(int index, BarKind kind, long size, boolean prefetchable) {
        public Bar {
            if (Long.bitCount(size) != 1 || size < (kind == BarKind.IO ? 4 : 16)) {
                throw new IllegalArgumentException("BAR size must be a power of two: " + size);
            }
            if (index < 0 || index >= BAR_COUNT || (kind == BarKind.MEMORY64 && index == BAR_COUNT - 1)) {
                throw new IllegalArgumentException("bad BAR index " + index);
            }
        }
    }

    private final byte[] bytes = new byte[SIZE];
    private final byte[] writable = new byte[SIZE];
    private final Bar[] bars = new Bar[BAR_COUNT];
    private int lastCapability;
    private int nextCapability = FIRST_CAPABILITY;

    /** A function with these IDs; the class code is base class, subclass, programming interface. */
    public PciConfigSpace(int vendor, int device, int classCode, int revision, int subsystemVendor, int subsystem) {
        put16(VENDOR_ID, vendor);
        put16(DEVICE_ID, device);
        bytes[REVISION] = (byte) revision;
        put16(CLASS_PROG_IF, classCode & 0xffff);
        bytes[CLASS_PROG_IF + 2] = (byte) (classCode >>> 16);
        put16(SUBSYSTEM_VENDOR_ID, subsystemVendor);
        put16(SUBSYSTEM_ID, subsystem);
        writableMask(COMMAND, 2, COMMAND_IO | COMMAND_MEMORY | COMMAND_BUS_MASTER | COMMAND_INTX_DISABLE);
        bytes[INTERRUPT_LINE] = (byte) 0xff;
        writable[INTERRUPT_LINE] = (byte) 0xff;
    }

    /** Declares a BAR; its address starts at 0 until {@link #setBarAddress}. */
    public void addBar(Bar bar) {
        bars[bar.index()] = bar;
        int reg = BAR0 + 4 * bar.index();
        long mask = ~(bar.size() - 1);
        switch (bar.kind()) {
            case IO -> {
                put32(reg, 1);
                writableMask(reg, 4, (int) mask & ~0x3);
            }
            case MEMORY32 -> {
                put32(reg, bar.prefetchable() ? 0x8 : 0);
                writableMask(reg, 4, (int) mask & ~0xf);
            }
            case MEMORY64 -> {
                put32(reg, 0x4 | (bar.prefetchable() ? 0x8 : 0));
                writableMask(reg, 4, (int) mask & ~0xf);
                writableMask(reg + 4, 4, (int) (mask >>> 32));
            }
        }
    }

    public Bar bar(int index) {
        return bars[index];
    }

    /** Where the firmware (the VMM) puts a BAR before the guest runs. */
    public void setBarAddress(int index, long address) {
        Bar bar = bars[index];
        int reg = BAR0 + 4 * index;
        int low = read(reg, 4);
        put32(reg, (int) address & ~(bar.kind() == BarKind.IO ? 0x3 : 0xf) | (low & (bar.kind() == BarKind.IO ? 0x3 : 0xf)));
        if (bar.kind() == BarKind.MEMORY64) {
            put32(reg + 4, (int) (address >>> 32));
        }
    }

    /** A BAR's current address as the guest programmed it (meaningful only while decoding is on). */
    public long barAddress(int index) {
        Bar bar = bars[index];
        int reg = BAR0 + 4 * index;
        long low = Integer.toUnsignedLong(read(reg, 4)) & (bar.kind() == BarKind.IO ? ~0x3L : ~0xfL);
        return bar.kind() == BarKind.MEMORY64 ? low | (long) read(reg + 4, 4) << 32 : low;
    }

    /** Whether the command register lets the BAR decode accesses. */
    public boolean decodes(int index) {
        int command = read(COMMAND, 2);
        return (command & (bars[index].kind() == BarKind.IO ? COMMAND_IO : COMMAND_MEMORY)) != 0;
    }

    public void setInterruptPin(int pin, int line) {
        bytes[INTERRUPT_PIN] = (byte) pin;
        bytes[INTERRUPT_LINE] = (byte) line;
    }

    /**
     * Appends a capability with body {@code body} (from its third byte: after ID and next pointer) and
     * returns its offset. {@code writableBody} gives writable bits per body byte (null: read-only).
     */
    public int addCapability(int id, byte[] body, byte[] writableBody) {
        int offset = nextCapability;
        int length = 2 + body.length;
        if (offset + length > 256) {
            throw new IllegalStateException("capabilities overflow the standard configuration space");
        }
        bytes[offset] = (byte) id;
        System.arraycopy(body, 0, bytes, offset + 2, body.length);
        if (writableBody != null) {
            System.arraycopy(writableBody, 0, writable, offset + 2, writableBody.length);
        }
        if (lastCapability == 0) {
            bytes[CAPABILITIES_POINTER] = (byte) offset;
            put16(STATUS, read(STATUS, 2) | STATUS_CAPABILITIES);
        } else {
            bytes[lastCapability + 1] = (byte) offset;
        }
        lastCapability = offset;
        nextCapability = (offset + length + 3) & ~3;
        return offset;
    }

    /** Makes the bits of {@code mask} in the byte at {@code offset} guest-writable (chipset registers). */
    public void allowWrites(int offset, int mask) {
        writable[offset] = (byte) mask;
    }

    /** Reads {@code size} (1, 2 or 4) bytes at {@code offset}; out-of-range reads give all-ones. */
    public int read(int offset, int size) {
        if (offset < 0 || offset + size > SIZE) {
            return -1;
        }
        int v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = v << 8 | (bytes[offset + i] & 0xff);
        }
        return v;
    }

    /** A guest write: only the writable bits change. */
    public void write(int offset, int size, int value) {
        if (offset < 0 || offset + size > SIZE) {
            return;
        }
        for (int i = 0; i < size; i++) {
            int mask = writable[offset + i] & 0xff;
            int b = (value >>> (8 * i)) & 0xff;
            bytes[offset + i] = (byte) ((bytes[offset + i] & ~mask) | (b & mask));
        }
    }

    /** Sets bytes the device itself owns, ignoring the writable mask. */
    public void put32(int offset, int value) {
        for (int i = 0; i < 4; i++) {
            bytes[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    public void put16(int offset, int value) {
        bytes[offset] = (byte) value;
        bytes[offset + 1] = (byte) (value >>> 8);
    }

    private void writableMask(int offset, int size, int mask) {
        for (int i = 0; i < size; i++) {
            writable[offset + i] = (byte) (mask >>> (8 * i));
        }
    }

    /** The whole space as it is now, for a snapshot. */
    public byte[] snapshot() {
        return bytes.clone();
    }

    /**
     * Puts back a space {@link #snapshot} took of a function built the same way: its guest-writable bits
     * are taken, and the rest must be what this function has, or it is another device (another ID,
     * capability list or BAR layout) and an IllegalArgumentException says where they differ. Only the
     * bytes change: the caller remaps BARs and reacts to control bits.
     */
    public void restore(byte[] saved) {
        if (saved.length != SIZE) {
            throw new IllegalArgumentException("configuration space of " + saved.length + " bytes, not " + SIZE);
        }
        for (int i = 0; i < SIZE; i++) {
            int fixed = ~writable[i] & 0xff;
            if ((saved[i] & fixed) != (bytes[i] & fixed)) {
                throw new IllegalArgumentException(String.format(
                        "configuration space differs from this function's at 0x%03x (0x%02x, here 0x%02x)", i,
                        saved[i] & 0xff, bytes[i] & 0xff));
            }
        }
        System.arraycopy(saved, 0, bytes, 0, SIZE);
    }
}
