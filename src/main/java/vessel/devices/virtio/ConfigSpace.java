package vessel.devices.virtio;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A device's configuration space as bytes (virtio 1.x 4.1.4.6: fields are little-endian), and the one
 * reader every device's {@link VirtioDevice#readConfig} goes through. A read that reaches past the end,
 * starts before it or has an odd size reads as 0: a driver probing there must not get an exception
 * thrown at its vCPU.
 */
public final class ConfigSpace {
    private ConfigSpace() {}

    /** A little-endian buffer of {@code size} bytes to fill with a device's fields. */
    public static ByteBuffer allocate(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** {@code size} (1 to 8) bytes of {@code space} at {@code offset}, little-endian, or 0 out of range. */
    public static long read(byte[] space, int offset, int size) {
        if (offset < 0 || size < 1 || size > 8 || offset > space.length - size) {
            return 0;
        }
        long value = 0;
        for (int i = size - 1; i >= 0; i--) {
            value = (value << 8) | (space[offset + i] & 0xFF);
        }
        return value;
    }
}
