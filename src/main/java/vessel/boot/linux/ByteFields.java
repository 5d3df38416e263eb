package vessel.boot.linux;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/** Multi-byte fields read out of a byte array, in the byte order each container format declares. */
final class ByteFields {
    private static final VarHandle LE32 = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle BE32 = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle BE16 = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.BIG_ENDIAN);

    private ByteFields() {}

    static int le32(byte[] data, int at) {
        return (int) LE32.get(data, at);
    }

    static int be32(byte[] data, int at) {
        return (int) BE32.get(data, at);
    }

    static int be16(byte[] data, int at) {
        return Short.toUnsignedInt((short) BE16.get(data, at));
    }

    /** Three bytes, little-endian (a zstd block header). */
    static int le24(byte[] data, int at) {
        return (data[at] & 0xff) | (data[at + 1] & 0xff) << 8 | (data[at + 2] & 0xff) << 16;
    }
}
