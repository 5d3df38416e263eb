package vessel.devices.virtio;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.devices.block.DiskFormat;
import vessel.devices.block.DiskImage;
import vessel.devices.pci.MsiXTable;
import vessel.devices.pci.VirtioPciFunction;
import vessel.devices.virtio.TestDriver.Buf;
import vessel.devices.virtio.TestDriver.Used;
import vessel.memory.GuestMemory;
import vessel.sys.FileIo;
import vessel.sys.Libc;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static vessel.devices.virtio.VirtioBlock.S_IOERR;
import static vessel.devices.virtio.VirtioBlock.S_OK;
import static vessel.devices.virtio.VirtioBlock.S_UNSUPP;
import static vessel.devices.virtio.VirtioBlock.T_DISCARD;
import static vessel.devices.virtio.VirtioBlock.T_FLUSH;
import static vessel.devices.virtio.VirtioBlock.T_IN;
import static vessel.devices.virtio.VirtioBlock.T_OUT;
import static vessel.devices.virtio.VirtioBlock.T_WRITE_ZEROES;

/** virtio-blk's I/O path: requests off the transport lock, several queues, FLUSH, DISCARD and WRITE_ZEROES on the file. */
class VirtioBlockIoTest {
    static final long RAM = 4 << 20;
    static final int IMAGE_BYTES = 1 << 20;

    @TempDir
    Path dir;
    private final Arena arena = Arena.ofShared();
    private final GuestMemory memory = TestMemory.of(arena, RAM);
    private final RecordingInterrupt irq = new RecordingInterrupt();
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
        arena.close();
    }

    /** A written (not sparse) raw image of distinct bytes. */
    private Path image() throws IOException {
        byte[] content = new byte[IMAGE_BYTES];
        for (int i = 0; i < content.length; i++) {
            content[i] = (byte) (i * 13 + i / 4096 + 1);
        }
        return Files.write(dir.resolve("disk.img"), content);
    }

    private VirtioBlock open(Path image, int queues) throws IOException {
        VirtioBlock blk = new VirtioBlock(image, DiskFormat.RAW, false, "d", queues);
        closing.add(blk);
        return blk;
    }

    private static TestDriver driver(GuestMemory memory, int queue) {
        long ring = 0x1000 + queue * 0x8000L;
        long data = 0x100000 + queue * 0x80000L;
        return new TestDriver(memory, ring, VirtioBlock.QUEUE_SIZE, data, data + 0x80000);
    }

    private VirtQueue activate(TestDriver d) throws VirtQueueException {
        VirtQueue q = d.configure(new VirtQueue(VirtioBlock.QUEUE_SIZE));
        q.activate(memory, true, true);
        return q;
    }

    private static long header(TestDriver d, int type, long sector) {
        return d.buffer(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(0, type).putLong(8, sector).array());
    }

    /** A DISCARD or WRITE_ZEROES request of the given segments ({sector, sectors, flags} each); returns its status address. */
    private static long segments(TestDriver d, int type, long[]... segs) {
        ByteBuffer b = ByteBuffer.allocate(16 * segs.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < segs.length; i++) {
            b.putLong(16 * i, segs[i][0]).putInt(16 * i + 8, (int) segs[i][1]).putInt(16 * i + 12, (int) segs[i][2]);
        }
        long h = header(d, type, 0);
        long s = d.buffer(b.array());
        long status = d.alloc(1);
        d.post(Buf.in(h, 16), Buf.in(s, 16L * segs.length), Buf.out(status, 1));
        return status;
    }

    private List<Used> kick(VirtioBlock blk, TestDriver d, int queue) throws InterruptedException {
        blk.queueNotified(queue);
        blk.awaitIdle();
        return d.reap();
    }

    /** The first hole at or after {@code offset} (SEEK_HOLE), the file's end if none. */
    private static long hole(Path file, long offset) throws Exception {
        int fd = Libc.open(file.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        try {
            return FileIo.lseek(fd, offset, FileIo.SEEK_HOLE);
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void discardPunchesAHoleThatReadsAsZerosAndKeepsTheSize() throws Exception {
        Path image = image();
        VirtioBlock blk = open(image, 1);
        TestDriver d = driver(memory, 0);
        blk.activate(memory, List.of(activate(d)), 0, irq);
        assertEquals(IMAGE_BYTES, hole(image, 0), "a written image has no hole before its end");
        // Two segments: 64 KiB at 128 KiB and 4 KiB at 512 KiB.
        long status = segments(d, T_DISCARD, new long[] {256, 128, 0}, new long[] {1024, 8, 0});
        long flagged = segments(d, T_DISCARD, new long[] {0, 8, 1}); // discard has no flags
        long outside = segments(d, T_DISCARD, new long[] {IMAGE_BYTES / 512 - 4, 8, 0});
        kick(blk, d, 0);
        assertEquals(S_OK, memory.readByte(status));
        assertEquals(S_UNSUPP, memory.readByte(flagged));
        assertEquals(S_IOERR, memory.readByte(outside));
        assertEquals(IMAGE_BYTES, Files.size(image));
        byte[] now = Files.readAllBytes(image);
        assertArrayEquals(new byte[128 * 512], Arrays.copyOfRange(now, 256 * 512, 384 * 512));
        assertEquals((byte) (384 * 512 * 13 + 384 * 512 / 4096 + 1), now[384 * 512], "the byte after is untouched");
        assertEquals(1, blk.counters().discards());
        assumeTrue(blk.readConfig(VirtioBlock.CFG_WRITE_ZEROES_MAY_UNMAP, 1) == 1, "this file system punches no holes");
        assertEquals(256 * 512, hole(image, 0), "the discarded range is a hole");
        assertEquals(1024 * 512, hole(image, 384 * 512), "and so is the second segment");
    }

    @Test
    void writeZeroesZeroesWithOrWithoutUnmapAndChecksEverySegmentFirst() throws Exception {
        Path image = image();
        VirtioBlock blk = open(image, 1);
        TestDriver d = driver(memory, 0);
        blk.activate(memory, List.of(activate(d)), 0, irq);
        long keep = segments(d, T_WRITE_ZEROES, new long[] {8, 8, 0});
        long unmap = segments(d, T_WRITE_ZEROES, new long[] {64, 16, VirtioBlock.ZEROES_FLAG_UNMAP});
        long two = segments(d, T_WRITE_ZEROES, new long[] {200, 1, 0}, new long[] {300, 1, 0}); // max_write_zeroes_seg 1
        kick(blk, d, 0);
        assertEquals(S_OK, memory.readByte(keep));
        assertEquals(S_OK, memory.readByte(unmap));
        assertEquals(S_IOERR, memory.readByte(two));
        byte[] now = Files.readAllBytes(image);
        assertArrayEquals(new byte[8 * 512], Arrays.copyOfRange(now, 8 * 512, 16 * 512));
        assertArrayEquals(new byte[16 * 512], Arrays.copyOfRange(now, 64 * 512, 80 * 512));
        assertEquals((byte) (200 * 512 * 13 + 200 * 512 / 4096 + 1), now[200 * 512], "a refused request writes nothing");
        assertEquals(2, blk.counters().writeZeroes());
        assumeTrue(blk.readConfig(VirtioBlock.CFG_WRITE_ZEROES_MAY_UNMAP, 1) == 1, "this file system punches no holes");
        assertEquals(64 * 512, hole(image, 16 * 512), "UNMAP freed its range");
    }

    @Test
    void flushAfterWritesAnswersOkWithTheDataInTheFile() throws Exception {
        Path image = image();
        VirtioBlock blk = open(image, 1);
        TestDriver d = driver(memory, 0);
        blk.activate(memory, List.of(activate(d)), 0, irq);
        byte[] data = new byte[4096];
        Arrays.fill(data, (byte) 0x77);
        long wStatus = d.alloc(1);
        d.post(Buf.in(header(d, T_OUT, 16), 16), Buf.in(d.buffer(data), 4096), Buf.out(wStatus, 1));
        kick(blk, d, 0);
        long fStatus = d.alloc(1);
        d.post(Buf.in(header(d, T_FLUSH, 0), 16), Buf.out(fStatus, 1));
        kick(blk, d, 0);
        assertEquals(S_OK, memory.readByte(wStatus));
        assertEquals(S_OK, memory.readByte(fStatus));
        assertEquals(1, blk.counters().flushes());
        assertArrayEquals(data, Arrays.copyOfRange(Files.readAllBytes(image), 16 * 512, 16 * 512 + 4096));
    }

    @Test
    void fourQueuesServeTheirOwnRequestsAndInterruptTheirOwnVectors() throws Exception {
        Path image = image();
        byte[] content = Files.readAllBytes(image);
        VirtioBlock blk = open(image, 4);
        assertEquals(4, blk.queueCount());
        assertEquals(4, blk.readConfig(VirtioBlock.CFG_NUM_QUEUES, 2));
        assertTrue((blk.deviceFeatures() & VirtioBlock.F_MQ) != 0);
        List<TestDriver> drivers = new ArrayList<>();
        List<VirtQueue> queues = new ArrayList<>();
        for (int q = 0; q < 4; q++) {
            drivers.add(driver(memory, q));
            queues.add(activate(drivers.get(q)));
        }
        blk.activate(memory, queues, 0, irq);
        long[][] data = new long[4][8];
        for (int q = 0; q < 4; q++) {
            TestDriver d = drivers.get(q);
            for (int i = 0; i < 8; i++) {
                data[q][i] = d.alloc(4096);
                d.post(Buf.in(header(d, T_IN, 8L * (8 * q + i)), 16), Buf.out(data[q][i], 4096), Buf.out(d.alloc(1), 1));
            }
        }
        for (int q = 0; q < 4; q++) {
            blk.queueNotified(q);
        }
        blk.awaitIdle();
        for (int q = 0; q < 4; q++) {
            List<Used> used = drivers.get(q).reap();
            assertEquals(8, used.size(), "queue " + q);
            for (int i = 0; i < 8; i++) {
                int at = 4096 * (8 * q + i);
                assertArrayEquals(Arrays.copyOfRange(content, at, at + 4096), memory.read(data[q][i], 4096),
                        "queue " + q + " request " + i);
            }
        }
        assertEquals(Set.of(0, 1, 2, 3), new HashSet<>(irq.queues));
        assertEquals(32, blk.counters().reads());
    }

    /** An image whose reads wait until released: disk I/O that takes as long as a test wants. */
    static final class StalledImage implements DiskImage {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        volatile String readBy;
        volatile String flushedBy;

        @Override
        public long size() {
            return IMAGE_BYTES;
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            readBy = Thread.currentThread().getName();
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
            while (dst.hasRemaining()) {
                dst.put((byte) 0x42);
            }
        }

        @Override
        public void write(long offset, ByteBuffer src) {
            src.position(src.limit());
        }

        @Override
        public void writeZeroes(long offset, long length) {
        }

        @Override
        public void flush() {
            flushedBy = Thread.currentThread().getName();
        }

        @Override
        public DiskFormat format() {
            return DiskFormat.RAW;
        }

        @Override
        public boolean concurrent() {
            return true;
        }

        @Override
        public void close() {
            release.countDown();
        }
    }

    @Test
    void aVcpuReadsIsrAndConfigurationWhileARequestsIoIsStalled() throws Exception {
        StalledImage disk = new StalledImage();
        VirtioBlock blk = new VirtioBlock(disk, false, "stalled", 1);
        closing.add(blk);
        closing.add(disk::close); // released first, so close() does not wait on it
        MsiXTable.MsiSink sink = new MsiXTable.MsiSink() {
            @Override
            public void route(int vector, long address, int data) {
            }

            @Override
            public void signal(int vector) {
            }
        };
        VirtioPciFunction function = new VirtioPciFunction("blk", blk, memory, sink, asserted -> { });
        TestDriver d = driver(memory, 0);
        blk.activate(memory, List.of(activate(d)), 0, irq);
        long data = d.alloc(4096);
        long status = d.alloc(1);
        memory.writeByte(status, (byte) 0xff);
        d.post(Buf.in(header(d, T_IN, 0), 16), Buf.out(data, 4096), Buf.out(status, 1));
        // The event loop's notification, under the transport lock as PciDevices takes it.
        CompletableFuture<Void> notified = CompletableFuture.runAsync(() -> {
            synchronized (function) {
                blk.queueNotified(0);
            }
        });
        notified.get(10, TimeUnit.SECONDS);
        assertTrue(disk.entered.await(10, TimeUnit.SECONDS), "the read reached the image");
        // A vCPU's accesses, through the bus, which locks the function.
        CompletableFuture<long[]> vcpu = CompletableFuture.supplyAsync(() -> {
            synchronized (function) {
                return new long[] {function.read(0x1000, 1), function.read(0x2000, 8)};
            }
        });
        long[] read = vcpu.get(10, TimeUnit.SECONDS);
        assertEquals(IMAGE_BYTES / 512, read[1], "capacity, read while the disk is stalled");
        assertEquals((byte) 0xff, memory.readByte(status), "not answered yet");
        assertEquals(0, d.usedIdx());
        disk.release.countDown();
        blk.awaitIdle();
        assertEquals(S_OK, memory.readByte(status));
        assertEquals(List.of(new Used(0, 4097)), d.reap());
        assertEquals((byte) 0x42, memory.readByte(data + 4095));
    }

    @Test
    void aResetWaitsForTheIoInFlightAndDropsItsCompletion() throws Exception {
        StalledImage disk = new StalledImage();
        VirtioBlock blk = new VirtioBlock(disk, false, "stalled", 1);
        closing.add(blk);
        TestDriver d = driver(memory, 0);
        blk.activate(memory, List.of(activate(d)), 0, irq);
        long status = d.alloc(1);
        d.post(Buf.in(header(d, T_IN, 0), 16), Buf.out(d.alloc(512), 512), Buf.out(status, 1));
        blk.queueNotified(0);
        assertTrue(disk.entered.await(10, TimeUnit.SECONDS));
        CompletableFuture<Void> reset = CompletableFuture.runAsync(blk::reset);
        Thread.sleep(200);
        assertFalse(reset.isDone(), "a reset returns only when no I/O writes guest memory any more");
        disk.release.countDown();
        reset.get(10, TimeUnit.SECONDS);
        blk.awaitIdle();
        assertEquals(0, d.usedIdx(), "the completion of a request from before the reset is dropped");
    }

    /**
     * The event loop's path: it pops under the transport lock, then serves the read itself with no lock held
     * (no hand-off to a worker), and a vCPU's ISR and configuration reads go on while that read is stalled.
     */
    @Test
    void theEventLoopServesAReadOffTheLockAndAVcpuReadsIsrMeanwhile() throws Exception {
        StalledImage disk = new StalledImage();
        VirtioBlock blk = new VirtioBlock(disk, false, "stalled", 1);
        closing.add(blk);
        closing.add(disk::close);
        MsiXTable.MsiSink sink = new MsiXTable.MsiSink() {
            @Override
            public void route(int vector, long address, int data) {
            }

            @Override
            public void signal(int vector) {
            }
        };
        VirtioPciFunction function = new VirtioPciFunction("blk", blk, memory, sink, asserted -> { });
        TestDriver d = driver(memory, 0);
        blk.activate(memory, List.of(activate(d)), 0, irq);
        long data = d.alloc(4096);
        long status = d.alloc(1);
        memory.writeByte(status, (byte) 0xff);
        d.post(Buf.in(header(d, T_IN, 0), 16), Buf.out(data, 4096), Buf.out(status, 1));
        Thread loop = Thread.ofPlatform().name("test-event-loop").start(() -> {
            synchronized (function) { // as PciDevices' handler
                blk.queueNotifiedThenServe(0);
            }
            blk.servePopped();
        });
        assertTrue(disk.entered.await(10, TimeUnit.SECONDS), "the read reached the image");
        assertEquals("test-event-loop", disk.readBy, "served on the notifying thread, not handed to a worker");
        CompletableFuture<long[]> vcpu = CompletableFuture.supplyAsync(() -> {
            synchronized (function) {
                return new long[] {function.read(0x1000, 1), function.read(0x2000, 8)};
            }
        });
        assertEquals(IMAGE_BYTES / 512, vcpu.get(10, TimeUnit.SECONDS)[1], "capacity, read while the read is stalled");
        assertEquals(0, d.usedIdx());
        disk.release.countDown();
        loop.join(10_000);
        assertFalse(loop.isAlive());
        assertEquals(S_OK, memory.readByte(status));
        assertEquals(List.of(new Used(0, 4097)), d.reap());
    }

    /** A FLUSH (an fdatasync that can take long) is never done on the event loop: a worker does it. */
    @Test
    void theEventLoopHandsAFlushToAWorker() throws Exception {
        StalledImage disk = new StalledImage();
        disk.release.countDown();
        VirtioBlock blk = new VirtioBlock(disk, false, "flush", 1);
        closing.add(blk);
        TestDriver d = driver(memory, 0);
        blk.activate(memory, List.of(activate(d)), 0, irq);
        long readStatus = d.alloc(1);
        long flushStatus = d.alloc(1);
        d.post(Buf.in(header(d, T_IN, 0), 16), Buf.out(d.alloc(512), 512), Buf.out(readStatus, 1));
        d.post(Buf.in(header(d, T_FLUSH, 0), 16), Buf.out(flushStatus, 1));
        blk.queueNotifiedThenServe(0);
        blk.servePopped();
        blk.awaitIdle();
        assertEquals(Thread.currentThread().getName(), disk.readBy, "the read, served inline");
        assertTrue(disk.flushedBy.startsWith("virtio-blk-io"), "flushed on " + disk.flushedBy);
        assertEquals(S_OK, memory.readByte(readStatus));
        assertEquals(S_OK, memory.readByte(flushStatus));
        assertEquals(2, d.reap().size());
    }

    /**
     * A reset between the pop and the serving thread's turn (a vCPU holds the transport lock for it, and
     * the serving thread needs that lock to take its next request) neither deadlocks nor answers them.
     */
    @Test
    void aResetDropsRequestsPoppedForTheEventLoop() throws Exception {
        StalledImage disk = new StalledImage();
        VirtioBlock blk = new VirtioBlock(disk, false, "reset", 1);
        closing.add(blk);
        closing.add(disk::close);
        TestDriver d = driver(memory, 0);
        blk.activate(memory, List.of(activate(d)), 0, irq);
        d.post(Buf.in(header(d, T_IN, 0), 16), Buf.out(d.alloc(512), 512), Buf.out(d.alloc(1), 1));
        blk.queueNotifiedThenServe(0);
        CompletableFuture.runAsync(blk::reset).get(10, TimeUnit.SECONDS);
        blk.servePopped();
        blk.awaitIdle();
        assertEquals(1, disk.entered.getCount(), "no I/O for a request of before the reset");
        assertEquals(0, d.usedIdx());
    }
}
