package vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An epoll instance for one waiting thread. Registered fds carry a caller-chosen {@code long} token
 * that {@link #await} hands back, so the event loop finds its handler without a lookup by fd.
 */
public final class Epoll implements AutoCloseable {
    /** {@code struct epoll_event} is packed on x86-64: a 32-bit mask then a 64-bit datum at offset 4. */
    public static final StructLayout EVENT = MemoryLayout.structLayout(
            JAVA_INT.withName("events"), JAVA_LONG.withByteAlignment(4).withName("data")).withName("epoll_event");
    public static final int EPOLLIN = 0x001;
    public static final int EPOLLOUT = 0x004;
    public static final int EPOLLERR = 0x008;
    public static final int EPOLLHUP = 0x010;
    private static final int EPOLL_CLOEXEC = 02000000;
    private static final int CTL_ADD = 1;
    private static final int CTL_DEL = 2;
    private static final int CTL_MOD = 3;

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment events;
    private final int capacity;
    /** The event {@link #watch} hands the kernel; its callers hold one lock (see there). */
    private final MemorySegment change;

    public Epoll(int capacity) throws SysException {
        this.fd = Libc.epollCreate1(EPOLL_CLOEXEC);
        this.capacity = capacity;
        this.events = arena.allocate(EVENT.byteSize() * capacity, 8);
        this.change = arena.allocate(EVENT);
    }

    /** Watches {@code watched} for input; {@link #token} of a ready event then returns {@code token}. */
    public void add(int watched, long token) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ev = a.allocate(EVENT);
            ev.set(JAVA_INT, 0, EPOLLIN);
            ev.set(Libc.LONG_UNALIGNED, 4, token);
            Libc.epollCtl(fd, CTL_ADD, watched, ev);
        }
    }

    /**
     * Watches {@code watched}, watched for {@code was} until now (0: not at all), for {@code interest} from
     * now on (0: not at all, so a hang-up is not reported either), allocating nothing: for a device's path.
     * Callers serialize calls on one instance (a device's lock); a thread in {@link #await} sees the change.
     */
    public void watch(int watched, int was, int interest, long token) throws SysException {
        if (was == interest) {
            return;
        }
        int op = was == 0 ? CTL_ADD : interest == 0 ? CTL_DEL : CTL_MOD;
        change.set(JAVA_INT, 0, interest);
        change.set(Libc.LONG_UNALIGNED, 4, token);
        int r = Libc.epollCtlRaw(fd, op, watched, change);
        if (r < 0) {
            throw new SysException("epoll_ctl", -r);
        }
    }

    public void remove(int watched) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            Libc.epollCtl(fd, CTL_DEL, watched, a.allocate(EVENT));
        }
    }

    /** Waits up to {@code timeoutMillis} (-1: forever); returns how many events are ready (0 on EINTR). */
    public int await(int timeoutMillis) throws SysException {
        int n = Libc.epollWaitRaw(fd, events, capacity, timeoutMillis);
        if (n == -Errno.EINTR) {
            return 0;
        }
        if (n < 0) {
            throw new SysException("epoll_wait", -n);
        }
        return n;
    }

    /** The token of ready event {@code i} of the last {@link #await}. */
    public long token(int i) {
        return events.get(Libc.LONG_UNALIGNED, EVENT.byteSize() * i + 4);
    }

    /** What ready event {@code i} of the last {@link #await} reports (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP). */
    public int events(int i) {
        return events.get(JAVA_INT, EVENT.byteSize() * i);
    }

    @Override
    public void close() {
        Libc.close(fd);
        arena.close();
    }
}
