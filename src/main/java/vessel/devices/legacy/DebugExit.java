package vessel.devices.legacy;

import java.util.function.IntConsumer;

import vessel.devices.BusDevice;

/**
 * QEMU's {@code isa-debug-exit}: a guest write of V asks the VMM to end with process status
 * {@code (V << 1) | 1}, so a test guest's verdict can never be mistaken for a clean 0.
 */
public final class DebugExit implements BusDevice {
    public static final int DEFAULT_PORT = 0xf4;
    public static final int LENGTH = 4;

    private final IntConsumer exit;

    /** {@code exit} receives the process status to end with. */
    public DebugExit(IntConsumer exit) {
        this.exit = exit;
    }

    public static int statusFor(long value) {
        return (int) (((value << 1) | 1) & 0xff);
    }

    @Override
    public long read(long offset, int size) {
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        long mask = size >= 8 ? -1L : (1L << (8 * size)) - 1;
        exit.accept(statusFor(value & mask));
    }
}
