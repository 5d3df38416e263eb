package vessel.devices.virtio;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.devices.virtio.TestDriver.Buf;
import vessel.devices.virtio.TestDriver.Used;
import vessel.devices.PauseGate;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static vessel.devices.virtio.VirtioVsock.HDR;

/**
 * virtio-vsock on hand-built rx and tx rings in real guest memory, with real Unix sockets on the host
 * side: the test plays the guest's driver and a host program at once.
 */
class VirtioVsockTest {
    static final long RAM = 1 << 20;
    static final long GUEST_CID = 3;
    static final int RX_BUF = 4096 + HDR;

    @TempDir
    Path dir;

    private final Arena arena = Arena.ofShared();
    private final GuestMemory memory = TestMemory.of(arena, RAM);
    private final TestDriver rx = new TestDriver(memory, 0x1000, 64, 0x20000, 0x90000);
    private final TestDriver tx = new TestDriver(memory, 0x4000, 64, 0x90000, RAM);
    private final RecordingInterrupt irq = new RecordingInterrupt();
    private final Map<Integer, Long> rxBuffers = new HashMap<>();
    private final List<AutoCloseable> closing = new ArrayList<>();
    private final PauseGate gate = new PauseGate();
    private VirtioVsock vsock;

    record Packet(long srcCid, long dstCid, int srcPort, int dstPort, int type, int op, int flags, int bufAlloc,
                  int fwdCnt, byte[] data) {}

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
        if (vsock != null) {
            vsock.close();
        }
        arena.close();
    }

    private Path uds() {
        return dir.resolve("v.sock");
    }

    private VirtioVsock start() throws Exception {
        vsock = new VirtioVsock(GUEST_CID, uds());
        vsock.pauseGate(gate);
        VirtQueue rq = rx.configure(new VirtQueue(VirtioVsock.QUEUE_SIZE));
        VirtQueue tq = tx.configure(new VirtQueue(VirtioVsock.QUEUE_SIZE));
        rq.activate(memory, false, false);
        tq.activate(memory, false, false);
        // The device's own thread raises interrupts too: RecordingInterrupt takes them from any thread.
        vsock.activate(memory, Arrays.asList(rq, tq, null), 0, irq);
        return vsock;
    }

    private void postRx(int count, int size) {
        for (int i = 0; i < count; i++) {
            long a = rx.alloc(size);
            rxBuffers.put(rx.post(Buf.out(a, size)), a);
        }
        vsock.queueNotified(VirtioVsock.RX);
    }

    private static byte[] header(int op, int srcPort, int dstPort, int len, int flags, int bufAlloc, int fwdCnt,
                                 long srcCid, long dstCid, int type) {
        ByteBuffer b = ByteBuffer.allocate(HDR).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(srcCid).putLong(dstCid).putInt(srcPort).putInt(dstPort).putInt(len).putShort((short) type)
                .putShort((short) op).putInt(flags).putInt(bufAlloc).putInt(fwdCnt);
        return b.array();
    }

    /** The guest sends a packet with credit fields buf_alloc 64 KiB and {@code fwdCnt}. */
    private void send(int op, int srcPort, int dstPort, byte[] data, int fwdCnt) {
        send(op, srcPort, dstPort, data, 65536, fwdCnt);
    }

    private void send(int op, int srcPort, int dstPort, byte[] data, int bufAlloc, int fwdCnt) {
        byte[] h = header(op, srcPort, dstPort, data.length, 0, bufAlloc, fwdCnt, GUEST_CID, 2, 1);
        sendRaw(h, data);
    }

    private void sendRaw(byte[] h, byte[] data) {
        long ha = tx.buffer(h);
        if (data.length == 0) {
            tx.post(Buf.in(ha, h.length));
        } else {
            // Header and payload in separate descriptors, as Linux sends them.
            tx.post(Buf.in(ha, h.length), Buf.in(tx.buffer(data), data.length));
        }
        vsock.queueNotified(VirtioVsock.TX);
        assertEquals(List.of(), irq.resets);
    }

    private final List<Packet> received = new ArrayList<>();
    private int returnedEmpty;

    /** Waits until {@code count} packets have arrived on the rx queue in all. */
    private List<Packet> awaitRx(int count) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        do {
            for (Used u : rx.reap()) {
                if (u.length() == 0) {
                    returnedEmpty++; // a buffer the device could not use
                    continue;
                }
                long a = rxBuffers.get(u.head());
                ByteBuffer b = ByteBuffer.wrap(memory.read(a, HDR)).order(ByteOrder.LITTLE_ENDIAN);
                int len = b.getInt(24);
                assertEquals(HDR + len, u.length());
                received.add(new Packet(b.getLong(0), b.getLong(8), b.getInt(16), b.getInt(20), b.getShort(28),
                        b.getShort(30), b.getInt(32), b.getInt(36), b.getInt(40), memory.read(a + HDR, len)));
            }
            if (received.size() < count) {
                assertTrue(System.nanoTime() < deadline, "waited for " + count + " rx packets, got " + received);
                Thread.sleep(5);
            }
        } while (received.size() < count);
        return received;
    }

    private int consumed;

    /** The next packet the guest receives, in order. */
    private Packet awaitPacket() throws InterruptedException {
        awaitRx(consumed + 1);
        return received.get(consumed++);
    }

    /** Reaps what has arrived without waiting; true if an RST is among it. */
    private boolean rstArrived() throws InterruptedException {
        awaitRx(0);
        return received.stream().anyMatch(p -> p.op() == VsockHeader.OP_RST);
    }

    private SocketChannel hostConnect() throws IOException {
        SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(uds()));
        closing.add(c);
        return c;
    }

    private static void write(SocketChannel c, String s) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
        while (b.hasRemaining()) {
            c.write(b);
        }
    }

    private static String readLine(SocketChannel c) throws IOException {
        StringBuilder sb = new StringBuilder();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (true) {
            one.clear();
            int n;
            try {
                n = c.read(one);
            } catch (java.net.SocketException reset) {
                n = -1; // closed with our bytes unread: a reset, which is a close too
            }
            if (n < 0) {
                return sb.append("<EOF>").toString();
            }
            char ch = (char) one.get(0);
            if (ch == '\n') {
                return sb.toString();
            }
            sb.append(ch);
        }
    }

    private static byte[] readExactly(SocketChannel c, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (c.read(b) < 0) {
                throw new IOException("EOF after " + b.position());
            }
        }
        return b.array();
    }

    /** A host client connects to guest port 1234, the guest accepts; returns the host port. */
    private int establishFromHost(SocketChannel host, int guestPort, int bufAlloc) throws Exception {
        write(host, "CONNECT " + guestPort + "\n");
        Packet req = awaitPacket();
        assertEquals(VsockHeader.OP_REQUEST, req.op());
        assertEquals(2, req.srcCid());
        assertEquals(GUEST_CID, req.dstCid());
        assertEquals(guestPort, req.dstPort());
        assertEquals(VirtioVsock.BUF_ALLOC, req.bufAlloc());
        send(VsockHeader.OP_RESPONSE, guestPort, req.srcPort(), new byte[0], bufAlloc, 0);
        assertEquals("OK " + Integer.toUnsignedString(req.srcPort()), readLine(host));
        return req.srcPort();
    }

    @Test
    void configSpaceHoldsTheGuestCid() throws Exception {
        start();
        assertEquals(19, vsock.deviceType());
        assertEquals(3, vsock.queueCount());
        assertEquals(8, vsock.configSize());
        assertEquals(GUEST_CID, vsock.readConfig(0, 8));
        assertEquals(GUEST_CID, vsock.readConfig(0, 4));
        assertEquals(0, vsock.readConfig(4, 4));
        assertThrows(IllegalArgumentException.class, () -> new VirtioVsock(2, dir.resolve("x")));
    }

    @Test
    void hostConnectsAndBytesFlowBothWays() throws Exception {
        start();
        postRx(16, RX_BUF);
        SocketChannel host = hostConnect();
        int hostPort = establishFromHost(host, 1234, 65536);
        assertEquals(VirtioVsock.FIRST_HOST_PORT, hostPort);

        write(host, "hello guest");
        Packet rw = awaitPacket();
        assertEquals(VsockHeader.OP_RW, rw.op());
        assertEquals(hostPort, rw.srcPort());
        assertEquals(1234, rw.dstPort());
        assertEquals("hello guest", new String(rw.data(), StandardCharsets.US_ASCII));

        send(VsockHeader.OP_RW, 1234, hostPort, "hello host".getBytes(StandardCharsets.US_ASCII), 11);
        assertEquals("hello host", new String(readExactly(host, 10), StandardCharsets.US_ASCII));
        assertEquals(10, vsock.bytesToHost());
        assertEquals(11, vsock.bytesToGuest());

        // The host closes: the guest hears SHUTDOWN(SEND); its close then gets an RST back.
        host.close();
        Packet shut = awaitPacket();
        assertEquals(VsockHeader.OP_SHUTDOWN, shut.op());
        assertEquals(VsockHeader.SHUTDOWN_SEND, shut.flags());
        send(VsockHeader.OP_SHUTDOWN, 1234, hostPort, new byte[0], 11);
        // A SHUTDOWN without flags changes nothing; with both the connection ends in an RST.
        byte[] h = header(VsockHeader.OP_SHUTDOWN, 1234, hostPort, 0, 3, 65536, 11, GUEST_CID, 2, 1);
        sendRaw(h, new byte[0]);
        assertEquals(VsockHeader.OP_RST, awaitPacket().op());
    }

    @Test
    void bytesWrittenBeforeTheGuestAnswersAreDelivered() throws Exception {
        start();
        postRx(4, RX_BUF);
        SocketChannel host = hostConnect();
        write(host, "CONNECT 77\nearly bytes");
        Packet req = awaitPacket();
        assertEquals(VsockHeader.OP_REQUEST, req.op());
        send(VsockHeader.OP_RESPONSE, 77, req.srcPort(), new byte[0], 0);
        assertEquals("OK " + Integer.toUnsignedString(req.srcPort()), readLine(host));
        StringBuilder got = new StringBuilder();
        while (got.length() < "early bytes".length()) {
            got.append(new String(awaitPacket().data(), StandardCharsets.US_ASCII));
        }
        assertEquals("early bytes", got.toString());
    }

    @Test
    void guestRefusalClosesTheHostSocket() throws Exception {
        start();
        postRx(4, RX_BUF);
        SocketChannel host = hostConnect();
        write(host, "CONNECT 9\n");
        Packet req = awaitPacket();
        send(VsockHeader.OP_RST, 9, req.srcPort(), new byte[0], 0);
        assertEquals("<EOF>", readLine(host));
    }

    @Test
    void aHostClientWithoutConnectLineIsClosed() throws Exception {
        start();
        postRx(4, RX_BUF);
        SocketChannel host = hostConnect();
        write(host, "HELLO there\n");
        assertEquals("<EOF>", readLine(host));
        SocketChannel chatty = hostConnect();
        write(chatty, "x".repeat(100));
        assertEquals("<EOF>", readLine(chatty));
    }

    @Test
    void neverSendsMoreThanTheGuestsCredit() throws Exception {
        start();
        postRx(32, RX_BUF);
        SocketChannel host = hostConnect();
        int hostPort = establishFromHost(host, 1234, 1000);
        byte[] data = new byte[3000];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) i;
        }
        host.write(ByteBuffer.wrap(data));
        int got = 0;
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        while (got < 1000) {
            Packet p = awaitPacket();
            assertEquals(VsockHeader.OP_RW, p.op());
            got += p.data().length;
            all.write(p.data());
        }
        assertEquals(1000, got);
        Thread.sleep(100); // the host has 2000 more bytes ready; none may come without credit
        assertEquals(consumed, awaitRx(0).size());
        assertEquals(1000, vsock.bytesToGuest());

        // The guest consumed 600: 600 more may come, no more.
        send(VsockHeader.OP_CREDIT_UPDATE, 1234, hostPort, new byte[0], 1000, 600);
        while (got < 1600) {
            Packet p = awaitPacket();
            got += p.data().length;
            all.write(p.data());
        }
        assertEquals(1600, got);
        Thread.sleep(100);
        assertEquals(consumed, awaitRx(0).size());
        // A bigger buffer lets the rest through.
        send(VsockHeader.OP_CREDIT_UPDATE, 1234, hostPort, new byte[0], 65536, 1600);
        while (got < 3000) {
            Packet p = awaitPacket();
            got += p.data().length;
            all.write(p.data());
        }
        assertArrayEquals(data, all.toByteArray());
    }

    @Test
    void noReceiveBuffersLeavesDataInTheHostSocket() throws Exception {
        start();
        postRx(2, RX_BUF);
        SocketChannel host = hostConnect();
        int hostPort = establishFromHost(host, 5, 1 << 20);
        assertEquals(VirtioVsock.FIRST_HOST_PORT, hostPort);
        host.write(ByteBuffer.wrap(new byte[20000]));
        // One buffer left after the REQUEST: 4096 bytes arrive, the rest waits for buffers.
        assertEquals(4096, awaitPacket().data().length);
        Thread.sleep(100);
        assertEquals(4096, vsock.bytesToGuest());
        postRx(8, RX_BUF);
        int got = 4096;
        while (got < 20000) {
            Packet p = awaitPacket();
            assertEquals(VsockHeader.OP_RW, p.op(), p.toString());
            got += p.data().length;
        }
        assertEquals(20000, vsock.bytesToGuest());
    }

    @Test
    void packetsForUnknownConnectionsGetAnRst() throws Exception {
        start();
        postRx(8, RX_BUF);
        send(VsockHeader.OP_RW, 5000, 999, "x".getBytes(StandardCharsets.US_ASCII), 0);
        Packet rst = awaitPacket();
        assertEquals(VsockHeader.OP_RST, rst.op());
        assertEquals(999, rst.srcPort());
        assertEquals(5000, rst.dstPort());
        assertEquals(GUEST_CID, rst.dstCid());
        // Nobody listens at <uds>_4444.
        send(VsockHeader.OP_REQUEST, 5001, 4444, new byte[0], 0);
        Packet refused = awaitPacket();
        assertEquals(VsockHeader.OP_RST, refused.op());
        assertEquals(4444, refused.srcPort());
        // An RST to nothing gets no answer.
        send(VsockHeader.OP_RST, 5002, 4444, new byte[0], 0);
        Thread.sleep(50);
        assertEquals(consumed, awaitRx(0).size());
    }

    @Test
    void guestConnectsToTheHostListenerAtUdsUnderscorePort() throws Exception {
        start();
        postRx(8, RX_BUF);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        closing.add(server);
        server.bind(UnixDomainSocketAddress.of(Path.of(uds() + "_5000")));
        send(VsockHeader.OP_REQUEST, 40000, 5000, new byte[0], 0);
        Packet resp = awaitPacket();
        assertEquals(VsockHeader.OP_RESPONSE, resp.op());
        assertEquals(5000, resp.srcPort());
        assertEquals(40000, resp.dstPort());
        SocketChannel peer = server.accept();
        closing.add(peer);

        send(VsockHeader.OP_RW, 40000, 5000, "ping".getBytes(StandardCharsets.US_ASCII), 0);
        assertEquals("ping", new String(readExactly(peer, 4), StandardCharsets.US_ASCII));
        write(peer, "pong");
        Packet rw = awaitPacket();
        assertEquals("pong", new String(rw.data(), StandardCharsets.US_ASCII));
        assertEquals(4, rw.fwdCnt()); // the device reports what it forwarded

        // The guest stops sending: the host reads EOF but may still answer.
        byte[] h = header(VsockHeader.OP_SHUTDOWN, 40000, 5000, 0, VsockHeader.SHUTDOWN_SEND, 65536, 4,
                GUEST_CID, 2, 1);
        sendRaw(h, new byte[0]);
        assertEquals(-1, peer.read(ByteBuffer.allocate(1)));
        write(peer, "bye");
        assertEquals("bye", new String(awaitPacket().data(), StandardCharsets.US_ASCII));
    }

    @Test
    void theGuestCreditRequestGetsACreditUpdate() throws Exception {
        start();
        postRx(8, RX_BUF);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        closing.add(server);
        server.bind(UnixDomainSocketAddress.of(Path.of(uds() + "_6")));
        send(VsockHeader.OP_REQUEST, 7, 6, new byte[0], 0);
        assertEquals(VsockHeader.OP_RESPONSE, awaitPacket().op());
        send(VsockHeader.OP_RW, 7, 6, new byte[100], 0);
        send(VsockHeader.OP_CREDIT_REQUEST, 7, 6, new byte[0], 0);
        Packet update = awaitPacket();
        assertEquals(VsockHeader.OP_CREDIT_UPDATE, update.op());
        assertEquals(VirtioVsock.BUF_ALLOC, update.bufAlloc());
        assertEquals(100, update.fwdCnt());
    }

    @Test
    void hostileHeadersAreDroppedAndTheDeviceGoesOn() throws Exception {
        start();
        postRx(16, RX_BUF);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        closing.add(server);
        server.bind(UnixDomainSocketAddress.of(Path.of(uds() + "_80")));
        send(VsockHeader.OP_REQUEST, 1, 80, new byte[0], 0);
        assertEquals(VsockHeader.OP_RESPONSE, awaitPacket().op());
        SocketChannel peer = server.accept();
        closing.add(peer);

        // len far beyond the buffer, and beyond any packet
        sendRaw(header(VsockHeader.OP_RW, 1, 80, 1000, 0, 65536, 0, GUEST_CID, 2, 1), new byte[10]);
        sendRaw(header(VsockHeader.OP_RW, 1, 80, -1, 0, 65536, 0, GUEST_CID, 2, 1), new byte[10]);
        // a header cut short
        long shortHdr = tx.buffer(new byte[20]);
        tx.post(Buf.in(shortHdr, 20));
        vsock.queueNotified(VirtioVsock.TX);
        // another guest's CID, and a packet to a CID other than the host's
        sendRaw(header(VsockHeader.OP_RW, 1, 80, 0, 0, 65536, 0, 99, 2, 1), new byte[0]);
        sendRaw(header(VsockHeader.OP_RW, 1, 80, 0, 0, 65536, 0, GUEST_CID, 7, 1), new byte[0]);
        assertEquals(5, vsock.dropped());
        assertEquals(List.of(), irq.resets);

        // The connection still works.
        send(VsockHeader.OP_RW, 1, 80, "ok".getBytes(StandardCharsets.US_ASCII), 0);
        assertEquals("ok", new String(readExactly(peer, 2), StandardCharsets.US_ASCII));

        // An unknown op on it resets it; so does a type other than STREAM elsewhere.
        sendRaw(header(99, 1, 80, 0, 0, 65536, 0, GUEST_CID, 2, 1), new byte[0]);
        assertEquals(VsockHeader.OP_RST, awaitPacket().op());
        assertEquals(-1, peer.read(ByteBuffer.allocate(1)));
        sendRaw(header(VsockHeader.OP_REQUEST, 2, 80, 0, 0, 65536, 0, GUEST_CID, 2, 2), new byte[0]);
        assertEquals(VsockHeader.OP_RST, awaitPacket().op());

        // A receive buffer too small for a header comes back empty.
        long tiny = rx.alloc(8);
        rxBuffers.put(rx.post(Buf.out(tiny, 8)), tiny);
        vsock.queueNotified(VirtioVsock.RX);
        send(VsockHeader.OP_RW, 3, 81, new byte[0], 0); // unknown: an RST goes to the next good buffer
        assertEquals(VsockHeader.OP_RST, awaitPacket().op());
    }

    /** Runs the driver's notification of {@code queue} on a thread of its own; fails if it does not return. */
    private void notifyWithin(int queue, long millis) throws InterruptedException {
        Thread t = Thread.ofPlatform().daemon(true).start(() -> vsock.queueNotified(queue));
        t.join(millis);
        if (t.isAlive()) {
            vsock = null; // its lock is held for good: closing it would hang too
            fail("queue " + queue + " notification did not return within " + millis + " ms");
        }
    }

    @Test
    void aReceiveBufferWithRoomForOnlyAHeaderComesBackEmptyWhileDataWaits() throws Exception {
        start();
        postRx(1, RX_BUF);
        SocketChannel host = hostConnect();
        establishFromHost(host, 1234, 65536);
        write(host, "waiting");
        // Room for a header and not one byte of data, while the connection has data for the guest.
        long small = rx.alloc(HDR);
        rxBuffers.put(rx.post(Buf.out(small, HDR)), small);
        notifyWithin(VirtioVsock.RX, 5000);
        awaitRx(consumed);
        assertEquals(1, returnedEmpty, "the header-sized buffer comes back used, empty");
        assertEquals(1, vsock.dropped());
        postRx(1, RX_BUF);
        assertEquals("waiting", new String(awaitPacket().data(), StandardCharsets.US_ASCII));
    }

    @Test
    void pausedTheDeviceThreadLeavesGuestMemoryAloneAndServesTheNewsOnResume() throws Exception {
        start();
        postRx(8, RX_BUF);
        SocketChannel host = hostConnect();
        establishFromHost(host, 1234, 65536);
        Thread.sleep(50); // the device's thread settles after the handshake
        gate.pause();
        int usedBefore = rx.usedIdx();
        int interruptsBefore = irq.queues.size();
        write(host, "while paused");
        SocketChannel second = hostConnect();
        write(second, "CONNECT 99\n");
        Thread.sleep(300);
        assertEquals(usedBefore, rx.usedIdx(), "a receive buffer was used while paused");
        assertEquals(interruptsBefore, irq.queues.size(), "an interrupt while paused");
        assertEquals(0, vsock.bytesToGuest());
        gate.resume();
        Packet a = awaitPacket();
        Packet b = awaitPacket();
        List<Packet> both = List.of(a, b);
        assertTrue(both.stream().anyMatch(p -> p.op() == VsockHeader.OP_RW
                && new String(p.data(), StandardCharsets.US_ASCII).equals("while paused")), both.toString());
        assertTrue(both.stream().anyMatch(p -> p.op() == VsockHeader.OP_REQUEST && p.dstPort() == 99), both.toString());
    }

    @Test
    void aGuestThatOverrunsItsCreditLosesTheConnection() throws Exception {
        start();
        postRx(8, RX_BUF);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        closing.add(server);
        server.bind(UnixDomainSocketAddress.of(Path.of(uds() + "_90")));
        send(VsockHeader.OP_REQUEST, 1, 90, new byte[0], 0);
        assertEquals(VsockHeader.OP_RESPONSE, awaitPacket().op());
        SocketChannel peer = server.accept();
        closing.add(peer);
        // The host never reads: its socket buffer fills, then the device's BUF_ALLOC, then the guest is over.
        long chunk = tx.alloc(VirtioVsock.MAX_PAYLOAD);
        int sent = 0;
        while (!rstArrived()) {
            assertTrue(sent < 100, "no RST after " + sent + " chunks of 64 KiB");
            byte[] h = header(VsockHeader.OP_RW, 1, 90, VirtioVsock.MAX_PAYLOAD, 0, 65536, 0, GUEST_CID, 2, 1);
            tx.post(Buf.in(tx.buffer(h), HDR), Buf.in(chunk, VirtioVsock.MAX_PAYLOAD));
            vsock.queueNotified(VirtioVsock.TX);
            sent++;
        }
        assertTrue(vsock.bytesToHost() + VirtioVsock.BUF_ALLOC < (long) sent * VirtioVsock.MAX_PAYLOAD);
        assertEquals(-1, peer.read(ByteBuffer.allocate(1)) == -1 ? -1 : drain(peer));
    }

    private static int drain(SocketChannel c) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(1 << 16);
        int n;
        while ((n = c.read(b)) > 0) {
            b.clear();
        }
        return n;
    }

    @Test
    void theListeningSocketIsRemovedOnCloseAndAStaleOneIsReplaced() throws Exception {
        Path path = uds();
        try (ServerSocketChannel stale = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            stale.bind(UnixDomainSocketAddress.of(path));
        }
        assertTrue(Files.exists(path)); // closed, but the file stays: nothing listens
        try (VirtioVsock v = new VirtioVsock(3, path)) {
            assertThrows(IOException.class, () -> new VirtioVsock(4, path)); // in use
        }
        assertTrue(!Files.exists(path));
        assertThrows(IOException.class, () -> new VirtioVsock(3, dir.resolve("missing/v.sock")));
    }

    @Test
    void resetClosesEveryConnection() throws Exception {
        start();
        postRx(8, RX_BUF);
        SocketChannel host = hostConnect();
        establishFromHost(host, 1234, 65536);
        vsock.reset();
        assertEquals("<EOF>", readLine(host));
    }
}
