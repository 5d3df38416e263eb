package vessel.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vessel.devices.virtio.TestDriver.Buf;
import vessel.devices.virtio.TestDriver.Used;
import vessel.memory.GuestMemory;
import vessel.sys.SysException;

/**
 * The balloon driven through its virtqueues as a driver would, on guest memory mapped like a VM's
 * (anonymous, lazily committed): inflated pages leave the process's resident set, measured in
 * /proc/self/smaps; frames outside RAM are refused; statistics and free page reporting follow the spec.
 */
class VirtioBalloonTest {
    static final long RAM = 32L << 20;
    static final long RINGS = 0x1000;
    static final long DATA = 0x100000;
    static final long DATA_END = 0x400000;
    /** The guest pages the tests touch and then balloon: the upper half of RAM. */
    static final long BALLOONED = 16L << 20;

    private final GuestMemory memory;
    private final RecordingInterrupt irq = new RecordingInterrupt();
    private final List<long[]> wakes = new ArrayList<>();

    VirtioBalloonTest() throws SysException {
        memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, RAM)));
    }

    @AfterEach
    void close() {
        memory.close();
    }

    /** Drivers for each queue, their rings one after another below DATA, buffers carved from DATA up. */
    private List<TestDriver> start(VirtioBalloon balloon, long ackedFeatures) throws VirtQueueException {
        List<TestDriver> drivers = new ArrayList<>();
        List<VirtQueue> queues = new ArrayList<>();
        long span = (DATA_END - DATA) / balloon.queueCount();
        for (int i = 0; i < balloon.queueCount(); i++) {
            TestDriver d = new TestDriver(memory, RINGS + i * 0x8000L, VirtioBalloon.QUEUE_SIZE, DATA + i * span,
                    DATA + (i + 1) * span);
            VirtQueue q = d.configure(new VirtQueue(VirtioBalloon.QUEUE_SIZE));
            q.activate(memory, false, false);
            drivers.add(d);
            queues.add(q);
        }
        balloon.queueTimer((queue, nanos) -> wakes.add(new long[] {queue, nanos}));
        balloon.activate(memory, queues, ackedFeatures, irq);
        return drivers;
    }

    private static VirtioBalloon.Features plain() {
        return new VirtioBalloon.Features(false, false, false, false);
    }

    /** Resident bytes of the host mapping behind guest RAM, from /proc/self/smaps. */
    private long residentBytes() throws IOException {
        long address = memory.regions().getFirst().host().address();
        boolean inside = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            if (Character.isDigit(line.charAt(0)) || (line.charAt(0) >= 'a' && line.charAt(0) <= 'f')) {
                String[] range = line.substring(0, line.indexOf(' ')).split("-");
                if (range.length == 2 && range[0].matches("[0-9a-f]+") && range[1].matches("[0-9a-f]+")) {
                    long from = Long.parseUnsignedLong(range[0], 16);
                    long to = Long.parseUnsignedLong(range[1], 16);
                    inside = Long.compareUnsigned(from, address) <= 0 && Long.compareUnsigned(address, to) < 0;
                    continue;
                }
            }
            if (inside && line.startsWith("Rss:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("guest RAM mapping not found in /proc/self/smaps");
    }

    private static byte[] pfns(long fromGpa, int count) {
        ByteBuffer b = ByteBuffer.allocate(4 * count).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < count; i++) {
            b.putInt((int) ((fromGpa >>> VirtioBalloon.PFN_SHIFT) + i));
        }
        return b.array();
    }

    @Test
    void inflatedPagesLeaveTheHostsResidentMemory() throws Exception {
        VirtioBalloon balloon = new VirtioBalloon(0, plain(), 0);
        TestDriver inflate = start(balloon, 0).getFirst();
        for (long gpa = BALLOONED; gpa < RAM; gpa += 4096) {
            memory.writeLong(gpa, 0x5a5a_5a5a_5a5a_5a5aL + gpa);
        }
        long before = residentBytes();
        assertTrue(before >= BALLOONED, "touched pages are resident: " + before);

        balloon.setTargetPages((int) (BALLOONED / 4096));
        assertEquals(1, irq.configs);
        assertEquals(BALLOONED / 4096, balloon.readConfig(0, 4));
        // Linux's way: 256 frames per request.
        int perRequest = 256;
        List<Integer> heads = new ArrayList<>();
        for (long gpa = BALLOONED; gpa < RAM; gpa += perRequest * 4096L) {
            heads.add(inflate.post(Buf.in(inflate.buffer(pfns(gpa, perRequest)), 4L * perRequest)));
            balloon.queueNotified(0);
        }
        assertEquals(heads, inflate.reap().stream().map(Used::head).toList());
        balloon.writeConfig(4, 4, BALLOONED / 4096);
        assertEquals(BALLOONED / 4096, balloon.actualPages());

        long after = residentBytes();
        System.out.printf("balloon: guest RAM resident %d KiB before, %d KiB after inflating %d KiB%n",
                before >> 10, after >> 10, BALLOONED >> 10);
        assertTrue(before - after >= BALLOONED - (1 << 20),
                "resident memory fell by " + ((before - after) >> 10) + " KiB of " + (BALLOONED >> 10));
        assertEquals(0, memory.readLong(BALLOONED), "a ballooned page reads back as zeros");
        assertEquals(heads.size(), balloon.counters().inflateCount());
        assertEquals(0, balloon.counters().discardFails());
    }

    @Test
    void framesOutsideRamAreSkippedAndTheRestStillReleased() throws Exception {
        VirtioBalloon balloon = new VirtioBalloon(0, plain(), 0);
        TestDriver inflate = start(balloon, 0).getFirst();
        memory.writeLong(BALLOONED, 42);
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt((int) (RAM >>> 12)); // the first frame past RAM
        b.putInt(0xffff_ffff); // 16 TiB up
        b.putInt((int) (BALLOONED >>> 12));
        b.putInt((int) ((RAM >>> 12) - 1)); // the last frame of RAM
        int head = inflate.post(Buf.in(inflate.buffer(b.array()), 16));
        balloon.queueNotified(0);
        assertEquals(List.of(new Used(head, 0)), inflate.reap());
        assertEquals(0, memory.readLong(BALLOONED));
        assertEquals(2, balloon.counters().discardFails());
        assertTrue(irq.resets.isEmpty());
    }

    @Test
    void deflateTouchesNothing() throws Exception {
        VirtioBalloon balloon = new VirtioBalloon(0, plain(), 0);
        TestDriver deflate = start(balloon, 0).get(1);
        memory.writeLong(BALLOONED, 42);
        int head = deflate.post(Buf.in(deflate.buffer(pfns(BALLOONED, 4)), 16));
        balloon.queueNotified(1);
        assertEquals(List.of(new Used(head, 0)), deflate.reap());
        assertEquals(42, memory.readLong(BALLOONED));
        assertEquals(1, balloon.counters().deflateCount());
    }

    @Test
    void featuresAndQueuesFollowTheConfiguration() {
        VirtioBalloon all = new VirtioBalloon(0, new VirtioBalloon.Features(true, true, true, true), 5);
        assertEquals(5, all.deviceType());
        assertEquals((1L << 1) | (1L << 2) | (1L << 3) | (1L << 5), all.deviceFeatures());
        assertEquals(List.of("INFLATE", "DEFLATE", "STATS", "HINT", "REPORT"), all.queueRoles());
        VirtioBalloon reporting = new VirtioBalloon(0, new VirtioBalloon.Features(true, false, false, true), 0);
        assertEquals(1L << 2 | 1L << 5, reporting.deviceFeatures());
        assertEquals(List.of("INFLATE", "DEFLATE", "REPORT"), reporting.queueRoles());
        assertEquals(0, new VirtioBalloon(0, plain(), 0).deviceFeatures());
    }

    @Test
    void statisticsAreHeldUntilThePollAndThenReturned() throws Exception {
        VirtioBalloon balloon = new VirtioBalloon(0, new VirtioBalloon.Features(false, true, false, false), 1);
        TestDriver stats = start(balloon, 1L << VirtioBalloon.F_STATS_VQ).get(2);
        ByteBuffer b = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) VirtioBalloon.Stats.FREE_MEMORY).putLong(123L << 20);
        b.putShort((short) VirtioBalloon.Stats.TOTAL_MEMORY).putLong(256L << 20);
        int head = stats.post(Buf.in(stats.buffer(b.array()), 20));
        balloon.queueNotified(2);
        assertEquals(List.of(), stats.reap(), "the device keeps the buffer until the next poll");
        assertEquals(123L << 20, balloon.stats().get(VirtioBalloon.Stats.FREE_MEMORY));
        assertEquals(256L << 20, balloon.stats().get(VirtioBalloon.Stats.TOTAL_MEMORY));
        assertNull(balloon.stats().get(VirtioBalloon.Stats.SWAP_IN));
        assertEquals(1, wakes.size());
        assertEquals(2, wakes.getFirst()[0]);
        assertEquals(1_000_000_000L, wakes.getFirst()[1]);

        balloon.queueNotified(2); // early: nothing yet
        assertEquals(List.of(), stats.reap());
        balloon.setStatsInterval(3); // a change polls right away
        assertEquals(0, wakes.getLast()[1]);
        balloon.queueNotified(2);
        assertEquals(List.of(new Used(head, 0)), stats.reap());
        assertEquals(List.of(2), irq.queues);
        assertEquals(1, balloon.counters().statsUpdates());
    }

    @Test
    void reportedFreePagesAreDiscarded() throws Exception {
        VirtioBalloon balloon = new VirtioBalloon(0, new VirtioBalloon.Features(false, false, false, true), 0);
        TestDriver report = start(balloon, 1L << VirtioBalloon.F_REPORTING).get(2);
        memory.writeLong(BALLOONED, 7);
        memory.writeLong(BALLOONED + (2 << 20) - 8, 7);
        int head = report.post(Buf.out(BALLOONED, 2 << 20), Buf.out(BALLOONED + (4 << 20) + 100, 4096));
        balloon.queueNotified(2);
        assertEquals(List.of(new Used(head, 0)), report.reap());
        assertEquals(0, memory.readLong(BALLOONED));
        assertEquals(0, memory.readLong(BALLOONED + (2 << 20) - 8));
        assertEquals(2 << 20, balloon.counters().freePageReportFreed());
        assertEquals(1, balloon.counters().discardFails(), "the range that is not page-aligned");
    }

    @Test
    void aDriverThatLeavesStatisticsOffFindsReportingAtTheNextIndex() throws Exception {
        // Offered: inflate, deflate, stats, reporting. Linux numbers only the queues it sets up, so without
        // STATS_VQ its reporting queue is queue 2.
        VirtioBalloon balloon = new VirtioBalloon(0, new VirtioBalloon.Features(false, true, false, true), 1);
        TestDriver report = start(balloon, 1L << VirtioBalloon.F_REPORTING).get(2);
        memory.writeLong(BALLOONED, 7);
        int head = report.post(Buf.out(BALLOONED, 4096));
        balloon.queueNotified(2);
        assertEquals(List.of(new Used(head, 0)), report.reap());
        assertEquals(0, memory.readLong(BALLOONED));
        assertEquals(List.of(2), irq.queues);
    }

    @Test
    void hintingRunsAreAnnouncedInTheConfiguration() throws Exception {
        VirtioBalloon balloon = new VirtioBalloon(0, new VirtioBalloon.Features(false, false, true, false), 0);
        TestDriver hint = start(balloon, 1L << VirtioBalloon.F_FREE_PAGE_HINT).get(2);
        assertEquals(VirtioBalloon.HINT_CMD_STOP, balloon.readConfig(8, 4));
        balloon.startHinting(true);
        int cmd = (int) balloon.readConfig(8, 4);
        assertTrue(cmd >= 2);
        memory.writeLong(BALLOONED, 9);
        ByteBuffer id = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(cmd);
        hint.post(Buf.in(hint.buffer(id.array()), 4), Buf.out(BALLOONED, 4096));
        balloon.queueNotified(2);
        assertEquals(0, memory.readLong(BALLOONED));
        assertEquals(new VirtioBalloon.HintingStatus(cmd, cmd), balloon.hintingStatus());
        ByteBuffer stop = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(VirtioBalloon.HINT_CMD_STOP);
        hint.post(Buf.in(hint.buffer(stop.array()), 4));
        balloon.queueNotified(2);
        assertEquals(VirtioBalloon.HINT_CMD_DONE, balloon.readConfig(8, 4), "acknowledge_on_stop");
    }
}
