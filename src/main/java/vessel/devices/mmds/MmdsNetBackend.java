package vessel.devices.mmds;

import java.io.IOException;

import vessel.devices.virtio.NetBackend;
import vessel.devices.virtio.VirtioNet;
import vessel.sys.IoVec;

/**
 * A virtio-net interface's backend with the MMDS in front (an interface named in {@code /mmds/config}):
 * frames the guest sends to the MMDS address go to the {@link MmdsStack} and never reach the TAP; the
 * stack's answers are read ahead of the TAP's frames. Every other frame passes through unchanged: one
 * {@link MmdsStack#isForMmds} test on a copy of the sent frame's first bytes and one flag read per
 * received one, no allocation. Frames to and from the stack are copied through buffers of this class.
 * Interfaces without MMDS get the TAP backend itself, without this class in between.
 */
public final class MmdsNetBackend implements NetBackend {
    private final NetBackend tap;
    private final MmdsStack stack;
    /** The first bytes of a sent frame: all {@link MmdsStack#isForMmds} looks at (headers up to ARP's target). */
    private final byte[] head = new byte[64];
    /** A whole frame to or from the stack; used by one thread at a time (the device's, under its lock). */
    private final byte[] frame = new byte[Math.max(VirtioNet.MAX_FRAME, MmdsStack.MAX_FRAME_OUT)];

    public MmdsNetBackend(NetBackend tap, MmdsStack stack) {
        this.tap = tap;
        this.stack = stack;
    }

    public MmdsStack stack() {
        return stack;
    }

    @Override
    public int read(IoVec iov, int count) throws IOException {
        if (stack.hasFrames()) {
            int n = stack.nextFrame(frame);
            if (n > 0) {
                return iov.scatter(frame, n, count);
            }
        }
        return tap.read(iov, count);
    }

    @Override
    public void write(IoVec iov, int count, int len) throws IOException {
        iov.gather(count, head, Math.min(len, head.length));
        if (!stack.isForMmds(head, len)) {
            tap.write(iov, count, len);
            return;
        }
        int n = iov.gather(count, frame, Math.min(len, frame.length));
        stack.receive(frame, n);
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
