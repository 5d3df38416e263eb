package vessel.devices.virtio;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import vessel.devices.DeviceMetrics;
import vessel.devices.PauseGate;
import vessel.devices.RateLimiter;
import vessel.devices.TokenBucket;
import vessel.devices.block.DiskFormat;
import vessel.devices.block.DiskImage;
import vessel.memory.GuestMemory;
import vessel.sys.Errno;
import vessel.sys.IoVec;

/**
 * virtio-blk (device type 2, virtio 1.x section 5.2) over a disk image (raw or qcow2, see
 * {@link DiskImage}): up to {@value #MAX_QUEUES} request queues (VIRTIO_BLK_F_MQ) of up to
 * {@value #QUEUE_SIZE} entries, 512-byte sectors, reads and writes straight between the image and guest
 * memory. The guest sees {@code floor(disk size / 512)} sectors; a partial last sector is not visible.
 *
 * <p>Threads. A notification pops the queue's chains under the transport's lock (ring parsing, the rate
 * limiter). On the event loop ({@link #queueNotifiedThenServe}, then {@link #servePopped}) the loop's thread
 * serves the popped reads and writes itself once it has released the lock, while they come from the page
 * cache; a FLUSH, DISCARD or WRITE_ZEROES, and whatever follows a slow request, goes to an I/O worker
 * ({@link IoWorkers}), as every request popped on another path does. Whoever serves a request parses and
 * checks it, does the I/O with no lock held, writes the status byte, and only then takes the transport lock
 * to return the chain as used and interrupt the driver. So a vCPU's ISR, MSI-X or configuration access never waits
 * behind disk I/O, several requests of a queue are in flight at once, and the queues are served in
 * parallel. With the {@link Engine#URING} engine (a raw image) the event loop does not do the reads,
 * writes and FLUSHes itself but queues them on the image's io_uring and submits the pass's in one system
 * call; each is completed when its CQE is reaped ({@link #ringDone}), by the loop right after submitting
 * or by the ring's completion thread ({@link BlockUring}). Requests complete in the order their I/O ends (virtio-blk does not promise order; FLUSH covers
 * the writes completed before it, which the guest has seen completed). Each request holds a pass of the
 * VM's pause gate from its pop to its completion, so a paused VM has no I/O in flight and no request popped
 * but unanswered; a reset waits for the I/O in flight and drops what completes after it.
 *
 * <p>Offered: SEG_MAX, BLK_SIZE, FLUSH (fdatasync), MQ, and RO for a read-only drive or DISCARD and
 * WRITE_ZEROES for a writable one. On a raw image a discard punches a hole and zeroes are a zero-range (or
 * hole-punching) fallocate; a qcow2 image ignores discards (allowed: the data is then unspecified) and
 * writes zeroes as data, so its limit per request stays at {@value #MAX_WRITE_ZEROES_SECTORS} sectors.
 *
 * <p>Malformed requests get VIRTIO_BLK_S_IOERR (or S_UNSUPP for an unknown type), as the spec asks; a
 * request with no writable byte for its status cannot be answered at all and stops the queue, as do a head
 * made available again while it is in flight and any broken ring.
 */
public final class VirtioBlock implements VirtioDevice, AutoCloseable, vessel.devices.Snapshottable<VirtioBlock.State> {
    private static final System.Logger LOG = System.getLogger("vessel.devices.virtio");

    public static final int DEVICE_TYPE = 2;
    public static final int QUEUE_SIZE = 256;
    public static final int SECTOR_SIZE = 512;
    /** The most request queues a drive may have (each costs an MSI-X vector and a notification eventfd). */
    public static final int MAX_QUEUES = 16;
    /** The GET_ID answer's length (VIRTIO_BLK_ID_BYTES). */
    public static final int ID_BYTES = 20;
    /**
     * The most sectors one write-zeroes request may zero (1 MiB) where the image cannot zero by fallocate
     * (qcow2, or a file system without holes): the host writes zero buffers, so this bounds the I/O a
     * single small request can cause.
     */
    public static final int MAX_WRITE_ZEROES_SECTORS = 2048;
    /** Discard and write-zeroes limit per segment on an image that frees and zeroes by fallocate (2 GiB). */
    public static final int MAX_FALLOCATE_SECTORS = 1 << 22;
    /** Segments one discard may carry (Linux merges adjacent discards up to this). */
    public static final int MAX_DISCARD_SEGMENTS = 32;
    /** Discards are best aligned to 4 KiB, the host file system's block. */
    static final int DISCARD_ALIGNMENT_SECTORS = 8;

    static final long F_SEG_MAX = 1L << 2;
    static final long F_RO = 1L << 5;
    static final long F_BLK_SIZE = 1L << 6;
    static final long F_FLUSH = 1L << 9;
    static final long F_MQ = 1L << 12;
    static final long F_DISCARD = 1L << 13;
    static final long F_WRITE_ZEROES = 1L << 14;

    static final int T_IN = 0;
    static final int T_OUT = 1;
    static final int T_FLUSH = 4;
    static final int T_GET_ID = 8;
    static final int T_DISCARD = 11;
    static final int T_WRITE_ZEROES = 13;

    static final int S_OK = 0;
    static final int S_IOERR = 1;
    static final int S_UNSUPP = 2;

    /** struct virtio_blk_req's header: le32 type, le32 reserved, le64 sector. */
    static final int HEADER_BYTES = 16;
    /** struct virtio_blk_discard_write_zeroes: le64 sector, le32 num_sectors, le32 flags. */
    static final int ZEROES_SEGMENT_BYTES = 16;
    static final int ZEROES_FLAG_UNMAP = 1;
    /**
     * A request takes a header and a status descriptor besides its data, so with seg_max = size - 2 a
     * driver never needs a chain longer than the queue (which a chain may not be).
     */
    static final int SEG_MAX = QUEUE_SIZE - 2;

    /** Configuration space offsets (struct virtio_blk_config, section 5.2.4). */
    static final int CFG_CAPACITY = 0;
    static final int CFG_SIZE_MAX = 8;
    static final int CFG_SEG_MAX = 12;
    static final int CFG_GEOMETRY = 16;
    static final int CFG_BLK_SIZE = 20;
    static final int CFG_TOPOLOGY = 24;
    static final int CFG_WRITEBACK = 32;
    static final int CFG_NUM_QUEUES = 34;
    static final int CFG_MAX_DISCARD_SECTORS = 36;
    static final int CFG_MAX_DISCARD_SEG = 40;
    static final int CFG_DISCARD_SECTOR_ALIGNMENT = 44;
    static final int CFG_MAX_WRITE_ZEROES_SECTORS = 48;
    static final int CFG_MAX_WRITE_ZEROES_SEG = 52;
    static final int CFG_WRITE_ZEROES_MAY_UNMAP = 56;
    /** Up to write_zeroes_may_unmap and its padding; the secure-erase fields after it are not offered. */
    static final int CONFIG_SIZE = 60;

    /**
     * The image and what follows from its size, replaced as a whole by {@link #replaceBackend}. A request
     * keeps the backend it was checked against; {@code inFlight} (guarded by {@code flight}) lets a
     * replacement close the old image only once no request uses it.
     */
    private static final class Backend {
        final DiskImage disk;
        final long capacity;
        final long unusedTailBytes;
        final byte[] config;
        final int maxWriteZeroesSectors;
        final int maxDiscardSectors;
        /** The image's io_uring (Engine.URING on a raw image), or null: I/O by system calls on this thread. */
        final BlockUring<Request> uring;
        int inFlight;

        Backend(DiskImage disk, long size, int queues, boolean readOnly, BlockUring<Request> uring) {
            this.disk = disk;
            this.uring = uring;
            this.capacity = size / SECTOR_SIZE;
            this.unusedTailBytes = size % SECTOR_SIZE;
            boolean holes = disk.punchesHoles();
            this.maxWriteZeroesSectors = holes ? MAX_FALLOCATE_SECTORS : MAX_WRITE_ZEROES_SECTORS;
            this.maxDiscardSectors = MAX_FALLOCATE_SECTORS; // a discard that frees nothing costs nothing
            byte[] c = new byte[CONFIG_SIZE];
            putLe(c, CFG_CAPACITY, capacity, 8);
            putLe(c, CFG_SEG_MAX, SEG_MAX, 4);
            putLe(c, CFG_BLK_SIZE, SECTOR_SIZE, 4);
            putLe(c, CFG_NUM_QUEUES, queues, 2);
            if (!readOnly) {
                putLe(c, CFG_MAX_DISCARD_SECTORS, maxDiscardSectors, 4);
                putLe(c, CFG_MAX_DISCARD_SEG, MAX_DISCARD_SEGMENTS, 4);
                putLe(c, CFG_DISCARD_SECTOR_ALIGNMENT, DISCARD_ALIGNMENT_SECTORS, 4);
                putLe(c, CFG_MAX_WRITE_ZEROES_SECTORS, maxWriteZeroesSectors, 4);
                putLe(c, CFG_MAX_WRITE_ZEROES_SEG, 1, 4);
                c[CFG_WRITE_ZEROES_MAY_UNMAP] = (byte) (holes ? 1 : 0);
            }
            this.config = c;
        }

        /** The ring first (it may still reference the file), then the image. */
        void close() throws IOException {
            if (uring != null) {
                uring.close();
            }
            disk.close();
        }

        /** Whether {@code bytes} at {@code sector} is whole sectors inside the disk, without overflowing. */
        boolean inRange(long sector, long bytes) {
            return bytes >= 0 && bytes % SECTOR_SIZE == 0
                    && Long.compareUnsigned(sector, capacity) <= 0
                    && bytes / SECTOR_SIZE <= capacity - sector;
        }
    }

    /**
     * One request between its pop and its completion: made once per queue slot (a head is in flight at
     * most once, so the head indexes it) and reused, so a request allocates nothing of its own.
     */
    private static final class Request implements Runnable {
        final VirtioBlock device;
        final int queue;
        final byte[] header = new byte[HEADER_BYTES];
        final byte[] segment = new byte[ZEROES_SEGMENT_BYTES];
        final byte[] statusByte = new byte[1];
        /** Non-null while in flight; set and cleared under the transport lock. */
        DescriptorChain chain;
        /** The chain this slot's requests are popped into once it exists (a request allocates none then). */
        DescriptorChain recycled;
        Backend backend;
        int generation;
        /** Its tag on an io_uring: queue and head. */
        int tag;
        /** The buffers of a read or write submitted to an io_uring; made on first need, grown if a chain needs more. */
        IoVec iov;
        // A submitted read or write, for its completion: direction, where in the chain, how much, where on disk.
        boolean ioRead;
        long ioPartOffset;
        long ioBytes;
        long ioPosition;

        Request(VirtioBlock device, int queue) {
            this.device = device;
            this.queue = queue;
        }

        /** On an I/O thread. */
        @Override
        public void run() {
            BlockUring<Request> ring = device.execute(this, true);
            if (ring != null) {
                ring.submitAndReap();
            }
        }
    }

    /**
     * How a drive's reads, writes and flushes reach a raw image (a qcow2 image is always served by
     * {@link #THREADS}, its offsets being its own to translate).
     */
    public enum Engine {
        /** System calls (pread, pwrite, fdatasync) on the event loop while the page cache answers, else on I/O threads. */
        THREADS,
        /**
         * Submitted from the event loop to an io_uring, one {@code io_uring_enter} per pass, and completed
         * when their completions arrive; the kernel runs them in parallel without threads of ours. Where
         * io_uring cannot be had (an old kernel, {@code kernel.io_uring_disabled}, a seccomp filter) a
         * drive asking for it gets THREADS, said once in the log.
         */
        URING;

        /**
         * What a drive uses unless told: THREADS. bench/blk (README) measured a cached 4 KiB read one at a
         * time at half the rate on URING (its completion eventfd wakes the ring's thread per pass), and 32
         * at a time within the noise of THREADS; URING is for embedders who ask for it.
         */
        public static Engine defaultEngine() {
            return THREADS;
        }

        /** Whether io_uring can be had here (probed once per process, the answer logged if not). */
        public static boolean uringAvailable() {
            return UringProbe.UNAVAILABLE == null;
        }
    }

    /** The one probe of io_uring, on first need; its failure is logged once. */
    private static final class UringProbe {
        static final String UNAVAILABLE = probe();

        private static String probe() {
            String why = vessel.sys.IoUring.probe();
            if (why != null) {
                LOG.log(Level.WARNING, "virtio-blk: io_uring is not available (" + why + "); drives use I/O threads");
            }
            return why;
        }
    }

    private final boolean readOnly;
    private final Engine engine;
    /** The format every image of this drive is opened as; null: probed from each file's first bytes. */
    private final DiskFormat format;
    private final byte[] id;
    private final int numQueues;
    /** Read by vCPUs (configuration) and workers without the lock; replaced under it. */
    private volatile Backend backend;
    /** The transport's lock (see VirtioDevice.transportLock); this object until one is given. */
    private Object lock = this;
    /** Set while the device is active, for the configuration-change interrupt of a backend swap. */
    private VirtioInterrupt interrupt;
    private final Counters counters = new Counters();
    private final QueueServer[] servers;
    private final RateLimiter limiter = RateLimiter.unlimited();
    private final IoWorkers workers;
    private volatile Runnable threadStart = () -> { };
    private PauseGate gate = new PauseGate();
    /** Requests in flight by queue and head, for this activation (a reset starts a fresh table). */
    private Request[][] slots;
    /** Bumped by each reset, under the lock: a request of an older generation is dropped, not completed. */
    private volatile int generation;
    /** Guards the counts below, and is what waits for them to fall. */
    private final Object flight = new Object();
    /** Requests whose I/O has not ended (a reset waits for 0). */
    private int ioBusy;
    /** Requests popped and not yet completed or dropped ({@link #awaitIdle} waits for 0). */
    private int pending;
    /** A request slower than this (ns) was not served from the page cache: servePopped hands on the rest. */
    static final long INLINE_SLOW_NANOS = 100_000;
    /** The most time (ns) one servePopped spends on requests before it hands on the rest. */
    static final long INLINE_BUDGET_NANOS = 1_000_000;
    /**
     * Requests popped by queueNotifiedThenServe for servePopped on {@code deferredOwner}: entries
     * [deferredNext, deferredCount) wait. Guarded by the transport lock; at most a pass's worth.
     */
    private final Request[] deferred = new Request[QueueServer.CHAINS_PER_PASS];
    private int deferredNext;
    private int deferredCount;
    private Thread deferredOwner;
    /** Set while queueNotifiedThenServe pops (under the lock): handle() defers instead of submitting. */
    private boolean deferring;
    // Scratch of the lock holder (the rate limiter's look at a header).
    private final byte[] admitHeader = new byte[HEADER_BYTES];
    private volatile boolean loggedIoError;

    /**
     * Opens {@code image} read-write, or read-only when {@code readOnly} (the device then offers RO and
     * fails writes). {@code id} is what GET_ID returns: its first {@value #ID_BYTES} bytes of UTF-8.
     */
    public VirtioBlock(Path image, boolean readOnly, String id) throws IOException {
        this(image, null, readOnly, id);
    }

    /** As above, with the image's format named ({@code null}: probed from its first bytes, as QEMU does). */
    public VirtioBlock(Path image, DiskFormat format, boolean readOnly, String id) throws IOException {
        this(image, format, readOnly, id, 1);
    }

    /** As above, with {@code queues} request queues (1 to {@value #MAX_QUEUES}). */
    public VirtioBlock(Path image, DiskFormat format, boolean readOnly, String id, int queues) throws IOException {
        this(image, format, readOnly, id, queues, Engine.defaultEngine());
    }

    /** As above, with its I/O done by {@code engine}. */
    public VirtioBlock(Path image, DiskFormat format, boolean readOnly, String id, int queues, Engine engine)
            throws IOException {
        this(openChecked(image, format, readOnly, queues), image, format, readOnly, id, queues, engine);
    }

    /**
     * A drive over an image opened elsewhere (an embedder's own {@link DiskImage}); {@link #replaceBackend}
     * then opens files as probed raw or qcow2.
     */
    public VirtioBlock(DiskImage disk, boolean readOnly, String id, int queues) {
        this(disk, null, null, readOnly, id, queues, Engine.defaultEngine());
    }

    private static DiskImage openChecked(Path image, DiskFormat format, boolean readOnly, int queues) throws IOException {
        checkQueues(queues);
        return DiskImage.open(image, format, readOnly);
    }

    private static void checkQueues(int queues) {
        if (queues < 1 || queues > MAX_QUEUES) {
            throw new IllegalArgumentException("num_queues " + queues + " is out of range (1 to " + MAX_QUEUES + ")");
        }
    }

    private VirtioBlock(DiskImage disk, Path image, DiskFormat format, boolean readOnly, String id, int queues,
                        Engine engine) {
        checkQueues(queues);
        this.readOnly = readOnly;
        this.engine = engine == Engine.URING && Engine.uringAvailable() ? Engine.URING : Engine.THREADS;
        this.format = format;
        this.numQueues = queues;
        this.backend = newBackend(image, disk);
        this.id = Arrays.copyOf((id == null ? "" : id).getBytes(StandardCharsets.UTF_8), ID_BYTES);
        this.servers = new QueueServer[queues];
        for (int q = 0; q < queues; q++) {
            int queue = q;
            servers[q] = new QueueServer("virtio-blk", q, chain -> handle(queue, chain));
            servers[q].limit(this::admit, QueueTimer.NONE);
            servers[q].recycle(head -> recycledChain(queue, head));
        }
        this.workers = new IoWorkers("virtio-blk-io", ioThreads(queues), queues * QUEUE_SIZE, () -> threadStart.run());
    }

    /** I/O threads for a drive of {@code queues} queues: a few per queue, so one queue has several requests in flight. */
    static int ioThreads(int queues) {
        return Math.min(16, Math.max(4, 2 * queues));
    }

    private Backend newBackend(Path image, DiskImage disk) {
        long size = disk.size();
        if (size % SECTOR_SIZE != 0) {
            LOG.log(Level.WARNING, (image != null ? image : disk) + ": size " + size + " is not a multiple of "
                    + SECTOR_SIZE + "; the guest sees " + size / SECTOR_SIZE + " sectors and not the last "
                    + size % SECTOR_SIZE + " bytes");
        }
        BlockUring<Request> uring = null;
        if (engine == Engine.URING && disk.positionalFd() >= 0) {
            try {
                uring = BlockUring.open(disk.positionalFd(), numQueues * QUEUE_SIZE, this::ringDone, () -> threadStart);
            } catch (vessel.sys.SysException e) {
                LOG.log(Level.WARNING, "virtio-blk: " + (image != null ? image : disk) + ": no io_uring (" + e.getMessage()
                        + "); served by I/O threads");
            }
        }
        return new Backend(disk, size, numQueues, readOnly, uring);
    }

    /** The engine this drive's requests use (URING asked for where io_uring cannot be had is THREADS). */
    public Engine engine() {
        return backend.uring != null ? Engine.URING : Engine.THREADS;
    }

    /** Runs first on each I/O thread (the VMM stacks the device threads' seccomp table there). */
    public void onThreadStart(Runnable hook) {
        this.threadStart = hook;
    }

    /**
     * Changes the drive's rate limiter (at boot, and on PATCH): each bucket given replaces the one there
     * (a config that does not limit removes it), a null one stays. A queue waiting for tokens is served
     * again at once under the new buckets.
     */
    public void updateRateLimiter(TokenBucket.Config bandwidth, TokenBucket.Config ops) {
        limiter.update(bandwidth, ops, System.nanoTime());
        for (QueueServer s : servers) {
            s.limitChanged();
        }
    }

    /** The rate limiter's buckets now. */
    public RateLimiter.Config rateLimiter() {
        return limiter.config();
    }

    /** Requests the rate limiter held back (Firecracker's rate_limiter_throttled_events). */
    public long rateLimiterThrottled() {
        return limiter.throttled();
    }

    @Override
    public void queueTimer(QueueTimer timer) {
        for (QueueServer s : servers) {
            s.limit(this::admit, timer);
        }
    }

    @Override
    public void pauseGate(PauseGate gate) {
        this.gate = gate;
    }

    /**
     * Firecracker's block accounting: every request is one op; reads and writes take their data length
     * from the bandwidth bucket. A request too short to parse is let through to fail as it would. One
     * limiter for the drive, whichever queue the request came on.
     */
    private long admit(DescriptorChain chain, long now) {
        if (!limiter.limits()) {
            return 0;
        }
        long bytes = 0;
        if (chain.readableLength() >= HEADER_BYTES) {
            chain.read(0, admitHeader, 0, HEADER_BYTES);
            int type = le32(admitHeader, 0);
            if (type == T_IN) {
                bytes = Math.max(0, chain.writableLength() - 1);
            } else if (type == T_OUT) {
                bytes = chain.readableLength() - HEADER_BYTES;
            }
        }
        return limiter.tryConsume(bytes, 1, now);
    }

    /**
     * Swaps the image for {@code image} while the guest runs (Firecracker's PATCH /drives path_on_host),
     * opened with the same read-only mode and format. The new image is opened first: if that fails the
     * old one stays and the exception says why. Otherwise, under the transport's lock, the device switches
     * to it and takes its capacity, and if the driver is active raises a configuration-change interrupt so
     * it rereads the capacity. Requests popped after the swap go to the new file; the old one is closed
     * (synced if writable) once the requests still using it are done.
     */
    public void replaceBackend(Path image) throws IOException {
        Backend next;
        try {
            next = newBackend(image, DiskImage.open(image, format, readOnly));
        } catch (IOException e) {
            counters.updateFails.incrementAndGet();
            throw e;
        }
        Backend old;
        synchronized (lock) {
            old = backend;
            backend = next;
            if (interrupt != null) {
                interrupt.config();
            }
        }
        counters.updates.incrementAndGet();
        synchronized (flight) {
            while (old.inFlight > 0) {
                try {
                    flight.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        try {
            if (!readOnly) {
                old.disk.flush();
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "virtio-blk: syncing the replaced image failed: " + e.getMessage());
        } finally {
            old.close();
        }
    }

    @Override
    public void transportLock(Object transportLock) {
        this.lock = transportLock;
    }

    /** Sectors the guest sees. */
    public long capacity() {
        return backend.capacity;
    }

    /** Bytes at the end of the image past the last whole sector, which the guest cannot see. */
    public long unusedTailBytes() {
        return backend.unusedTailBytes;
    }

    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public DeviceMetrics metrics(String id) {
        Counters c = counters();
        return new DeviceMetrics.Block(id, c.reads(), c.writes() + c.writeZeroes(), c.flushes(), c.bytesRead(),
                c.bytesWritten(), c.ioErrors() - c.executeFails() + c.unsupported(), c.executeFails(),
                c.updates(), c.updateFails(), rateLimiterThrottled());
    }

    public Counters counters() {
        return counters;
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures() {
        return F_SEG_MAX | F_BLK_SIZE | F_FLUSH | F_MQ | (readOnly ? F_RO : F_DISCARD | F_WRITE_ZEROES);
    }

    @Override
    public int queueCount() {
        return numQueues;
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    /** Lock-free: a vCPU reading the capacity never waits for anything, I/O least of all. */
    @Override
    public byte[] configSpace() {
        return backend.config;
    }

    /**
     * What the guest's driver learned of the drive: its size, whether it is read-only and its queues. The
     * disk's data is the image file's, reopened by path; a file of another size is another disk.
     */
    public record State(long capacitySectors, boolean readOnly, int numQueues) {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    /** Pausing waited for the requests in flight (the pause gate counts them), so none is lost here. */
    @Override
    public State saveState() {
        return new State(backend.capacity, readOnly, numQueues);
    }

    @Override
    public void restoreState(State s) {
        if (s.capacitySectors() != backend.capacity) {
            throw new IllegalArgumentException("the disk image holds " + backend.capacity + " sectors; the snapshot's guest"
                    + " has a disk of " + s.capacitySectors());
        }
        if (s.readOnly() != readOnly || s.numQueues() != numQueues) {
            throw new IllegalArgumentException("the snapshot's drive is " + (s.readOnly() ? "read-only" : "read-write")
                    + " with " + s.numQueues() + " queues; this one " + (readOnly ? "read-only" : "read-write")
                    + " with " + numQueues);
        }
    }

    /** Nothing is writable: writeback is configurable only with CONFIG_WCE, which is not offered. */
    @Override
    public void writeConfig(int offset, int size, long value) {
    }

    /** {@code queues} arrive activated by the transport (a null one the driver left off, as without MQ). */
    @Override
    public void activate(GuestMemory memory, List<VirtQueue> queues, long ackedFeatures, VirtioInterrupt interrupt) {
        synchronized (lock) {
            this.interrupt = interrupt;
            this.slots = new Request[numQueues][];
            for (int q = 0; q < numQueues; q++) {
                servers[q].start(q < queues.size() ? queues.get(q) : null, interrupt);
            }
        }
    }

    @Override
    public boolean queueNotified(int index) {
        synchronized (lock) { // the transport's, held already on its paths; a caller of its own (tests) too
            return index >= 0 && index < numQueues && servers[index].serve();
        }
    }

    /**
     * As {@link #queueNotified}, but reads and writes popped now wait for {@link #servePopped} on this
     * thread instead of going to a worker: a hand-off costs more than a cached 4 KiB read (bench/blk).
     */
    @Override
    public boolean queueNotifiedThenServe(int index) {
        synchronized (lock) {
            if (deferredCount > deferredNext && deferredOwner != Thread.currentThread()) {
                return queueNotified(index); // another thread's requests wait for it; these go to workers
            }
            deferredOwner = Thread.currentThread();
            deferring = true;
            try {
                return queueNotified(index);
            } finally {
                deferring = false;
            }
        }
    }

    /**
     * Serves, on this thread and with no lock held, the requests {@link #queueNotifiedThenServe} left for
     * it, in the order they were popped. Only while they are quick: FLUSH, DISCARD and WRITE_ZEROES go to a
     * worker (an fdatasync or fallocate must not stall the VM's other devices on the event loop), and once
     * a request took longer than {@value #INLINE_SLOW_NANOS} ns (the disk, not the page cache) or the pass
     * {@value #INLINE_BUDGET_NANOS} ns in all, the rest go to the workers, to be served in parallel.
     */
    @Override
    public void servePopped() {
        long start = System.nanoTime();
        long last = start;
        boolean inline = true;
        BlockUring<Request> batch = null; // a ring with requests queued and not yet submitted
        while (true) {
            Request r;
            synchronized (lock) {
                if (deferredOwner != Thread.currentThread()) {
                    break; // none left for this thread (a reset took them)
                }
                if (deferredNext == deferredCount) {
                    deferredNext = deferredCount = 0;
                    break;
                }
                r = deferred[deferredNext];
                deferred[deferredNext++] = null;
            }
            boolean ring = r.backend.uring != null;
            if (ring && quick(r, true)) {
                BlockUring<Request> queued = execute(r, true);
                if (queued != null && queued != batch) {
                    if (batch != null) {
                        batch.submitAndReap(); // the image was replaced mid-pass
                    }
                    batch = queued;
                }
            } else if (!ring && inline && quick(r, false)) {
                execute(r, false);
                long now = System.nanoTime();
                inline = now - last < INLINE_SLOW_NANOS && now - start < INLINE_BUDGET_NANOS;
                last = now;
            } else if (!workers.submit(r)) {
                execute(r, false);
            }
        }
        if (batch != null) {
            batch.submitAndReap(); // one io_uring_enter for the pass; cached reads complete within it
        }
    }

    /**
     * Whether {@code r} may be served on the event loop (its header is peeked): a read, write or GET_ID, and
     * with an io_uring ({@code ring}) a FLUSH, which the ring does without blocking the loop.
     */
    private static boolean quick(Request r, boolean ring) {
        DescriptorChain chain = r.chain;
        if (chain.readableLength() < HEADER_BYTES) {
            return true; // answered IOERR at once
        }
        chain.read(0, r.header, 0, 4);
        int type = le32(r.header, 0);
        return type == T_IN || type == T_OUT || type == T_GET_ID || ring && type == T_FLUSH;
    }

    /**
     * Drops the queues. Waits for the I/O in flight (it writes into guest memory the driver gets back
     * after the reset); what completes afterwards is dropped, never returned on a new activation's ring.
     */
    @Override
    public void reset() {
        synchronized (lock) {
            generation++;
            interrupt = null;
            slots = null;
            // Deferred requests are dropped here: their owner would need this lock to serve them, and the
            // wait below would wait for it. Of an old generation now, they do no I/O.
            while (deferredNext < deferredCount) {
                Request r = deferred[deferredNext];
                deferred[deferredNext++] = null;
                execute(r, false);
            }
            deferredNext = deferredCount = 0;
            for (QueueServer s : servers) {
                s.clear();
            }
        }
        synchronized (flight) {
            while (ioBusy > 0) {
                try {
                    flight.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /**
     * Waits until every request popped so far has completed (its used entry written) or been dropped:
     * for tests, benchmarks and an embedder that wants the device quiet. Not under the transport lock.
     */
    public void awaitIdle() throws InterruptedException {
        synchronized (flight) {
            while (pending > 0) {
                flight.wait();
            }
        }
    }

    /** The I/O threads finish what they were given, then the image is closed. */
    @Override
    public void close() throws IOException {
        workers.close();
        backend.close();
    }

    /**
     * Under the transport lock, while popping: the chain of the slot at {@code head} to refill, unless its
     * request is in flight (then a new chain is walked and {@link #handle} refuses the head).
     */
    private DescriptorChain recycledChain(int queue, int head) {
        Request[] table = slots == null ? null : slots[queue];
        Request r = table == null ? null : table[head];
        return r == null || r.chain != null ? null : r.recycled;
    }

    /**
     * Under the transport lock: takes a popped chain into flight and hands it to a worker. Only what must
     * be checked before the worker may own the chain is checked here; the request itself is parsed there.
     */
    private int handle(int queue, DescriptorChain chain) throws VirtQueueException {
        if (chain.writableLength() == 0) {
            throw new VirtQueueException("request at head " + chain.head() + " has no writable byte for its status");
        }
        Request[] table = slots[queue];
        if (table == null) {
            table = slots[queue] = new Request[QUEUE_SIZE];
        }
        int head = chain.head();
        Request r = table[head];
        if (r == null) {
            r = table[head] = new Request(this, queue);
        } else if (r.chain != null) {
            throw new VirtQueueException("head " + head + " was made available again while its request is in flight");
        }
        if (r.recycled == null) {
            r.recycled = DescriptorChain.recyclable(chain.memory());
        }
        Backend b = backend;
        r.chain = chain;
        r.backend = b;
        r.generation = generation;
        r.tag = queue * QUEUE_SIZE + head;
        synchronized (flight) {
            ioBusy++;
            pending++;
            b.inFlight++;
        }
        gate.handOff();
        if (deferring && deferredCount < deferred.length) {
            deferred[deferredCount++] = r; // served by servePopped, on this thread once the lock is released
        } else if (!workers.submit(r)) {
            execute(r, false); // closing: answer it here rather than leave it in flight
        }
        return QueueServer.PENDING;
    }

    /** {@link #execute}'s answer for a request of an older generation: no I/O, no answer. */
    private static final int DROPPED = -1;
    /** For a request a bug stopped: returned with used length 1, its status byte unwritten. */
    private static final int FAILED = -2;
    /** For a read, write or flush submitted to an io_uring: its completion comes with the CQE ({@link #ringDone}). */
    private static final int SUBMITTED = -3;

    /**
     * Serves {@code r} with no lock held: parses and checks it, then does its I/O on this thread, or with
     * {@code ring} queues it on the image's io_uring and returns that ring, for the caller to submit
     * (its completion then comes from {@link #ringDone}); otherwise completes it and returns null.
     */
    private BlockUring<Request> execute(Request r, boolean ring) {
        int status;
        try {
            if (r.generation != generation) {
                status = DROPPED;
            } else if (r.backend.disk.concurrent()) {
                status = serve(r, r.chain, r.backend, ring && r.backend.uring != null);
            } else {
                synchronized (r.backend) {
                    status = serve(r, r.chain, r.backend, false);
                }
            }
        } catch (RuntimeException | Error e) {
            LOG.log(Level.ERROR, "virtio-blk: request failed", e); // a bug: answered below, never lost
            status = FAILED;
        }
        if (status == SUBMITTED) {
            return r.backend.uring;
        }
        finish(r, status);
        return null;
    }

    /**
     * A submitted request's completion (on whichever thread reaped it): {@code result} is the bytes moved
     * or {@code -errno}. A short read or write is finished by system calls here; an error is S_IOERR.
     */
    private void ringDone(Request r, int result) {
        int status;
        int type = le32(r.header, 0);
        try {
            if (result < 0) {
                status = ioFailed(r, new IOException(Errno.describe(-result)));
            } else if (type == T_FLUSH) {
                counters.flushes.incrementAndGet();
                status = S_OK;
            } else {
                if (result < r.ioBytes) {
                    transfer(r.chain, r.backend.disk, r.ioRead, r.ioPartOffset + result, r.ioBytes - result,
                            r.ioPosition + result);
                }
                counted(r.ioRead, r.ioBytes);
                status = S_OK;
            }
        } catch (IOException e) {
            status = ioFailed(r, e);
        } catch (RuntimeException | Error e) {
            LOG.log(Level.ERROR, "virtio-blk: request failed", e);
            status = FAILED;
        }
        finish(r, status);
    }

    /** Writes {@code r}'s status (a virtio status, or DROPPED/FAILED), then returns it as used under the transport lock. */
    private void finish(Request r, int status) {
        DescriptorChain chain = r.chain;
        Backend b = r.backend;
        int used = 1;
        try {
            if (status >= 0) {
                switch (status) {
                    case S_IOERR -> counters.ioErrors.incrementAndGet();
                    case S_UNSUPP -> counters.unsupported.incrementAndGet();
                    default -> { }
                }
                long writable = chain.writableLength();
                r.statusByte[0] = (byte) status;
                chain.write(writable - 1, r.statusByte, 0, 1);
                // The status byte; an underestimate is allowed, and failed data is not to be trusted.
                used = status != S_OK ? 1 : switch (le32(r.header, 0)) {
                    case T_IN -> (int) writable; // data and status; a u32 in the used ring
                    case T_GET_ID -> idLength(chain) + 1;
                    default -> 1;
                };
            }
        } catch (RuntimeException | Error e) {
            LOG.log(Level.ERROR, "virtio-blk: request failed", e); // a bug: answered below, never lost
        } finally {
            synchronized (flight) {
                ioBusy--;
                b.inFlight--;
                flight.notifyAll();
            }
            try {
                synchronized (lock) {
                    if (r.generation == generation) {
                        r.chain = null;
                        servers[r.queue].complete(chain.head(), used);
                    }
                }
            } finally {
                synchronized (flight) {
                    pending--;
                    flight.notifyAll();
                }
                gate.leave();
            }
        }
    }

    /** Parses and does one request, or with {@code ring} submits it; returns its status or SUBMITTED. */
    private int serve(Request r, DescriptorChain chain, Backend b, boolean ring) {
        if (chain.readableLength() < HEADER_BYTES) {
            return S_IOERR;
        }
        chain.read(0, r.header, 0, HEADER_BYTES);
        int type = le32(r.header, 0);
        long sector = le64(r.header, 8);
        try {
            return switch (type) {
                case T_IN -> read(r, chain, b, sector, ring);
                case T_OUT -> write(r, chain, b, sector, ring);
                case T_FLUSH -> ring && !readOnly && b.uring.queueFlush(r.tag, r) ? SUBMITTED : flush(b);
                case T_GET_ID -> getId(chain);
                case T_DISCARD, T_WRITE_ZEROES -> zeroesOrDiscard(r, chain, b, type == T_DISCARD);
                default -> S_UNSUPP;
            };
        } catch (IOException e) {
            return ioFailed(r, e);
        }
    }

    /** A host I/O error: S_IOERR for the guest, logged the first time, counted always. */
    private int ioFailed(Request r, IOException e) {
        if (!loggedIoError) {
            loggedIoError = true;
            LOG.log(Level.WARNING, "virtio-blk: I/O error (request type " + le32(r.header, 0) + ", sector "
                    + le64(r.header, 8) + "); later ones are only counted: " + e);
        }
        counters.executeFails.incrementAndGet();
        return S_IOERR;
    }

    private int read(Request r, DescriptorChain chain, Backend b, long sector, boolean ring) throws IOException {
        long bytes = chain.writableLength() - 1;
        if (!b.inRange(sector, bytes)) {
            return S_IOERR;
        }
        if (ring && bytes > 0 && submit(r, chain, b, true, 0, bytes, sector * SECTOR_SIZE)) {
            return SUBMITTED;
        }
        transfer(chain, b.disk, true, 0, bytes, sector * SECTOR_SIZE);
        counted(true, bytes);
        return S_OK;
    }

    private int write(Request r, DescriptorChain chain, Backend b, long sector, boolean ring) throws IOException {
        long bytes = chain.readableLength() - HEADER_BYTES;
        if (readOnly || !b.inRange(sector, bytes)) {
            return S_IOERR;
        }
        if (ring && bytes > 0 && submit(r, chain, b, false, HEADER_BYTES, bytes, sector * SECTOR_SIZE)) {
            return SUBMITTED;
        }
        transfer(chain, b.disk, false, HEADER_BYTES, bytes, sector * SECTOR_SIZE);
        counted(false, bytes);
        return S_OK;
    }

    private void counted(boolean read, long bytes) {
        if (read) {
            counters.reads.incrementAndGet();
            counters.bytesRead.addAndGet(bytes);
        } else {
            counters.writes.incrementAndGet();
            counters.bytesWritten.addAndGet(bytes);
        }
    }

    /**
     * Queues a read or write of {@code bytes} between the disk at {@code position} and the chain's writable
     * ({@code read}) or readable part from {@code partOffset} on, as one readv/writev of the chain's guest
     * segments (each one checked by the chain walk) on the image's io_uring; false if the ring is closed.
     */
    private static boolean submit(Request r, DescriptorChain chain, Backend b, boolean read, long partOffset,
                                  long bytes, long position) {
        int first = read ? chain.readableCount() : 0;
        int end = read ? chain.segmentCount() : chain.readableCount();
        IoVec iov = r.iov;
        if (iov == null || iov.capacity() < end - first) {
            iov = r.iov = new IoVec(Math.min(IoVec.IOV_MAX, Math.max(4, Integer.highestOneBit(end - first) << 1)));
        }
        long skip = partOffset;
        long left = bytes;
        int count = 0;
        for (int i = first; i < end && left > 0; i++) {
            long length = chain.length(i);
            if (skip >= length) {
                skip -= length;
                continue;
            }
            long n = Math.min(length - skip, left);
            iov.set(count++, chain.segment(i, skip, n), 0, n);
            left -= n;
            skip = 0;
        }
        r.ioRead = read;
        r.ioPartOffset = partOffset;
        r.ioBytes = bytes;
        r.ioPosition = position;
        return b.uring.queueReadWrite(r.tag, r, read, iov, count, position);
    }

    /** fdatasync: every write completed before the FLUSH was made available is in its page cache, so on disk after. */
    private int flush(Backend b) throws IOException {
        if (!readOnly) {
            b.disk.flush();
        }
        counters.flushes.incrementAndGet();
        return S_OK;
    }

    private int getId(DescriptorChain chain) {
        chain.write(0, id, 0, idLength(chain));
        counters.getIds.incrementAndGet();
        return S_OK;
    }

    /** GET_ID writes the 20-byte id, or as much of it as fits before the status byte. */
    private static int idLength(DescriptorChain chain) {
        return (int) Math.min(ID_BYTES, chain.writableLength() - 1);
    }

    /**
     * DISCARD and WRITE_ZEROES: an array of {@code virtio_blk_discard_write_zeroes} segments. Every segment
     * is checked (count, flags, range, the advertised limits) before any is done, so a bad one fails the
     * request without half of it done.
     */
    private int zeroesOrDiscard(Request r, DescriptorChain chain, Backend b, boolean discard) throws IOException {
        long data = chain.readableLength() - HEADER_BYTES;
        int maxSegments = discard ? MAX_DISCARD_SEGMENTS : 1;
        if (readOnly || data == 0 || data % ZEROES_SEGMENT_BYTES != 0 || data / ZEROES_SEGMENT_BYTES > maxSegments) {
            return S_IOERR;
        }
        int segments = (int) (data / ZEROES_SEGMENT_BYTES);
        long maxSectors = discard ? b.maxDiscardSectors : b.maxWriteZeroesSectors;
        for (int pass = 0; pass < 2; pass++) { // pass 0 checks them all, pass 1 does them
            for (int i = 0; i < segments; i++) {
                chain.read(HEADER_BYTES + (long) i * ZEROES_SEGMENT_BYTES, r.segment, 0, ZEROES_SEGMENT_BYTES);
                long sector = le64(r.segment, 0);
                long sectors = Integer.toUnsignedLong(le32(r.segment, 8));
                int flags = le32(r.segment, 12);
                if (pass == 0) {
                    // The spec: DISCARD with any flag, and WRITE_ZEROES with an unknown one, are UNSUPP.
                    if (discard ? flags != 0 : (flags & ~ZEROES_FLAG_UNMAP) != 0) {
                        return S_UNSUPP;
                    }
                    if (sectors > maxSectors || !b.inRange(sector, sectors * SECTOR_SIZE)) {
                        return S_IOERR;
                    }
                } else if (discard) {
                    b.disk.discard(sector * SECTOR_SIZE, sectors * SECTOR_SIZE);
                } else {
                    b.disk.writeZeroes(sector * SECTOR_SIZE, sectors * SECTOR_SIZE, (flags & ZEROES_FLAG_UNMAP) != 0);
                    counters.bytesWritten.addAndGet(sectors * SECTOR_SIZE);
                }
            }
        }
        (discard ? counters.discards : counters.writeZeroes).incrementAndGet();
        return S_OK;
    }

    /**
     * Moves {@code bytes} between the disk at {@code position} and the chain's writable ({@code intoGuest})
     * or readable part from {@code partOffset} on, straight through guest memory: each segment is handed
     * to the image as it is, so a raw image preads and pwrites it without a copy. A write's segments go
     * to the image together, so a qcow2 image sees which clusters the request covers whole.
     */
    private static void transfer(DescriptorChain chain, DiskImage disk, boolean intoGuest, long partOffset, long bytes,
                                 long position) throws IOException {
        int first = intoGuest ? chain.readableCount() : 0;
        int end = intoGuest ? chain.segmentCount() : chain.readableCount();
        long skip = partOffset;
        long start = position;
        List<MemorySegment> writes = intoGuest ? null : new ArrayList<>(end - first);
        for (int i = first; i < end && bytes > 0; i++) {
            long length = chain.length(i);
            if (skip >= length) {
                skip -= length;
                continue;
            }
            long n = Math.min(length - skip, bytes);
            MemorySegment guest = chain.segment(i, skip, n);
            if (intoGuest) {
                disk.read(position, guest);
            } else {
                writes.add(guest);
            }
            position += n;
            bytes -= n;
            skip = 0;
        }
        if (writes != null && !writes.isEmpty()) {
            disk.write(start, writes);
        }
    }

    static int le32(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16 | (b[at + 3] & 0xFF) << 24;
    }

    static long le64(byte[] b, int at) {
        return (le32(b, at) & 0xFFFF_FFFFL) | (long) le32(b, at + 4) << 32;
    }

    private static void putLe(byte[] b, int at, long v, int bytes) {
        for (int i = 0; i < bytes; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    /** What the device has done, for metrics. Updated by the device thread, readable from any thread. */
    public static final class Counters {
        final AtomicLong reads = new AtomicLong();
        final AtomicLong writes = new AtomicLong();
        final AtomicLong flushes = new AtomicLong();
        final AtomicLong getIds = new AtomicLong();
        final AtomicLong writeZeroes = new AtomicLong();
        final AtomicLong discards = new AtomicLong();
        final AtomicLong bytesRead = new AtomicLong();
        final AtomicLong bytesWritten = new AtomicLong();
        final AtomicLong ioErrors = new AtomicLong();
        final AtomicLong unsupported = new AtomicLong();
        final AtomicLong executeFails = new AtomicLong();
        final AtomicLong updates = new AtomicLong();
        final AtomicLong updateFails = new AtomicLong();

        /** Successful read requests. */
        public long reads() {
            return reads.get();
        }

        /** Successful write requests. */
        public long writes() {
            return writes.get();
        }

        public long flushes() {
            return flushes.get();
        }

        public long getIds() {
            return getIds.get();
        }

        public long writeZeroes() {
            return writeZeroes.get();
        }

        public long discards() {
            return discards.get();
        }

        /** Bytes read from the image into the guest. */
        public long bytesRead() {
            return bytesRead.get();
        }

        /** Bytes written to the image, zeros included. */
        public long bytesWritten() {
            return bytesWritten.get();
        }

        /** Requests answered VIRTIO_BLK_S_IOERR because the host's I/O failed (a subset of {@link #ioErrors()}). */
        public long executeFails() {
            return executeFails.get();
        }

        /** Backing files replaced by {@link VirtioBlock#replaceBackend}. */
        public long updates() {
            return updates.get();
        }

        /** Replacements refused because the new file could not be opened. */
        public long updateFails() {
            return updateFails.get();
        }

        /** Requests answered VIRTIO_BLK_S_IOERR. */
        public long ioErrors() {
            return ioErrors.get();
        }

        /** Requests answered VIRTIO_BLK_S_UNSUPP. */
        public long unsupported() {
            return unsupported.get();
        }
    }
}
