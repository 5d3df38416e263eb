package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/** {@code struct kvm_fpu}: x87 and SSE state, including MXCSR. */
public final class Fpu {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(128, JAVA_BYTE).withName("fpr"),
            JAVA_SHORT.withName("fcw"), JAVA_SHORT.withName("fsw"), JAVA_BYTE.withName("ftwx"),
            JAVA_BYTE.withName("pad1"), JAVA_SHORT.withName("last_opcode"),
            JAVA_LONG.withName("last_ip"), JAVA_LONG.withName("last_dp"),
            MemoryLayout.sequenceLayout(256, JAVA_BYTE).withName("xmm"),
            JAVA_INT.withName("mxcsr"), JAVA_INT.withName("pad2")).withName("kvm_fpu");

    /** Power-on values: x87 control word 0x37f, MXCSR 0x1f80 (all exceptions masked). */
    public static final int FCW_DEFAULT = 0x37f;
    public static final int MXCSR_DEFAULT = 0x1f80;

    public byte[] fpr = new byte[128];
    public int fcw = FCW_DEFAULT, fsw, ftwx, lastOpcode;
    public long lastIp, lastDp;
    public byte[] xmm = new byte[256];
    public int mxcsr = MXCSR_DEFAULT;

    /** XMM register {@code n} (0-15): 16 bytes, least significant first. */
    public byte[] xmm(int n) {
        java.util.Objects.checkIndex(n, 16);
        return java.util.Arrays.copyOfRange(xmm, 16 * n, 16 * n + 16);
    }

    /** Sets XMM register {@code n} (0-15) from 16 bytes, least significant first. */
    public void setXmm(int n, byte[] value) {
        java.util.Objects.checkIndex(n, 16);
        if (value.length != 16) {
            throw new IllegalArgumentException("an XMM register is 16 bytes, not " + value.length);
        }
        System.arraycopy(value, 0, xmm, 16 * n, 16);
    }

    static Fpu read(MemorySegment m) {
        Fpu f = new Fpu();
        f.fpr = m.asSlice(0, 128).toArray(JAVA_BYTE);
        f.fcw = Short.toUnsignedInt(m.get(JAVA_SHORT, 128));
        f.fsw = Short.toUnsignedInt(m.get(JAVA_SHORT, 130));
        f.ftwx = m.get(JAVA_BYTE, 132) & 0xff;
        f.lastOpcode = Short.toUnsignedInt(m.get(JAVA_SHORT, 134));
        f.lastIp = m.get(JAVA_LONG, 136);
        f.lastDp = m.get(JAVA_LONG, 144);
        f.xmm = m.asSlice(152, 256).toArray(JAVA_BYTE);
        f.mxcsr = m.get(JAVA_INT, 408);
        return f;
    }

    void write(MemorySegment m) {
        m.fill((byte) 0);
        MemorySegment.copy(fpr, 0, m, JAVA_BYTE, 0, 128);
        m.set(JAVA_SHORT, 128, (short) fcw);
        m.set(JAVA_SHORT, 130, (short) fsw);
        m.set(JAVA_BYTE, 132, (byte) ftwx);
        m.set(JAVA_SHORT, 134, (short) lastOpcode);
        m.set(JAVA_LONG, 136, lastIp);
        m.set(JAVA_LONG, 144, lastDp);
        MemorySegment.copy(xmm, 0, m, JAVA_BYTE, 152, 256);
        m.set(JAVA_INT, 408, mxcsr);
    }
}
