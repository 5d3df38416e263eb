package vessel.devices.virtio;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The header every virtio-vsock packet starts with (virtio 1.x section 5.10.6, 44 bytes little-endian),
 * decoded from and encoded into bytes: the packet codec. What the fields mean for a connection is
 * {@link VsockConnection}'s business; {@link VirtioVsock} moves packets between queues and sockets. The
 * device's per-packet path reads and writes the fields in place ({@link #op(byte[])}, {@link #put}), with no
 * record or buffer per packet; the record is for everything else (tests, logs).
 *
 * @param len the payload length (an unsigned 32-bit field, so up to 2^32 - 1 as decoded)
 */
record VsockHeader(long srcCid, long dstCid, int srcPort, int dstPort, long len, int type, int op, int flags,
                   int bufAlloc, int fwdCnt) {
    static final int SIZE = 44;
    static final int TYPE_STREAM = 1;
    static final int OP_REQUEST = 1;
    static final int OP_RESPONSE = 2;
    static final int OP_RST = 3;
    static final int OP_SHUTDOWN = 4;
    static final int OP_RW = 5;
    static final int OP_CREDIT_UPDATE = 6;
    static final int OP_CREDIT_REQUEST = 7;
    /** SHUTDOWN flags: the sender will receive no more, send no more. */
    static final int SHUTDOWN_RCV = 1;
    static final int SHUTDOWN_SEND = 2;

    private static final VarHandle U64 = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle U32 = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle U16 = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);

    VsockHeader {
        if (len < 0 || len > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("payload length " + len + " is not an unsigned 32-bit value");
        }
    }

    /** The header in the first {@link #SIZE} bytes of {@code bytes}; every bit pattern is a header. */
    static VsockHeader decode(byte[] bytes) {
        return new VsockHeader(srcCid(bytes), dstCid(bytes), srcPort(bytes), dstPort(bytes), len(bytes),
                type(bytes), op(bytes), flags(bytes), bufAlloc(bytes), fwdCnt(bytes));
    }

    /** Writes the header into the first {@link #SIZE} bytes of {@code bytes}. */
    void encode(byte[] bytes) {
        put(bytes, srcCid, dstCid, srcPort, dstPort, (int) len, type, op, flags, bufAlloc, fwdCnt);
    }

    // The fields of the header in the first SIZE bytes of a packet, read in place.

    static long srcCid(byte[] h) {
        java.util.Objects.checkFromIndexSize(0, SIZE, h.length);
        return (long) U64.get(h, 0);
    }

    static long dstCid(byte[] h) {
        return (long) U64.get(h, 8);
    }

    static int srcPort(byte[] h) {
        return (int) U32.get(h, 16);
    }

    static int dstPort(byte[] h) {
        return (int) U32.get(h, 20);
    }

    /** The payload length, an unsigned 32-bit field. */
    static long len(byte[] h) {
        return Integer.toUnsignedLong((int) U32.get(h, 24));
    }

    static int type(byte[] h) {
        return (short) U16.get(h, 28) & 0xFFFF;
    }

    static int op(byte[] h) {
        return (short) U16.get(h, 30) & 0xFFFF;
    }

    static int flags(byte[] h) {
        return (int) U32.get(h, 32);
    }

    static int bufAlloc(byte[] h) {
        return (int) U32.get(h, 36);
    }

    static int fwdCnt(byte[] h) {
        return (int) U32.get(h, 40);
    }

    /** Writes a header with these fields into the first {@link #SIZE} bytes of {@code h}, in place. */
    static void put(byte[] h, long srcCid, long dstCid, int srcPort, int dstPort, int len, int type, int op,
                    int flags, int bufAlloc, int fwdCnt) {
        java.util.Objects.checkFromIndexSize(0, SIZE, h.length);
        U64.set(h, 0, srcCid);
        U64.set(h, 8, dstCid);
        U32.set(h, 16, srcPort);
        U32.set(h, 20, dstPort);
        U32.set(h, 24, len);
        U16.set(h, 28, (short) type);
        U16.set(h, 30, (short) op);
        U32.set(h, 32, flags);
        U32.set(h, 36, bufAlloc);
        U32.set(h, 40, fwdCnt);
    }
}
