package vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An eventfd(2): the doorbell between threads and between Vessel and KVM (irqfd, ioeventfd).
 * {@link #signal()} may be called from any thread; {@link #drain()} belongs to the one consumer.
 */
public final class EventFd implements AutoCloseable {
    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment one;
    /** The counter read by {@link #drain()}: one consumer, so one buffer, and no allocation per drain. */
    private final MemorySegment counter;

    public EventFd(int flags) throws SysException {
        this.fd = Libc.eventfd(0, flags | Libc.EFD_CLOEXEC);
        this.one = arena.allocate(JAVA_LONG);
        one.set(JAVA_LONG, 0, 1L);
        this.counter = arena.allocate(JAVA_LONG);
    }

    public int fd() {
        return fd;
    }

    /** Adds one to the counter, waking a reader (or, for an irqfd, raising the interrupt). */
    public void signal() throws SysException {
        long r = Libc.writeRaw(fd, one, 8);
        if (r < 0 && r != -Errno.EAGAIN) {
            throw new SysException("eventfd write", (int) -r);
        }
    }

    /** Reads and resets the counter; returns 0 when a non-blocking eventfd had nothing. */
    public long drain() throws SysException {
        long r = Libc.readRaw(fd, counter, 8);
        if (r == -Errno.EAGAIN) {
            return 0;
        }
        if (r < 0) {
            throw new SysException("eventfd read", (int) -r);
        }
        return counter.get(JAVA_LONG, 0);
    }

    @Override
    public void close() {
        Libc.close(fd);
        arena.close();
    }
}
