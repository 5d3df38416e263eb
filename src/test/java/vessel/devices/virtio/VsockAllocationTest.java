package vessel.devices.virtio;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import vessel.devices.virtio.TestDriver.Buf;
import vessel.memory.GuestMemory;
import vessel.testkit.SilentInterrupt;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static vessel.devices.virtio.VirtioVsock.HDR;

/**
 * virtio-vsock moves stream bytes between a real Unix socket and guest memory without allocating (issue 15):
 * after the JIT has compiled the path, the bytes the serving threads allocate over thousands of packets each
 * way, counted by the JVM's per-thread allocation counters around the device's own calls (and all of the
 * device's socket thread; the test driver's ring writes allocate and are left out). The test plays the
 * guest's driver on hand-built rings and a host program on the other end of a guest-to-host connection.
 */
@Timeout(300)
class VsockAllocationTest {
    private static final long RAM = 4 << 20;
    private static final long GUEST_CID = 3;
    private static final int GUEST_PORT = 1234;
    private static final int HOST_PORT = 5000;
    private static final int CHUNK = 4096;
    private static final int BURST = 16;
    private static final int WARM_UP = 30_000;
    private static final int WINDOW = 10_000;
    /** The guest's receive buffer: more than the test ever receives, so its credit never runs out. */
    private static final int GUEST_BUF_ALLOC = 1 << 30;

    @TempDir
    Path dir;

    private final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private static byte[] header(int op, int len) {
        ByteBuffer b = ByteBuffer.allocate(HDR).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(GUEST_CID).putLong(VirtioVsock.HOST_CID).putInt(GUEST_PORT).putInt(HOST_PORT).putInt(len)
                .putShort((short) VsockHeader.TYPE_STREAM).putShort((short) op).putInt(0).putInt(GUEST_BUF_ALLOC)
                .putInt(0);
        return b.array();
    }

    @Test
    void streamBytesMoveBetweenAUnixSocketAndGuestMemoryWithoutAllocating() throws Exception {
        Path uds = dir.resolve("v.sock");
        try (Arena arena = Arena.ofShared();
             ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            listener.bind(UnixDomainSocketAddress.of(Path.of(uds + "_" + HOST_PORT)));
            GuestMemory memory = TestMemory.of(arena, RAM);
            TestDriver rx = new TestDriver(memory, 0x1000, VirtioVsock.QUEUE_SIZE, 0x100000, 0x300000);
            TestDriver tx = new TestDriver(memory, 0x8000, VirtioVsock.QUEUE_SIZE, 0x300000, RAM);
            VirtQueue rq = rx.configure(new VirtQueue(VirtioVsock.QUEUE_SIZE));
            VirtQueue tq = tx.configure(new VirtQueue(VirtioVsock.QUEUE_SIZE));
            rq.activate(memory, false, false);
            tq.activate(memory, false, false);
            long[] rxBuffer = new long[VirtioVsock.QUEUE_SIZE];
            for (int i = 0; i < rxBuffer.length; i++) {
                rxBuffer[i] = rx.alloc(HDR + CHUNK);
            }
            long request = tx.buffer(header(VsockHeader.OP_REQUEST, 0));
            long rwHeader = tx.buffer(header(VsockHeader.OP_RW, CHUNK));
            byte[] data = new byte[CHUNK];
            Arrays.fill(data, (byte) 'v');
            long rwData = tx.buffer(data);

            try (VirtioVsock vsock = new VirtioVsock(GUEST_CID, uds)) {
                vsock.activate(memory, Arrays.asList(rq, tq, null), 0, SilentInterrupt.INSTANCE);
                long deviceThread = Thread.getAllStackTraces().keySet().stream()
                        .filter(t -> t.getName().equals("virtio-vsock"))
                        .mapToLong(Thread::threadId).max().orElseThrow();
                for (int i = 0; i < rxBuffer.length; i++) {
                    rx.post(Buf.out(rxBuffer[i], HDR + CHUNK));
                }
                tx.post(Buf.in(request, HDR));
                vsock.queueNotified(VirtioVsock.TX);
                tx.reap();
                SocketChannel host = listener.accept();
                // The guest's RESPONSE arrives; each round below reposts what the device used.
                Runnable repostRx = () -> {
                    for (TestDriver.Used u : rx.reap()) {
                        rx.post(Buf.out(rxBuffer[u.head() % rxBuffer.length], HDR + CHUNK)); // heads reused in order
                    }
                };

                // Guest to host: a reader on the host takes everything; each burst is read before the next.
                AtomicLong hostReceived = new AtomicLong();
                Thread reader = Thread.ofPlatform().daemon().start(() -> {
                    ByteBuffer sink = ByteBuffer.allocateDirect(1 << 16);
                    try {
                        while (true) {
                            sink.clear();
                            int n = host.read(sink);
                            if (n < 0) {
                                return;
                            }
                            hostReceived.addAndGet(n);
                        }
                    } catch (java.io.IOException closed) {
                        // the test is over
                    }
                });
                long[] txAllocated = new long[1];
                long[] txPackets = new long[1];
                Runnable send = () -> {
                    for (int i = 0; i < BURST; i++) {
                        tx.post(Buf.in(rwHeader, HDR), Buf.in(rwData, CHUNK));
                    }
                    long before = threads.getCurrentThreadAllocatedBytes();
                    while (vsock.queueNotified(VirtioVsock.TX)) {
                        // the device stopped at its budget: serve it again, as the event loop would
                    }
                    txAllocated[0] += threads.getCurrentThreadAllocatedBytes() - before;
                    txPackets[0] += BURST;
                    assertEquals(BURST, tx.reap().size());
                    long deadline = System.nanoTime() + 10_000_000_000L;
                    while (hostReceived.get() < txPackets[0] * CHUNK) {
                        assertTrue(System.nanoTime() < deadline, () -> "the host received " + hostReceived.get()
                                + " of " + txPackets[0] * CHUNK + " bytes");
                        Thread.onSpinWait();
                    }
                    repostRx.run(); // credit updates
                    long beforeRx = threads.getCurrentThreadAllocatedBytes();
                    vsock.queueNotified(VirtioVsock.RX);
                    txAllocated[0] += threads.getCurrentThreadAllocatedBytes() - beforeRx;
                };
                while (txPackets[0] < WARM_UP) {
                    send.run();
                }
                txAllocated[0] = 0;
                long txFrom = txPackets[0];
                long txThreadFrom = threads.getThreadAllocatedBytes(deviceThread);
                while (txPackets[0] < txFrom + WINDOW) {
                    send.run();
                }
                long txBytes = txAllocated[0] + threads.getThreadAllocatedBytes(deviceThread) - txThreadFrom;
                long txCount = txPackets[0] - txFrom;
                assertEquals(0, vsock.dropped());

                // Host to guest: bursts the socket's buffer holds; the device's thread moves them into the rx
                // buffers, which go back to the ring. (The host's reader goes on waiting for guest bytes.)
                ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK);
                long[] rxAllocated = new long[1];
                long[] rxPackets = new long[1];
                Runnable receive = () -> {
                    long target = vsock.bytesToGuest() + (long) BURST * CHUNK;
                    try {
                        for (int i = 0; i < BURST; i++) {
                            chunk.clear();
                            while (chunk.hasRemaining()) {
                                host.write(chunk);
                            }
                        }
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                    long deadline = System.nanoTime() + 10_000_000_000L;
                    while (vsock.bytesToGuest() < target) {
                        assertTrue(System.nanoTime() < deadline, () -> "the guest received " + vsock.bytesToGuest()
                                + " of " + target + " bytes");
                        Thread.onSpinWait();
                    }
                    for (TestDriver.Used u : rx.reap()) {
                        if (u.length() > HDR) {
                            rxPackets[0]++;
                        }
                        rx.post(Buf.out(rxBuffer[u.head() % rxBuffer.length], HDR + CHUNK));
                    }
                    long before = threads.getCurrentThreadAllocatedBytes();
                    vsock.queueNotified(VirtioVsock.RX);
                    rxAllocated[0] += threads.getCurrentThreadAllocatedBytes() - before;
                };
                while (rxPackets[0] < WARM_UP) {
                    receive.run();
                }
                rxAllocated[0] = 0;
                long rxFrom = rxPackets[0];
                long rxThreadFrom = threads.getThreadAllocatedBytes(deviceThread);
                while (rxPackets[0] < rxFrom + WINDOW) {
                    receive.run();
                }
                long rxThreadBytes = threads.getThreadAllocatedBytes(deviceThread) - rxThreadFrom;
                long rxBytes = rxAllocated[0] + rxThreadBytes;
                long rxCount = rxPackets[0] - rxFrom;
                assertEquals(0, vsock.dropped());
                host.close();
                reader.join(5000);

                System.out.printf("virtio-vsock over a Unix socket: guest to host %d bytes allocated over %d packets,"
                        + " host to guest %d bytes (%d on the device's thread) over %d packets%n", txBytes, txCount,
                        rxBytes, rxThreadBytes, rxCount);
                // Under a byte per packet: an object per packet is 16 bytes or more; what is left is one-offs over
                // the window (a deoptimization's bookkeeping, a lock's queue node while a thread parks).
                assertTrue(txBytes < txCount, txBytes + " bytes allocated sending " + txCount + " packets");
                assertTrue(rxBytes < rxCount, rxBytes + " bytes allocated receiving " + rxCount + " packets");
            }
        }
    }

    /**
     * The other side of sending straight from guest memory: what a full host socket does not take at once
     * waits in the connection's buffer and follows, in order, when the host reads; the bytes the socket
     * took count toward the credit the guest hears of.
     */
    @Test
    void bytesAFullHostSocketDoesNotTakeFollowInOrder() throws Exception {
        Path uds = dir.resolve("v.sock");
        try (Arena arena = Arena.ofShared();
             ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            listener.bind(UnixDomainSocketAddress.of(Path.of(uds + "_" + HOST_PORT)));
            GuestMemory memory = TestMemory.of(arena, RAM);
            TestDriver rx = new TestDriver(memory, 0x1000, VirtioVsock.QUEUE_SIZE, 0x100000, 0x200000);
            TestDriver tx = new TestDriver(memory, 0x8000, VirtioVsock.QUEUE_SIZE, 0x200000, RAM);
            VirtQueue rq = rx.configure(new VirtQueue(VirtioVsock.QUEUE_SIZE));
            VirtQueue tq = tx.configure(new VirtQueue(VirtioVsock.QUEUE_SIZE));
            rq.activate(memory, false, false);
            tq.activate(memory, false, false);
            int packets = 6;
            int size = VirtioVsock.MAX_PAYLOAD;
            byte[] stream = new byte[packets * size];
            for (int k = 0; k < stream.length; k++) {
                stream[k] = (byte) (k % 251);
            }
            try (VirtioVsock vsock = new VirtioVsock(GUEST_CID, uds)) {
                vsock.activate(memory, Arrays.asList(rq, tq, null), 0, SilentInterrupt.INSTANCE);
                for (int i = 0; i < 32; i++) {
                    rx.post(Buf.out(rx.alloc(HDR + CHUNK), HDR + CHUNK));
                }
                tx.post(Buf.in(tx.buffer(header(VsockHeader.OP_REQUEST, 0)), HDR));
                vsock.queueNotified(VirtioVsock.TX);
                tx.reap();
                try (SocketChannel host = listener.accept()) {
                    // The host does not read yet: its socket takes what its buffer holds, the device the rest.
                    long rwHeader = tx.buffer(header(VsockHeader.OP_RW, size));
                    for (int p = 0; p < packets; p++) {
                        tx.post(Buf.in(rwHeader, HDR), Buf.in(tx.buffer(Arrays.copyOfRange(stream, p * size, (p + 1) * size)), size));
                    }
                    while (vsock.queueNotified(VirtioVsock.TX)) {
                        // past a pass's byte budget: served again, as the event loop would
                    }
                    assertEquals(packets, tx.reap().size());
                    assertTrue(vsock.bytesToHost() < stream.length, "the host socket took everything at once ("
                            + vsock.bytesToHost() + " bytes): nothing was left to buffer");
                    ByteBuffer got = ByteBuffer.allocate(stream.length);
                    long deadline = System.nanoTime() + 10_000_000_000L;
                    while (got.hasRemaining()) {
                        assertTrue(System.nanoTime() < deadline, "the host read " + got.position() + " of " + stream.length);
                        host.read(got);
                    }
                    assertEquals(java.util.Arrays.mismatch(stream, got.array()), -1, "the stream arrived in order");
                    assertEquals(stream.length, vsock.bytesToHost());
                    assertEquals(0, vsock.dropped());
                }
            }
        }
    }
}
