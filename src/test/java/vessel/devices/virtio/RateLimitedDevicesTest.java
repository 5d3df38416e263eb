package vessel.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.devices.TokenBucket;
import vessel.devices.virtio.TestDriver.Buf;
import vessel.devices.virtio.TestDriver.Used;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

/**
 * Rate-limited devices serve what the buckets allow, leave the rest in the ring, and resume by their
 * queue timer, never by being asked in a loop. The timer here plays the VMM's: it notifies the queue
 * again after the delay, on its own thread, under the device's lock (as the event loop does).
 */
class RateLimitedDevicesTest {
    static final long RAM = 1 << 20;

    private final Arena arena = Arena.ofShared(); // the timer's thread serves the queue too
    private final GuestMemory memory = TestMemory.of(arena, RAM);
    private final RecordingInterrupt irq = new RecordingInterrupt();
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    /** Every wake the device asked for, in nanoseconds. */
    private final List<Long> wakes = new ArrayList<>();
    /** The timer's wakes wait for this: a test that checks what was served before any wake closes it first. */
    private volatile CountDownLatch timerGate = new CountDownLatch(0);

    @TempDir
    Path dir;

    @AfterEach
    void close() {
        scheduler.shutdownNow();
        try {
            scheduler.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        arena.close();
    }

    private QueueTimer timerFor(VirtioDevice device) {
        return (queue, nanos) -> {
            synchronized (wakes) {
                wakes.add(nanos);
            }
            scheduler.schedule(() -> {
                timerGate.await();
                synchronized (device) {
                    device.queueNotified(queue);
                }
                return null;
            }, nanos, TimeUnit.NANOSECONDS);
        };
    }

    private List<Used> reapUntil(TestDriver driver, VirtioDevice device, int count) throws InterruptedException {
        List<Used> all = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (all.size() < count && System.nanoTime() < deadline) {
            synchronized (device) {
                all.addAll(driver.reap());
            }
            Thread.sleep(5);
        }
        return all;
    }

    @Test
    void entropyServesWhatTheOpsBucketAllowsThenResumesByItsTimer() throws Exception {
        TestDriver driver = new TestDriver(memory, 0x1000, VirtioRng.QUEUE_SIZE, 0x10000, RAM);
        VirtQueue q = driver.configure(new VirtQueue(VirtioRng.QUEUE_SIZE));
        q.activate(memory, false, false);
        VirtioRng rng = new VirtioRng(dst -> java.util.Arrays.fill(dst, (byte) 7));
        rng.queueTimer(timerFor(rng));
        rng.updateRateLimiter(null, new TokenBucket.Config(3, 0, 150)); // 3 requests, then one per 50 ms
        List<Integer> heads = new ArrayList<>();
        synchronized (rng) {
            rng.activate(memory, List.of(q), 0, irq);
            for (int i = 0; i < 6; i++) {
                heads.add(driver.post(Buf.out(driver.alloc(16), 16)));
            }
            assertFalse(rng.queueNotified(0), "a throttled queue does not ask to be called again at once");
            assertEquals(heads.subList(0, 3), driver.reap().stream().map(Used::head).toList());
            assertEquals(1, rng.rateLimiterThrottled());
            assertFalse(rng.queueNotified(0), "a notification while waiting for the timer serves nothing");
            assertEquals(List.of(), driver.reap());
            assertEquals(1, rng.rateLimiterThrottled(), "and is not another throttled event");
        }
        synchronized (wakes) {
            assertEquals(1, wakes.size());
            assertTrue(wakes.getFirst() > 0 && wakes.getFirst() <= TimeUnit.MILLISECONDS.toNanos(50), wakes.toString());
        }
        List<Used> rest = reapUntil(driver, rng, 3);
        assertEquals(heads.subList(3, 6), rest.stream().map(Used::head).toList(), "the rest, in order, by the timer");
        assertEquals(6, rng.requests());
        assertTrue(rng.rateLimiterThrottled() >= 2, "each later request waited for its token too");
    }

    @Test
    void entropyBandwidthCountsTheBytesAndPatchLiftsTheLimitAtOnce() throws Exception {
        TestDriver driver = new TestDriver(memory, 0x1000, VirtioRng.QUEUE_SIZE, 0x10000, RAM);
        VirtQueue q = driver.configure(new VirtQueue(VirtioRng.QUEUE_SIZE));
        q.activate(memory, false, false);
        VirtioRng rng = new VirtioRng(dst -> java.util.Arrays.fill(dst, (byte) 7));
        rng.queueTimer(timerFor(rng));
        // 64 bytes, then the bucket takes an hour to refill: only the PATCH can let the rest through.
        rng.updateRateLimiter(new TokenBucket.Config(64, 32, 3_600_000), null);
        synchronized (rng) {
            rng.activate(memory, List.of(q), 0, irq);
            for (int i = 0; i < 4; i++) {
                driver.post(Buf.out(driver.alloc(32), 32));
            }
            rng.queueNotified(0);
            assertEquals(3, driver.reap().size(), "32 bytes of one-time burst and a 64-byte bucket: 3 requests");
            assertEquals(96, rng.bytes());
        }
        rng.updateRateLimiter(new TokenBucket.Config(0, 0, 0), null);
        assertEquals(1, reapUntil(driver, rng, 1).size(), "the PATCH woke the waiting queue");
        assertEquals(new vessel.devices.RateLimiter.Config(null, null), rng.rateLimiter());
    }

    @Test
    void blockLimitsRequestsAndBytesAndResumesByItsTimer() throws Exception {
        Path image = Files.write(dir.resolve("disk.img"), new byte[64 * 1024]);
        TestDriver driver = new TestDriver(memory, 0x1000, VirtioBlock.QUEUE_SIZE, 0x20000, RAM);
        VirtQueue q = driver.configure(new VirtQueue(VirtioBlock.QUEUE_SIZE));
        q.activate(memory, false, false);
        try (VirtioBlock blk = new VirtioBlock(image, false, "d0")) {
            blk.queueTimer(timerFor(blk));
            // 2 KiB per 100 ms: two 1 KiB reads at once, then one per 50 ms.
            blk.updateRateLimiter(new TokenBucket.Config(2048, 0, 100), null);
            // On a loaded host the first reap can come more than 50 ms after the notify: the timer's wake
            // must not serve the third read before the test has looked.
            timerGate = new CountDownLatch(1);
            List<Integer> heads = new ArrayList<>();
            synchronized (blk) {
                blk.activate(memory, List.of(q), 0, irq);
                for (int i = 0; i < 4; i++) {
                    long h = driver.buffer(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
                            .putInt(0, VirtioBlock.T_IN).putLong(8, 2L * i).array());
                    heads.add(driver.post(Buf.in(h, 16), Buf.out(driver.alloc(1024), 1024), Buf.out(driver.alloc(1), 1)));
                }
                blk.queueNotified(0);
            }
            blk.awaitIdle(); // the two admitted reads complete on the I/O threads; the third waits 50 ms
            assertEquals(java.util.Set.copyOf(heads.subList(0, 2)),
                    java.util.Set.copyOf(driver.reap().stream().map(Used::head).toList()));
            assertEquals(1, blk.rateLimiterThrottled());
            timerGate.countDown();
            List<Used> rest = reapUntil(driver, blk, 2);
            // Both may be admitted in one pass once the gate opens, and I/O threads finish in any order.
            assertEquals(java.util.Set.copyOf(heads.subList(2, 4)),
                    java.util.Set.copyOf(rest.stream().map(Used::head).toList()));
            assertEquals(4, blk.counters().reads());
            assertEquals(new vessel.devices.RateLimiter.Config(new TokenBucket.Config(2048, 0, 100), null),
                    blk.rateLimiter());
        }
    }

    @Test
    void withoutALimiterNothingIsThrottledOrTimed() throws IOException, VirtQueueException {
        TestDriver driver = new TestDriver(memory, 0x1000, VirtioRng.QUEUE_SIZE, 0x10000, RAM);
        VirtQueue q = driver.configure(new VirtQueue(VirtioRng.QUEUE_SIZE));
        q.activate(memory, false, false);
        VirtioRng rng = new VirtioRng(dst -> { });
        rng.queueTimer(timerFor(rng));
        rng.activate(memory, List.of(q), 0, irq);
        for (int i = 0; i < 10; i++) {
            driver.post(Buf.out(driver.alloc(16), 16));
        }
        rng.queueNotified(0);
        assertEquals(10, driver.reap().size());
        assertEquals(0, rng.rateLimiterThrottled());
        assertEquals(List.of(), wakes);
    }
}
