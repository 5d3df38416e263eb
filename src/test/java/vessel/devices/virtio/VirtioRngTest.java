package vessel.devices.virtio;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vessel.devices.virtio.TestDriver.Buf;
import vessel.devices.virtio.TestDriver.Used;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VirtioRngTest {
    static final long RAM = 1 << 20;

    private final Arena arena = Arena.ofConfined();
    private final GuestMemory memory = TestMemory.of(arena, RAM);
    private final TestDriver driver = new TestDriver(memory, 0x1000, VirtioRng.QUEUE_SIZE, 0x10000, RAM);
    private final RecordingInterrupt irq = new RecordingInterrupt();

    @AfterEach
    void close() {
        arena.close();
    }

    private VirtioRng start(VirtioRng rng) throws VirtQueueException {
        VirtQueue q = driver.configure(new VirtQueue(VirtioRng.QUEUE_SIZE));
        q.activate(memory, false, false);
        rng.activate(memory, List.of(q), 0, irq);
        return rng;
    }

    @Test
    void fillsWritableBuffersWithHostEntropy() throws VirtQueueException {
        VirtioRng rng = start(new VirtioRng());
        assertEquals(4, rng.deviceType());
        assertEquals(0, rng.configSize());
        long a = driver.alloc(64);
        long b = driver.alloc(64);
        int head = driver.post(Buf.out(a, 64), Buf.out(b, 64));
        rng.queueNotified(0);
        assertEquals(List.of(new Used(head, 128)), driver.reap());
        assertEquals(List.of(0), irq.queues);
        byte[] got = memory.read(a, 128);
        assertFalse(Arrays.equals(new byte[128], got));
        // 128 random bytes hold about 100 distinct values; 16 or fewer is as good as impossible, and it
        // also catches a constant or short repeating fill.
        long distinct = java.util.stream.IntStream.range(0, got.length).map(i -> got[i]).distinct().count();
        assertTrue(distinct > 16, "only " + distinct + " distinct byte values");
        assertEquals(1, rng.requests());
        assertEquals(128, rng.bytes());
    }

    @Test
    void servesAPassOfRequestsPerNotificationAndSaysWhenMoreWait() throws VirtQueueException {
        // A driver that keeps its queue full gets a pass at a time, so other devices get their turns.
        TestDriver big = new TestDriver(memory, 0x1000, 256, 0x10000, RAM);
        VirtQueue q = big.configure(new VirtQueue(256));
        q.activate(memory, false, false);
        VirtioRng rng = new VirtioRng(dst -> Arrays.fill(dst, (byte) 1));
        rng.activate(memory, List.of(q), 0, irq);
        for (int i = 0; i < 100; i++) {
            big.post(Buf.out(big.alloc(8), 8));
        }
        assertTrue(rng.queueNotified(0), "a pass stopped at its budget says more is waiting");
        assertEquals(QueueServer.CHAINS_PER_PASS, big.reap().size());
        assertFalse(rng.queueNotified(0));
        assertEquals(100 - QueueServer.CHAINS_PER_PASS, big.reap().size());
        assertEquals(List.of(0, 0), irq.queues, "each pass interrupts for what it used");
    }

    @Test
    void capsTheBytesPerRequest() throws VirtQueueException {
        VirtioRng rng = start(new VirtioRng(dst -> Arrays.fill(dst, (byte) 0x42)));
        long big = driver.alloc(100_000);
        int head = driver.post(Buf.out(big, 100_000));
        rng.queueNotified(0);
        assertEquals(List.of(new Used(head, VirtioRng.MAX_BYTES_PER_REQUEST)), driver.reap());
        assertEquals(0x42, memory.readByte(big + VirtioRng.MAX_BYTES_PER_REQUEST - 1));
        assertEquals(0, memory.readByte(big + VirtioRng.MAX_BYTES_PER_REQUEST));
    }

    @Test
    void aFailingSourceReturnsEmptyBuffersAndKeepsServing() throws VirtQueueException {
        boolean[] fail = {true};
        VirtioRng rng = start(new VirtioRng(dst -> {
            if (fail[0]) {
                throw new IOException("no entropy today");
            }
            Arrays.fill(dst, (byte) 7);
        }));
        long buf = driver.alloc(16);
        int first = driver.post(Buf.out(buf, 16));
        int readOnly = driver.post(Buf.in(buf, 16));
        rng.queueNotified(0);
        assertEquals(List.of(new Used(first, 0), new Used(readOnly, 0)), driver.reap());
        assertEquals(1, rng.failures());
        fail[0] = false;
        int second = driver.post(Buf.out(buf, 16));
        rng.queueNotified(0);
        assertEquals(List.of(new Used(second, 16)), driver.reap());
        assertEquals(7, memory.readByte(buf + 15));
        assertEquals(List.of(), irq.resets);
    }
}
