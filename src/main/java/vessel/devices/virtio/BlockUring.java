package vessel.devices.virtio;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.Supplier;

import vessel.sys.Errno;
import vessel.sys.EventFd;
import vessel.sys.IoUring;
import vessel.sys.IoVec;
import vessel.sys.Libc;
import vessel.sys.SysException;

/**
 * A disk image's io_uring, as the block device uses it: requests are queued under the submission lock,
 * handed to the kernel in one {@code io_uring_enter} per pass ({@link #submitAndReap}), and completed by
 * whichever comes first: the submitter reaping right after (a read from the page cache completes inside
 * the enter), or this ring's completion thread, woken by the eventfd the ring posts to. The completion
 * thread is not the VM's event loop on purpose: a pause waits for the requests in flight, and the event
 * loop does not run while paused.
 *
 * <p>Each request is known by a tag (its queue and head: a head is in flight once per queue), so a
 * completion finds its request without allocating.
 *
 * @param <R> the device's request
 */
final class BlockUring<R> implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.devices.virtio");
    /** The tag of the no-op {@link #close} submits to wake the completion thread. */
    private static final long WAKE = -1;

    /** What completes a request: its result, bytes moved or {@code -errno}. */
    @FunctionalInterface
    interface Done<R> {
        void done(R request, int result);
    }

    private final IoUring ring;
    private final EventFd posted;
    private final Object[] byTag;
    private final Done<R> done;
    private final Supplier<Runnable> threadStart;
    private final IoUring.Completion sink = this::complete;
    private final Object reaping = new Object();
    private Thread completer;
    private volatile boolean closed;
    private boolean loggedSubmitError;
    /** Set under {@code reaping} once the ring is unmapped. */
    private boolean unmapped;

    private BlockUring(IoUring ring, EventFd posted, int tags, Done<R> done, Supplier<Runnable> threadStart) {
        this.ring = ring;
        this.posted = posted;
        this.byTag = new Object[tags];
        this.done = done;
        this.threadStart = threadStart;
    }

    /** A ring for {@code tags} requests in flight at most, on {@code fileFd}; throws where io_uring cannot be had. */
    static <R> BlockUring<R> open(int fileFd, int tags, Done<R> done, Supplier<Runnable> threadStart)
            throws SysException {
        int entries = Math.min(4096, Integer.highestOneBit(Math.max(1, tags - 1)) << 1);
        EventFd posted = new EventFd(Libc.EFD_CLOEXEC); // blocking: the completion thread sleeps in read
        try {
            return new BlockUring<>(IoUring.open(entries, fileFd, posted.fd()), posted, tags, done, threadStart);
        } catch (SysException | RuntimeException e) {
            posted.close();
            throw e;
        }
    }

    /**
     * Queues a readv into ({@code read}) or writev from the buffers {@code iov} describes, at {@code position};
     * false if the ring is closed (the caller then does the I/O itself).
     */
    synchronized boolean queueReadWrite(int tag, R request, boolean read, IoVec iov, int count, long position) {
        if (!begin(tag, request)) {
            return false;
        }
        while (!ring.prepReadWrite(read, iov, count, position, tag)) {
            submitLocked();
        }
        return true;
    }

    /** Queues an fdatasync of the image; false if the ring is closed. */
    synchronized boolean queueFlush(int tag, R request) {
        if (!begin(tag, request)) {
            return false;
        }
        while (!ring.prepFsync(true, tag)) {
            submitLocked();
        }
        return true;
    }

    private boolean begin(int tag, R request) {
        if (closed) {
            return false;
        }
        if (completer == null) {
            completer = Thread.ofPlatform().name("virtio-blk-uring").daemon(true).start(this::completions);
        }
        if (byTag[tag] != null) {
            throw new IllegalStateException("io_uring tag " + tag + " is in flight already");
        }
        byTag[tag] = request;
        return true;
    }

    private void submitLocked() {
        int r = ring.submit();
        if (r < 0 && !loggedSubmitError) {
            loggedSubmitError = true; // the entries stay queued; the next submission retries them
            LOG.log(Level.WARNING, "virtio-blk: io_uring_enter: " + Errno.describe(-r));
        }
    }

    /** Hands what was queued to the kernel, then completes whatever has completed. */
    void submitAndReap() {
        synchronized (this) {
            submitLocked();
        }
        reap();
    }

    /** Completes every request whose completion has been posted. */
    void reap() {
        synchronized (reaping) {
            if (!unmapped) {
                ring.reap(sink);
            }
        }
    }

    @SuppressWarnings("unchecked")
    private void complete(long tag, int result) {
        if (tag == WAKE) {
            return;
        }
        R r = (R) byTag[(int) tag];
        byTag[(int) tag] = null; // before done: the request's slot may be reused as soon as it completes
        done.done(r, result);
    }

    /** The completion thread: sleeps on the ring's eventfd, reaps when woken, until closed. */
    private void completions() {
        threadStart.get().run();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment counter = arena.allocate(8);
            while (!closed) {
                long n = Libc.readRaw(posted.fd(), counter, 8);
                if (n < 0 && n != -Errno.EINTR) {
                    LOG.log(Level.ERROR, "virtio-blk: io_uring completions stopped: " + Errno.describe((int) -n));
                    return;
                }
                reap();
            }
        }
    }

    /**
     * Stops the completion thread and closes the ring. The device closes it only once no request is in
     * flight on it.
     */
    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            t = completer;
            if (t != null && ring.prepNop(WAKE)) {
                ring.submit();
            }
        }
        if (t != null) {
            try {
                posted.signal(); // in case the no-op found the ring full
                t.join(5000);
            } catch (SysException | InterruptedException e) {
                LOG.log(Level.WARNING, "virtio-blk: io_uring completion thread did not stop: " + e);
            }
        }
        synchronized (reaping) {
            unmapped = true;
            ring.close();
        }
        posted.close();
    }
}
