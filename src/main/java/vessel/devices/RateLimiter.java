package vessel.devices;

/**
 * Firecracker's rate limiter: a bandwidth bucket (bytes) and an ops bucket (requests or frames), either
 * absent. An operation takes from both or from neither, so a refused one costs nothing and is simply
 * asked again later. A pure state machine over times in nanoseconds, locked for the one case of two
 * threads: the device's (consuming) and the API's (PATCH replacing a bucket).
 */
public final class RateLimiter {
    /**
     * What to limit: each bucket null (or not {@link TokenBucket.Config#limits limiting}) for no limit.
     * Firecracker's RateLimiter body.
     */
    public record Config(TokenBucket.Config bandwidth, TokenBucket.Config ops) {
        public static final Config NONE = new Config(null, null);

        /** Whether either bucket limits anything. */
        public boolean limits() {
            return bandwidth != null && bandwidth.limits() || ops != null && ops.limits();
        }
    }

    private TokenBucket bandwidth;
    private TokenBucket ops;
    private long throttled;

    public RateLimiter(Config config, long now) {
        update(config.bandwidth(), config.ops(), now);
    }

    /** One that never limits. */
    public static RateLimiter unlimited() {
        return new RateLimiter(Config.NONE, 0);
    }

    /**
     * Replaces the buckets given (PATCH): a non-null config becomes a new, full bucket (no bucket if it does
     * not limit); a null one leaves that bucket as it is, level included.
     */
    public synchronized void update(TokenBucket.Config newBandwidth, TokenBucket.Config newOps, long now) {
        if (newBandwidth != null) {
            bandwidth = newBandwidth.limits() ? new TokenBucket(newBandwidth, now) : null;
        }
        if (newOps != null) {
            ops = newOps.limits() ? new TokenBucket(newOps, now) : null;
        }
    }

    /** The buckets now, as configured (a missing bucket is null). */
    public synchronized Config config() {
        return new Config(bandwidth == null ? null : bandwidth.config(), ops == null ? null : ops.config());
    }

    public synchronized boolean limits() {
        return bandwidth != null || ops != null;
    }

    /**
     * Takes {@code bytes} from the bandwidth bucket and {@code operations} from the ops bucket, both or
     * neither. Returns 0 when taken; otherwise nothing is taken, the refusal is counted, and the result is
     * the nanoseconds after which asking again will succeed (as far as the buckets now know).
     */
    public synchronized long tryConsume(long bytes, long operations, long now) {
        boolean bytesOk = bandwidth == null || bytes == 0 || bandwidth.canTake(bytes, now);
        boolean opsOk = ops == null || operations == 0 || ops.canTake(operations, now);
        if (bytesOk && opsOk) {
            if (bandwidth != null && bytes != 0) {
                bandwidth.take(bytes, now);
            }
            if (ops != null && operations != 0) {
                ops.take(operations, now);
            }
            return 0;
        }
        throttled++;
        long wait = 0;
        if (!bytesOk) {
            wait = bandwidth.nanosUntil(bytes, now);
        }
        if (!opsOk) {
            wait = Math.max(wait, ops.nanosUntil(operations, now));
        }
        return wait;
    }

    /** Operations refused so far (Firecracker's throttled events). */
    public synchronized long throttled() {
        return throttled;
    }
}
