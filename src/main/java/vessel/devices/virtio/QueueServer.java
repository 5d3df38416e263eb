package vessel.devices.virtio;

import java.lang.System.Logger.Level;
import java.util.function.IntFunction;

/**
 * Serves one virtqueue of a device: pops every available chain, hands it to the device's request handler,
 * returns it as used, and interrupts the driver when it asked to be. A ring the driver broke stops the
 * queue and asks the driver for a reset (DEVICE_NEEDS_RESET): the device neither loops on it nor touches
 * anything outside what the queue validated, and the VMM keeps running. Like the device, not thread-safe.
 */
final class QueueServer {
    private static final System.Logger LOG = System.getLogger("vessel.devices.virtio");

    /**
     * Handles one request; returns the bytes it wrote into the chain (the used length), or {@link #PENDING}
     * when it goes on elsewhere and comes back through {@link #complete}.
     */
    @FunctionalInterface
    interface RequestHandler {
        int handle(DescriptorChain chain) throws VirtQueueException;
    }

    /** A handler's answer for a request it completes later (a block request on an I/O worker). */
    static final int PENDING = -1;

    /**
     * The most chains one pass over a queue serves. A device that hits it re-arms itself and yields, so a
     * driver that keeps its queue full neither starves the VM's other devices nor holds the transport lock
     * without a break.
     */
    static final int CHAINS_PER_PASS = 64;

    /**
     * The most bytes (the chains' buffers) one pass serves where a device asks for a byte budget too
     * ({@link #byteBudget}): 64 full-size network frames would be 4 MiB.
     */
    static final long BYTES_PER_PASS = 256 * 1024;

    /**
     * Asks whether a popped chain may be served now (a rate limiter's say): 0 to serve it, else the
     * nanoseconds until it may be, and the chain goes back to the driver's ring until then.
     */
    @FunctionalInterface
    interface Admission {
        long delay(DescriptorChain chain, long now);
    }

    /** Chains to refill instead of allocating (see {@link VirtQueue#pop(IntFunction)}); null: none. */
    private IntFunction<DescriptorChain> recycled;

    /** Not waiting for a timer. */
    private static final long NOT_WAITING = Long.MIN_VALUE;

    private final String name;
    private final int index;
    private final RequestHandler handler;
    private VirtQueue queue;
    private VirtioInterrupt interrupt;
    private boolean stopped;
    private Admission admission;
    private QueueTimer timer = QueueTimer.NONE;
    /** When a refused chain may be served (System.nanoTime), or NOT_WAITING; set from the API thread too. */
    private volatile long waitingUntil = NOT_WAITING;
    private long bytesPerPass = Long.MAX_VALUE;

    QueueServer(String name, int index, RequestHandler handler) {
        this.name = name;
        this.index = index;
        this.handler = handler;
    }

    /** Each chain is admitted by {@code admission} before it is served; a refused one resumes by {@code timer}. */
    void limit(Admission admission, QueueTimer timer) {
        this.admission = admission;
        this.timer = timer;
    }

    /** A pass also ends once the chains it served held {@code bytes} or more (their buffers' lengths). */
    void byteBudget(long bytes) {
        this.bytesPerPass = bytes;
    }

    /** Pops chains into what {@code recycled} gives for a head (null for a new one). */
    void recycle(IntFunction<DescriptorChain> recycled) {
        this.recycled = recycled;
    }

    /** The limit changed (PATCH): a queue waiting for its timer is served again now. */
    void limitChanged() {
        if (waitingUntil != NOT_WAITING) {
            waitingUntil = NOT_WAITING;
            timer.wakeAfter(index, 0);
        }
    }

    /** Starts serving an activated queue; {@code queue} null (the driver did not enable it) serves nothing. */
    void start(VirtQueue queue, VirtioInterrupt interrupt) {
        this.queue = queue;
        this.interrupt = interrupt;
        this.stopped = false;
        this.waitingUntil = NOT_WAITING;
    }

    /** Drops the queue (device reset). */
    void clear() {
        queue = null;
        interrupt = null;
        stopped = false;
        waitingUntil = NOT_WAITING;
    }

    /** Whether a broken ring stopped the queue until the next reset. */
    boolean stopped() {
        return stopped;
    }

    /**
     * Serves the chains the driver has made available, at most {@link #CHAINS_PER_PASS} (and the byte
     * budget's worth, if the device set one); returns true when
     * it stopped at that budget and the caller should call again (a driver that keeps adding keeps the
     * device busy with real requests, but only a pass at a time).
     */
    boolean serve() {
        if (queue == null || stopped) {
            return false;
        }
        long until = waitingUntil;
        if (until != NOT_WAITING) {
            if (System.nanoTime() - until < 0) {
                return false; // a driver notification while the limiter holds the queue: its timer is set
            }
            waitingUntil = NOT_WAITING;
        }
        boolean more = false;
        try {
            DescriptorChain chain;
            int budget = CHAINS_PER_PASS;
            long bytesLeft = bytesPerPass;
            while ((chain = queue.pop(recycled)) != null) {
                if (admission != null) {
                    long now = System.nanoTime();
                    long wait = admission.delay(chain, now);
                    if (wait > 0) {
                        queue.undoPop();
                        waitingUntil = now + wait;
                        timer.wakeAfter(index, wait);
                        break;
                    }
                }
                bytesLeft -= chain.readableLength() + chain.writableLength();
                int used = handler.handle(chain);
                if (used != PENDING) {
                    queue.addUsed(chain.head(), used);
                }
                if (--budget == 0 || bytesLeft <= 0) {
                    more = true;
                    break;
                }
            }
        } catch (VirtQueueException e) {
            stop(e.getMessage());
        } catch (RuntimeException e) {
            // A device bug: fail this device for the driver rather than the VMM thread that serves it.
            stop("internal error: " + e);
        }
        if (queue.needsNotification()) {
            interrupt.queue(index);
        }
        return more && !stopped;
    }

    /**
     * A request the handler answered {@link #PENDING} is done: returns it as used and interrupts the driver
     * if it asked to be. Under the same lock as {@link #serve}; a queue reset or stopped since drops it.
     */
    void complete(int head, int len) {
        if (queue == null || stopped) {
            return;
        }
        queue.addUsed(head, len);
        if (queue.needsNotification()) {
            interrupt.queue(index);
        }
    }

    private void stop(String why) {
        stopped = true;
        String message = name + " queue " + index + ": " + why;
        LOG.log(Level.WARNING, message + "; queue stopped until the driver resets the device");
        interrupt.needsReset(message);
    }
}
