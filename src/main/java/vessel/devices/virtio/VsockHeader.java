package vessel.devices.virtio;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The header every virtio-vsock packet starts with (virtio 1.x section 5.10.6, 44 bytes little-endian),
 * decoded from and encoded into bytes: the packet codec. What the fields mean for a connection is
 * {@link VsockConnection}'s business; {@link VirtioVsock} moves packets between queues and sockets.
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

    VsockHeader {
        if (len < 0 || len > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("payload length " + len + " is not an unsigned 32-bit value");
        }
    }

    /** The header in the first {@link #SIZE} bytes of {@code bytes}; every bit pattern is a header. */
    static VsockHeader decode(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes, 0, SIZE).order(ByteOrder.LITTLE_ENDIAN);
        return new VsockHeader(b.getLong(0), b.getLong(8), b.getInt(16), b.getInt(20),
                Integer.toUnsignedLong(b.getInt(24)), b.getShort(28) & 0xFFFF, b.getShort(30) & 0xFFFF,
                b.getInt(32), b.getInt(36), b.getInt(40));
    }

    /** Writes the header into the first {@link #SIZE} bytes of {@code bytes}. */
    void encode(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes, 0, SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, srcCid);
        b.putLong(8, dstCid);
        b.putInt(16, srcPort);
        b.putInt(20, dstPort);
        b.putInt(24, (int) len);
        b.putShort(28, (short) type);
        b.putShort(30, (short) op);
        b.putInt(32, flags);
        b.putInt(36, bufAlloc);
        b.putInt(40, fwdCnt);
    }
}
