package vessel.devices.virtio;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import vessel.devices.DeviceMetrics;
import vessel.devices.RateLimiter;
import vessel.devices.TokenBucket;
import vessel.memory.GuestMemory;

/**
 * virtio-pmem (device type 27, virtio 1.x section 5.19): a host file the VMM maps into guest-physical space
 * outside RAM, which the guest's libnvdimm presents as /dev/pmem0. Loads and stores reach the file's page
 * cache directly through that mapping; the device itself only tells the driver where the range is
 * (configuration: le64 start, le64 size) and serves its one request, FLUSH, by making the file durable
 * ({@link Backing#flush}, an fdatasync). The mapping and its KVM slot belong to the VMM, not to this class.
 *
 * <p>A request is a device-readable le32 type followed by a device-writable le32 status: 0 done, 1 failed.
 * Every length comes from the guest and is checked ({@link #parse}); a chain with no room for the status is
 * returned used with length 0 and counted.
 */
public final class VirtioPmem implements VirtioDevice {
    private static final System.Logger LOG = System.getLogger("vessel.devices.virtio");

    public static final int DEVICE_TYPE = 27;
    public static final int QUEUE_SIZE = 256;
    static final int CONFIG_SIZE = 16;
    /** Linux maps the range with memremap_pages, whose start and size must be whole 2 MiB subsections. */
    public static final long ALIGNMENT = 2L << 20;

    public static final int REQ_FLUSH = 0;
    public static final int STATUS_OK = 0;
    public static final int STATUS_ERROR = 1;

    /** Makes what the guest wrote through the mapping durable (fdatasync of the backing file). */
    @FunctionalInterface
    public interface Backing {
        void flush() throws IOException;
    }

    /** Where the range sits in guest-physical space: both 2 MiB-aligned, the size above 0. */
    public record Region(long start, long size) {
        public Region {
            if (size <= 0 || start < 0 || start % ALIGNMENT != 0 || size % ALIGNMENT != 0
                    || start > Long.MAX_VALUE - size) {
                throw new IllegalArgumentException(String.format(
                        "pmem range 0x%x+0x%x is not a non-empty range of whole 2 MiB blocks", start, size));
            }
        }
    }

    /** What one chain asks for, as far as its guest-supplied lengths allow. */
    public enum Request {
        /** A flush, with room for the status. */
        FLUSH,
        /** Room for the status, but no type or an unknown one: answered {@link #STATUS_ERROR}. */
        INVALID,
        /** No room for the status: returned with nothing written. */
        UNANSWERABLE
    }

    /** Counters, as Firecracker's pmem metrics name them. */
    public record Counters(long flushes, long flushFails, long invalidRequests, long rateLimiterThrottled) {
    }

    private final Region region;
    private final Backing backing;
    private final QueueServer server;
    private final RateLimiter limiter = RateLimiter.unlimited();
    private final AtomicLong flushes = new AtomicLong();
    private final AtomicLong flushFails = new AtomicLong();
    private final AtomicLong invalid = new AtomicLong();
    private final byte[] word = new byte[4];
    private boolean loggedFailure;

    public VirtioPmem(Region region, Backing backing) {
        this.region = region;
        this.backing = backing;
        this.server = new QueueServer("virtio-pmem", 0, this::handle);
        server.limit(this::admit, QueueTimer.NONE);
    }

    public Region region() {
        return region;
    }

    /** Changes the rate limiter: each bucket given replaces the one there, a null one stays (as VirtioBlock). */
    public void updateRateLimiter(TokenBucket.Config bandwidth, TokenBucket.Config ops) {
        limiter.update(bandwidth, ops, System.nanoTime());
        server.limitChanged();
    }

    public RateLimiter.Config rateLimiter() {
        return limiter.config();
    }

    @Override
    public void queueTimer(QueueTimer timer) {
        server.limit(this::admit, timer);
    }

    /** One op per flush and, as Firecracker counts it, the whole range's bytes from the bandwidth bucket. */
    private long admit(DescriptorChain chain, long now) {
        return limiter.limits() ? limiter.tryConsume(region.size(), 1, now) : 0;
    }

    @Override
    public DeviceMetrics metrics(String id) {
        Counters c = counters();
        return new DeviceMetrics.Pmem(id, c.flushes(), c.flushFails(), c.invalidRequests(), c.rateLimiterThrottled());
    }

    public Counters counters() {
        return new Counters(flushes.get(), flushFails.get(), invalid.get(), limiter.throttled());
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures() {
        return 0;
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

    /** start at 0, size at 8, read whole or in parts (Linux reads each u64 as two 32-bit halves). */
    @Override
    public byte[] configSpace() {
        return ConfigSpace.allocate(CONFIG_SIZE).putLong(region.start()).putLong(region.size()).array();
    }

    /** The configuration is read-only. */
    @Override
    public void writeConfig(int offset, int size, long value) {
    }

    @Override
    public void activate(GuestMemory memory, List<VirtQueue> queues, long ackedFeatures, VirtioInterrupt interrupt) {
        server.start(queues.isEmpty() ? null : queues.get(0), interrupt);
    }

    @Override
    public boolean queueNotified(int index) {
        return index == 0 && server.serve();
    }

    @Override
    public void reset() {
        server.clear();
    }

    /**
     * What {@code chain} asks for: only its lengths and, when there are at least 4 readable bytes, its first
     * readable le32 are looked at; anything after them is ignored, as Linux never sends more.
     */
    public static Request parse(DescriptorChain chain, byte[] word) {
        if (chain.writableLength() < 4) {
            return Request.UNANSWERABLE;
        }
        if (chain.readableLength() < 4) {
            return Request.INVALID;
        }
        chain.read(0, word, 0, 4);
        int type = (word[0] & 0xff) | (word[1] & 0xff) << 8 | (word[2] & 0xff) << 16 | (word[3] & 0xff) << 24;
        return type == REQ_FLUSH ? Request.FLUSH : Request.INVALID;
    }

    private int handle(DescriptorChain chain) {
        int status;
        switch (parse(chain, word)) {
            case UNANSWERABLE -> {
                invalid.incrementAndGet();
                return 0;
            }
            case INVALID -> {
                invalid.incrementAndGet();
                status = STATUS_ERROR;
            }
            case FLUSH -> status = flush();
            default -> throw new AssertionError();
        }
        word[0] = (byte) status;
        word[1] = 0;
        word[2] = 0;
        word[3] = 0;
        chain.write(0, word, 0, 4);
        return 4;
    }

    private int flush() {
        try {
            backing.flush();
            flushes.incrementAndGet();
            return STATUS_OK;
        } catch (IOException | RuntimeException e) {
            // The driver turns the status into -EIO for whoever asked (fsync of /dev/pmem0); the VMM goes on.
            flushFails.incrementAndGet();
            if (!loggedFailure) {
                loggedFailure = true;
                LOG.log(Level.WARNING, "virtio-pmem: flush of the backing file failed; later failures are only counted: "
                        + e);
            }
            return STATUS_ERROR;
        }
    }
}
