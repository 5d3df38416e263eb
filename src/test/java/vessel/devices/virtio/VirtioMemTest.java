package vessel.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vessel.devices.virtio.TestDriver.Buf;
import vessel.devices.virtio.TestDriver.Used;
import vessel.memory.GuestMemory;
import vessel.memory.PluggableRegion;
import vessel.sys.SysException;

/**
 * virtio-mem driven through its queue as Linux's driver would, and as a hostile one would: requests outside the
 * region, unaligned, overlapping what is plugged, past what the host asked for, malformed chains and a looping
 * ring. The region is mapped like a VM's (anonymous, lazily committed), so unplugging is measured in the process's
 * resident memory, and other devices reach a block through {@link GuestMemory} only while it is plugged.
 */
class VirtioMemTest {
    static final long RAM = 4L << 20;
    static final long RINGS = 0x1000;
    static final long DATA = 0x100000;
    static final long DATA_END = 0x400000;
    static final long BASE = 4L << 30;
    static final long BLOCK = 2L << 20;
    static final long REGION = 64L << 20;

    private final PluggableRegion region;
    private final GuestMemory memory;
    private final RecordingInterrupt irq = new RecordingInterrupt();
    private final VirtioMem mem;
    private TestDriver driver;

    VirtioMemTest() throws SysException {
        region = PluggableRegion.allocate(BASE, REGION, BLOCK);
        memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, RAM)), region);
        mem = new VirtioMem(region, 128L << 20);
    }

    @AfterEach
    void close() {
        memory.close();
    }

    private void start() throws VirtQueueException {
        driver = new TestDriver(memory, RINGS, VirtioMem.QUEUE_SIZE, DATA, DATA_END);
        VirtQueue q = driver.configure(new VirtQueue(VirtioMem.QUEUE_SIZE));
        q.activate(memory, false, false);
        mem.activate(memory, List.of(q), 1L << VirtioMem.F_UNPLUGGED_INACCESSIBLE, irq);
    }

    private static byte[] request(int type, long addr, int blocks) {
        ByteBuffer b = ByteBuffer.allocate(VirtioMem.REQUEST_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) type).putShort((short) 0x7777).putInt(0x7777_7777); // padding is ignored
        b.putLong(addr).putShort((short) blocks);
        return b.array();
    }

    /** Sends one request as Linux does (request, then a 10-byte response buffer); returns {type, state}. */
    private int[] send(int type, long addr, int blocks) {
        long resp = driver.alloc(VirtioMem.RESPONSE_SIZE);
        int head = driver.post(Buf.in(driver.buffer(request(type, addr, blocks)), VirtioMem.REQUEST_SIZE),
                Buf.out(resp, VirtioMem.RESPONSE_SIZE));
        mem.queueNotified(0);
        List<Used> used = driver.reap();
        assertEquals(List.of(new Used(head, VirtioMem.RESPONSE_SIZE)), used);
        return new int[] {memory.readShort(resp) & 0xffff, memory.readShort(resp + 8) & 0xffff};
    }

    private int respond(int type, long addr, int blocks) {
        return send(type, addr, blocks)[0];
    }

    /** Resident bytes of the region's host mapping, page by page. */
    private long resident() {
        return vessel.testkit.ResidentPages.bytes(region.host());
    }

    @Test
    void configurationSpaceDescribesTheRegionAndTheRequest() throws VirtQueueException {
        start();
        assertEquals(BLOCK, mem.readConfig(0, 8));
        assertEquals(0, mem.readConfig(8, 2), "node_id");
        assertEquals(BASE, mem.readConfig(16, 8));
        assertEquals(REGION, mem.readConfig(24, 8));
        assertEquals(REGION, mem.readConfig(32, 8), "usable_region_size");
        assertEquals(0, mem.readConfig(40, 8));
        assertEquals(0, mem.readConfig(48, 8));
        mem.setRequestedSize(8 * BLOCK);
        assertEquals(1, irq.configs, "a new request interrupts the driver");
        assertEquals(8 * BLOCK, mem.readConfig(48, 8));
        assertEquals(BASE >>> 32, mem.readConfig(20, 2), "a 2-byte read from inside addr");
        assertEquals(0, mem.readConfig(VirtioMem.CONFIG_SIZE, 4), "past the end reads zeros");
        mem.writeConfig(48, 8, 0);
        assertEquals(8 * BLOCK, mem.readConfig(48, 8), "the driver cannot change the request");
        assertThrows(IllegalArgumentException.class, () -> mem.setRequestedSize(BLOCK + 4096));
        assertThrows(IllegalArgumentException.class, () -> mem.setRequestedSize(REGION + BLOCK));
    }

    @Test
    void pluggedBlocksBecomeGuestMemoryAndUnpluggedOnesGoBackToTheHost() throws Exception {
        start();
        assertFalse(memory.contains(BASE, 8), "an unplugged block is not guest memory for devices");
        mem.setRequestedSize(16 * BLOCK);
        assertEquals(VirtioMem.RESP_ACK, respond(VirtioMem.REQ_PLUG, BASE, 16));
        assertEquals(16 * BLOCK, mem.readConfig(40, 8), "plugged_size");
        assertTrue(memory.contains(BASE, 16 * BLOCK));
        assertFalse(memory.contains(BASE + 16 * BLOCK - 8, 16), "an access running into an unplugged block");
        for (long a = BASE; a < BASE + 16 * BLOCK; a += 4096) {
            memory.writeLong(a, a);
        }
        long before = resident();
        assertArrayEquals(new int[] {VirtioMem.RESP_ACK, VirtioMem.STATE_PLUGGED}, send(VirtioMem.REQ_STATE, BASE, 16));
        assertArrayEquals(new int[] {VirtioMem.RESP_ACK, VirtioMem.STATE_MIXED}, send(VirtioMem.REQ_STATE, BASE, 17));
        assertArrayEquals(new int[] {VirtioMem.RESP_ACK, VirtioMem.STATE_UNPLUGGED},
                send(VirtioMem.REQ_STATE, BASE + 16 * BLOCK, 16));

        mem.setRequestedSize(8 * BLOCK);
        assertEquals(VirtioMem.RESP_ACK, respond(VirtioMem.REQ_UNPLUG, BASE + 8 * BLOCK, 8));
        long afterUnplug = resident();
        assertFalse(memory.contains(BASE + 8 * BLOCK, 8));
        assertEquals(VirtioMem.RESP_ACK, respond(VirtioMem.REQ_UNPLUG_ALL, 0, 0));
        long afterAll = resident();
        System.out.printf("virtio-mem: region resident %d KiB plugged and written, %d KiB after unplugging half,"
                + " %d KiB after UNPLUG_ALL%n", before >> 10, afterUnplug >> 10, afterAll >> 10);
        assertTrue(before >= 16 * BLOCK, "written blocks are resident: " + before);
        assertTrue(before - afterUnplug == 8 * BLOCK, "unplugging gave back " + (before - afterUnplug));
        assertEquals(0, afterAll, "nothing stays resident after UNPLUG_ALL");
        assertEquals(0, mem.readConfig(40, 8));
        assertEquals(VirtioMem.RESP_ACK, respond(VirtioMem.REQ_PLUG, BASE, 1));
        assertEquals(0, memory.readLong(BASE + 4096), "a block plugged again reads zeros");
        VirtioMem.Counters c = mem.counters();
        assertEquals(2, c.plugCount());
        assertEquals(17 * BLOCK, c.plugBytes());
        assertEquals(16 * BLOCK, c.unplugBytes());
        assertEquals(3, c.stateCount());
    }

    @Test
    void hostileRangesAreRefusedWithErrorAndChangeNothing() throws VirtQueueException {
        start();
        mem.setRequestedSize(REGION);
        long blocks = REGION / BLOCK;
        assertEquals(VirtioMem.RESP_ERROR, respond(VirtioMem.REQ_PLUG, BASE + 4096, 1), "unaligned");
        assertEquals(VirtioMem.RESP_ERROR, respond(VirtioMem.REQ_PLUG, BASE - BLOCK, 1), "below the region");
        assertEquals(VirtioMem.RESP_ERROR, respond(VirtioMem.REQ_PLUG, BASE - BLOCK, 2), "straddling its start");
        assertEquals(VirtioMem.RESP_ERROR, respond(VirtioMem.REQ_PLUG, BASE + REGION, 1), "just past the end");
        assertEquals(VirtioMem.RESP_ERROR, respond(VirtioMem.REQ_PLUG, BASE + REGION - BLOCK, 2), "running past the end");
        assertEquals(VirtioMem.RESP_ERROR, respond(VirtioMem.REQ_PLUG, BASE, 0xffff), "more blocks than the region");
        assertEquals(VirtioMem.RESP_ERROR, respond(VirtioMem.REQ_PLUG, BASE, 0), "no blocks");
        assertEquals(VirtioMem.RESP_ERROR, respond(VirtioMem.REQ_PLUG, -BLOCK, 1), "the top of the 64-bit space");
        assertEquals(VirtioMem.RESP_ERROR, respond(VirtioMem.REQ_PLUG, 0, 1), "guest RAM is not the device's");
        assertEquals(VirtioMem.RESP_ERROR, respond(VirtioMem.REQ_STATE, BASE + REGION, 1), "STATE checks its range too");
        assertEquals(VirtioMem.RESP_ERROR, respond(VirtioMem.REQ_UNPLUG, BASE, 1), "unplugging what is not plugged");
        assertEquals(VirtioMem.RESP_ERROR, respond(7, BASE, 1), "an unknown request type");
        assertEquals(0, region.pluggedBlocks());
        assertEquals(0, mem.readConfig(40, 8));

        assertEquals(VirtioMem.RESP_ACK, respond(VirtioMem.REQ_PLUG, BASE + REGION - BLOCK, 1), "the last block");
        assertEquals(VirtioMem.RESP_ACK, respond(VirtioMem.REQ_PLUG, BASE, (int) blocks - 1), "all the others");
        assertEquals(VirtioMem.RESP_ERROR, respond(VirtioMem.REQ_PLUG, BASE, 1), "plugging a plugged block");
        assertEquals(VirtioMem.RESP_ERROR, respond(VirtioMem.REQ_UNPLUG, BASE, (int) blocks + 1), "past the end");
        assertEquals(blocks, region.pluggedBlocks());
        assertEquals(REGION, mem.readConfig(40, 8));
        assertTrue(mem.counters().plugFails() >= 10);
    }

    @Test
    void plugBeyondTheRequestedSizeIsNacked() throws VirtQueueException {
        start();
        assertEquals(VirtioMem.RESP_NACK, respond(VirtioMem.REQ_PLUG, BASE, 1), "nothing requested yet");
        mem.setRequestedSize(3 * BLOCK);
        assertEquals(VirtioMem.RESP_ACK, respond(VirtioMem.REQ_PLUG, BASE, 2));
        assertEquals(VirtioMem.RESP_NACK, respond(VirtioMem.REQ_PLUG, BASE + 2 * BLOCK, 2));
        assertEquals(VirtioMem.RESP_ACK, respond(VirtioMem.REQ_PLUG, BASE + 2 * BLOCK, 1));
        assertEquals(3 * BLOCK, mem.status().pluggedSize());
        // The host may ask for less than is plugged; unplugging below it stays allowed (the driver rebalances).
        mem.setRequestedSize(0);
        assertEquals(VirtioMem.RESP_ACK, respond(VirtioMem.REQ_UNPLUG, BASE, 3));
    }

    @Test
    void malformedChainsAreAnsweredOrDroppedWithoutTouchingAnything() throws VirtQueueException {
        start();
        mem.setRequestedSize(REGION);
        // A request too short to parse, with room for an answer: ERROR.
        long resp = driver.alloc(VirtioMem.RESPONSE_SIZE);
        int head = driver.post(Buf.in(driver.buffer(new byte[8]), 8), Buf.out(resp, VirtioMem.RESPONSE_SIZE));
        mem.queueNotified(0);
        assertEquals(List.of(new Used(head, VirtioMem.RESPONSE_SIZE)), driver.reap());
        assertEquals(VirtioMem.RESP_ERROR, memory.readShort(resp));
        // A valid PLUG with no room for the answer: used with length 0, and nothing plugged.
        head = driver.post(Buf.in(driver.buffer(request(VirtioMem.REQ_PLUG, BASE, 1)), VirtioMem.REQUEST_SIZE),
                Buf.out(driver.alloc(4), 4));
        mem.queueNotified(0);
        assertEquals(List.of(new Used(head, 0)), driver.reap());
        assertEquals(0, region.pluggedBlocks());
        // A request split over three descriptors is read across them (message framing).
        byte[] req = request(VirtioMem.REQ_PLUG, BASE, 1);
        resp = driver.alloc(VirtioMem.RESPONSE_SIZE);
        head = driver.post(Buf.in(driver.buffer(java.util.Arrays.copyOfRange(req, 0, 5)), 5),
                Buf.in(driver.buffer(java.util.Arrays.copyOfRange(req, 5, 20)), 15),
                Buf.in(driver.buffer(java.util.Arrays.copyOfRange(req, 20, 24)), 4), Buf.out(resp, VirtioMem.RESPONSE_SIZE));
        mem.queueNotified(0);
        assertEquals(List.of(new Used(head, VirtioMem.RESPONSE_SIZE)), driver.reap());
        assertEquals(VirtioMem.RESP_ACK, memory.readShort(resp));
        assertEquals(2, mem.counters().invalidRequests());
        assertTrue(irq.resets.isEmpty());
    }

    @Test
    void aBufferInUnpluggedMemoryOrALoopingChainStopsTheQueueNotTheVmm() throws VirtQueueException {
        start();
        // The response buffer points into the region before anything is plugged there: not guest memory.
        driver.post(Buf.in(driver.buffer(request(VirtioMem.REQ_STATE, BASE, 1)), VirtioMem.REQUEST_SIZE),
                Buf.out(BASE + BLOCK, VirtioMem.RESPONSE_SIZE));
        mem.queueNotified(0);
        assertEquals(1, irq.resets.size(), "the driver is told to reset the device");
        assertTrue(driver.reap().isEmpty());
        mem.reset();

        start();
        int a = driver.takeDesc();
        int b = driver.takeDesc();
        driver.writeDesc(driver.desc, a, driver.buffer(request(VirtioMem.REQ_STATE, BASE, 1)), VirtioMem.REQUEST_SIZE,
                TestDriver.NEXT, b);
        driver.writeDesc(driver.desc, b, driver.alloc(16), 16, TestDriver.NEXT, a); // b -> a -> b ...
        driver.publish(a);
        mem.queueNotified(0);
        assertEquals(2, irq.resets.size(), "a descriptor loop ends the walk: " + irq.resets);
    }

    @Test
    void pluggedStateSurvivesADeviceResetAndUnplugAllClearsIt() throws VirtQueueException {
        start();
        mem.setRequestedSize(4 * BLOCK);
        assertEquals(VirtioMem.RESP_ACK, respond(VirtioMem.REQ_PLUG, BASE + 2 * BLOCK, 4));
        mem.reset();
        start();
        assertEquals(4 * BLOCK, mem.readConfig(40, 8), "a new driver finds memory plugged (and unplugs it all)");
        assertEquals(VirtioMem.RESP_ACK, respond(VirtioMem.REQ_UNPLUG_ALL, 0, 0));
        assertEquals(0, region.pluggedBlocks());
    }

    @Test
    void requestsParseAsTheSpecLaysThemOut() {
        VirtioMem.Request r = VirtioMem.Request.parse(request(VirtioMem.REQ_UNPLUG, 0x1_2345_6000L, 0xfffe));
        assertEquals(new VirtioMem.Request(VirtioMem.REQ_UNPLUG, 0x1_2345_6000L, 0xfffe), r);
        assertThrows(IllegalArgumentException.class, () -> VirtioMem.Request.parse(new byte[23]));
        byte[] resp = new VirtioMem.Response(VirtioMem.RESP_ACK, VirtioMem.STATE_MIXED).encode();
        assertEquals(VirtioMem.RESPONSE_SIZE, resp.length);
        assertEquals(VirtioMem.STATE_MIXED, resp[8]);
    }

    private static void assertArrayEquals(int[] expected, int[] actual) {
        org.junit.jupiter.api.Assertions.assertArrayEquals(expected, actual);
    }
}
