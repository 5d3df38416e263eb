package vessel.devices.virtio;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

import vessel.devices.DeviceMetrics;
import vessel.devices.PauseGate;
import vessel.devices.RateLimiter;
import vessel.memory.GuestMemory;

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
 * <p>Transmit is served on the driver's notification (the transport's thread). Receive is driven by the
 * device's thread ("virtio-net"), which waits for the backend to be readable and fills receive buffers
 * holding the transport's lock ({@link #transportLock}). When the driver has posted no receive buffers
 * the device stops reading: frames wait in the backend (the TAP's kernel queue, which drops and counts
 * beyond its length) until the next receive notification. At most one frame is held by the device.
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
    private final byte[] txFrame = new byte[MAX_FRAME];
    private final byte[] rxFrame = new byte[MAX_FRAME];
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
    /** The frame read but not yet delivered (0: none), how much of it is in {@link #filling}. */
    private int pendingLength;
    private int pendingOffset;
    private final List<DescriptorChain> filling = new ArrayList<>();
    private final List<Integer> fillingLengths = new ArrayList<>();
    private DescriptorChain heldRx;

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
            heldRx = null;
            filling.clear();
            fillingLengths.clear();
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

    private int transmit(DescriptorChain chain) {
        long len = chain.readableLength();
        if (len < HDR || len > MAX_FRAME) {
            txDropped.incrementAndGet();
            txMalformed.incrementAndGet();
            return 0;
        }
        chain.read(0, txFrame, 0, (int) len);
        try {
            backend.write(txFrame, (int) len);
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
     * moved {@link QueueServer#CHAINS_PER_PASS} frames: then the device's thread goes on with the rest.
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
        try {
            while (more) {
                if (budget-- == 0) {
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
                    if (heldRx == null && (heldRx = rxQueue.pop()) == null) {
                        stalled = true;
                        break;
                    }
                    int n;
                    try {
                        n = backend.read(rxFrame);
                    } catch (IOException e) {
                        LOG.log(Level.WARNING, "virtio-net: read failed: " + e.getMessage());
                        backendReadFails.incrementAndGet();
                        n = 0;
                    }
                    if (n == 0) {
                        stalled = false;
                        break;
                    }
                    if (n < HDR) {
                        rxDropped.incrementAndGet();
                        continue;
                    }
                    pendingLength = n;
                    pendingOffset = 0;
                    pendingAdmitted = false;
                }
                if (!pendingAdmitted && rxLimiter.limits()) {
                    long now = System.nanoTime();
                    long wait = rxLimiter.tryConsume(pendingLength, 1, now);
                    if (wait > 0) {
                        // The frame stays pending (the rest in the TAP); the thread waits for a kick.
                        rxWaiting = true;
                        rxWaitingUntil = now + wait;
                        stalled = true;
                        timer.wakeAfter(RX, wait);
                        break;
                    }
                }
                pendingAdmitted = true;
                more = deliver();
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

    /** Puts the pending frame into buffers; false when the buffers ran out first (the frame stays pending). */
    private boolean deliver() throws VirtQueueException {
        while (pendingOffset < pendingLength) {
            DescriptorChain chain = heldRx != null ? heldRx : rxQueue.pop();
            heldRx = null;
            if (chain == null) {
                stalled = true;
                return false;
            }
            long room = chain.writableLength();
            if (!mergeable) {
                if (room < pendingLength) {
                    rxDropped.incrementAndGet(); // the buffer stays for the next frame
                    heldRx = chain;
                    pendingLength = 0;
                    return true;
                }
                filling.add(chain);
                fillingLengths.add(pendingLength);
                pendingOffset = pendingLength;
                break;
            }
            if (room < (filling.isEmpty() ? HDR : 1)) {
                rxQueue.addUsed(chain.head(), 0); // useless buffer; before this frame's, so none split
                continue;
            }
            int n = (int) Math.min(room, pendingLength - pendingOffset);
            chain.write(0, rxFrame, pendingOffset, n);
            filling.add(chain);
            fillingLengths.add(n);
            pendingOffset += n;
        }
        if (!mergeable) {
            filling.getFirst().write(0, rxFrame, 0, pendingLength);
        }
        // num_buffers, in the header at the start of the first buffer.
        int count = filling.size();
        filling.getFirst().write(10, new byte[] {(byte) count, (byte) (count >>> 8)}, 0, 2);
        for (int i = 0; i < count; i++) {
            rxQueue.addUsed(filling.get(i).head(), fillingLengths.get(i));
        }
        filling.clear();
        fillingLengths.clear();
        rxBytes.addAndGet(pendingLength);
        pendingLength = 0;
        pendingOffset = 0;
        rxFrames.incrementAndGet();
        return true;
    }
}
