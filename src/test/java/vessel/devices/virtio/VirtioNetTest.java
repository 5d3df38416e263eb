package vessel.devices.virtio;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vessel.devices.virtio.TestDriver.Buf;
import vessel.devices.virtio.TestDriver.Used;
import vessel.devices.PauseGate;
import vessel.memory.GuestMemory;
import vessel.sys.IoVec;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** virtio-net on hand-built rings, with an in-memory backend standing in for the TAP. */
class VirtioNetTest {
    static final long RAM = 1 << 20;
    static final byte[] MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

    /** Frames in a queue; records what the device sends and which offloads it enabled. */
    static final class MemoryBackend implements NetBackend {
        final ArrayDeque<byte[]> incoming = new ArrayDeque<>();
        final List<byte[]> sent = new ArrayList<>();
        final boolean offloads;
        volatile String enabled = "";
        /** Thrown by the next read, for a backend that breaks under the device's thread. */
        volatile RuntimeException readFailure;
        private boolean woken;

        MemoryBackend(boolean offloads) {
            this.offloads = offloads;
        }

        synchronized void deliver(byte[] frame) {
            incoming.add(frame);
            notifyAll();
        }

        /** Drops the frames the device has not read. */
        synchronized void drain() {
            incoming.clear();
        }

        synchronized int waiting() {
            return incoming.size();
        }

        @Override
        public synchronized int read(IoVec iov, int count) {
            if (readFailure != null && !incoming.isEmpty()) {
                throw readFailure;
            }
            byte[] f = incoming.poll();
            if (f == null) {
                return 0;
            }
            return iov.scatter(f, f.length, count); // cut short, as a TAP does, when the buffers are
        }

        @Override
        public synchronized void write(IoVec iov, int count, int len) {
            byte[] f = new byte[len];
            assertEquals(len, iov.gather(count, f, len), "the frame's buffers hold fewer bytes than its length");
            sent.add(f);
        }

        @Override
        public synchronized void awaitReadable() throws IOException {
            while (incoming.isEmpty() && !woken) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
            }
            woken = false;
        }

        @Override
        public synchronized void wakeup() {
            woken = true;
            notifyAll();
        }

        @Override
        public boolean offloads() {
            return offloads;
        }

        @Override
        public void enableOffloads(boolean csum, boolean tso4, boolean tso6, boolean ecn) {
            enabled = (csum ? "csum " : "") + (tso4 ? "tso4 " : "") + (tso6 ? "tso6 " : "") + (ecn ? "ecn" : "");
        }

        @Override
        public void close() {
        }
    }

    private final Arena arena = Arena.ofShared();
    private final GuestMemory memory = TestMemory.of(arena, RAM);
    private final TestDriver rx = new TestDriver(memory, 0x1000, 64, 0x20000, 0x90000);
    private final TestDriver tx = new TestDriver(memory, 0x4000, 64, 0x90000, RAM);
    private final RecordingInterrupt irq = new RecordingInterrupt();
    private final Map<Integer, Long> rxBuffers = new HashMap<>();
    private MemoryBackend backend;
    private VirtioNet net;
    private final PauseGate gate = new PauseGate();

    @AfterEach
    void close() {
        if (net != null) {
            net.close();
        }
        arena.close();
    }

    private VirtioNet start(boolean offloads, long acked) throws VirtQueueException {
        backend = new MemoryBackend(offloads);
        net = new VirtioNet(backend, MAC);
        net.pauseGate(gate);
        VirtQueue rq = rx.configure(new VirtQueue(VirtioNet.QUEUE_SIZE));
        VirtQueue tq = tx.configure(new VirtQueue(VirtioNet.QUEUE_SIZE));
        rq.activate(memory, false, false);
        tq.activate(memory, false, false);
        net.activate(memory, List.of(rq, tq), acked, irq);
        return net;
    }

    private void postRx(int count, int size) {
        for (int i = 0; i < count; i++) {
            long a = rx.alloc(size);
            rxBuffers.put(rx.post(Buf.out(a, size)), a);
        }
        net.queueNotified(VirtioNet.RX);
    }

    private static byte[] frame(int payload, int seed) {
        byte[] f = new byte[VirtioNet.HDR + payload];
        f[0] = 1; // NEEDS_CSUM, as a TAP with offloads may hand over
        for (int i = VirtioNet.HDR; i < f.length; i++) {
            f[i] = (byte) (i * 7 + seed);
        }
        return f;
    }

    private final List<Used> used = new ArrayList<>();

    private List<Used> awaitUsed(int count) throws InterruptedException {
        await(() -> {
            used.addAll(rx.reap());
            return used.size() >= count;
        }, "rx used entries: " + count);
        return used;
    }

    private static void await(BooleanSupplier done, String what) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
            Thread.sleep(5);
        }
    }

    @Test
    void aFailureOnTheDevicesOwnThreadMarksItNeedingResetInsteadOfStoppingSilently() throws Exception {
        start(false, VirtioNet.F_MRG_RXBUF);
        postRx(2, 2048);
        backend.readFailure = new IllegalStateException("backend broke");
        backend.deliver(frame(100, 1)); // read on the device's receive thread, not this one
        await(() -> !irq.resets.isEmpty(), "a needs-reset report from the receive thread");
        assertTrue(irq.resets.getFirst().contains("device thread failed: java.lang.IllegalStateException: backend broke"),
                irq.resets.getFirst());
    }

    @Test
    void configSpaceHoldsTheMacAndLinkUp() throws Exception {
        start(false, 0);
        assertEquals(1, net.deviceType());
        assertEquals(2, net.queueCount());
        assertEquals(0x12005452L, net.readConfig(0, 4));
        assertEquals(0x5634, net.readConfig(4, 2));
        assertEquals(1, net.readConfig(6, 2));
        long f = net.deviceFeatures();
        assertEquals(VirtioNet.F_MAC | VirtioNet.F_STATUS | VirtioNet.F_MRG_RXBUF, f);
        VirtioNet withOffloads = new VirtioNet(new MemoryBackend(true), MAC);
        assertTrue((withOffloads.deviceFeatures() & VirtioNet.F_HOST_TSO4) != 0);
        assertTrue((withOffloads.deviceFeatures() & VirtioNet.F_GUEST_CSUM) != 0);
    }

    @Test
    void offloadsFollowWhatTheDriverAccepted() throws Exception {
        start(true, VirtioNet.F_GUEST_CSUM | VirtioNet.F_GUEST_TSO4 | VirtioNet.F_MRG_RXBUF);
        assertEquals("csum tso4 ", backend.enabled);
    }

    @Test
    void transmitsHeaderAndFrameAsTheDriverWroteThem() throws Exception {
        start(false, 0);
        byte[] f = frame(100, 1);
        long h = tx.buffer(Arrays.copyOf(f, VirtioNet.HDR));
        long d = tx.buffer(Arrays.copyOfRange(f, VirtioNet.HDR, f.length));
        int head = tx.post(Buf.in(h, VirtioNet.HDR), Buf.in(d, 100));
        long tooShort = tx.buffer(new byte[4]);
        int bad = tx.post(Buf.in(tooShort, 4));
        net.queueNotified(VirtioNet.TX);
        assertEquals(List.of(new Used(head, 0), new Used(bad, 0)), tx.reap());
        assertEquals(1, backend.sent.size());
        assertArrayEquals(f, backend.sent.getFirst());
        assertEquals(1, net.txFrames());
        assertEquals(1, net.txDropped());
        assertEquals(f.length, net.txBytes());
        assertEquals(1, net.txMalformed());
        assertEquals(0, net.backendWriteFails());
        assertEquals(List.of(VirtioNet.TX), irq.queues);
    }

    @Test
    void mergeableBuffersSpreadAFrameAndCountThem() throws Exception {
        start(false, VirtioNet.F_MRG_RXBUF);
        postRx(8, 1024);
        byte[] f = frame(3000, 2);
        backend.deliver(f);
        List<Used> u = awaitUsed(3);
        assertEquals(List.of(1024, 1024, f.length - 2048), u.stream().map(Used::length).toList());
        byte[] got = new byte[f.length];
        int at = 0;
        for (Used e : u) {
            memory.read(rxBuffers.get(e.head()), got, at, e.length());
            at += e.length();
        }
        assertEquals(3, got[10] | got[11] << 8); // num_buffers
        got[10] = 0;
        assertArrayEquals(f, got);
        assertEquals(1, net.rxFrames());
        assertEquals(f.length, net.rxBytes());
    }

    @Test
    void withoutMergeableBuffersAFrameTooBigIsDroppedAndCounted() throws Exception {
        start(false, 0);
        postRx(2, 1526 + VirtioNet.HDR);
        backend.deliver(frame(4000, 3));
        byte[] small = frame(60, 4);
        backend.deliver(small);
        List<Used> u = awaitUsed(1);
        assertEquals(small.length, u.getFirst().length());
        byte[] got = memory.read(rxBuffers.get(u.getFirst().head()), small.length);
        assertEquals(1, got[10]);
        got[10] = 0;
        assertArrayEquals(small, got);
        assertEquals(1, net.rxDropped());
    }

    @Test
    void withNoReceiveBuffersFramesWaitInTheBackend() throws Exception {
        start(false, VirtioNet.F_MRG_RXBUF);
        for (int i = 0; i < 5; i++) {
            backend.deliver(frame(500, i));
        }
        Thread.sleep(100);
        assertEquals(5, backend.waiting()); // nothing read: no buffers to put it in
        postRx(2, 2048);
        awaitUsed(2);
        Thread.sleep(50);
        assertEquals(3, backend.waiting());
        assertEquals(2, used.size());
        postRx(8, 2048);
        awaitUsed(5);
        assertEquals(0, backend.waiting());
        backend.deliver(frame(10, 9)); // the thread went back to waiting on the backend
        awaitUsed(6);
        assertEquals(6, net.rxFrames());
        assertEquals(0, net.rxDropped());
    }

    @Test
    void aFrameLargerThanTheBuffersLeftWaitsForMore() throws Exception {
        start(false, VirtioNet.F_MRG_RXBUF);
        postRx(2, 1024);
        byte[] f = frame(3000, 5);
        backend.deliver(f);
        Thread.sleep(100);
        assertEquals(0, rx.usedIdx()); // two buffers are not enough; none are returned yet
        postRx(1, 1024);
        List<Used> u = awaitUsed(3);
        assertEquals(f.length, u.stream().mapToInt(Used::length).sum());
        assertEquals(List.of(), irq.resets);
    }

    @Test
    void pausedTheReceiveThreadLeavesGuestMemoryAloneAndDeliversOnResume() throws Exception {
        start(false, VirtioNet.F_MRG_RXBUF);
        postRx(4, 2048);
        Thread.sleep(50); // the receive thread goes back to waiting on the backend
        gate.pause();
        backend.deliver(frame(100, 3));
        Thread.sleep(300);
        assertEquals(0, rx.usedIdx(), "a receive buffer was used while paused");
        assertEquals(List.of(), irq.queues, "an interrupt while paused");
        assertEquals(1, backend.waiting(), "the frame waits in the backend");
        gate.resume();
        List<Used> got = awaitUsed(1);
        assertEquals(VirtioNet.HDR + 100, got.getFirst().length());
        assertEquals(1, net.rxFrames());
    }

    @Test
    void resetThenReactivateServesAgain() throws Exception {
        start(false, VirtioNet.F_MRG_RXBUF);
        net.reset();
        backend.deliver(frame(10, 1));
        Thread.sleep(50);
        assertEquals(1, backend.waiting());
    }

    @Test
    void aFrameIsReadStraightIntoABufferSplitInsideTheHeader() throws Exception {
        start(false, VirtioNet.F_MRG_RXBUF);
        long a = rx.alloc(10);
        long b = rx.alloc(2038);
        int head = rx.post(Buf.out(a, 10), Buf.out(b, 2038));
        net.queueNotified(VirtioNet.RX);
        byte[] f = frame(500, 6);
        backend.deliver(f);
        assertEquals(List.of(new Used(head, f.length)), awaitUsed(1));
        byte[] got = new byte[f.length];
        memory.read(a, got, 0, 10);
        memory.read(b, got, 10, f.length - 10);
        assertEquals(1, got[10] | got[11] << 8, "num_buffers, in the second segment");
        got[10] = 0;
        assertArrayEquals(f, got);
    }

    @Test
    void aFrameLongerThanTheLargestIsDroppedAsMalformed() throws Exception {
        start(false, 0);
        int head = tx.post(Buf.in(0x90000, VirtioNet.MAX_FRAME + 1));
        net.queueNotified(VirtioNet.TX);
        assertEquals(List.of(new Used(head, 0)), tx.reap());
        assertEquals(0, backend.sent.size());
        assertEquals(1, net.txMalformed());
    }

    @Test
    void aFullTransmitQueueIsServedInPassesOfItsByteBudget() throws Exception {
        start(false, 0);
        byte[] f = frame(60_000, 7);
        long at = tx.buffer(f);
        for (int i = 0; i < 12; i++) {
            tx.post(Buf.in(at, f.length)); // the same frame twelve times: 720 KB in all
        }
        List<Integer> perPass = new ArrayList<>();
        boolean more;
        do {
            int before = backend.sent.size();
            more = net.queueNotified(VirtioNet.TX);
            perPass.add(backend.sent.size() - before);
        } while (more && perPass.size() < 10);
        // 256 KiB a pass: the pass ends with the chain that goes past it.
        assertEquals(List.of(5, 5, 2), perPass);
        assertEquals(12, tx.reap().size());
        assertArrayEquals(f, backend.sent.getLast());
    }
}
