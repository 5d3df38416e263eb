package vessel.devices.mmds;

import java.io.IOException;

import vessel.devices.virtio.NetBackend;

/**
 * A virtio-net interface's backend with the MMDS in front (an interface named in {@code /mmds/config}):
 * frames the guest sends to the MMDS address go to the {@link MmdsStack} and never reach the TAP; the
 * stack's answers are read ahead of the TAP's frames. Every other frame passes through unchanged: one
 * {@link MmdsStack#isForMmds} test per sent frame and one flag read per received one, no allocation.
 * Interfaces without MMDS get the TAP backend itself, without this class in between.
 */
public final class MmdsNetBackend implements NetBackend {
    private final NetBackend tap;
    private final MmdsStack stack;

    public MmdsNetBackend(NetBackend tap, MmdsStack stack) {
        this.tap = tap;
        this.stack = stack;
    }

    public MmdsStack stack() {
        return stack;
    }

    @Override
    public int read(byte[] dst) throws IOException {
        if (stack.hasFrames()) {
            int n = stack.nextFrame(dst);
            if (n > 0) {
                return n;
            }
        }
        return tap.read(dst);
    }

    @Override
    public void write(byte[] src, int len) throws IOException {
        if (!stack.isForMmds(src, len)) {
            tap.write(src, len);
            return;
        }
        stack.receive(src, len);
        if (stack.hasFrames()) {
            tap.wakeup(); // the device's receive thread may be waiting on the TAP: it has frames from us now
        }
    }

    @Override
    public void awaitReadable() throws IOException {
        if (!stack.hasFrames()) {
            tap.awaitReadable();
        }
    }

    @Override
    public void wakeup() {
        tap.wakeup();
    }

    @Override
    public boolean offloads() {
        return tap.offloads();
    }

    @Override
    public void enableOffloads(boolean csum, boolean tso4, boolean tso6, boolean ecn) throws IOException {
        tap.enableOffloads(csum, tso4, tso6, ecn);
    }

    @Override
    public void close() {
        tap.close();
    }
}
