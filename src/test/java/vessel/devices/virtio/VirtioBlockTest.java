package vessel.devices.virtio;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import vessel.devices.virtio.TestDriver.Buf;
import vessel.devices.virtio.TestDriver.Used;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static vessel.devices.virtio.VirtioBlock.S_IOERR;
import static vessel.devices.virtio.VirtioBlock.S_OK;
import static vessel.devices.virtio.VirtioBlock.S_UNSUPP;
import static vessel.devices.virtio.VirtioBlock.T_DISCARD;
import static vessel.devices.virtio.VirtioBlock.T_FLUSH;
import static vessel.devices.virtio.VirtioBlock.T_GET_ID;
import static vessel.devices.virtio.VirtioBlock.T_IN;
import static vessel.devices.virtio.VirtioBlock.T_OUT;
import static vessel.devices.virtio.VirtioBlock.T_WRITE_ZEROES;

@ParameterizedClass(name = "{0}")
@EnumSource(VirtioBlock.Engine.class)
class VirtioBlockTest {
    /** Every test runs on both engines: system calls on threads, and io_uring. */
    @Parameter
    VirtioBlock.Engine engine;
    static final long RAM = 1 << 20;
    static final int SECTORS = 64;
    static final long FEATURES = 0; // the queue's EVENT_IDX and INDIRECT are the transport's; the device needs none

    @TempDir
    Path dir;
    private final Arena arena = Arena.ofShared(); // the device's I/O threads touch guest memory
    private final GuestMemory memory = TestMemory.of(arena, RAM);
    private final TestDriver driver = new TestDriver(memory, 0x1000, VirtioBlock.QUEUE_SIZE, 0x10000, RAM);
    private final RecordingInterrupt irq = new RecordingInterrupt();
    private Path image;
    private byte[] content;
    private VirtioBlock blk;
    private VirtQueue queue;

    @BeforeEach
    void setUp() throws IOException, VirtQueueException {
        image = dir.resolve("disk.img");
        content = new byte[SECTORS * 512];
        for (int i = 0; i < content.length; i++) {
            content[i] = (byte) (i * 7 + i / 512);
        }
        Files.write(image, content);
        open(false);
    }

    @AfterEach
    void tearDown() throws IOException {
        blk.close();
        arena.close();
    }

    private void open(boolean readOnly) throws IOException, VirtQueueException {
        open(null, readOnly);
    }

    private void open(vessel.devices.block.DiskFormat format, boolean readOnly) throws IOException, VirtQueueException {
        if (blk != null) {
            blk.close();
        }
        blk = new VirtioBlock(image, format, readOnly, "drive0", 1, engine);
        if (format != vessel.devices.block.DiskFormat.QCOW2) {
            assertEquals(engine, blk.engine(), "io_uring is available here (kernel.io_uring_disabled = 0)");
        }
        start();
    }

    /** The driver's side of bringing the device up: fresh rings, queue registers, DRIVER_OK. */
    private void start() throws VirtQueueException {
        driver.reset();
        queue = driver.configure(new VirtQueue(VirtioBlock.QUEUE_SIZE));
        queue.activate(memory, true, true);
        blk.activate(memory, List.of(queue), FEATURES, irq);
    }

    /** What a driver does after DEVICE_NEEDS_RESET: reset the device and bring it up again. */
    private void resetAndRestart() throws VirtQueueException {
        blk.reset();
        queue.reset();
        start();
    }

    private long header(int type, long sector) {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, type).putLong(8, sector);
        return driver.buffer(b.array());
    }

    /** A request's guest buffers, and the used entry it came back with. */
    private record Request(int head, long data, long status) {}

    private Request in(long sector, int bytes) {
        long h = header(T_IN, sector);
        long data = driver.alloc(bytes);
        long status = driver.alloc(1);
        return new Request(driver.post(Buf.in(h, 16), Buf.out(data, bytes), Buf.out(status, 1)), data, status);
    }

    private Request out(long sector, byte[] bytes) {
        long h = header(T_OUT, sector);
        long data = driver.buffer(bytes);
        long status = driver.alloc(1);
        return new Request(driver.post(Buf.in(h, 16), Buf.in(data, bytes.length), Buf.out(status, 1)), data, status);
    }

    private Request simple(int type, long sector) {
        long h = header(type, sector);
        long status = driver.alloc(1);
        return new Request(driver.post(Buf.in(h, 16), Buf.out(status, 1)), 0, status);
    }

    private int status(Request r) {
        return memory.readByte(r.status()) & 0xFF;
    }

    private int kicks;

    /**
     * Notifies the device and returns what came back on the used ring. Kicks alternate between the event
     * loop's way (pop under the lock, then serve or submit the pass on this thread) and a vCPU's (pop,
     * then hand each request to an I/O thread), so each test goes through both.
     */
    private List<Used> kick() {
        if (kicks++ % 2 == 0) {
            blk.queueNotifiedThenServe(0);
            blk.servePopped();
        } else {
            blk.queueNotified(0);
        }
        try {
            blk.awaitIdle();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        return driver.reap();
    }

    private byte[] disk(long offset, int len) throws IOException {
        return Arrays.copyOfRange(Files.readAllBytes(image), (int) offset, (int) offset + len);
    }

    @Test
    void describesItselfAndItsConfiguration() {
        assertEquals(2, blk.deviceType());
        assertEquals(1, blk.queueCount());
        assertEquals(256, blk.queueMaxSize());
        assertEquals(60, blk.configSize());
        long f = blk.deviceFeatures();
        assertEquals(VirtioBlock.F_SEG_MAX | VirtioBlock.F_BLK_SIZE | VirtioBlock.F_FLUSH | VirtioBlock.F_MQ
                | VirtioBlock.F_DISCARD | VirtioBlock.F_WRITE_ZEROES, f);
        assertEquals(SECTORS, blk.readConfig(0, 8));
        assertEquals(SECTORS, blk.readConfig(0, 4));
        assertEquals(254, blk.readConfig(12, 4));
        assertEquals(512, blk.readConfig(20, 4));
        assertEquals(1, blk.readConfig(34, 2), "num_queues");
        boolean holes = blk.readConfig(56, 1) == 1; // write_zeroes_may_unmap: the file system punches holes
        assertEquals(holes ? VirtioBlock.MAX_FALLOCATE_SECTORS : VirtioBlock.MAX_WRITE_ZEROES_SECTORS, blk.readConfig(48, 4));
        assertEquals(1, blk.readConfig(52, 4));
        assertEquals(VirtioBlock.MAX_FALLOCATE_SECTORS, blk.readConfig(36, 4), "max_discard_sectors");
        assertEquals(VirtioBlock.MAX_DISCARD_SEGMENTS, blk.readConfig(40, 4));
        assertEquals(8, blk.readConfig(44, 4), "discard_sector_alignment");
        assertEquals(0, blk.readConfig(58, 4), "past the end");
        assertEquals(0, blk.readConfig(-1, 1));
        blk.writeConfig(0, 8, 12345); // ignored
        assertEquals(SECTORS, blk.readConfig(0, 8));
    }

    @Test
    void replacingTheBackendServesTheNewFileWithItsCapacityAndTellsTheDriver() throws IOException {
        Request before = in(1, 512);
        kick();
        assertEquals(S_OK, status(before));
        Path next = dir.resolve("next.img");
        byte[] nextContent = new byte[100 * 512];
        Arrays.fill(nextContent, (byte) 0x3c);
        Files.write(next, nextContent);

        blk.replaceBackend(next);
        assertEquals(100, blk.capacity());
        assertEquals(100, blk.readConfig(0, 8));
        assertEquals(1, irq.configs, "a configuration-change interrupt, so the driver rereads the capacity");
        assertEquals(1, blk.counters().updates());

        Request r = in(80, 512); // past the old image's end
        Request w = out(2, new byte[512]);
        kick();
        assertEquals(S_OK, status(r));
        assertArrayEquals(Arrays.copyOfRange(nextContent, 0, 512), memory.read(r.data(), 512));
        assertEquals(S_OK, status(w));
        assertArrayEquals(new byte[512], Arrays.copyOfRange(Files.readAllBytes(next), 1024, 1536));
        assertArrayEquals(content, Files.readAllBytes(image), "the old image is left alone");
    }

    @Test
    void aFailedReplacementKeepsTheOldFile() throws IOException {
        assertThrows(java.nio.file.NoSuchFileException.class, () -> blk.replaceBackend(dir.resolve("missing.img")));
        assertEquals(SECTORS, blk.capacity());
        assertEquals(0, irq.configs);
        assertEquals(1, blk.counters().updateFails());
        Request r = in(3, 512);
        kick();
        assertEquals(S_OK, status(r));
        assertArrayEquals(disk(3 * 512, 512), memory.read(r.data(), 512));
    }

    @Test
    void aReplacementBeforeTheDriverIsReadyRaisesNoInterrupt() throws IOException {
        blk.reset();
        Files.write(dir.resolve("small.img"), new byte[8 * 512]);
        blk.replaceBackend(dir.resolve("small.img"));
        assertEquals(8, blk.readConfig(0, 8));
        assertEquals(0, irq.configs);
    }

    @Test
    void capacityRoundsDownAPartialLastSector() throws IOException {
        Path odd = dir.resolve("odd.img");
        Files.write(odd, new byte[10 * 512 + 100]);
        try (VirtioBlock b = new VirtioBlock(odd, false, "x")) {
            assertEquals(10, b.capacity());
            assertEquals(100, b.unusedTailBytes());
            assertEquals(10, b.readConfig(0, 8));
        }
    }

    @Test
    void readsSectorsIntoGuestMemory() throws IOException {
        long h = header(T_IN, 3);
        long a = driver.alloc(512);
        long b = driver.alloc(513); // the second data half and the status byte share a buffer
        int head = driver.post(Buf.in(h, 16), Buf.out(a, 512), Buf.out(b, 513));
        assertEquals(List.of(new Used(head, 1025)), kick());
        assertArrayEquals(disk(3 * 512, 512), memory.read(a, 512));
        assertArrayEquals(disk(4 * 512, 512), memory.read(b, 512));
        assertEquals(S_OK, memory.readByte(b + 512));
        assertEquals(List.of(0), irq.queues);
        assertEquals(1, blk.counters().reads());
        assertEquals(1024, blk.counters().bytesRead());
    }

    @Test
    void writesGuestMemoryToTheImage() throws IOException {
        byte[] data = new byte[1024];
        Arrays.fill(data, (byte) 0x5a);
        Request r = out(5, data);
        assertEquals(List.of(new Used(r.head(), 1)), kick());
        assertEquals(S_OK, status(r));
        assertArrayEquals(data, disk(5 * 512, 1024));
        assertArrayEquals(Arrays.copyOfRange(content, 4 * 512, 5 * 512), disk(4 * 512, 512), "neighbours untouched");
        assertEquals(1, blk.counters().writes());
        assertEquals(1024, blk.counters().bytesWritten());
    }

    @Test
    void headerAndDataMayShareADescriptor() throws IOException {
        ByteBuffer req = ByteBuffer.allocate(16 + 512).order(ByteOrder.LITTLE_ENDIAN);
        req.putInt(0, T_OUT).putLong(8, 7);
        Arrays.fill(req.array(), 16, 16 + 512, (byte) 0x33);
        long both = driver.buffer(req.array());
        long status = driver.alloc(1);
        driver.post(Buf.in(both, 16 + 512), Buf.out(status, 1));
        kick();
        assertEquals(S_OK, memory.readByte(status));
        assertArrayEquals(Arrays.copyOfRange(req.array(), 16, 16 + 512), disk(7 * 512, 512));
    }

    @Test
    void flushAndGetId() {
        Request flush = simple(T_FLUSH, 0);
        long h = header(T_GET_ID, 0);
        long id = driver.alloc(20);
        long idStatus = driver.alloc(1);
        int idHead = driver.post(Buf.in(h, 16), Buf.out(id, 20), Buf.out(idStatus, 1));
        long shortId = driver.alloc(5);
        int shortHead = driver.post(Buf.in(h, 16), Buf.out(shortId, 5));
        // Completed as their I/O ends, so in any order.
        assertEquals(java.util.Set.of(new Used(flush.head(), 1), new Used(idHead, 21), new Used(shortHead, 5)),
                java.util.Set.copyOf(kick()));
        assertEquals(S_OK, status(flush));
        assertEquals(1, blk.counters().flushes());
        assertArrayEquals(Arrays.copyOf("drive0".getBytes(), 20), memory.read(id, 20));
        assertEquals(S_OK, memory.readByte(idStatus));
        assertArrayEquals("driv".getBytes(), memory.read(shortId, 4));
        assertEquals(S_OK, memory.readByte(shortId + 4));
        assertEquals(List.of(0), irq.queues, "one interrupt for the batch");
    }

    @Test
    void readOnlyDriveRefusesWritesWithIoErr() throws IOException, VirtQueueException {
        open(true);
        assertEquals(VirtioBlock.F_RO, blk.deviceFeatures() & (VirtioBlock.F_RO | VirtioBlock.F_WRITE_ZEROES));
        Request w = out(0, new byte[512]);
        Request z = writeZeroes(0, 1, 0);
        Request r = in(0, 512);
        kick();
        assertEquals(S_IOERR, status(w));
        assertEquals(S_IOERR, status(z));
        assertEquals(S_OK, status(r));
        assertArrayEquals(content, Files.readAllBytes(image));
        assertEquals(2, blk.counters().ioErrors());
    }

    @Test
    void aReadPastTheEndOfAnImageShrunkUnderTheDeviceGetsIoErr() throws IOException {
        try (var f = java.nio.channels.FileChannel.open(image, java.nio.file.StandardOpenOption.WRITE)) {
            f.truncate(SECTORS / 2 * 512L);
        }
        Request whole = in(SECTORS / 2 - 1, 1024); // 512 bytes there, then the end: a short read, then none
        Request none = in(SECTORS - 2, 1024);
        Request fine = in(0, 1024);
        kick();
        assertEquals(S_IOERR, status(whole));
        assertEquals(S_IOERR, status(none));
        assertEquals(S_OK, status(fine));
        assertEquals(2, blk.counters().executeFails(), "the host's I/O failed, not the guest's request");
        assertArrayEquals(Arrays.copyOf(content, 1024), memory.read(fine.data(), 1024));
    }

    @Test
    void sectorsOutsideTheDiskGetIoErr() {
        List<Request> bad = List.of(
                in(SECTORS, 512), in(SECTORS - 1, 1024), in(-1L, 512), in(Long.MAX_VALUE, 512),
                in(0x0080_0000_0000_0000L, 512), // sector * 512 would overflow into range
                out(SECTORS, new byte[512]), in(0, 100)); // not whole sectors
        Request last = in(SECTORS - 1, 512);
        List<Used> used = kick(); // in the order the requests completed, which the I/O threads decide
        for (int i = 0; i < bad.size(); i++) {
            assertEquals(S_IOERR, status(bad.get(i)), "request " + i);
            int head = bad.get(i).head();
            assertEquals(List.of(1), used.stream().filter(u -> u.head() == head).map(Used::length).toList());
        }
        assertEquals(S_OK, status(last));
        assertEquals(bad.size(), blk.counters().ioErrors());
        assertEquals(0, blk.counters().executeFails()); // the guest's mistakes, not the host's I/O
    }

    @Test
    void unknownTypesGetUnsupp() {
        Request discard = simple(T_DISCARD, 0); // a discard without its segment: malformed, not unknown
        Request other = simple(99, 0);
        Request lifetime = simple(10, 0); // GET_LIFETIME: not offered
        kick();
        assertEquals(S_IOERR, status(discard));
        assertEquals(S_UNSUPP, status(other));
        assertEquals(S_UNSUPP, status(lifetime));
        assertEquals(2, blk.counters().unsupported());
    }

    @Test
    void shortHeaderGetsIoErr() {
        long h = header(T_IN, 0);
        long status = driver.alloc(1);
        int head = driver.post(Buf.in(h, 8), Buf.out(status, 1));
        assertEquals(List.of(new Used(head, 1)), kick());
        assertEquals(S_IOERR, memory.readByte(status));
    }

    private Request writeZeroes(long sector, int sectors, int flags) {
        ByteBuffer seg = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        seg.putLong(0, sector).putInt(8, sectors).putInt(12, flags);
        long h = header(T_WRITE_ZEROES, 0);
        long s = driver.buffer(seg.array());
        long status = driver.alloc(1);
        return new Request(driver.post(Buf.in(h, 16), Buf.in(s, 16), Buf.out(status, 1)), s, status);
    }

    @Test
    void writeZeroesZeroesTheRange() throws IOException {
        Request ok = writeZeroes(2, 3, VirtioBlock.ZEROES_FLAG_UNMAP);
        Request badFlag = writeZeroes(2, 1, 2);
        Request tooMany = writeZeroes(0, VirtioBlock.MAX_WRITE_ZEROES_SECTORS + 1, 0);
        Request outside = writeZeroes(SECTORS - 1, 2, 0);
        kick();
        assertEquals(S_OK, status(ok));
        assertArrayEquals(new byte[3 * 512], disk(2 * 512, 3 * 512));
        assertArrayEquals(Arrays.copyOfRange(content, 5 * 512, 6 * 512), disk(5 * 512, 512));
        assertEquals(S_UNSUPP, status(badFlag));
        assertEquals(S_IOERR, status(tooMany));
        assertEquals(S_IOERR, status(outside));
        assertEquals(1, blk.counters().writeZeroes());
    }

    /** Runs qemu-img (qemu-utils) in the test's folder; returns its exit status, output on failure in {@code out}. */
    private int qemuImg(StringBuilder out, String... args) throws IOException, InterruptedException {
        List<String> cmd = new java.util.ArrayList<>(List.of("qemu-img"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        out.append(new String(p.getInputStream().readAllBytes()));
        return p.waitFor();
    }

    @Test
    void servesAQcow2OverlayOverTheRawImageAndLeavesItCheckClean() throws Exception {
        StringBuilder log = new StringBuilder();
        assertEquals(0, qemuImg(log, "create", "-q", "-f", "qcow2", "-b", "disk.img", "-F", "raw", "vm.qcow2"), log.toString());
        image = dir.resolve("vm.qcow2");
        open(vessel.devices.block.DiskFormat.QCOW2, false); // an overlay's backing file needs its format named
        assertEquals(SECTORS, blk.capacity());

        Request r = in(3, 1024);
        byte[] data = new byte[2 * 512];
        Arrays.fill(data, (byte) 0xa5);
        Request w = out(7, data);
        Request z = writeZeroes(20, 2, 0);
        Request f = simple(T_FLUSH, 0);
        kick();
        assertEquals(S_OK, status(r));
        assertArrayEquals(Arrays.copyOfRange(content, 3 * 512, 5 * 512), memory.read(r.data(), 1024), "from the base");
        assertEquals(S_OK, status(w));
        assertEquals(S_OK, status(z));
        assertEquals(S_OK, status(f));
        Request back = in(6, 3 * 512);
        kick();
        byte[] expected = content.clone();
        System.arraycopy(data, 0, expected, 7 * 512, data.length);
        Arrays.fill(expected, 20 * 512, 22 * 512, (byte) 0);
        assertArrayEquals(Arrays.copyOfRange(expected, 6 * 512, 9 * 512), memory.read(back.data(), 3 * 512));
        blk.close();
        blk = new VirtioBlock(dir.resolve("disk.img"), true, "base"); // tearDown closes it

        assertArrayEquals(content, Files.readAllBytes(dir.resolve("disk.img")), "the base is never written");
        assertEquals(0, qemuImg(log, "check", "vm.qcow2"), log.toString());
        Files.write(dir.resolve("expected.raw"), expected);
        assertEquals(0, qemuImg(log, "compare", "-f", "raw", "-F", "qcow2", "expected.raw", "vm.qcow2"), log.toString());
    }

    @Test
    void aHostileQcow2HeaderIsRefusedWhenOpened() throws IOException {
        Path bad = dir.resolve("bad.qcow2");
        Files.write(bad, new byte[] {'Q', 'F', 'I', (byte) 0xfb, 0, 0, 0, 3});
        IOException e = assertThrows(vessel.devices.block.DiskImageException.class,
                () -> new VirtioBlock(bad, false, "bad"));
        assertTrue(e.getMessage().contains("too short for a qcow2 header"), e.getMessage());
    }

    @Test
    void hostIoErrorsGetIoErr() throws IOException {
        blk.close(); // every FileChannel call now fails
        Request r = in(0, 512);
        Request f = simple(T_FLUSH, 0);
        kick();
        assertEquals(S_IOERR, status(r));
        assertEquals(S_IOERR, status(f));
        assertEquals(2, blk.counters().ioErrors());
    }

    @Test
    void eventIdxSuppressesTheInterruptUntilUsedEvent() {
        driver.usedEvent(2);
        in(0, 512);
        in(1, 512);
        kick();
        assertEquals(List.of(), irq.queues);
        in(2, 512);
        kick();
        assertEquals(List.of(0), irq.queues);
    }

    @Test
    void anotherDeviceKeepsWorkingWhileOneIsStopped() throws IOException, VirtQueueException {
        TestDriver other = new TestDriver(memory, 0x8000, 16, 0x80000, RAM);
        RecordingInterrupt otherIrq = new RecordingInterrupt();
        try (VirtioBlock second = new VirtioBlock(image, true, "second")) {
            VirtQueue q = other.configure(new VirtQueue(VirtioBlock.QUEUE_SIZE));
            q.activate(memory, false, false);
            second.activate(memory, List.of(q), FEATURES, otherIrq);
            driver.publish(VirtioBlock.QUEUE_SIZE); // head out of range: the first device stops
            kick();
            assertEquals(1, irq.resets.size());
            long h = other.buffer(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(0, T_IN).array());
            long data = other.alloc(512);
            long status = other.alloc(1);
            other.post(Buf.in(h, 16), Buf.out(data, 512), Buf.out(status, 1));
            second.queueNotified(0);
            try {
                second.awaitIdle();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            assertEquals(S_OK, memory.readByte(status));
            assertArrayEquals(Arrays.copyOf(content, 512), memory.read(data, 512));
            assertEquals(List.of(), otherIrq.resets);
        }
    }

    /** A driver mistake, what the reset reason must say. */
    static Stream<Arguments> hostileDrivers() {
        return Stream.of(
                hostile("loop in next pointers", "a loop?", d -> {
                    long b = d.alloc(16);
                    d.writeDesc(d.desc, 0, b, 16, TestDriver.NEXT, 1);
                    d.writeDesc(d.desc, 1, b, 16, TestDriver.NEXT, 0);
                    d.publish(0);
                }),
                hostile("indirect table longer than the queue", "longer than the queue size", d -> {
                    Buf[] bufs = new Buf[VirtioBlock.QUEUE_SIZE + 1];
                    Arrays.fill(bufs, Buf.in(d.alloc(16), 16));
                    d.publish(d.indirectChain(bufs));
                }),
                hostile("indirect inside indirect", "indirect inside an indirect table", d -> {
                    long inner = d.indirectTable(Buf.in(d.alloc(16), 16));
                    long outer = d.alloc(16);
                    d.writeDesc(outer, 0, inner, 16, TestDriver.INDIRECT, 0);
                    d.writeDesc(d.desc, 0, outer, 16, TestDriver.INDIRECT, 0);
                    d.publish(0);
                }),
                hostile("indirect length not a multiple of 16", "indirect table length 20", d -> {
                    long table = d.indirectTable(Buf.in(d.alloc(16), 16), Buf.out(d.alloc(1), 1));
                    d.writeDesc(d.desc, 0, table, 20, TestDriver.INDIRECT, 0);
                    d.publish(0);
                }),
                hostile("indirect and NEXT together", "indirect and also has NEXT", d -> {
                    long table = d.indirectTable(Buf.in(d.alloc(16), 16), Buf.out(d.alloc(1), 1));
                    d.writeDesc(d.desc, 0, table, 32, TestDriver.INDIRECT | TestDriver.NEXT, 1);
                    d.writeDesc(d.desc, 1, d.alloc(1), 1, TestDriver.WRITE, 0);
                    d.publish(0);
                }),
                hostile("next index beyond the queue", "next index 300 is beyond its table of 256", d -> {
                    d.writeDesc(d.desc, 0, d.alloc(16), 16, TestDriver.NEXT, 300);
                    d.publish(0);
                }),
                hostile("buffer outside RAM", "buffer at 0x100000 + 512 is outside guest RAM",
                        d -> d.post(Buf.in(d.alloc(16), 16), Buf.out(RAM, 512), Buf.out(d.alloc(1), 1))),
                hostile("address + length overflows", "buffer at 0xffffffffffffff00 + 512",
                        d -> d.post(Buf.in(d.alloc(16), 16), Buf.out(-256L, 512), Buf.out(d.alloc(1), 1))),
                hostile("head index beyond the queue", "names head 256", d -> d.publish(VirtioBlock.QUEUE_SIZE)),
                hostile("avail idx jumps by more than the queue size", "257 entries ahead",
                        d -> d.availIdx(VirtioBlock.QUEUE_SIZE + 1)),
                hostile("writable before readable", "device-readable but follows a device-writable",
                        d -> d.post(Buf.out(d.alloc(1), 1), Buf.in(d.alloc(16), 16))),
                hostile("no status byte", "no writable byte for its status",
                        d -> d.post(Buf.in(d.alloc(16), 16))));
    }

    private static Arguments hostile(String name, String reason, Consumer<TestDriver> post) {
        return Arguments.of(name, reason, post);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hostileDrivers")
    void hostileDriverStopsTheQueueAndTheDeviceServesAfterReset(String name, String reason, Consumer<TestDriver> post)
            throws IOException, VirtQueueException {
        post.accept(driver);
        kick();
        assertEquals(1, irq.resets.size(), name);
        assertTrue(irq.resets.get(0).contains(reason), () -> irq.resets.get(0) + " does not say " + reason);
        assertTrue(irq.resets.get(0).startsWith("virtio-blk queue 0: "));

        // Stopped: further notifications do nothing, even for a good request, until the driver resets.
        Request ignored = in(0, 512);
        memory.writeByte(ignored.status(), (byte) 0xff);
        assertEquals(List.of(), kick());
        assertEquals(0xff, status(ignored));
        assertEquals(1, irq.resets.size());

        resetAndRestart();
        Request r = in(9, 1024);
        assertEquals(List.of(new Used(r.head(), 1025)), kick());
        assertEquals(S_OK, status(r));
        assertArrayEquals(disk(9 * 512, 1024), memory.read(r.data(), 1024));
        assertEquals(1, irq.resets.size());
    }
}
