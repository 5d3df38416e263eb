package vessel.vmm.x86;

/**
 * The value of one 128-bit XMM register, {@code lo} holding bits 63-0 (the first eight bytes in memory
 * and in the XSAVE area) and {@code hi} bits 127-64. Lanes are numbered from bit 0 as the SDM numbers
 * them: dword 0 is bits 31-0.
 */
public record Xmm(long lo, long hi) {
    public static final Xmm ZERO = new Xmm(0, 0);

    /** From 16 little-endian bytes at {@code offset}. */
    public static Xmm fromBytes(byte[] b, int offset) {
        return new Xmm(Assists.fromLe(java.util.Arrays.copyOfRange(b, offset, offset + 8)),
                Assists.fromLe(java.util.Arrays.copyOfRange(b, offset + 8, offset + 16)));
    }

    /** Into 16 little-endian bytes at {@code offset}. */
    public void toBytes(byte[] b, int offset) {
        System.arraycopy(Assists.le(lo, 8), 0, b, offset, 8);
        System.arraycopy(Assists.le(hi, 8), 0, b, offset + 8, 8);
    }

    /** The lanes of {@code bits} (16, 32 or 64) each, zero-extended, lane 0 first. */
    public long[] lanes(int bits) {
        int n = 128 / bits;
        long mask = bits == 64 ? -1L : (1L << bits) - 1;
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            int bit = i * bits;
            long half = bit < 64 ? lo : hi;
            out[i] = (half >>> (bit % 64)) & mask;
        }
        return out;
    }

    /** The register holding {@code lanes} of {@code bits} each (their upper bits are dropped). */
    public static Xmm ofLanes(long[] lanes, int bits) {
        long mask = bits == 64 ? -1L : (1L << bits) - 1;
        long lo = 0;
        long hi = 0;
        for (int i = 0; i < lanes.length; i++) {
            int bit = i * bits;
            if (bit < 64) {
                lo |= (lanes[i] & mask) << bit;
            } else {
                hi |= (lanes[i] & mask) << (bit - 64);
            }
        }
        return new Xmm(lo, hi);
    }

    /** Sixteen bytes, byte 0 first (bits 7-0). */
    public byte[] bytes() {
        byte[] b = new byte[16];
        toBytes(b, 0);
        return b;
    }

    @Override
    public String toString() {
        return String.format("%016x_%016x", hi, lo);
    }
}
