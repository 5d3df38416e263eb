package vessel.sys;

/**
 * The Linux ioctl request encoding from {@code asm-generic/ioctl.h}: direction in bits 30-31, argument
 * size in bits 16-29, type in bits 8-15, number in bits 0-7. Request numbers are computed from this
 * once, in the class that declares them, and pinned against the C headers in a test.
 */
public final class Ioctl {
    private static final int NONE = 0;
    private static final int WRITE = 1;
    private static final int READ = 2;

    private Ioctl() {}

    public static long io(int type, int nr) {
        return encode(NONE, type, nr, 0);
    }

    /** Userspace writes the argument, the kernel reads it. */
    public static long iow(int type, int nr, long size) {
        return encode(WRITE, type, nr, size);
    }

    /** The kernel writes the argument. */
    public static long ior(int type, int nr, long size) {
        return encode(READ, type, nr, size);
    }

    public static long iowr(int type, int nr, long size) {
        return encode(READ | WRITE, type, nr, size);
    }

    private static long encode(int dir, int type, int nr, long size) {
        if (size < 0 || size >= (1 << 14)) {
            throw new IllegalArgumentException("ioctl argument size out of range: " + size);
        }
        return ((long) dir << 30) | (size << 16) | ((long) (type & 0xff) << 8) | (nr & 0xff);
    }
}
