package vessel.devices.virtio;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.ClosedSelectorException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;

import vessel.devices.DeviceMetrics;
import vessel.devices.PauseGate;
import vessel.memory.GuestMemory;
import vessel.sys.IoVec;

import static vessel.devices.virtio.VsockHeader.OP_CREDIT_REQUEST;
import static vessel.devices.virtio.VsockHeader.OP_CREDIT_UPDATE;
import static vessel.devices.virtio.VsockHeader.OP_REQUEST;
import static vessel.devices.virtio.VsockHeader.OP_RESPONSE;
import static vessel.devices.virtio.VsockHeader.OP_RST;
import static vessel.devices.virtio.VsockHeader.OP_RW;
import static vessel.devices.virtio.VsockHeader.OP_SHUTDOWN;
import static vessel.devices.virtio.VsockHeader.SHUTDOWN_RCV;
import static vessel.devices.virtio.VsockHeader.SHUTDOWN_SEND;
import static vessel.devices.virtio.VsockHeader.TYPE_STREAM;

/**
 * virtio-vsock (device type 19, virtio 1.x section 5.10) with Firecracker's host side: the host end of
 * every connection is a Unix socket.
 *
 * <ul>
 * <li>Host to guest: a host process connects to the listening socket at {@code uds}, sends
 * {@code CONNECT <port>\n}; the device sends the guest a REQUEST to that port from a fresh host port,
 * and once the guest's listener answers with RESPONSE writes {@code OK <hostport>\n} back, after which
 * the Unix socket carries the stream. A guest RST closes the Unix socket.
 * <li>Guest to host: a guest REQUEST to CID 2 port P connects to the Unix socket {@code <uds>_<P>};
 * RESPONSE when it accepts, RST when nothing listens there.
 * </ul>
 *
 * <p>Flow control is the spec's credit scheme: every packet carries the sender's buf_alloc and fwd_cnt,
 * the device never sends a connection more payload than the guest's {@code buf_alloc - (tx_cnt -
 * fwd_cnt)}, and it advertises {@link #BUF_ALLOC} bytes of its own per connection: bytes the host socket
 * does not take at once wait in a buffer of that size, and a guest that overruns it loses the connection.
 * Host sockets are read only when the guest has credit and receive buffers, so nothing is buffered
 * without bound on the way in either: data waits in the host socket.
 *
 * <p>Data path: a guest's RW packet goes to the host socket with one writev straight from the chain's
 * payload segments in guest memory, and host bytes come into a receive chain with one readv straight
 * into its buffers after the header; only bytes the host socket does not take at once are copied (into
 * the connection's buffer). Headers are read and written in place in one 44-byte array, connections are
 * found by a primitive key, chains are recycled: nothing is allocated per packet. Each pass is bounded in
 * chains and bytes ({@link QueueServer#CHAINS_PER_PASS}, {@link QueueServer#BYTES_PER_PASS}) on both
 * queues, and receive serves ready connections round-robin, a chain each, so a busy connection neither
 * starves the others nor holds up the VM's other devices.
 *
 * <p>The parts: {@link VsockHeader} is the packet codec, {@link VsockConnection} one connection's state and
 * credit, {@link VsockUnixMux} the host's Unix sockets; this class joins them to the virtqueues.
 *
 * <p>Threads: the transport calls {@link #activate}, {@link #queueNotified} and {@link #reset} holding
 * its lock ({@link #transportLock}); the device's own thread ("virtio-vsock", started at the first
 * activation) waits on the sockets ({@link VsockUnixMux#select}) and does its queue work holding the same lock,
 * so a reset never races it. Nothing it does blocks while holding the lock: every socket is non-blocking.
 * Each of its passes goes through the VM's {@link PauseGate}: paused, socket news waits until resume.
 */
public final class VirtioVsock implements VirtioDevice, AutoCloseable, vessel.devices.Snapshottable<VirtioVsock.State> {
    private static final System.Logger LOG = System.getLogger("vessel.devices.virtio");

    public static final int DEVICE_TYPE = 19;
    public static final int QUEUE_SIZE = 256;
    public static final int RX = 0;
    public static final int TX = 1;
    public static final int EVENT = 2;
    public static final long HOST_CID = 2;

    static final int HDR = VsockHeader.SIZE;

    /** Receive buffer the device advertises per connection (Firecracker's size). */
    public static final int BUF_ALLOC = 256 * 1024;
    /** The largest payload the device accepts or sends in one packet (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
    public static final int MAX_PAYLOAD = 64 * 1024;
    /** Host ports of host-initiated connections start here, as in Firecracker. */
    static final int FIRST_HOST_PORT = 1 << 30;
    /** Connections, counting host clients that have not sent CONNECT yet. */
    static final int MAX_CONNECTIONS = 1024;
    /** Control packets waiting for receive buffers; beyond this RSTs to a guest that posts none are dropped. */
    static final int MAX_PENDING_CONTROL = 4096;

    private final long cid;
    private final VsockUnixMux<VsockConnection> mux;
    private final SocketEvents socketEvents = new SocketEvents();
    private Object lock = this;
    /** Each pass of the device's thread goes through it (see VirtioDevice.pauseGate); never shut until given. */
    private PauseGate gate = new PauseGate();
    private Thread thread;
    private volatile boolean closed;

    // Guarded by lock.
    private GuestMemory memory;
    private VirtQueue rxQueue;
    private VirtQueue eventQueue;
    /** Restored from a snapshot: the guest's connections are gone, which VIRTIO_VSOCK_EVENT_TRANSPORT_RESET says. */
    private boolean transportResetDue;
    private VirtioInterrupt interrupt;
    private boolean rxStopped;
    /** An rx chain popped while there was something to send that turned out to have nothing: used next. */
    private DescriptorChain heldRx;
    private final QueueServer txServer = new QueueServer("virtio-vsock", TX, this::handleTx);
    /** Every connection, by (host port, guest port); host clients before their CONNECT line are the mux's. */
    private final VsockConnectionTable conns = new VsockConnectionTable(MAX_CONNECTIONS);
    private final ArrayDeque<Control> control = new ArrayDeque<>();
    /** Connections owing the guest a CREDIT_UPDATE, sent after the control packets (no record per update). */
    private final ArrayDeque<VsockConnection> creditUpdates = new ArrayDeque<>();
    private final ArrayDeque<VsockConnection> ready = new ArrayDeque<>();
    private int nextHostPort = FIRST_HOST_PORT;
    /** The header of the packet at hand, read and written in place (see VsockHeader's field accessors). */
    private final byte[] hdr = new byte[HDR];
    /** The payload segments of the packet at hand, for one writev or readv (a chain has at most QUEUE_SIZE). */
    private final IoVec txIov = new IoVec(QUEUE_SIZE);
    private final IoVec rxIov = new IoVec(QUEUE_SIZE);
    /** Chains refilled rather than allocated per packet (set at activation, for its memory). */
    private DescriptorChain txChain;
    private DescriptorChain rxChain;
    private final IntFunction<DescriptorChain> recycledRx = head -> rxChain;

    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong toGuestBytes = new AtomicLong();
    private final AtomicLong toHostBytes = new AtomicLong();

    /** A control packet to send the guest; {@code conn} (null for an RST to nothing) supplies the credit fields. */
    private record Control(int op, int srcPort, int dstPort, int flags, VsockConnection conn) {}

    /**
     * Binds the host's listening socket at {@code uds} (a stale socket file nobody listens on is replaced).
     *
     * @throws IOException the directory is missing, the path is in use, or the socket cannot be made
     */
    public VirtioVsock(long cid, Path uds) throws IOException {
        if (cid < 3 || cid > 0xFFFF_FFFEL) {
            throw new IllegalArgumentException("guest CID " + cid + " is not between 3 and 2^32 - 2");
        }
        this.cid = cid;
        this.mux = new VsockUnixMux<>(uds);
    }

    public long cid() {
        return cid;
    }

    public Path uds() {
        return mux.uds();
    }

    /** Packets dropped: malformed ones from the guest, and control packets beyond the pending cap. */
    public long dropped() {
        return dropped.get();
    }

    @Override
    public DeviceMetrics metrics(String id) {
        return new DeviceMetrics.Vsock(id, bytesToGuest(), bytesToHost());
    }

    /** Stream bytes delivered to the guest. */
    public long bytesToGuest() {
        return toGuestBytes.get();
    }

    /** Stream bytes written to host sockets. */
    public long bytesToHost() {
        return toHostBytes.get();
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
        return 0; // stream sockets only: no VIRTIO_VSOCK_F_SEQPACKET
    }

    @Override
    public int queueCount() {
        return 3;
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return 8;
    }

    @Override
    public byte[] configSpace() {
        return ConfigSpace.allocate(configSize()).putLong(cid).array();
    }

    @Override
    public void writeConfig(int offset, int size, long value) {
    }

    @Override
    public void activate(GuestMemory memory, List<VirtQueue> queues, long ackedFeatures, VirtioInterrupt interrupt) {
        synchronized (lock) {
            this.memory = memory;
            this.rxQueue = queues.get(RX);
            this.eventQueue = queues.size() > EVENT ? queues.get(EVENT) : null;
            this.interrupt = interrupt;
            this.rxStopped = false;
            this.txChain = DescriptorChain.recyclable(memory);
            this.rxChain = DescriptorChain.recyclable(memory);
            heldRx = null;
            txServer.recycle(head -> txChain);
            txServer.byteBudget(QueueServer.BYTES_PER_PASS);
            txServer.start(queues.get(TX), interrupt);
            if (thread == null && !closed) {
                thread = DeviceThread.start("virtio-vsock", this::run, lock, () -> interrupt);
            }
            pumpRx();
        }
    }

    @Override
    public boolean queueNotified(int index) {
        synchronized (lock) {
            if (memory == null) {
                return false;
            }
            if (transportResetDue) {
                sendTransportReset();
            }
            boolean more = index == TX && txServer.serve();
            // RX: new buffers; TX: the guest's packets may have queued replies or granted credit.
            if (index == RX || index == TX) {
                pumpRx();
            }
            return more;
        }
    }

    @Override
    public void reset() {
        synchronized (lock) {
            dropAll();
            control.clear();
            creditUpdates.clear();
            ready.clear();
            heldRx = null;
            memory = null;
            rxQueue = null;
            eventQueue = null;
            transportResetDue = false;
            interrupt = null;
            txServer.clear();
        }
    }

    /** The guest's context ID; the connections are host sockets of one process and are not kept. */
    public record State(long cid) {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public State saveState() {
        return new State(cid);
    }

    /**
     * Before the transport activates the device again: the guest's connections did not survive, and it
     * hears so (VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, as Firecracker sends) at the first notification after
     * the restored VM starts, so the event and its interrupt reach the restored guest, not the one still
     * being put back.
     */
    @Override
    public void restoreState(State s) {
        if (s.cid() != cid) {
            throw new IllegalArgumentException("vsock state for guest CID " + s.cid() + ", not " + cid);
        }
        synchronized (lock) {
            transportResetDue = true;
        }
    }

    /** VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (id 0) in the driver's next event buffer; none posted: not sent. */
    private void sendTransportReset() {
        VirtQueue q = eventQueue;
        if (q == null) {
            return;
        }
        try {
            DescriptorChain chain = q.pop();
            if (chain == null) {
                return; // the guest posts event buffers at probe: none means a driver not listening yet
            }
            transportResetDue = false;
            if (chain.writableLength() >= 4) {
                chain.write(0, new byte[4], 0, 4);
            }
            q.addUsed(chain.head(), chain.writableLength() >= 4 ? 4 : 0);
            if (q.needsNotification()) {
                interrupt.queue(EVENT);
            }
            LOG.log(System.Logger.Level.INFO, "virtio-vsock: transport reset sent to the restored guest");
        } catch (VirtQueueException e) {
            transportResetDue = false;
            eventQueue = null;
            interrupt.needsReset("virtio-vsock eventq: " + e.getMessage());
        }
    }

    @Override
    public void close() {
        closed = true;
        synchronized (lock) {
            dropAll();
        }
        mux.close();
        if (thread != null && thread != Thread.currentThread()) {
            try {
                thread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---- the device's thread ----

    /** Runs first on the device's own thread: the VMM stacks that thread's seccomp filter there. */
    private volatile Runnable threadStart = () -> { };

    /** What the device's thread runs before anything else; set before the guest can activate the device. */
    public void onThreadStart(Runnable hook) {
        this.threadStart = java.util.Objects.requireNonNull(hook);
    }

    /** The device's thread (started through {@link DeviceThread}, which reports a failure). */
    private void run() {
        threadStart.run();
        try {
            while (!closed) {
                mux.select();
                // Paused, the sockets' news waits here and is acted on after resuming.
                if (closed || !gate.enter()) {
                    return;
                }
                try {
                    synchronized (lock) {
                        mux.dispatch(socketEvents);
                        pumpRx();
                    }
                } finally {
                    gate.leave();
                }
            }
        } catch (ClosedSelectorException e) {
            // closed
        } catch (IOException e) {
            if (!closed) {
                LOG.log(Level.ERROR, "virtio-vsock: socket thread stopped: " + e.getMessage());
            }
        }
    }

    /** What the host's sockets report, on the device's thread under the lock. */
    private final class SocketEvents implements VsockUnixMux.Events<VsockConnection> {
        @Override
        public boolean acceptsClient() {
            return memory != null && connectionCount() < MAX_CONNECTIONS;
        }

        /** A host client's {@code CONNECT <port>}: a REQUEST to the guest from a fresh host port. */
        @Override
        public void connectRequested(VsockUnixMux.HostSocket<VsockConnection> socket, int port, byte[] early) {
            VsockConnection c = new VsockConnection(socket, VsockConnection.State.CONNECTING_TO_GUEST);
            socket.attach(c);
            c.early = early.length == 0 ? null : early;
            c.peerPort = port;
            c.localPort = allocateHostPort(c.peerPort);
            conns.put(c.key(), c);
            updateInterest(c);
            queueControl(new Control(OP_REQUEST, c.localPort, c.peerPort, 0, c));
        }

        @Override
        public void connected(VsockUnixMux.HostSocket<VsockConnection> socket) {
            VsockConnection c = socket.attachment();
            established(c);
            queueControl(new Control(OP_RESPONSE, c.localPort, c.peerPort, 0, c));
        }

        @Override
        public void connectFailed(VsockUnixMux.HostSocket<VsockConnection> socket) {
            reset(socket.attachment());
        }

        @Override
        public void readable(VsockUnixMux.HostSocket<VsockConnection> socket) {
            VsockConnection c = socket.attachment();
            c.readable = true;
            updateReady(c);
            updateInterest(c);
        }

        @Override
        public void writable(VsockUnixMux.HostSocket<VsockConnection> socket) {
            flushToHost(socket.attachment());
        }
    }

    /** Connections, and host clients that have not asked for a port yet. */
    private int connectionCount() {
        return conns.size() + mux.awaitingClients();
    }

    private int allocateHostPort(int peerPort) {
        while (true) {
            int p = nextHostPort;
            nextHostPort = nextHostPort == -1 ? FIRST_HOST_PORT : nextHostPort + 1;
            if (!conns.containsKey(VsockConnection.key(p, peerPort))) {
                return p;
            }
        }
    }

    private void established(VsockConnection c) {
        c.state = VsockConnection.State.ESTABLISHED;
        c.readable = true;
        updateReady(c);
        updateInterest(c);
    }

    // ---- guest to host ----

    /** One packet from the guest's tx queue; malformed ones are dropped and counted. Used length 0. */
    private int handleTx(DescriptorChain chain) {
        if (chain.readableLength() < HDR) {
            drop("tx buffer of " + chain.readableLength() + " bytes is shorter than the header");
            return 0;
        }
        chain.read(0, hdr, 0, HDR);
        long srcCid = VsockHeader.srcCid(hdr);
        long dstCid = VsockHeader.dstCid(hdr);
        int srcPort = VsockHeader.srcPort(hdr);
        int dstPort = VsockHeader.dstPort(hdr);
        long len = VsockHeader.len(hdr);
        int type = VsockHeader.type(hdr);
        int op = VsockHeader.op(hdr);
        int flags = VsockHeader.flags(hdr);
        int bufAlloc = VsockHeader.bufAlloc(hdr);
        int fwdCnt = VsockHeader.fwdCnt(hdr);
        if (srcCid != cid || dstCid != HOST_CID) {
            drop("packet from CID " + srcCid + " to CID " + dstCid + " (the guest is " + cid + ", the host 2)");
            return 0;
        }
        if (len > MAX_PAYLOAD || len > chain.readableLength() - HDR) {
            drop("payload length " + len + " does not fit the packet (" + (chain.readableLength() - HDR)
                    + " bytes, at most " + MAX_PAYLOAD + ")");
            return 0;
        }
        VsockConnection c = conns.get(VsockConnection.key(dstPort, srcPort));
        if (type != TYPE_STREAM || op < OP_REQUEST || op > OP_CREDIT_REQUEST) {
            if (op != OP_RST) {
                if (c != null) {
                    reset(c);
                } else {
                    queueControl(new Control(OP_RST, dstPort, srcPort, 0, null));
                }
            }
            return 0;
        }
        if (c == null) {
            if (op == OP_REQUEST) {
                connectToHost(dstPort, srcPort, bufAlloc, fwdCnt);
            } else if (op != OP_RST) {
                queueControl(new Control(OP_RST, dstPort, srcPort, 0, null));
            }
            return 0;
        }
        c.peerCredit(bufAlloc, fwdCnt);
        switch (op) {
            case OP_REQUEST -> reset(c); // a second request on a live connection
            case OP_RESPONSE -> {
                if (c.state != VsockConnection.State.CONNECTING_TO_GUEST) {
                    reset(c);
                } else if (writeOk(c)) {
                    established(c);
                }
            }
            case OP_RST -> drop(c);
            case OP_SHUTDOWN -> {
                c.guestShutdown |= flags & (SHUTDOWN_RCV | SHUTDOWN_SEND);
                afterFlush(c);
                if (conns.get(c.key()) == c) {
                    updateReady(c);
                    updateInterest(c);
                }
            }
            case OP_RW -> {
                if (c.state != VsockConnection.State.ESTABLISHED || c.guestStoppedSending()) {
                    reset(c);
                } else {
                    toHost(c, chain, (int) len);
                }
            }
            case OP_CREDIT_REQUEST -> queueCreditUpdate(c);
            default -> updateReady(c); // CREDIT_UPDATE: the fields above were the news
        }
        return 0;
    }

    /** A guest REQUEST to host port {@code port}: connect to {@code <uds>_<port>}. */
    private void connectToHost(int port, int peerPort, int bufAlloc, int fwdCnt) {
        if (connectionCount() >= MAX_CONNECTIONS) {
            queueControl(new Control(OP_RST, port, peerPort, 0, null));
            return;
        }
        VsockConnection c = new VsockConnection(null, VsockConnection.State.CONNECTING_TO_HOST);
        c.localPort = port;
        c.peerPort = peerPort;
        c.peerCredit(bufAlloc, fwdCnt);
        VsockUnixMux.Connecting<VsockConnection> connecting;
        try {
            connecting = mux.connect(port, c);
        } catch (IOException e) {
            queueControl(new Control(OP_RST, port, peerPort, 0, null));
            return;
        }
        c.socket = connecting.socket();
        conns.put(c.key(), c);
        if (connecting.connected()) {
            established(c);
            queueControl(new Control(OP_RESPONSE, port, peerPort, 0, c));
        }
    }

    private boolean writeOk(VsockConnection c) {
        if (c.socket.confirm(c.localPort)) {
            return true;
        }
        reset(c);
        return false;
    }

    /**
     * Sends the packet's {@code len} payload bytes (after the header in {@code chain}) to the host socket
     * with one writev straight from guest memory; what it does not take now waits in the connection's
     * buffer, in order, until the socket is writable again.
     */
    private void toHost(VsockConnection c, DescriptorChain chain, int len) {
        if (c.pending() + (long) len > BUF_ALLOC) {
            LOG.log(Level.INFO, "virtio-vsock: guest port " + Integer.toUnsignedString(c.peerPort)
                    + " sent beyond its credit; connection reset");
            reset(c);
            return;
        }
        if (len == 0) {
            return;
        }
        int written = 0;
        if (c.pending() == 0) {
            int count = chain.readableIoVecAt(txIov, HDR, len);
            if (count > 0) {
                try {
                    written = (int) c.socket.writev(txIov, count);
                } catch (IOException e) {
                    reset(c);
                    return;
                }
                forwarded(c, written);
            }
        }
        if (written < len) {
            if (c.toHost == null) {
                c.toHost = Arena.ofAuto().allocate(BUF_ALLOC);
            }
            chain.read(HDR + written, c.toHost, c.toHostLength, len - written);
            c.toHostLength += len - written;
            updateInterest(c);
        }
    }

    private void flushToHost(VsockConnection c) {
        int pending = c.pending();
        if (pending > 0) {
            int n;
            try {
                n = c.socket.write(c.toHost, pending);
            } catch (IOException e) {
                reset(c);
                return;
            }
            if (n > 0) {
                // What is left moves to the front: the buffer stays one contiguous run for the next write.
                MemorySegment.copy(c.toHost, n, c.toHost, 0, pending - n);
                c.toHostLength = pending - n;
                forwarded(c, n);
            }
        }
        afterFlush(c);
        if (conns.get(c.key()) == c) {
            updateInterest(c);
        }
    }

    private void forwarded(VsockConnection c, int n) {
        toHostBytes.addAndGet(n);
        if (c.forwarded(n, BUF_ALLOC)) {
            queueCreditUpdate(c);
        }
    }

    /** Acts on the guest's SHUTDOWN flags once everything it sent has reached the host socket. */
    private void afterFlush(VsockConnection c) {
        if (c.pending() > 0) {
            return;
        }
        if (c.guestClosed()) {
            reset(c); // the guest closed: the spec's answer is an RST, and the host socket closes
            return;
        }
        if (c.guestStoppedSending() && !c.outputShut) {
            c.outputShut = true;
            c.socket.shutdownOutput();
        }
    }

    // ---- host to guest ----

    private void queueCreditUpdate(VsockConnection c) {
        if (!c.creditUpdateQueued) {
            c.creditUpdateQueued = true;
            creditUpdates.add(c); // at most once per connection: bounded by the connection cap
        }
    }

    private void queueControl(Control p) {
        if (control.size() >= MAX_PENDING_CONTROL) {
            drop("control packet for a guest that posts no receive buffers");
            return;
        }
        control.add(p);
    }

    /** Whether {@code c} may send the guest data now; puts it on the ready list if so. */
    private void updateReady(VsockConnection c) {
        if (!c.inReady && hasDataFor(c)) {
            c.inReady = true;
            ready.add(c);
        }
    }

    private boolean hasDataFor(VsockConnection c) {
        return c.state == VsockConnection.State.ESTABLISHED && conns.get(c.key()) == c && c.credit() > 0
                && (c.early != null || (c.readable && !c.hostEof && !c.guestStoppedReceiving()));
    }

    /** Socket interest: read while waiting for data the guest can take, write while bytes wait. */
    private void updateInterest(VsockConnection c) {
        c.socket.interest(c.state == VsockConnection.State.ESTABLISHED && !c.readable && !c.hostEof, c.pending() > 0);
    }

    /**
     * Fills the guest's receive buffers: control packets first, then credit updates, then data from
     * connections the guest has credit for, round-robin, a chain each. Stops when either runs out, or at
     * the pass's budget of chains and bytes (the device's thread then goes on after the others had a
     * turn); a chain popped for data that was not there after all is kept for the next round.
     */
    private void pumpRx() {
        if (rxQueue == null || rxStopped || memory == null) {
            return;
        }
        int budget = QueueServer.CHAINS_PER_PASS;
        long bytesLeft = QueueServer.BYTES_PER_PASS;
        try {
            while (!control.isEmpty() || !creditUpdates.isEmpty() || !ready.isEmpty()) {
                if (budget-- == 0 || bytesLeft <= 0) {
                    mux.wakeup(); // more to send: the device's thread goes on after the others had a turn
                    break;
                }
                DescriptorChain chain = heldRx != null ? heldRx : rxQueue.pop(recycledRx);
                heldRx = null;
                if (chain == null) {
                    break;
                }
                boolean controlWaits = !control.isEmpty() || !creditUpdates.isEmpty();
                if (chain.writableLength() < HDR) {
                    drop("rx buffer of " + chain.writableLength() + " bytes is shorter than the header");
                    rxQueue.addUsed(chain.head(), 0);
                    continue;
                }
                if (chain.writableLength() == HDR && !controlWaits) {
                    // Holding a buffer with no room for data would pop it again for the same data forever.
                    drop("rx buffer of " + HDR + " bytes with no room for data");
                    rxQueue.addUsed(chain.head(), 0);
                    continue;
                }
                if (!control.isEmpty()) {
                    Control p = control.poll();
                    if (p.conn() != null && p.op() != OP_RST && conns.get(p.conn().key()) != p.conn()) {
                        heldRx = chain; // the connection went away while the packet waited
                        continue;
                    }
                    writeHeader(chain, p.op(), p.srcPort(), p.dstPort(), 0, p.flags(), p.conn());
                    rxQueue.addUsed(chain.head(), HDR);
                    continue;
                }
                if (!creditUpdates.isEmpty()) {
                    VsockConnection c = creditUpdates.poll();
                    c.creditUpdateQueued = false;
                    if (conns.get(c.key()) != c) {
                        heldRx = chain;
                        continue;
                    }
                    writeHeader(chain, OP_CREDIT_UPDATE, c.localPort, c.peerPort, 0, 0, c);
                    rxQueue.addUsed(chain.head(), HDR);
                    continue;
                }
                VsockConnection c = ready.poll();
                c.inReady = false;
                int sent = hasDataFor(c) ? sendData(c, chain) : 0;
                if (sent == 0) {
                    heldRx = chain;
                } else {
                    rxQueue.addUsed(chain.head(), HDR + sent);
                    bytesLeft -= HDR + sent;
                }
                updateReady(c);
                if (conns.get(c.key()) == c) {
                    updateInterest(c);
                }
            }
        } catch (VirtQueueException e) {
            rxStopped = true;
            String why = "virtio-vsock queue " + RX + ": " + e.getMessage();
            LOG.log(Level.WARNING, why + "; queue stopped until the driver resets the device");
            interrupt.needsReset(why);
        }
        if (rxQueue.needsNotification()) {
            interrupt.queue(RX);
        }
    }

    /**
     * Reads what the host socket has (at most the guest's credit and the chain's room) with one readv
     * straight into the chain's buffers after the header, and writes the header.
     */
    private int sendData(VsockConnection c, DescriptorChain chain) {
        int room = (int) Math.min(Math.min(chain.writableLength() - HDR, MAX_PAYLOAD), c.credit());
        if (room <= 0) {
            return 0;
        }
        int n;
        if (c.early != null) {
            n = Math.min(room, c.early.length);
            chain.write(HDR, c.early, 0, n);
            c.early = n == c.early.length ? null : java.util.Arrays.copyOfRange(c.early, n, c.early.length);
        } else {
            int count = chain.writableIoVecAt(rxIov, HDR, room);
            if (count <= 0) {
                return 0; // more segments than a chain of this queue can have: not reached
            }
            long got;
            try {
                got = c.socket.readv(rxIov, count);
            } catch (IOException e) {
                reset(c);
                return 0;
            }
            if (got == 0) {
                c.readable = false;
                return 0;
            }
            if (got < 0) {
                // The host closed its end for writing: the guest's reads end; it may still send.
                c.hostEof = true;
                queueControl(new Control(OP_SHUTDOWN, c.localPort, c.peerPort, SHUTDOWN_SEND, c));
                return 0;
            }
            n = (int) got;
        }
        writeHeader(chain, OP_RW, c.localPort, c.peerPort, n, 0, c);
        c.sentToGuest(n);
        toGuestBytes.addAndGet(n);
        return n;
    }

    private void writeHeader(DescriptorChain chain, int op, int srcPort, int dstPort, int len, int flags, VsockConnection c) {
        int fwdCnt = c == null ? 0 : c.advertiseFwdCnt();
        VsockHeader.put(hdr, HOST_CID, cid, srcPort, dstPort, len, TYPE_STREAM, op, flags, c == null ? 0 : BUF_ALLOC,
                fwdCnt);
        chain.write(0, hdr, 0, HDR);
    }

    // ---- teardown ----

    /** Closes {@code c} and tells the guest (RST) if it knew of it. */
    private void reset(VsockConnection c) {
        boolean known = conns.get(c.key()) == c;
        drop(c);
        if (known) {
            queueControl(new Control(OP_RST, c.localPort, c.peerPort, 0, null));
        }
    }

    /** Closes {@code c}'s host socket and forgets it, without a word to the guest. */
    private void drop(VsockConnection c) {
        conns.remove(c.key(), c);
        c.inReady = false;
        ready.remove(c);
        c.socket.close();
    }

    /** Every connection and waiting host client closed, the guest not told (reset, close). */
    private void dropAll() {
        for (VsockConnection c : conns.values()) {
            drop(c);
        }
        mux.closeAwaitingClients();
    }

    private void drop(String why) {
        if (dropped.getAndIncrement() == 0) {
            LOG.log(Level.WARNING, "virtio-vsock: dropped " + why + "; later drops are only counted");
        }
    }
}
