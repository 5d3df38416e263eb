package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/** {@code struct kvm_segment}: a segment register with its hidden descriptor cache. */
public record Segment(long base, int limit, int selector, int type, boolean present, int dpl,
                      boolean db, boolean s, boolean l, boolean g, boolean avl, boolean unusable) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("base"), JAVA_INT.withName("limit"), JAVA_SHORT.withName("selector"),
            JAVA_BYTE.withName("type"), JAVA_BYTE.withName("present"), JAVA_BYTE.withName("dpl"),
            JAVA_BYTE.withName("db"), JAVA_BYTE.withName("s"), JAVA_BYTE.withName("l"),
            JAVA_BYTE.withName("g"), JAVA_BYTE.withName("avl"), JAVA_BYTE.withName("unusable"),
            JAVA_BYTE.withName("padding")).withName("kvm_segment");

    static Segment read(MemorySegment m) {
        return new Segment(m.get(JAVA_LONG, 0), m.get(JAVA_INT, 8), Short.toUnsignedInt(m.get(JAVA_SHORT, 12)),
                m.get(JAVA_BYTE, 14) & 0xff, m.get(JAVA_BYTE, 15) != 0, m.get(JAVA_BYTE, 16),
                m.get(JAVA_BYTE, 17) != 0, m.get(JAVA_BYTE, 18) != 0, m.get(JAVA_BYTE, 19) != 0,
                m.get(JAVA_BYTE, 20) != 0, m.get(JAVA_BYTE, 21) != 0, m.get(JAVA_BYTE, 22) != 0);
    }

    void write(MemorySegment m) {
        m.set(JAVA_LONG, 0, base);
        m.set(JAVA_INT, 8, limit);
        m.set(JAVA_SHORT, 12, (short) selector);
        m.set(JAVA_BYTE, 14, (byte) type);
        m.set(JAVA_BYTE, 15, bit(present));
        m.set(JAVA_BYTE, 16, (byte) dpl);
        m.set(JAVA_BYTE, 17, bit(db));
        m.set(JAVA_BYTE, 18, bit(s));
        m.set(JAVA_BYTE, 19, bit(l));
        m.set(JAVA_BYTE, 20, bit(g));
        m.set(JAVA_BYTE, 21, bit(avl));
        m.set(JAVA_BYTE, 22, bit(unusable));
        m.set(JAVA_BYTE, 23, (byte) 0);
    }

    private static byte bit(boolean b) {
        return (byte) (b ? 1 : 0);
    }

    /** A real-mode segment: base = selector * 16, 64 KiB limit. */
    public static Segment realMode(int selector, boolean code) {
        return new Segment((long) selector << 4, 0xffff, selector, code ? 0xb : 0x3, true, 0,
                false, true, false, false, false, false);
    }

    /**
     * A flat segment as the GDT descriptor {@code selector} describes it: base 0, 4 GiB limit.
     * {@code longMode} makes a code segment 64-bit (L=1, D=0); otherwise 32-bit (D=1).
     */
    public static Segment flat(int selector, boolean code, boolean longMode) {
        int type = code ? 0xb : 0x3; // execute/read accessed, or read/write accessed
        boolean l = code && longMode;
        return new Segment(0, 0xffffffff, selector, type, true, 0, !l, true, l, true, false, false);
    }

    /** The access-rights and flags of this segment as they appear in a GDT descriptor (bits 40-55). */
    public long descriptor() {
        long limit20 = g ? (Integer.toUnsignedLong(limit) >>> 12) : Integer.toUnsignedLong(limit);
        long d = (limit20 & 0xffff) | ((base & 0xffffffL) << 16);
        d |= (long) (type & 0xf) << 40;
        d |= (s ? 1L : 0L) << 44;
        d |= (long) (dpl & 3) << 45;
        d |= (present ? 1L : 0L) << 47;
        d |= ((limit20 >>> 16) & 0xf) << 48;
        d |= (avl ? 1L : 0L) << 52;
        d |= (l ? 1L : 0L) << 53;
        d |= (db ? 1L : 0L) << 54;
        d |= (g ? 1L : 0L) << 55;
        d |= ((base >>> 24) & 0xff) << 56;
        return d;
    }
}
