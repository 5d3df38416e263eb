package vessel.devices.virtio;

import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vessel.devices.virtio.TestDriver.Buf;
import vessel.devices.virtio.TestDriver.Used;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VirtQueueTest {
    static final long RAM = 1 << 20;
    static final int SIZE = 8;

    private final Arena arena = Arena.ofConfined();
    private final GuestMemory memory = TestMemory.of(arena, RAM);
    private final TestDriver driver = new TestDriver(memory, 0x1000, SIZE, 0x10000, RAM);

    @AfterEach
    void close() {
        arena.close();
    }

    private VirtQueue active(boolean eventIdx, boolean indirect) throws VirtQueueException {
        VirtQueue q = driver.configure(new VirtQueue(256));
        q.activate(memory, eventIdx, indirect);
        return q;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void registersStartAtTheirResetValues() {
        VirtQueue q = new VirtQueue(64);
        assertEquals(64, q.maxSize());
        assertEquals(64, q.size());
        q.size(8);
        q.descTable(0x1000);
        q.availRing(0x2000);
        q.usedRing(0x3000);
        q.ready(true);
        q.reset();
        assertEquals(64, q.size());
        assertEquals(0, q.descTable() | q.availRing() | q.usedRing());
        assertFalse(q.ready());
        assertThrows(IllegalStateException.class, q::pop);
        assertThrows(IllegalArgumentException.class, () -> new VirtQueue(48));
    }

    @Test
    void activateChecksSizeAlignmentAndPlacement() {
        VirtQueue q = driver.configure(new VirtQueue(256));
        for (int bad : new int[] {0, 3, 512, -8}) {
            q.size(bad);
            assertTrue(assertThrows(VirtQueueException.class, () -> q.activate(memory, false, false))
                    .getMessage().contains("queue size " + bad));
        }
        driver.configure(q);
        q.descTable(0x1008);
        assertTrue(assertThrows(VirtQueueException.class, () -> q.activate(memory, false, false))
                .getMessage().contains("descriptor table at 0x1008 is not 16-byte aligned"));
        driver.configure(q);
        q.availRing(driver.avail + 1);
        assertThrows(VirtQueueException.class, () -> q.activate(memory, false, false));
        driver.configure(q);
        q.usedRing(driver.used + 2);
        assertThrows(VirtQueueException.class, () -> q.activate(memory, false, false));
        driver.configure(q);
        q.descTable(RAM - 64);
        assertTrue(assertThrows(VirtQueueException.class, () -> q.activate(memory, false, false))
                .getMessage().contains("outside guest RAM"));
    }

    @Test
    void theEventIndexFieldsMustBeInRamToo() throws VirtQueueException {
        VirtQueue q = driver.configure(new VirtQueue(256));
        q.usedRing(RAM - (4 + 8L * SIZE)); // the used ring ends exactly at the end of RAM
        q.activate(memory, false, false);
        assertThrows(VirtQueueException.class, () -> q.activate(memory, true, false));
    }

    @Test
    void popsAChainWithReadableThenWritableSegments() throws VirtQueueException {
        VirtQueue q = active(false, false);
        assertNull(q.pop());
        long header = driver.buffer(bytes("hello, "));
        long body = driver.buffer(bytes("device"));
        long reply = driver.alloc(10);
        long status = driver.alloc(1);
        int head = driver.post(Buf.in(header, 7), Buf.in(body, 6), Buf.out(reply, 10), Buf.out(status, 1));

        DescriptorChain c = q.pop();
        assertNotNull(c);
        assertEquals(head, c.head());
        assertEquals(4, c.segmentCount());
        assertEquals(2, c.readableCount());
        assertEquals(13, c.readableLength());
        assertEquals(11, c.writableLength());
        assertFalse(c.writable(1));
        assertTrue(c.writable(2));
        assertEquals(reply, c.address(2));
        assertEquals(10, c.length(2));
        assertEquals(10, c.segment(2).byteSize());
        assertNull(q.pop());

        byte[] got = new byte[9];
        c.read(3, got, 0, 9); // spans both readable segments
        assertArrayEquals(bytes("lo, devic"), got);
        c.write(8, bytes("xyz"), 0, 3); // the last two reply bytes and the status byte
        assertArrayEquals(bytes("xy"), memory.read(reply + 8, 2));
        assertEquals('z', memory.readByte(status));
        assertThrows(IndexOutOfBoundsException.class, () -> c.read(10, new byte[4], 0, 4));
        assertThrows(IndexOutOfBoundsException.class, () -> c.write(-1, new byte[1], 0, 1));

        q.addUsed(c.head(), 11);
        assertEquals(List.of(new Used(head, 11)), driver.reap());
    }

    @Test
    void popsAnIndirectChain() throws VirtQueueException {
        VirtQueue q = active(false, true);
        long a = driver.buffer(bytes("abcd"));
        long b = driver.alloc(8);
        int head = driver.indirectChain(Buf.in(a, 4), Buf.out(b, 8));
        driver.publish(head);
        DescriptorChain c = q.pop();
        assertEquals(head, c.head());
        assertEquals(2, c.segmentCount());
        assertEquals(4, c.readableLength());
        assertEquals(8, c.writableLength());
        assertEquals(b, c.address(1));
    }

    @Test
    void directDescriptorsMayBeFollowedByOneIndirectTable() throws VirtQueueException {
        VirtQueue q = active(false, true);
        long a = driver.buffer(bytes("ab"));
        long b = driver.alloc(4);
        long table = driver.indirectTable(Buf.out(b, 4));
        int first = driver.takeDesc();
        int second = driver.takeDesc();
        driver.writeDesc(driver.desc, first, a, 2, TestDriver.NEXT, second);
        // The WRITE flag on the descriptor that points at a table means nothing and is ignored.
        driver.writeDesc(driver.desc, second, table, 16, TestDriver.INDIRECT | TestDriver.WRITE, 0);
        driver.publish(first);
        DescriptorChain c = q.pop();
        assertEquals(2, c.segmentCount());
        assertEquals(1, c.readableCount());
        assertEquals(b, c.address(1));
    }

    @Test
    void indicesWrapAroundSixteenBits() throws VirtQueueException {
        VirtQueue q = active(true, false);
        long buf = driver.alloc(4);
        for (int i = 0; i < 70_000; i++) {
            int head = driver.post(Buf.out(buf, 4));
            DescriptorChain c = q.pop();
            assertEquals(head, c.head());
            q.addUsed(c.head(), i & 3);
            assertEquals(List.of(new Used(head, i & 3)), driver.reap());
        }
        assertNull(q.pop());
        assertEquals(70_000 & 0xFFFF, driver.usedIdx());
        assertEquals(70_000 & 0xFFFF, driver.availEvent());
    }

    @Test
    void noInterruptFlagSuppressesNotificationsWithoutEventIdx() throws VirtQueueException {
        VirtQueue q = active(false, false);
        long buf = driver.alloc(4);
        assertFalse(q.needsNotification(), "nothing used yet");
        driver.post(Buf.out(buf, 4));
        q.addUsed(q.pop().head(), 0);
        assertTrue(q.needsNotification());
        assertFalse(q.needsNotification(), "nothing used since");
        driver.availFlags(VirtQueue.AVAIL_F_NO_INTERRUPT);
        driver.post(Buf.out(buf, 4));
        q.addUsed(q.pop().head(), 0);
        assertFalse(q.needsNotification());
    }

    @Test
    void eventIdxInterruptsOnlyWhenUsedIdxPassesUsedEvent() throws VirtQueueException {
        VirtQueue q = active(true, false);
        long buf = driver.alloc(4);
        driver.availFlags(VirtQueue.AVAIL_F_NO_INTERRUPT); // ignored with EVENT_IDX
        driver.usedEvent(0);
        use(q, buf, 1); // writes entry 0 = used_event
        assertTrue(q.needsNotification());
        use(q, buf, 1); // entry 1: the driver has not asked again
        assertFalse(q.needsNotification());
        driver.usedEvent(3);
        use(q, buf, 1); // entry 2
        assertFalse(q.needsNotification());
        use(q, buf, 3); // entries 3..5 in one batch: 3 is inside it
        assertTrue(q.needsNotification());
        driver.usedEvent(100);
        use(q, buf, 4);
        assertFalse(q.needsNotification());
    }

    private void use(VirtQueue q, long buf, int n) throws VirtQueueException {
        for (int i = 0; i < n; i++) {
            driver.post(Buf.out(buf, 4));
            q.addUsed(q.pop().head(), 4);
        }
        driver.reap();
    }

    @Test
    void eventIdxPublishesTheNextAvailIndexWhenTheRingRunsDry() throws VirtQueueException {
        VirtQueue q = active(true, false);
        long buf = driver.alloc(4);
        assertNull(q.pop());
        assertEquals(0, driver.availEvent());
        driver.post(Buf.out(buf, 4));
        driver.post(Buf.out(buf, 4));
        assertNotNull(q.pop());
        assertNotNull(q.pop());
        assertEquals(0, driver.availEvent(), "not rewritten while there is work: the driver need not notify");
        assertNull(q.pop());
        assertEquals(2, driver.availEvent());
    }

    @Test
    void popServesTheAvailIndexItReadBeforeReadingAgain() throws VirtQueueException {
        VirtQueue q = active(false, false);
        long buf = driver.alloc(4);
        driver.post(Buf.out(buf, 4));
        driver.post(Buf.out(buf, 4));
        assertNotNull(q.pop());
        driver.availIdx(2 + SIZE + 1); // now a lie, but the device has not read it yet
        assertNotNull(q.pop());
        assertThrows(VirtQueueException.class, q::pop);
    }

    // Hostile drivers: each case names what was wrong.

    private String popFails(VirtQueue q) {
        return assertThrows(VirtQueueException.class, q::pop).getMessage();
    }

    private static void assertMentions(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), () -> "'" + message + "' does not mention '" + p + "'");
        }
    }

    @Test
    void loopInNextPointers() throws VirtQueueException {
        VirtQueue q = active(false, false);
        long buf = driver.alloc(4);
        driver.writeDesc(driver.desc, 0, buf, 4, TestDriver.NEXT, 1);
        driver.writeDesc(driver.desc, 1, buf, 4, TestDriver.NEXT, 0);
        driver.publish(0);
        assertMentions(popFails(q), "head 0", "more descriptors than its queue size 8");
    }

    @Test
    void loopInsideAnIndirectTable() throws VirtQueueException {
        VirtQueue q = active(false, true);
        long buf = driver.alloc(4);
        long table = driver.alloc(32);
        driver.writeDesc(table, 0, buf, 4, TestDriver.NEXT, 1);
        driver.writeDesc(table, 1, buf, 4, TestDriver.NEXT, 0);
        driver.writeDesc(driver.desc, 0, table, 32, TestDriver.INDIRECT, 0);
        driver.publish(0);
        assertMentions(popFails(q), "indirect table's 2");
    }

    @Test
    void indirectTableLongerThanTheQueue() throws VirtQueueException {
        VirtQueue q = active(false, true);
        long buf = driver.alloc(4);
        Buf[] bufs = new Buf[SIZE + 1];
        java.util.Arrays.fill(bufs, Buf.in(buf, 4));
        driver.publish(driver.indirectChain(bufs));
        assertMentions(popFails(q), "indirect table of 9 descriptors is longer than the queue size 8");
    }

    @Test
    void indirectInsideIndirect() throws VirtQueueException {
        VirtQueue q = active(false, true);
        long inner = driver.indirectTable(Buf.in(driver.alloc(4), 4));
        long outer = driver.alloc(16);
        driver.writeDesc(outer, 0, inner, 16, TestDriver.INDIRECT, 0);
        driver.writeDesc(driver.desc, 0, outer, 16, TestDriver.INDIRECT, 0);
        driver.publish(0);
        assertMentions(popFails(q), "indirect descriptor 0 is indirect inside an indirect table");
    }

    @Test
    void indirectTableLengthNotAMultipleOf16() throws VirtQueueException {
        VirtQueue q = active(false, true);
        long table = driver.indirectTable(Buf.in(driver.alloc(4), 4), Buf.in(driver.alloc(4), 4));
        driver.writeDesc(driver.desc, 0, table, 24, TestDriver.INDIRECT, 0);
        driver.publish(0);
        assertMentions(popFails(q), "indirect table length 24");
    }

    @Test
    void indirectNeedsTheFeatureAndNoNextFlag() throws VirtQueueException {
        long table = driver.indirectTable(Buf.in(driver.alloc(4), 4));
        driver.writeDesc(driver.desc, 0, table, 16, TestDriver.INDIRECT, 0);
        driver.publish(0);
        assertMentions(popFails(active(false, false)), "VIRTIO_F_INDIRECT_DESC was not negotiated");
        driver.writeDesc(driver.desc, 0, table, 16, TestDriver.INDIRECT | TestDriver.NEXT, 1);
        assertMentions(popFails(active(false, true)), "indirect and also has NEXT");
        driver.writeDesc(driver.desc, 0, RAM - 16, 32, TestDriver.INDIRECT, 0);
        assertMentions(popFails(active(false, true)), "indirect table at 0xffff0 + 32 is outside guest RAM");
    }

    @Test
    void bufferOutsideRam() throws VirtQueueException {
        VirtQueue q = active(false, false);
        driver.post(Buf.in(RAM, 1));
        assertMentions(popFails(q), "head 0", "descriptor 0", "buffer at 0x100000 + 1 is outside guest RAM");
    }

    @Test
    void bufferAddressPlusLengthOverflows() throws VirtQueueException {
        VirtQueue q = active(false, false);
        driver.post(Buf.in(0xFFFF_FFFF_FFFF_F000L, 0x2000));
        assertMentions(popFails(q), "buffer at 0xfffffffffffff000 + 8192");
        driver.reset();
        q = active(false, false);
        driver.post(Buf.out(RAM - 16, 0xFFFF_FFFFL)); // wraps if the end were computed in 32 bits
        assertMentions(popFails(q), "+ 4294967295 is outside guest RAM");
    }

    @Test
    void headIndexBeyondTheQueue() throws VirtQueueException {
        VirtQueue q = active(false, false);
        driver.publish(SIZE);
        assertMentions(popFails(q), "names head 8, beyond the queue size 8");
    }

    @Test
    void nextIndexBeyondTheQueue() throws VirtQueueException {
        VirtQueue q = active(false, false);
        driver.writeDesc(driver.desc, 0, driver.alloc(4), 4, TestDriver.NEXT, SIZE);
        driver.publish(0);
        assertMentions(popFails(q), "next index 8 is beyond its table of 8");
    }

    @Test
    void availIndexJumpingByMoreThanTheQueueSize() throws VirtQueueException {
        VirtQueue q = active(false, false);
        driver.availIdx(SIZE + 1);
        assertMentions(popFails(q), "available index 9 is 9 entries ahead");
    }

    @Test
    void writableBeforeReadable() throws VirtQueueException {
        VirtQueue q = active(false, false);
        driver.post(Buf.out(driver.alloc(4), 4), Buf.in(driver.alloc(4), 4));
        assertMentions(popFails(q), "descriptor 1 is device-readable but follows a device-writable descriptor");
    }

    @Test
    void chainOver4GiB() throws Exception {
        // Two 4 GiB - 1 buffers in 4 GiB of lazily committed RAM: only the pages the rings use are touched.
        try (GuestMemory big = GuestMemory.allocate(List.of(new GuestMemory.Range(0, 1L << 32)))) {
            TestDriver d = new TestDriver(big, 0x1000, SIZE, 0x10000, 0x20000);
            VirtQueue q = d.configure(new VirtQueue(SIZE));
            q.activate(big, false, false);
            d.post(Buf.in(0, 0xFFFF_FFFFL), Buf.in(0, 0xFFFF_FFFFL));
            assertMentions(assertThrows(VirtQueueException.class, q::pop).getMessage(), "longer than 2^32 bytes");
        }
    }
}
