package vessel.devices.virtio;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.function.IntFunction;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

import vessel.devices.DeviceMetrics;
import vessel.devices.PauseGate;
import vessel.devices.RateLimiter;
import vessel.memory.GuestMemory;
import vessel.sys.IoVec;

/**
 * virtio-net (device type 1, virtio 1.x section 5.1): one receive and one transmit queue, no control
 * queue, the MAC and link status in configuration space, frames to and from a {@link NetBackend}.
 *
 * <p>Every frame carries the 12-byte virtio_net_hdr, which the TAP (IFF_VNET_HDR, header size 12)
 * understands as is, so checksum and segmentation offloads pass straight through: the device offers
 * CSUM and HOST_TSO4/6/ECN when the backend takes offloads, and after negotiation tells the backend
 * which of GUEST_CSUM and GUEST_TSO4/6/ECN the driver accepted. With MRG_RXBUF a received frame is
 * spread over as many receive buffers as it needs and num_buffers says how many; without it a frame
 * that does not fit one buffer is dropped and counted.
 *
 * <p>Frames move with one readv or writev each, straight between the backend and the driver's buffers
 * in guest memory (scatter-gather lists made once per queue, chains refilled instead of allocated): a
 * sent frame is never copied, a received one only past its first buffer (MRG_RXBUF), and nothing is
 * allocated per frame. Each pass over a queue has a budget of frames and bytes, after which the device
 * yields, so one busy interface does not starve the VM's other devices.
 *
 * <p>Transmit is served on the driver's notification (the transport's thread). Receive is driven by the
 * device's thread ("virtio-net"), which waits for the backend to be readable and fills receive buffers
 * holding the transport's lock ({@link #transportLock}). When the driver has posted no receive buffers
 * the device stops reading: frames wait in the backend (the TAP's kernel queue, which drops and counts
 * beyond its length) until the next receive notification. At most one frame is held by the device (in
 * its first buffer and the spill).
 * Each receive pass goes through the VM's {@link PauseGate}: paused, frames wait in the backend.
 */
public final class VirtioNet implements VirtioDevice, AutoCloseable, vessel.devices.Snapshottable<VirtioNet.State> {
    private static final System.Logger LOG = System.getLogger("vessel.devices.virtio");

    public static final int DEVICE_TYPE = 1;
    public static final int QUEUE_SIZE = 256;
    public static final int RX = 0;
    public static final int TX = 1;
    /** virtio_net_hdr with num_buffers: what a VERSION_1 device always uses. */
    public static final int HDR = 12;
    /** The largest frame with a header: a 64 KiB TSO segment plus Ethernet and VLAN headers. */
    public static final int MAX_FRAME = HDR + 65550;

    public static final long F_CSUM = 1L << 0;
    public static final long F_GUEST_CSUM = 1L << 1;
    public static final long F_MAC = 1L << 5;
    public static final long F_GUEST_TSO4 = 1L << 7;
    public static final long F_GUEST_TSO6 = 1L << 8;
    public static final long F_GUEST_ECN = 1L << 9;
    public static final long F_HOST_TSO4 = 1L << 11;
    public static final long F_HOST_TSO6 = 1L << 12;
    public static final long F_HOST_ECN = 1L << 13;
    public static final long F_MRG_RXBUF = 1L << 15;
    public static final long F_STATUS = 1L << 16;
    static final int STATUS_LINK_UP = 1;

    private final NetBackend backend;
    private final byte[] mac;
    private final long features;
    private final QueueServer txServer;
    /**
     * Scatter-gather lists of a chain's buffers, for one readv/writev per frame: a chain has at most
     * QUEUE_SIZE descriptors (VirtQueue ends a longer walk), and receive has one more entry for the spill.
     */
    private final IoVec txIov = new IoVec(QUEUE_SIZE);
    private final IoVec rxIov = new IoVec(QUEUE_SIZE + 1);
    /** Where a received frame goes past its first buffer (MRG_RXBUF), or past the only one (then dropped). */
    private final MemorySegment spill = Arena.ofAuto().allocate(MAX_FRAME);
    private final byte[] numBuffers = new byte[2];
    private final Semaphore kick = new Semaphore(0);
    private Object lock = this;
    /** Each pass of the device's thread goes through it (see VirtioDevice.pauseGate); never shut until given. */
    private PauseGate gate = new PauseGate();
    private Thread thread;
    private volatile boolean closed;
    /** Set when receive stopped for want of buffers: the thread then waits for a kick, not the backend. */
    private volatile boolean stalled = true;
    /** Set when receive stopped at its per-pass budget: the thread goes on without waiting. */
    private volatile boolean rxAgain;

    // Guarded by lock.
    private VirtQueue rxQueue;
    private VirtioInterrupt interrupt;
    private boolean mergeable;
    private boolean rxStopped;
    /**
     * The frame read but not yet delivered (0: none): its length, how much of it is in receive buffers,
     * and how much of that went straight into the first buffer (the rest waits in {@link #spill}).
     */
    private int pendingLength;
    private int pendingOffset;
    private int pendingDirect;
    /** The buffers the pending frame fills, in order, and the bytes in each; the first is {@link #rxFirst}. */
    private final int[] filledHeads = new int[QUEUE_SIZE];
    private final int[] filledLengths = new int[QUEUE_SIZE];
    private int filled;
    /** A frame's first buffer, refilled by each pop; {@link #holdingFirst} while popped but given no frame. */
    private DescriptorChain rxFirst;
    private boolean holdingFirst;
    /** Further buffers of a frame (MRG_RXBUF), refilled by each pop; and the transmitted chain. */
    private DescriptorChain rxNext;
    private DescriptorChain txChain;
    private final IntFunction<DescriptorChain> firstChain = head -> rxFirst;
    private final IntFunction<DescriptorChain> nextChain = head -> rxNext;

    private final AtomicLong rxFrames = new AtomicLong();
    private final AtomicLong txFrames = new AtomicLong();
    private final AtomicLong rxDropped = new AtomicLong();
    private final AtomicLong txDropped = new AtomicLong();
    private final AtomicLong rxBytes = new AtomicLong();
    private final AtomicLong txBytes = new AtomicLong();
    private final AtomicLong txMalformed = new AtomicLong();
    private final AtomicLong backendWriteFails = new AtomicLong();
    private final AtomicLong backendReadFails = new AtomicLong();
    private final RateLimiter rxLimiter = RateLimiter.unlimited();
    private final RateLimiter txLimiter = RateLimiter.unlimited();
    private volatile QueueTimer timer = QueueTimer.NONE;
    /**
     * Set while the pending frame waits for the receive limiter (until that System.nanoTime): the thread
     * stops reading and the timer notifies RX. Guarded by lock.
     */
    private boolean rxWaiting;
    private long rxWaitingUntil;
    /** The pending frame has been let through by the receive limiter. Guarded by lock. */
    private boolean pendingAdmitted;
    private boolean loggedTxError;

    public VirtioNet(NetBackend backend, byte[] mac) {
        if (mac.length != 6) {
            throw new IllegalArgumentException("a MAC address has 6 bytes, not " + mac.length);
        }
        this.backend = backend;
        this.mac = mac.clone();
        long f = F_MAC | F_STATUS | F_MRG_RXBUF;
        if (backend.offloads()) {
            f |= F_CSUM | F_GUEST_CSUM | F_GUEST_TSO4 | F_GUEST_TSO6 | F_GUEST_ECN
                    | F_HOST_TSO4 | F_HOST_TSO6 | F_HOST_ECN;
        }
        this.features = f;
        this.txServer = new QueueServer("virtio-net", TX, this::transmit);
        txServer.byteBudget(QueueServer.BYTES_PER_PASS);
        txServer.limit(this::admitTx, QueueTimer.NONE);
    }

    public long rxFrames() {
        return rxFrames.get();
    }

    public long txFrames() {
        return txFrames.get();
    }

    /** Received frames dropped: too big for a buffer without MRG_RXBUF, or shorter than a header. */
    /**
     * Changes the interface's rate limiters (at boot, and on PATCH): null leaves that direction alone, and
     * within one each bucket given replaces the one there (see {@link RateLimiter#update}). A direction
     * waiting for tokens goes on at once under the new buckets.
     */
    public void updateRateLimiters(RateLimiter.Config rx, RateLimiter.Config tx) {
        long now = System.nanoTime();
        if (tx != null) {
            txLimiter.update(tx.bandwidth(), tx.ops(), now);
            txServer.limitChanged();
        }
        if (rx != null) {
            rxLimiter.update(rx.bandwidth(), rx.ops(), now);
            synchronized (lock) {
                if (rxWaiting) {
                    rxWaiting = false;
                    timer.wakeAfter(RX, 0);
                }
            }
        }
    }

    public RateLimiter.Config rxRateLimiter() {
        return rxLimiter.config();
    }

    public RateLimiter.Config txRateLimiter() {
        return txLimiter.config();
    }

    /** Frames the receive limiter held back (Firecracker's rx_rate_limiter_throttled). */
    public long rxRateLimiterThrottled() {
        return rxLimiter.throttled();
    }

    /** Frames the transmit limiter held back (Firecracker's tx_rate_limiter_throttled). */
    public long txRateLimiterThrottled() {
        return txLimiter.throttled();
    }

    @Override
    public void queueTimer(QueueTimer timer) {
        this.timer = timer;
        txServer.limit(this::admitTx, timer);
    }

    /** A frame to send is one op and its length in bytes, header included (Firecracker counts the same). */
    private long admitTx(DescriptorChain chain, long now) {
        return txLimiter.limits() ? txLimiter.tryConsume(Math.min(chain.readableLength(), MAX_FRAME), 1, now) : 0;
    }

    public long rxDropped() {
        return rxDropped.get();
    }

    /** Transmitted frames dropped: malformed, oversized, or refused by the backend. */
    public long txDropped() {
        return txDropped.get();
    }

    @Override
    public DeviceMetrics metrics(String id) {
        return new DeviceMetrics.Net(id, rxBytes(), rxFrames(), rxDropped(), backendReadFails(), txBytes(), txFrames(),
                txMalformed(), backendWriteFails(), rxRateLimiterThrottled(), txRateLimiterThrottled());
    }

    /** Bytes of frames delivered to the guest, virtio-net header included (as read from the backend). */
    public long rxBytes() {
        return rxBytes.get();
    }

    /** Bytes of frames sent to the backend, virtio-net header included. */
    public long txBytes() {
        return txBytes.get();
    }

    /** Transmitted frames dropped for being shorter than a header or longer than the largest frame. */
    public long txMalformed() {
        return txMalformed.get();
    }

    /** Transmitted frames the backend refused (a subset of {@link #txDropped()}). */
    public long backendWriteFails() {
        return backendWriteFails.get();
    }

    /** Reads from the backend that failed. */
    public long backendReadFails() {
        return backendReadFails.get();
    }

    @Override
    public void transportLock(Object transportLock) {
        this.lock = transportLock;
    }

    @Override
    public void pauseGate(PauseGate pauseGate) {
        this.gate = pauseGate;
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures() {
        return features;
    }

    @Override
    public int queueCount() {
        return 2;
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return 8; // mac[6], status
    }

    @Override
    public byte[] configSpace() {
        return ConfigSpace.allocate(configSize()).put(mac).putShort((short) STATUS_LINK_UP).array();
    }

    @Override
    public void writeConfig(int offset, int size, long value) {
    }

    /**
     * The guest's MAC address; the TAP is the host's, reopened by name (or another, named in the load's
     * network_overrides). Frames in flight at the pause are not kept, as on a wire.
     */
    public record State(byte[] mac) {
        public State {
            if (mac.length != 6) {
                throw new IllegalArgumentException("a MAC address of " + mac.length + " bytes");
            }
            mac = mac.clone();
        }
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public State saveState() {
        return new State(mac);
    }

    @Override
    public void restoreState(State s) {
        if (!java.util.Arrays.equals(s.mac(), mac)) {
            throw new IllegalArgumentException("network state for another MAC address");
        }
    }

    @Override
    public void activate(GuestMemory memory, List<VirtQueue> queues, long ackedFeatures, VirtioInterrupt interrupt) {
        synchronized (lock) {
            this.rxQueue = queues.get(RX);
            this.rxFirst = DescriptorChain.recyclable(memory);
            this.rxNext = DescriptorChain.recyclable(memory);
            this.txChain = DescriptorChain.recyclable(memory);
            this.holdingFirst = false;
            txServer.recycle(head -> txChain);
            this.interrupt = interrupt;
            this.mergeable = (ackedFeatures & F_MRG_RXBUF) != 0;
            this.rxStopped = false;
            txServer.start(queues.get(TX), interrupt);
            if (backend.offloads()) {
                try {
                    backend.enableOffloads((ackedFeatures & F_GUEST_CSUM) != 0, (ackedFeatures & F_GUEST_TSO4) != 0,
                            (ackedFeatures & F_GUEST_TSO6) != 0, (ackedFeatures & F_GUEST_ECN) != 0);
                } catch (IOException e) {
                    LOG.log(Level.WARNING, "virtio-net: offloads not set: " + e.getMessage());
                }
            }
            if (thread == null && !closed) {
                thread = DeviceThread.start("virtio-net", this::run, lock, () -> interrupt);
            }
            stalled = false;
            kick.release();
        }
    }

    @Override
    public boolean queueNotified(int index) {
        synchronized (lock) {
            if (index == TX) {
                return txServer.serve();
            } else if (index == RX && rxQueue != null) {
                pumpRx();
                if (!stalled) {
                    kick.release(); // buffers again: the thread goes back to waiting on the backend
                }
            }
            return false;
        }
    }

    @Override
    public void reset() {
        synchronized (lock) {
            txServer.clear();
            rxQueue = null;
            interrupt = null;
            holdingFirst = false;
            filled = 0;
            pendingLength = 0;
            pendingOffset = 0;
            pendingAdmitted = false;
            rxWaiting = false;
            stalled = true;
        }
    }

    @Override
    public void close() {
        closed = true;
        kick.release();
        backend.wakeup();
        if (thread != null) {
            try {
                thread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        backend.close();
    }

    // ---- transmit ----

    /**
     * Sends a frame with one writev straight from the driver's buffers, header included (the TAP reads the
     * virtio_net_hdr as it is). Nothing is copied and nothing allocated.
     */
    private int transmit(DescriptorChain chain) {
        long len = chain.readableLength();
        int count = len < HDR || len > MAX_FRAME ? -1 : chain.readableIoVec(txIov);
        if (count < 0) {
            txDropped.incrementAndGet();
            txMalformed.incrementAndGet();
            return 0;
        }
        try {
            backend.write(txIov, count, (int) len);
            txFrames.incrementAndGet();
            txBytes.addAndGet(len);
        } catch (IOException e) {
            txDropped.incrementAndGet();
            backendWriteFails.incrementAndGet();
            if (!loggedTxError) {
                loggedTxError = true;
                LOG.log(Level.WARNING, "virtio-net: frame not sent (later failures only counted): " + e.getMessage());
            }
        }
        return 0;
    }

    // ---- receive ----

    /** Runs first on the device's own thread: the VMM stacks that thread's seccomp filter there. */
    private volatile Runnable threadStart = () -> { };

    /** What the device's thread runs before anything else; set before the guest can activate the device. */
    public void onThreadStart(Runnable hook) {
        this.threadStart = java.util.Objects.requireNonNull(hook);
    }

    /** The device's thread (started through {@link DeviceThread}, which reports a failure). */
    private void run() {
        threadStart.run();
        while (!closed) {
            try {
                if (rxAgain) {
                    rxAgain = false;
                } else if (stalled) {
                    kick.acquire();
                } else {
                    backend.awaitReadable();
                }
            } catch (InterruptedException e) {
                return;
            } catch (IOException e) {
                if (!closed) {
                    LOG.log(Level.ERROR, "virtio-net: receive stopped: " + e.getMessage());
                }
                return;
            }
            if (closed || !gate.enter()) {
                return;
            }
            try {
                synchronized (lock) {
                    if (rxQueue != null && !closed) {
                        pumpRx();
                    }
                }
            } finally {
                gate.leave();
            }
        }
    }

    /**
     * Moves frames from the backend into receive buffers until either runs out, or until the pass has
     * moved {@link QueueServer#CHAINS_PER_PASS} frames or {@link QueueServer#BYTES_PER_PASS} bytes: then
     * the device's thread goes on with the rest after a break (the lock released, the gate passed again).
     *
     * <p>Each frame is read with one readv straight into the writable buffers of the next chain, and past
     * them into {@link #spill}; only what spilled (a frame longer than the chain) is copied, into further
     * chains with MRG_RXBUF, so no byte is copied more than once and nothing is allocated per frame.
     */
    private void pumpRx() {
        if (rxQueue == null || rxStopped) {
            stalled = true;
            return;
        }
        if (rxWaiting) {
            if (System.nanoTime() - rxWaitingUntil < 0) {
                stalled = true; // the timer notifies RX when the limiter has the tokens
                return;
            }
            rxWaiting = false;
        }
        boolean more = true;
        int budget = QueueServer.CHAINS_PER_PASS;
        long bytesLeft = QueueServer.BYTES_PER_PASS;
        try {
            while (more) {
                if (budget-- == 0 || bytesLeft <= 0) {
                    stalled = false;
                    rxAgain = true;
                    if (Thread.currentThread() != thread) {
                        kick.release();
                        backend.wakeup();
                    }
                    break;
                }
                if (pendingLength == 0) {
                    // Read only with a buffer in hand: otherwise the frame stays in the backend.
                    if (!holdingFirst) {
                        if (rxQueue.pop(firstChain) == null) {
                            stalled = true;
                            break;
                        }
                        holdingFirst = true;
                    }
                    long room = rxFirst.writableLength();
                    int count = room < HDR ? -1 : rxFirst.writableIoVec(rxIov, MAX_FRAME, 1);
                    if (count < 0) {
                        // No room for a header, or more segments than a frame needs: the driver gets it
                        // back unused, before this frame's buffers, so none is split.
                        rxQueue.addUsed(rxFirst.head(), 0);
                        holdingFirst = false;
                        continue;
                    }
                    long direct = Math.min(room, MAX_FRAME);
                    rxIov.set(count, spill, 0, MAX_FRAME);
                    int n;
                    try {
                        n = backend.read(rxIov, count + 1);
                    } catch (IOException e) {
                        LOG.log(Level.WARNING, "virtio-net: read failed: " + e.getMessage());
                        backendReadFails.incrementAndGet();
                        n = 0;
                    }
                    if (n == 0) {
                        stalled = false;
                        break;
                    }
                    if (n < HDR || (!mergeable && n > direct)) {
                        // Too short, or too big for the buffer without MRG_RXBUF: the buffer stays for the next.
                        rxDropped.incrementAndGet();
                        continue;
                    }
                    holdingFirst = false;
                    pendingLength = n;
                    pendingDirect = (int) Math.min(n, direct);
                    pendingOffset = pendingDirect;
                    filledHeads[0] = rxFirst.head();
                    filledLengths[0] = pendingDirect;
                    filled = 1;
                    pendingAdmitted = false;
                }
                if (!pendingAdmitted && rxLimiter.limits()) {
                    long now = System.nanoTime();
                    long wait = rxLimiter.tryConsume(pendingLength, 1, now);
                    if (wait > 0) {
                        // The frame stays pending (in its buffers, not yet used); the thread waits for a kick.
                        rxWaiting = true;
                        rxWaitingUntil = now + wait;
                        stalled = true;
                        timer.wakeAfter(RX, wait);
                        break;
                    }
                }
                pendingAdmitted = true;
                int length = pendingLength;
                more = deliver();
                if (more) {
                    bytesLeft -= length;
                }
            }
        } catch (VirtQueueException e) {
            rxStopped = true;
            stalled = true;
            String why = "virtio-net queue " + RX + ": " + e.getMessage();
            LOG.log(Level.WARNING, why + "; queue stopped until the driver resets the device");
            interrupt.needsReset(why);
        }
        if (rxQueue.needsNotification()) {
            interrupt.queue(RX);
        }
    }

    /**
     * Copies what of the pending frame spilled into further buffers and returns them all as used; false
     * when the buffers ran out first (the frame stays pending, its first buffer held).
     */
    private boolean deliver() throws VirtQueueException {
        int empty = 0;
        while (pendingOffset < pendingLength) {
            DescriptorChain chain = rxQueue.pop(nextChain);
            if (chain == null) {
                stalled = true;
                return false;
            }
            int n = (int) Math.min(chain.writableLength(), pendingLength - pendingOffset);
            if (n == 0) {
                // A useless buffer goes back at once, before this frame's, so none is split; a ring of
                // nothing else ends the walk instead of holding the thread.
                rxQueue.addUsed(chain.head(), 0);
                if (++empty > QUEUE_SIZE) {
                    throw new VirtQueueException("more than " + QUEUE_SIZE + " receive buffers without room in a row");
                }
                continue;
            }
            if (filled == filledHeads.length) {
                throw new VirtQueueException("a frame of " + pendingLength + " bytes needs more than "
                        + filledHeads.length + " receive buffers");
            }
            chain.write(0, spill, pendingOffset - pendingDirect, n);
            filledHeads[filled] = chain.head();
            filledLengths[filled] = n;
            filled++;
            pendingOffset += n;
        }
        // num_buffers, in the header at the start of the first buffer.
        numBuffers[0] = (byte) filled;
        numBuffers[1] = (byte) (filled >>> 8);
        rxFirst.write(10, numBuffers, 0, 2);
        for (int i = 0; i < filled; i++) {
            rxQueue.addUsed(filledHeads[i], filledLengths[i]);
        }
        filled = 0;
        rxBytes.addAndGet(pendingLength);
        pendingLength = 0;
        pendingOffset = 0;
        rxFrames.incrementAndGet();
        return true;
    }
}
