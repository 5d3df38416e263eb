package vessel.bench.blk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import vessel.devices.virtio.VirtQueue;
import vessel.devices.virtio.VirtQueueException;
import vessel.devices.virtio.VirtioBlock;
import vessel.devices.virtio.VirtioInterrupt;
import vessel.memory.GuestMemory;

/**
 * 4 KiB random reads through {@link VirtioBlock}, driven the way a guest driver drives it: each request a
 * three-descriptor chain (header, 4 KiB data, status) in real guest memory, {@code batch} chains made
 * available per notification, the used entries reaped and checked before the next batch. One invocation
 * is 32 requests, so the score is requests per second.
 *
 * <p>What it measures is Vessel's device path (ring parsing and validation, request decoding, status,
 * used ring, notification decision) as the event loop drives it: a pass pops the batch under the transport
 * lock, then the notifying thread serves the popped reads itself with no lock held (a hand-off to an I/O
 * thread cost more than a cached read: commit a7e6f57 handed every request to one, 35,474 requests/s at
 * batch 1 against 444,392 inline before it). One pread per request from the host page cache (the image is
 * written just before, so it is cached): no guest, no vCPU exits, no interrupt delivery. run.sh
 * --baseline REV runs an older build beside this one.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class BlkRandomRead {
    static final int REQUESTS_PER_INVOCATION = 32;
    static final int REQUEST_BYTES = 4096;
    static final long IMAGE_BYTES = 64L << 20;
    static final int QUEUE_SIZE = VirtioBlock.QUEUE_SIZE;

    // Guest layout: rings, then per-slot headers, status bytes and data buffers.
    static final long DESC = 0x1000;
    static final long AVAIL = 0x2000;
    static final long USED = 0x3000;
    static final long HEADERS = 0x10000;
    static final long STATUS = 0x11000;
    static final long DATA = 0x100000;

    /** Requests made available per notification. */
    @Param({"1", "32"})
    public int batch;

    /** How the device does its I/O: system calls on the event loop (and threads), or an io_uring. */
    @Param({"THREADS", "URING"})
    public VirtioBlock.Engine engine;

    private Path image;
    private GuestMemory memory;
    private VirtioBlock blk;
    private final int[] sectors = new int[1 << 16];
    private int nextSector;
    private int availIdx;
    private int usedIdx;
    private long interrupts;

    @Setup(Level.Trial)
    public void setUp() throws IOException, VirtQueueException {
        image = Files.createTempFile("vessel-bench-blk", ".img");
        SplittableRandom random = new SplittableRandom(42);
        try (FileChannel f = FileChannel.open(image, StandardOpenOption.WRITE)) {
            byte[] chunk = new byte[1 << 20];
            for (long at = 0; at < IMAGE_BYTES; at += chunk.length) {
                random.nextBytes(chunk);
                ByteBuffer b = ByteBuffer.wrap(chunk);
                while (b.hasRemaining()) {
                    f.write(b, at + b.position());
                }
            }
        }
        int blocks = (int) (IMAGE_BYTES / REQUEST_BYTES);
        for (int i = 0; i < sectors.length; i++) {
            sectors[i] = random.nextInt(blocks) * (REQUEST_BYTES / VirtioBlock.SECTOR_SIZE);
        }

        memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, 16L << 20)));
        for (int slot = 0; slot < REQUESTS_PER_INVOCATION; slot++) {
            int d = 3 * slot;
            descriptor(d, HEADERS + 16L * slot, 16, 1, d + 1); // NEXT
            descriptor(d + 1, DATA + (long) REQUEST_BYTES * slot, REQUEST_BYTES, 1 | 2, d + 2); // NEXT | WRITE
            descriptor(d + 2, STATUS + slot, 1, 2, 0); // WRITE
            memory.writeInt(HEADERS + 16L * slot, 0); // VIRTIO_BLK_T_IN
        }
        VirtQueue queue = new VirtQueue(QUEUE_SIZE);
        queue.size(QUEUE_SIZE);
        queue.descTable(DESC);
        queue.availRing(AVAIL);
        queue.usedRing(USED);
        queue.ready(true);
        queue.activate(memory, true, false);
        blk = new VirtioBlock(image, null, true, "bench", 1, engine);
        if (blk.engine() != engine) {
            throw new IllegalStateException("asked for " + engine + ", got " + blk.engine());
        }
        blk.activate(memory, List.of(queue), 0, new VirtioInterrupt() {
            @Override
            public void queue(int index) {
                interrupts++;
            }

            @Override
            public void config() {
            }

            @Override
            public void needsReset(String why) {
                throw new IllegalStateException("device asked for a reset: " + why);
            }
        });
    }

    private void descriptor(int index, long address, int length, int flags, int next) {
        long at = DESC + 16L * index;
        memory.writeLong(at, address);
        memory.writeInt(at + 8, length);
        memory.writeShort(at + 12, (short) flags);
        memory.writeShort(at + 14, (short) next);
    }

    @Benchmark
    @OperationsPerInvocation(REQUESTS_PER_INVOCATION)
    public int randomRead4k() throws InterruptedException {
        int statuses = 0;
        for (int first = 0; first < REQUESTS_PER_INVOCATION; first += batch) {
            for (int slot = first; slot < first + batch; slot++) {
                memory.writeLong(HEADERS + 16L * slot + 8, sectors[nextSector]);
                nextSector = (nextSector + 1) & (sectors.length - 1);
                memory.writeShort(AVAIL + 4 + 2L * (availIdx & (QUEUE_SIZE - 1)), (short) (3 * slot));
                availIdx = (availIdx + 1) & 0xFFFF;
            }
            // Like Linux with EVENT_IDX: one interrupt wanted, when the last of the batch is used.
            memory.writeShort(AVAIL + 4 + 2L * QUEUE_SIZE, (short) (availIdx - 1));
            memory.writeShort(AVAIL + 2, (short) availIdx);
            boolean more;
            do { // as the event loop: a pass under the lock, then its requests served off it
                more = blk.queueNotifiedThenServe(0);
                blk.servePopped();
            } while (more);
            blk.awaitIdle(); // any request handed to an I/O thread, or completed by the ring's own thread
            int used = memory.readShort(USED + 2) & 0xFFFF;
            if (used != availIdx) {
                throw new IllegalStateException("used idx " + used + " after avail idx " + availIdx);
            }
            usedIdx = used;
            for (int slot = first; slot < first + batch; slot++) {
                statuses |= memory.readByte(STATUS + slot);
            }
        }
        if (statuses != 0) {
            throw new IllegalStateException("a request failed");
        }
        return usedIdx;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        System.out.printf("%n%s batch %d: %d reads, %d bytes, %d interrupts, %d errors%n", engine, batch,
                blk.counters().reads(), blk.counters().bytesRead(), interrupts, blk.counters().ioErrors());
        blk.close();
        memory.close();
        Files.deleteIfExists(image);
    }
}
