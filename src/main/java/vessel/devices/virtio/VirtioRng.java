package vessel.devices.virtio;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import vessel.devices.DeviceMetrics;
import vessel.devices.RateLimiter;
import vessel.devices.TokenBucket;
import vessel.memory.GuestMemory;

/**
 * virtio-rng (device type 4, virtio 1.x section 5.4): one queue whose device-writable buffers the device
 * fills with host entropy. No features, no configuration space.
 */
public final class VirtioRng implements VirtioDevice, vessel.devices.Snapshottable<VirtioRng.State> {
    private static final System.Logger LOG = System.getLogger("vessel.devices.virtio");

    public static final int DEVICE_TYPE = 4;
    public static final int QUEUE_SIZE = 64;
    /**
     * The most bytes one request gets (the used length tells the driver how many it got). Bounds the work
     * and the host entropy one descriptor can ask for; Linux asks for far less at a time.
     */
    public static final int MAX_BYTES_PER_REQUEST = 64 * 1024;

    /** Where the bytes come from: fills all of {@code dst}. */
    @FunctionalInterface
    public interface EntropySource {
        void fill(byte[] dst) throws IOException;
    }

    private final EntropySource source;
    private final QueueServer server;
    private final RateLimiter limiter = RateLimiter.unlimited();
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    /** Reused while requests keep asking for the same size, as a driver normally does. */
    private byte[] scratch = new byte[0];
    private boolean loggedFailure;

    /** Entropy from the host's /dev/urandom, through the JDK's non-blocking native SecureRandom. */
    public VirtioRng() {
        this(hostEntropy());
    }

    public VirtioRng(EntropySource source) {
        this.source = source;
        this.server = new QueueServer("virtio-rng", 0, this::handle);
        server.limit(this::admit, QueueTimer.NONE);
    }

    /** Nothing beyond the transport's: the bytes come from the host at each request. */
    public record State() {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public State saveState() {
        return new State();
    }

    @Override
    public void restoreState(State s) {
    }

    /** Changes the rate limiter: each bucket given replaces the one there, a null one stays (as VirtioBlock). */
    public void updateRateLimiter(TokenBucket.Config bandwidth, TokenBucket.Config ops) {
        limiter.update(bandwidth, ops, System.nanoTime());
        server.limitChanged();
    }

    public RateLimiter.Config rateLimiter() {
        return limiter.config();
    }

    /** Requests the rate limiter held back (Firecracker's entropy_rate_limiter_throttled). */
    public long rateLimiterThrottled() {
        return limiter.throttled();
    }

    @Override
    public void queueTimer(QueueTimer timer) {
        server.limit(this::admit, timer);
    }

    /** One op per request, and the bytes it will get from the bandwidth bucket. */
    private long admit(DescriptorChain chain, long now) {
        return limiter.limits() ? limiter.tryConsume(Math.min(chain.writableLength(), MAX_BYTES_PER_REQUEST), 1, now) : 0;
    }

    private static EntropySource hostEntropy() {
        SecureRandom random;
        try {
            random = SecureRandom.getInstance("NativePRNGNonBlocking"); // reads /dev/urandom, never blocks
        } catch (NoSuchAlgorithmException e) {
            random = new SecureRandom();
        }
        return random::nextBytes;
    }

    /** Requests served with entropy. */
    public long requests() {
        return requests.get();
    }

    @Override
    public DeviceMetrics metrics(String id) {
        return new DeviceMetrics.Entropy(id, bytes(), failures(), rateLimiterThrottled());
    }

    /** Bytes of entropy handed to the guest. */
    public long bytes() {
        return bytes.get();
    }

    /** Requests answered with no bytes because the source failed. */
    public long failures() {
        return failures.get();
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
        return 0;
    }

    @Override
    public byte[] configSpace() {
        return new byte[0];
    }

    @Override
    public void writeConfig(int offset, int size, long value) {
    }

    /** {@code queues.get(0)} arrives activated by the transport (or null if the driver left it off). */
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

    /** Fills the chain's writable part, up to the cap; readable buffers mean nothing here and are ignored. */
    private int handle(DescriptorChain chain) {
        int n = (int) Math.min(chain.writableLength(), MAX_BYTES_PER_REQUEST);
        if (n == 0) {
            return 0;
        }
        if (scratch.length != n) {
            scratch = new byte[n];
        }
        try {
            source.fill(scratch);
        } catch (IOException | RuntimeException e) {
            // The driver gets its buffer back empty and may ask again; the VMM goes on.
            failures.incrementAndGet();
            if (!loggedFailure) {
                loggedFailure = true;
                LOG.log(Level.WARNING, "virtio-rng: entropy source failed; later failures are only counted: " + e);
            }
            return 0;
        }
        chain.write(0, scratch, 0, n);
        requests.incrementAndGet();
        bytes.addAndGet(n);
        return n;
    }
}
