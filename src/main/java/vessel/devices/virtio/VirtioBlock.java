package vessel.devices.virtio;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import vessel.devices.RateLimiter;
import vessel.devices.TokenBucket;
import vessel.devices.block.DiskFormat;
import vessel.devices.block.DiskImage;
import vessel.memory.GuestMemory;

/**
 * virtio-blk (device type 2, virtio 1.x section 5.2) over a disk image (raw or qcow2, see
 * {@link DiskImage}): one request queue of up to {@value #QUEUE_SIZE} entries, 512-byte sectors, reads
 * and writes straight between the image and guest memory. The guest sees {@code floor(disk size / 512)}
 * sectors; a partial last sector is not visible.
 *
 * <p>Offered: SEG_MAX, BLK_SIZE, FLUSH, and RO for a read-only drive or WRITE_ZEROES for a writable one.
 * DISCARD is left out: Java cannot punch holes (no fallocate), and emulating a discard by writing zeros
 * would allocate every block of a sparse image that the guest trims, the opposite of what a discard is
 * for. WRITE_ZEROES is offered because writing zeros is exactly its meaning; each request is capped at
 * {@value #MAX_WRITE_ZEROES_SECTORS} sectors so one 33-byte request cannot cost unbounded host I/O.
 *
 * <p>Malformed requests get VIRTIO_BLK_S_IOERR (or S_UNSUPP for an unknown type), as the spec asks; a
 * request with no writable byte for its status cannot be answered at all and stops the queue, as does
 * any broken ring.
 */
public final class VirtioBlock implements VirtioDevice, AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.devices.virtio");

    public static final int DEVICE_TYPE = 2;
    public static final int QUEUE_SIZE = 256;
    public static final int SECTOR_SIZE = 512;
    /** The GET_ID answer's length (VIRTIO_BLK_ID_BYTES). */
    public static final int ID_BYTES = 20;
    /**
     * The most sectors one write-zeroes request may zero (1 MiB): the host writes them as zero buffers,
     * so this bounds the I/O a single small request can cause.
     */
    public static final int MAX_WRITE_ZEROES_SECTORS = 2048;

    static final long F_SEG_MAX = 1L << 2;
    static final long F_RO = 1L << 5;
    static final long F_BLK_SIZE = 1L << 6;
    static final long F_FLUSH = 1L << 9;
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
    /** One FileChannel call moves at most this much (ByteBuffers are int-sized; a descriptor may not be). */
    private static final int MAX_IO_CHUNK = 1 << 30;

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

    // The image and what follows from its size; replaced together by replaceBackend, under lock.
    private DiskImage disk;
    private long capacity;
    private long unusedTailBytes;
    private byte[] config;
    private final boolean readOnly;
    /** The format every image of this drive is opened as; null: probed from each file's first bytes. */
    private final DiskFormat format;
    private final byte[] id;
    /** The transport's lock (see VirtioDevice.transportLock); this object until one is given. */
    private Object lock = this;
    /** Set while the device is active, for the configuration-change interrupt of a backend swap. */
    private VirtioInterrupt interrupt;
    private final Counters counters = new Counters();
    private final QueueServer server;
    private final RateLimiter limiter = RateLimiter.unlimited();
    // Per-request scratch; the device serves one request at a time.
    private final byte[] header = new byte[HEADER_BYTES];
    private final byte[] statusByte = new byte[1];
    private boolean loggedIoError;

    /**
     * Opens {@code image} read-write, or read-only when {@code readOnly} (the device then offers RO and
     * fails writes). {@code id} is what GET_ID returns: its first {@value #ID_BYTES} bytes of UTF-8.
     */
    public VirtioBlock(Path image, boolean readOnly, String id) throws IOException {
        this(image, null, readOnly, id);
    }

    /**
     * Changes the drive's rate limiter (at boot, and on PATCH): each bucket given replaces the one there
     * (a config that does not limit removes it), a null one stays. A queue waiting for tokens is served
     * again at once under the new buckets.
     */
    public void updateRateLimiter(TokenBucket.Config bandwidth, TokenBucket.Config ops) {
        limiter.update(bandwidth, ops, System.nanoTime());
        server.limitChanged();
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
        server.limit(this::admit, timer);
    }

    /**
     * Firecracker's block accounting: every request is one op; reads and writes take their data length
     * from the bandwidth bucket. A request too short to parse is let through to fail as it would.
     */
    private long admit(DescriptorChain chain, long now) {
        if (!limiter.limits()) {
            return 0;
        }
        long bytes = 0;
        if (chain.readableLength() >= HEADER_BYTES) {
            chain.read(0, header, 0, HEADER_BYTES);
            int type = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
            if (type == T_IN) {
                bytes = Math.max(0, chain.writableLength() - 1);
            } else if (type == T_OUT) {
                bytes = chain.readableLength() - HEADER_BYTES;
            }
        }
        return limiter.tryConsume(bytes, 1, now);
    }

    /** As above, with the image's format named ({@code null}: probed from its first bytes, as QEMU does). */
    public VirtioBlock(Path image, DiskFormat format, boolean readOnly, String id) throws IOException {
        this.readOnly = readOnly;
        this.format = format;
        this.disk = DiskImage.open(image, format, readOnly);
        useSize(image, disk.size());
        this.id = Arrays.copyOf((id == null ? "" : id).getBytes(StandardCharsets.UTF_8), ID_BYTES);
        this.server = new QueueServer("virtio-blk", 0, this::handle);
        server.limit(this::admit, QueueTimer.NONE);
    }

    /** Capacity, unused tail and configuration space for an image of {@code size} bytes. */
    private void useSize(Path image, long size) {
        capacity = size / SECTOR_SIZE;
        unusedTailBytes = size % SECTOR_SIZE;
        if (unusedTailBytes != 0) {
            LOG.log(Level.WARNING, image + ": size " + size + " is not a multiple of " + SECTOR_SIZE
                    + "; the guest sees " + capacity + " sectors and not the last " + unusedTailBytes + " bytes");
        }
        config = buildConfig();
    }

    /**
     * Swaps the image for {@code image} while the guest runs (Firecracker's PATCH /drives path_on_host),
     * opened with the same read-only mode and format. The new image is opened first: if that fails the
     * old one stays and the exception says why. Otherwise, under the transport's lock (so no request is
     * half served), the device switches to it, takes its capacity, closes the old file (synced if
     * writable) and, if the driver is active, raises a configuration-change interrupt so it rereads the
     * capacity. Requests after the swap go to the new file.
     */
    public void replaceBackend(Path image) throws IOException {
        DiskImage next;
        long size;
        try {
            next = DiskImage.open(image, format, readOnly);
            size = next.size();
        } catch (IOException e) {
            counters.updateFails.incrementAndGet();
            throw e;
        }
        DiskImage old;
        synchronized (lock) {
            old = disk;
            disk = next;
            useSize(image, size);
            if (interrupt != null) {
                interrupt.config();
            }
        }
        counters.updates.incrementAndGet();
        try {
            if (!readOnly) {
                old.flush();
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

    private byte[] buildConfig() {
        ByteBuffer c = ByteBuffer.allocate(CONFIG_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        c.putLong(CFG_CAPACITY, capacity);
        c.putInt(CFG_SEG_MAX, SEG_MAX);
        c.putInt(CFG_BLK_SIZE, SECTOR_SIZE);
        c.putShort(CFG_NUM_QUEUES, (short) 1);
        if (!readOnly) {
            c.putInt(CFG_MAX_WRITE_ZEROES_SECTORS, MAX_WRITE_ZEROES_SECTORS);
            c.putInt(CFG_MAX_WRITE_ZEROES_SEG, 1);
            c.put(CFG_WRITE_ZEROES_MAY_UNMAP, (byte) 0);
        }
        return c.array();
    }

    /** Sectors the guest sees. */
    public long capacity() {
        synchronized (lock) {
            return capacity;
        }
    }

    /** Bytes at the end of the image past the last whole sector, which the guest cannot see. */
    public long unusedTailBytes() {
        synchronized (lock) {
            return unusedTailBytes;
        }
    }

    public boolean readOnly() {
        return readOnly;
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
        return F_SEG_MAX | F_BLK_SIZE | F_FLUSH | (readOnly ? F_RO : F_WRITE_ZEROES);
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public long readConfig(int offset, int size) {
        // Out of range reads as 0: a driver probing past the end must not get an exception thrown at its vCPU.
        if (offset < 0 || size < 1 || size > 8 || offset > config.length - size) {
            return 0;
        }
        long value = 0;
        for (int i = size - 1; i >= 0; i--) {
            value = (value << 8) | (config[offset + i] & 0xFF);
        }
        return value;
    }

    /** Nothing is writable: writeback is configurable only with CONFIG_WCE, which is not offered. */
    @Override
    public void writeConfig(int offset, int size, long value) {
    }

    /** {@code queues.get(0)} arrives activated by the transport (or null if the driver left it off). */
    @Override
    public void activate(GuestMemory memory, List<VirtQueue> queues, long ackedFeatures, VirtioInterrupt interrupt) {
        this.interrupt = interrupt;
        server.start(queues.isEmpty() ? null : queues.get(0), interrupt);
    }

    @Override
    public boolean queueNotified(int index) {
        return index == 0 && server.serve();
    }

    @Override
    public void reset() {
        interrupt = null;
        server.clear();
    }

    @Override
    public void close() throws IOException {
        synchronized (lock) {
            disk.close();
        }
    }

    /** One request: parse, do, write the status byte; returns the used length. */
    private int handle(DescriptorChain chain) throws VirtQueueException {
        long writable = chain.writableLength();
        if (writable == 0) {
            throw new VirtQueueException("request at head " + chain.head() + " has no writable byte for its status");
        }
        int status;
        int type = -1;
        if (chain.readableLength() < HEADER_BYTES) {
            status = S_IOERR;
        } else {
            chain.read(0, header, 0, HEADER_BYTES);
            ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
            type = h.getInt(0);
            long sector = h.getLong(8);
            try {
                status = switch (type) {
                    case T_IN -> read(chain, sector);
                    case T_OUT -> write(chain, sector);
                    case T_FLUSH -> flush();
                    case T_GET_ID -> getId(chain);
                    case T_WRITE_ZEROES -> writeZeroes(chain);
                    default -> S_UNSUPP;
                };
            } catch (IOException e) {
                if (!loggedIoError) {
                    loggedIoError = true;
                    LOG.log(Level.WARNING, "virtio-blk: I/O error (request type " + type + ", sector " + sector
                            + "); later ones are only counted: " + e);
                }
                counters.executeFails.incrementAndGet();
                status = S_IOERR;
            }
        }
        switch (status) {
            case S_IOERR -> counters.ioErrors.incrementAndGet();
            case S_UNSUPP -> counters.unsupported.incrementAndGet();
            default -> { }
        }
        statusByte[0] = (byte) status;
        chain.write(writable - 1, statusByte, 0, 1);
        if (status != S_OK) {
            return 1; // the status byte; an underestimate is allowed, and failed data is not to be trusted
        }
        return switch (type) {
            case T_IN -> (int) writable; // data and status; a u32 in the used ring
            case T_GET_ID -> idLength(chain) + 1;
            default -> 1;
        };
    }

    /** Whether {@code bytes} at {@code sector} is whole sectors inside the disk, without overflowing. */
    private boolean inRange(long sector, long bytes) {
        return bytes % SECTOR_SIZE == 0
                && Long.compareUnsigned(sector, capacity) <= 0
                && bytes / SECTOR_SIZE <= capacity - sector;
    }

    private int read(DescriptorChain chain, long sector) throws IOException {
        long bytes = chain.writableLength() - 1;
        if (!inRange(sector, bytes)) {
            return S_IOERR;
        }
        transfer(chain, true, 0, bytes, sector * SECTOR_SIZE);
        counters.reads.incrementAndGet();
        counters.bytesRead.addAndGet(bytes);
        return S_OK;
    }

    private int write(DescriptorChain chain, long sector) throws IOException {
        long bytes = chain.readableLength() - HEADER_BYTES;
        if (readOnly || !inRange(sector, bytes)) {
            return S_IOERR;
        }
        transfer(chain, false, HEADER_BYTES, bytes, sector * SECTOR_SIZE);
        counters.writes.incrementAndGet();
        counters.bytesWritten.addAndGet(bytes);
        return S_OK;
    }

    private int flush() throws IOException {
        if (!readOnly) {
            disk.flush();
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

    private int writeZeroes(DescriptorChain chain) throws IOException {
        long data = chain.readableLength() - HEADER_BYTES;
        if (readOnly || data != ZEROES_SEGMENT_BYTES) { // max_write_zeroes_seg is 1
            return S_IOERR;
        }
        byte[] segment = header; // the header is parsed already; reuse its bytes
        chain.read(HEADER_BYTES, segment, 0, ZEROES_SEGMENT_BYTES);
        ByteBuffer s = ByteBuffer.wrap(segment).order(ByteOrder.LITTLE_ENDIAN);
        long sector = s.getLong(0);
        long sectors = Integer.toUnsignedLong(s.getInt(8));
        int flags = s.getInt(12);
        if ((flags & ~ZEROES_FLAG_UNMAP) != 0) {
            return S_UNSUPP; // the spec: unknown write-zeroes flags are UNSUPP
        }
        if (sectors > MAX_WRITE_ZEROES_SECTORS || !inRange(sector, sectors * SECTOR_SIZE)) {
            return S_IOERR;
        }
        disk.writeZeroes(sector * SECTOR_SIZE, sectors * SECTOR_SIZE);
        counters.writeZeroes.incrementAndGet();
        counters.bytesWritten.addAndGet(sectors * SECTOR_SIZE);
        return S_OK;
    }

    /**
     * Moves {@code bytes} between the disk at {@code position} and the chain's writable ({@code intoGuest})
     * or readable part from {@code partOffset} on, straight through guest memory: a direct ByteBuffer over
     * each segment, so FileChannel reads and writes it without a copy.
     */
    private void transfer(DescriptorChain chain, boolean intoGuest, long partOffset, long bytes, long position)
            throws IOException {
        int first = intoGuest ? chain.readableCount() : 0;
        int end = intoGuest ? chain.segmentCount() : chain.readableCount();
        long skip = partOffset;
        for (int i = first; i < end && bytes > 0; i++) {
            long length = chain.length(i);
            if (skip >= length) {
                skip -= length;
                continue;
            }
            long n = Math.min(length - skip, bytes);
            MemorySegment guest = chain.segment(i);
            for (long done = 0; done < n; ) {
                int chunk = (int) Math.min(n - done, MAX_IO_CHUNK);
                ByteBuffer buffer = guest.asSlice(skip + done, chunk).asByteBuffer();
                if (intoGuest) {
                    disk.read(position, buffer);
                } else {
                    disk.write(position, buffer);
                }
                done += chunk;
                position += chunk;
            }
            bytes -= n;
            skip = 0;
        }
    }

    /** What the device has done, for metrics. Updated by the device thread, readable from any thread. */
    public static final class Counters {
        final AtomicLong reads = new AtomicLong();
        final AtomicLong writes = new AtomicLong();
        final AtomicLong flushes = new AtomicLong();
        final AtomicLong getIds = new AtomicLong();
        final AtomicLong writeZeroes = new AtomicLong();
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
