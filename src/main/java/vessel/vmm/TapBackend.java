package vessel.vmm;

import java.io.IOException;

import vessel.devices.virtio.NetBackend;
import vessel.devices.virtio.VirtioNet;
import vessel.sys.Epoll;
import vessel.sys.EventFd;
import vessel.sys.IoVec;
import vessel.sys.Libc;
import vessel.sys.SysException;
import vessel.sys.Tap;

/**
 * A {@link Tap} as a {@link VirtioNet}'s backend: one readv or writev per frame straight between the TAP
 * and the driver's buffers, epoll on the TAP plus an eventfd to wake the waiter.
 */
final class TapBackend implements NetBackend {
    private final Tap tap;
    private final EventFd wake;
    private final Epoll epoll;
    private final boolean offloads;

    TapBackend(Tap tap) throws SysException {
        this.tap = tap;
        this.wake = new EventFd(Libc.EFD_NONBLOCK);
        this.epoll = new Epoll(2);
        epoll.add(tap.fd(), 0);
        epoll.add(wake.fd(), 1);
        boolean ok;
        try {
            tap.setOffload(Tap.TUN_F_CSUM | Tap.TUN_F_TSO4 | Tap.TUN_F_TSO6 | Tap.TUN_F_TSO_ECN);
            tap.setOffload(0); // until the driver says what it takes
            ok = true;
        } catch (SysException e) {
            ok = false;
        }
        this.offloads = ok;
    }

    @Override
    public int read(IoVec iov, int count) throws IOException {
        return tap.readv(iov, count);
    }

    @Override
    public void write(IoVec iov, int count, int len) throws IOException {
        if (!tap.writev(iov, count)) {
            throw new IOException(tap.name() + ": the TAP's queue is full");
        }
    }

    @Override
    public void awaitReadable() throws IOException {
        int n = epoll.await(-1);
        for (int i = 0; i < n; i++) {
            if (epoll.token(i) == 1) {
                wake.drain();
            }
        }
    }

    @Override
    public void wakeup() {
        try {
            wake.signal();
        } catch (SysException ignored) {
            // the waiter wakes on its next frame
        }
    }

    @Override
    public boolean offloads() {
        return offloads;
    }

    @Override
    public void enableOffloads(boolean csum, boolean tso4, boolean tso6, boolean ecn) throws IOException {
        int flags = 0;
        if (csum) {
            flags |= Tap.TUN_F_CSUM;
            // TSO needs checksum offload in the TAP's rules, as in the driver's.
            flags |= tso4 ? Tap.TUN_F_TSO4 : 0;
            flags |= tso6 ? Tap.TUN_F_TSO6 : 0;
            flags |= ecn && (tso4 || tso6) ? Tap.TUN_F_TSO_ECN : 0;
        }
        tap.setOffload(flags);
    }

    @Override
    public void close() {
        epoll.close();
        wake.close();
        tap.close();
    }
}
