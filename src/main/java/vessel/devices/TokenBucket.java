package vessel.devices;

import java.math.BigInteger;

/**
 * One of Firecracker's token buckets, as a pure state machine: time comes in as nanoseconds, nothing
 * here sleeps or reads a clock, so tests drive it deterministically. Not thread-safe ({@link RateLimiter}
 * locks it).
 *
 * <p>The bucket holds at most {@code size} tokens and starts full; it refills {@code size} tokens every
 * {@code refillTime} ms, continuously. {@code oneTimeBurst} tokens come on top, once: they are spent
 * first and never refilled. A request for more than {@code size} tokens could never be served by a
 * bucket that is merely full, so it is let through when the bucket is full, leaving a debt (a negative
 * budget) that the refill pays back before anything else goes through: the average rate still holds.
 */
public final class TokenBucket {
    /**
     * A bucket's configuration (Firecracker's TokenBucket body). Size 0 or refill time 0 means no limit
     * ({@link #limits()} false), as in Firecracker.
     *
     * @param size         tokens the bucket holds (bytes for bandwidth, operations for ops)
     * @param oneTimeBurst extra tokens available once at the start, spent before the bucket's
     * @param refillTimeMs milliseconds in which an empty bucket refills to {@code size}
     */
    public record Config(long size, long oneTimeBurst, long refillTimeMs) {
        /** The largest refill time taken: a nanosecond count must fit a long, with room to spare. */
        public static final long MAX_REFILL_TIME_MS = 1L << 40;

        public Config {
            if (size < 0 || oneTimeBurst < 0 || refillTimeMs < 0) {
                throw new IllegalArgumentException("token bucket values are never negative: size " + size
                        + ", one_time_burst " + oneTimeBurst + ", refill_time " + refillTimeMs);
            }
            if (refillTimeMs > MAX_REFILL_TIME_MS) {
                throw new IllegalArgumentException("refill_time " + refillTimeMs + " ms is too long (at most "
                        + MAX_REFILL_TIME_MS + ")");
            }
        }

        /** Whether this bucket limits anything. */
        public boolean limits() {
            return size > 0 && refillTimeMs > 0;
        }
    }

    private final Config config;
    private final long refillNanos;
    private long burst;
    /** Tokens in the bucket; negative while a request larger than the bucket is being paid back. */
    private long budget;
    /** The time up to which refill has been credited. */
    private long lastUpdate;
    /** Refill earned since the last whole token, in nanoseconds times tokens (below refillNanos). */
    private long carry;

    /** A full bucket at time {@code now}; {@code config} must limit. */
    public TokenBucket(Config config, long now) {
        if (!config.limits()) {
            throw new IllegalArgumentException("a bucket of size 0 or refill time 0 is no bucket");
        }
        this.config = config;
        this.refillNanos = config.refillTimeMs() * 1_000_000L;
        this.burst = config.oneTimeBurst();
        this.budget = config.size();
        this.lastUpdate = now;
    }

    public Config config() {
        return config;
    }

    /** Tokens that can be taken now: the one-time burst left and the bucket's budget (may be negative). */
    public long available(long now) {
        refill(now);
        return burst + budget;
    }

    /** The one-time burst not yet spent. */
    public long burstLeft() {
        return burst;
    }

    /** Whether {@code tokens} can be taken at {@code now}. */
    public boolean canTake(long tokens, long now) {
        refill(now);
        if (burst + budget >= tokens) {
            return true;
        }
        // Larger than the bucket can ever hold: through only when the bucket is full.
        return tokens - burst > config.size() && budget >= config.size();
    }

    /** Takes {@code tokens}, the one-time burst first; call only after {@link #canTake} said yes. */
    public void take(long tokens, long now) {
        refill(now);
        long fromBurst = Math.min(burst, tokens);
        burst -= fromBurst;
        budget -= tokens - fromBurst;
    }

    /**
     * Nanoseconds from {@code now} until {@link #canTake} will say yes to {@code tokens} (0 if it
     * does now). Never more than the time to fill the bucket from its current level.
     */
    public long nanosUntil(long tokens, long now) {
        if (canTake(tokens, now)) {
            return 0;
        }
        long target = Math.min(tokens - burst, config.size());
        long missing = target - budget; // > 0, at most size plus a debt below size
        // The refill already running since lastUpdate counts: the missing tokens arrive this long after it.
        long due = mulDivCeil(missing, refillNanos, config.size()) - carry / config.size();
        return Math.max(1, lastUpdate + due - now);
    }

    /**
     * Credits the refill since the last update. The fraction of a token earned but not yet whole is kept
     * as {@link #carry} (in nanoseconds times tokens), so frequent readings lose nothing.
     */
    private void refill(long now) {
        long elapsed = now - lastUpdate;
        if (elapsed <= 0) {
            return;
        }
        lastUpdate = now;
        long size = config.size();
        if (budget >= size) {
            carry = 0;
            return;
        }
        long room = size - budget;
        // Time to fill the room entirely: beyond it, the bucket is simply full.
        if (elapsed >= mulDivCeil(room, refillNanos, size)) {
            budget = size;
            carry = 0;
            return;
        }
        // elapsed * size + carry, split into whole tokens (of refillNanos each) and the rest.
        long tokens;
        long rest;
        long product = elapsed * size;
        if (Math.multiplyHigh(elapsed, size) == 0 && product >= 0 && product <= Long.MAX_VALUE - carry) {
            tokens = (product + carry) / refillNanos;
            rest = (product + carry) % refillNanos;
        } else {
            BigInteger[] qr = BigInteger.valueOf(elapsed).multiply(BigInteger.valueOf(size))
                    .add(BigInteger.valueOf(carry)).divideAndRemainder(BigInteger.valueOf(refillNanos));
            tokens = qr[0].longValue(); // below room, since elapsed is below the time to fill it
            rest = qr[1].longValue();
        }
        budget = Math.min(size, budget + tokens);
        carry = budget == size ? 0 : rest;
    }

    private static long mulDivCeil(long a, long b, long c) {
        if (Math.multiplyHigh(a, b) == 0 && a * b >= 0) {
            long p = a * b;
            return p / c + (p % c == 0 ? 0 : 1);
        }
        BigInteger[] qr = BigInteger.valueOf(a).multiply(BigInteger.valueOf(b)).divideAndRemainder(BigInteger.valueOf(c));
        BigInteger q = qr[0].add(qr[1].signum() == 0 ? BigInteger.ZERO : BigInteger.ONE);
        return q.bitLength() < 62 ? q.longValue() : SATURATED; // a debt that would take centuries: saturate
    }

    /** A time (ns) no refill reaches: far in the future, yet with room to add a clock reading. */
    private static final long SATURATED = 1L << 61;

}
