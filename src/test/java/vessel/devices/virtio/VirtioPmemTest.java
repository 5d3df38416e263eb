package vessel.devices.virtio;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vessel.devices.TokenBucket;
import vessel.devices.virtio.TestDriver.Buf;
import vessel.devices.virtio.TestDriver.Used;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VirtioPmemTest {
    static final long RAM = 1 << 20;
    static final VirtioPmem.Region REGION = new VirtioPmem.Region(0x5_4000_0000L, 6L << 20);

    private final Arena arena = Arena.ofConfined();
    private final GuestMemory memory = TestMemory.of(arena, RAM);
    private final TestDriver driver = new TestDriver(memory, 0x1000, VirtioPmem.QUEUE_SIZE, 0x10000, RAM);
    private final RecordingInterrupt irq = new RecordingInterrupt();
    private final AtomicInteger syncs = new AtomicInteger();

    @AfterEach
    void close() {
        arena.close();
    }

    private VirtioPmem start(VirtioPmem pmem) throws VirtQueueException {
        VirtQueue q = driver.configure(new VirtQueue(VirtioPmem.QUEUE_SIZE));
        q.activate(memory, false, false);
        pmem.activate(memory, List.of(q), 0, irq);
        return pmem;
    }

    /** Posts a request of {@code type} with a status buffer pre-set to 0xee; returns {head, status address}. */
    private long[] request(int type) {
        long req = driver.alloc(4);
        long status = driver.alloc(4);
        memory.writeInt(req, type);
        memory.writeInt(status, 0xee);
        return new long[] {driver.post(Buf.in(req, 4), Buf.out(status, 4)), status};
    }

    @Test
    void configSpaceGivesStartAndSizeWholeOrInHalves() {
        VirtioPmem pmem = new VirtioPmem(REGION, syncs::incrementAndGet);
        assertEquals(27, pmem.deviceType());
        assertEquals(16, pmem.configSize());
        assertEquals(1, pmem.queueCount());
        assertEquals(REGION.start(), pmem.readConfig(0, 8));
        assertEquals(REGION.size(), pmem.readConfig(8, 8));
        assertEquals(REGION.start() & 0xffff_ffffL, pmem.readConfig(0, 4));
        assertEquals(REGION.start() >>> 32, pmem.readConfig(4, 4));
        assertEquals(REGION.size() >>> 16 & 0xffff, pmem.readConfig(10, 2));
        assertEquals(0, pmem.readConfig(12, 8), "past the end");
        assertEquals(0, pmem.readConfig(-1, 4));
        pmem.writeConfig(0, 8, 0);
        assertEquals(REGION.start(), pmem.readConfig(0, 8), "read-only");
    }

    @Test
    void aFlushSyncsTheBackingFileAndAnswersZero() throws VirtQueueException {
        VirtioPmem pmem = start(new VirtioPmem(REGION, syncs::incrementAndGet));
        long[] r = request(VirtioPmem.REQ_FLUSH);
        pmem.queueNotified(0);
        assertEquals(List.of(new Used((int) r[0], 4)), driver.reap());
        assertEquals(VirtioPmem.STATUS_OK, memory.readInt(r[1]));
        assertEquals(1, syncs.get());
        assertEquals(List.of(0), irq.queues);
        assertEquals(new VirtioPmem.Counters(1, 0, 0, 0), pmem.counters());
    }

    @Test
    void aFailedSyncAnswersOneAndTheDeviceGoesOn() throws VirtQueueException {
        VirtioPmem pmem = start(new VirtioPmem(REGION, () -> {
            throw new IOException("EIO");
        }));
        long[] r = request(VirtioPmem.REQ_FLUSH);
        long[] s = request(VirtioPmem.REQ_FLUSH);
        pmem.queueNotified(0);
        assertEquals(2, driver.reap().size());
        assertEquals(VirtioPmem.STATUS_ERROR, memory.readInt(r[1]));
        assertEquals(VirtioPmem.STATUS_ERROR, memory.readInt(s[1]));
        assertEquals(new VirtioPmem.Counters(0, 2, 0, 0), pmem.counters());
        assertTrue(irq.resets.isEmpty());
    }

    @Test
    void unknownTypesShortRequestsAndMissingStatusAreCountedNotServed() throws VirtQueueException {
        VirtioPmem pmem = start(new VirtioPmem(REGION, syncs::incrementAndGet));
        long[] unknown = request(7);
        // Two readable bytes only: no type to read, but a status to answer in.
        long shortReq = driver.alloc(2);
        long status = driver.alloc(4);
        memory.writeInt(status, 0xee);
        int shortHead = driver.post(Buf.in(shortReq, 2), Buf.out(status, 4));
        // A status buffer of 3 bytes: nothing can be answered, nothing is written.
        long req = driver.alloc(4);
        long tiny = driver.alloc(4);
        memory.writeInt(tiny, 0xeeeeee);
        int tinyHead = driver.post(Buf.in(req, 4), Buf.out(tiny, 3));
        pmem.queueNotified(0);
        assertEquals(List.of(new Used((int) unknown[0], 4), new Used(shortHead, 4), new Used(tinyHead, 0)),
                driver.reap());
        assertEquals(VirtioPmem.STATUS_ERROR, memory.readInt(unknown[1]));
        assertEquals(VirtioPmem.STATUS_ERROR, memory.readInt(status));
        assertEquals(0xeeeeee, memory.readInt(tiny));
        assertEquals(0, syncs.get());
        assertEquals(new VirtioPmem.Counters(0, 0, 3, 0), pmem.counters());
    }

    @Test
    void aRateLimitedQueueWaitsForItsTimer() throws VirtQueueException {
        VirtioPmem pmem = new VirtioPmem(REGION, syncs::incrementAndGet);
        List<Long> waits = new java.util.ArrayList<>();
        pmem.queueTimer((queue, nanos) -> waits.add(nanos));
        pmem.updateRateLimiter(null, new TokenBucket.Config(1, 0, 1000));
        start(pmem);
        request(VirtioPmem.REQ_FLUSH);
        request(VirtioPmem.REQ_FLUSH);
        pmem.queueNotified(0);
        assertEquals(1, syncs.get(), "one op in the bucket");
        assertEquals(1, waits.size());
        assertTrue(waits.getFirst() > 0);
        assertEquals(1, pmem.counters().rateLimiterThrottled());
    }

    @Test
    void regionsAreWholeTwoMiBBlocks() {
        assertThrows(IllegalArgumentException.class, () -> new VirtioPmem.Region(0x5_4000_0000L, 0));
        assertThrows(IllegalArgumentException.class, () -> new VirtioPmem.Region(0x5_4000_0000L, 4096));
        assertThrows(IllegalArgumentException.class, () -> new VirtioPmem.Region(0x5_4000_1000L, 2L << 20));
        assertThrows(IllegalArgumentException.class, () -> new VirtioPmem.Region(Long.MAX_VALUE & -(2L << 20), 4L << 20));
    }
}
