package vessel.devices;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TokenBucketTest {
    private static final long MS = 1_000_000L;

    @Test
    void startsFullAndRefillsAtSizePerRefillTime() {
        TokenBucket b = new TokenBucket(new TokenBucket.Config(1000, 0, 100), 0);
        assertEquals(1000, b.available(0));
        b.take(1000, 0);
        assertFalse(b.canTake(1, 0));
        assertEquals(100, b.available(10 * MS), "a tenth of the refill time, a tenth of the size");
        assertEquals(500, b.available(50 * MS));
        assertEquals(1000, b.available(100 * MS));
        assertEquals(1000, b.available(10_000 * MS), "never beyond the size");
    }

    @Test
    void fractionsOfATokenAreNotLostBetweenReadings() {
        TokenBucket b = new TokenBucket(new TokenBucket.Config(3, 0, 1), 0); // a token every 333,333.3 ns
        b.take(3, 0);
        long total = 0;
        for (long t = 100_000; t <= 1_000_000; t += 100_000) {
            total = b.available(t);
        }
        assertEquals(3, total, "ten readings 0.1 ms apart credit the whole millisecond");
    }

    @Test
    void oneTimeBurstIsSpentFirstAndNeverRefilled() {
        TokenBucket b = new TokenBucket(new TokenBucket.Config(100, 50, 100), 0);
        assertEquals(150, b.available(0));
        b.take(30, 0);
        assertEquals(20, b.burstLeft());
        assertEquals(120, b.available(0), "the bucket itself untouched");
        b.take(120, 0);
        assertEquals(0, b.burstLeft());
        assertEquals(100, b.available(1000 * MS), "refill brings back the size, not the burst");
    }

    @Test
    void nanosUntilSaysWhenTheTokensAreThere() {
        TokenBucket b = new TokenBucket(new TokenBucket.Config(1000, 0, 100), 0);
        b.take(1000, 0);
        long wait = b.nanosUntil(250, 0);
        assertEquals(25 * MS, wait);
        assertFalse(b.canTake(250, wait - 1));
        assertTrue(b.canTake(250, wait));
        assertEquals(0, b.nanosUntil(250, wait));
    }

    @Test
    void aRequestLargerThanTheBucketGoesThroughWhenFullAndIsPaidBack() {
        TokenBucket b = new TokenBucket(new TokenBucket.Config(1000, 0, 100), 0);
        assertTrue(b.canTake(2500, 0), "full: the oversized request goes through");
        b.take(2500, 0);
        assertEquals(-1500, b.available(0));
        assertFalse(b.canTake(2500, 200 * MS), "not yet full again: 2 refill times pay the debt only");
        assertEquals(250 * MS, b.nanosUntil(2500, 0), "full again after the debt and one bucket");
        assertTrue(b.canTake(2500, 250 * MS));
        b.take(500, 0);
        assertFalse(b.canTake(2500, 250 * MS), "partly drained: an oversized request waits for a full bucket");
    }

    @Test
    void aBucketOfSizeOrRefillZeroIsNoLimit() {
        assertFalse(new TokenBucket.Config(0, 10, 100).limits());
        assertFalse(new TokenBucket.Config(10, 10, 0).limits());
        assertThrows(IllegalArgumentException.class, () -> new TokenBucket(new TokenBucket.Config(0, 0, 5), 0));
        assertThrows(IllegalArgumentException.class, () -> new TokenBucket.Config(-1, 0, 5));
    }

    @Test
    void hugeValuesDoNotOverflow() {
        TokenBucket b = new TokenBucket(new TokenBucket.Config(Long.MAX_VALUE / 4, 0,
                TokenBucket.Config.MAX_REFILL_TIME_MS), 0);
        b.take(Long.MAX_VALUE / 4, 0);
        long wait = b.nanosUntil(Long.MAX_VALUE / 8, 0);
        assertTrue(wait > 0);
        assertTrue(b.available(wait) >= Long.MAX_VALUE / 8);
    }

    @Test
    void rateLimiterTakesFromBothBucketsOrNeither() {
        RateLimiter r = new RateLimiter(new RateLimiter.Config(new TokenBucket.Config(1000, 0, 100),
                new TokenBucket.Config(2, 0, 100)), 0);
        assertEquals(0, r.tryConsume(400, 1, 0));
        assertEquals(0, r.tryConsume(400, 1, 0));
        long wait = r.tryConsume(100, 1, 0);
        assertEquals(50 * MS, wait, "ops empty: one op back after half the refill time");
        assertEquals(1, r.throttled());
        assertEquals(0, r.tryConsume(200, 1, wait), "the refused request took no bytes");
        assertEquals(1, r.throttled());
    }

    @Test
    void patchReplacesOnlyTheBucketsGiven() {
        RateLimiter r = new RateLimiter(new RateLimiter.Config(new TokenBucket.Config(1000, 0, 100),
                new TokenBucket.Config(2, 0, 100)), 0);
        r.tryConsume(1000, 2, 0);
        r.update(null, new TokenBucket.Config(10, 0, 100), 0);
        assertEquals(new RateLimiter.Config(new TokenBucket.Config(1000, 0, 100), new TokenBucket.Config(10, 0, 100)),
                r.config());
        assertTrue(r.tryConsume(1, 0, 0) > 0, "bandwidth kept its empty level");
        assertEquals(0, r.tryConsume(0, 5, 0), "ops is a new, full bucket");
        r.update(new TokenBucket.Config(0, 0, 0), null, 0);
        assertEquals(0, r.tryConsume(1 << 30, 0, 0), "a zero-size bucket removes the limit");
        r.update(null, new TokenBucket.Config(0, 0, 0), 0);
        assertFalse(r.limits());
    }
}
