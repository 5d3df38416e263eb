package vessel.devices.virtio;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host side of vsock alone: real Unix sockets, no virtqueues, no guest, no KVM. */
class VsockUnixMuxTest {
    @TempDir
    Path dir;
    private Path uds;
    private VsockUnixMux<String> mux;
    private final Events events = new Events();
    private final List<SocketChannel> clients = new ArrayList<>();

    /** Records each event as a line; a host client's request becomes a socket named after its port. */
    private static final class Events implements VsockUnixMux.Events<String> {
        final List<String> seen = new ArrayList<>();
        final List<VsockUnixMux.HostSocket<String>> requested = new ArrayList<>();
        boolean accepting = true;

        @Override
        public boolean acceptsClient() {
            return accepting;
        }

        @Override
        public void connectRequested(VsockUnixMux.HostSocket<String> socket, int port, byte[] early) {
            socket.attach("port " + Integer.toUnsignedString(port));
            requested.add(socket);
            seen.add("request " + Integer.toUnsignedString(port) + " early '"
                    + new String(early, StandardCharsets.US_ASCII) + "'");
        }

        @Override
        public void connected(VsockUnixMux.HostSocket<String> socket) {
            seen.add("connected " + socket.attachment());
        }

        @Override
        public void connectFailed(VsockUnixMux.HostSocket<String> socket) {
            seen.add("failed " + socket.attachment());
        }

        @Override
        public void readable(VsockUnixMux.HostSocket<String> socket) {
            seen.add("readable " + socket.attachment());
        }

        @Override
        public void writable(VsockUnixMux.HostSocket<String> socket) {
            seen.add("writable " + socket.attachment());
        }
    }

    @BeforeEach
    void open() throws IOException {
        uds = dir.resolve("v.sock");
        mux = new VsockUnixMux<>(uds);
    }

    @AfterEach
    void close() throws IOException {
        for (SocketChannel c : clients) {
            c.close();
        }
        for (VsockUnixMux.HostSocket<String> s : events.requested) {
            s.close();
        }
        mux.close();
    }

    private SocketChannel client(String send) throws IOException {
        SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(uds));
        clients.add(c);
        if (!send.isEmpty()) {
            c.write(ByteBuffer.wrap(send.getBytes(StandardCharsets.US_ASCII)));
        }
        return c;
    }

    /** Selects and dispatches until {@code done}, for at most five seconds. */
    private void pumpUntil(BooleanSupplier done, String what) throws IOException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no " + what + " within 5 s; events: " + events.seen);
            }
            mux.select(50);
            mux.dispatch(events);
        }
    }

    /** Dispatches whatever the sockets have for a short while (for asserting that nothing happens). */
    private void pumpFor(long millis) throws IOException {
        long deadline = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() < deadline) {
            mux.select(20);
            mux.dispatch(events);
        }
    }

    /** The client sees its connection closed within five seconds: end of stream (or a reset). */
    private static boolean closedByPeer(SocketChannel c) throws IOException, InterruptedException {
        c.configureBlocking(false);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            try {
                if (c.read(ByteBuffer.allocate(64)) < 0) {
                    return true;
                }
            } catch (IOException reset) {
                return true;
            }
            Thread.sleep(10);
        }
        return false;
    }

    @Test
    void aClientsConnectLineIsReportedWithTheBytesThatFollowIt() throws Exception {
        client("CONNECT 5000\nhello");
        pumpUntil(() -> !events.seen.isEmpty(), "request");
        assertEquals(List.of("request 5000 early 'hello'"), events.seen);
        assertEquals(0, mux.awaitingClients(), "the socket is the owner's now");

        client("CONNECT  4294967295 \n");
        pumpUntil(() -> events.seen.size() == 2, "second request");
        assertEquals("request 4294967295 early ''", events.seen.get(1));
    }

    @Test
    void aLineSplitAcrossWritesIsAwaitedAndTheClientCounts() throws Exception {
        SocketChannel c = client("CONN");
        pumpUntil(() -> mux.awaitingClients() == 1, "accept");
        pumpFor(100);
        assertEquals(List.of(), events.seen, "half a line is not a request");
        c.write(ByteBuffer.wrap("ECT 7\n".getBytes(StandardCharsets.US_ASCII)));
        pumpUntil(() -> !events.seen.isEmpty(), "request");
        assertEquals(List.of("request 7 early ''"), events.seen);
    }

    @Test
    void clientsThatDoNotSendAConnectLineAreClosed() throws Exception {
        SocketChannel wrongWord = client("HELLO 5\n");
        SocketChannel tooLarge = client("CONNECT 4294967296\n");
        SocketChannel negative = client("CONNECT -1\n");
        SocketChannel endless = client("x".repeat(VsockUnixMux.CONNECT_LINE_MAX));
        client("").close(); // connects, then goes before saying anything
        pumpFor(300); // the first pass accepts all five (they wait in the backlog), later ones read them
        pumpUntil(() -> mux.awaitingClients() == 0, "every client closed");
        for (SocketChannel c : List.of(wrongWord, tooLarge, negative, endless)) {
            assertTrue(closedByPeer(c));
        }
        assertEquals(List.of(), events.seen);
    }

    @Test
    void aClientTheOwnerDoesNotAcceptIsClosedAtOnce() throws Exception {
        events.accepting = false;
        SocketChannel c = client("CONNECT 5\n");
        pumpFor(200);
        assertTrue(closedByPeer(c));
        assertEquals(0, mux.awaitingClients());
        assertEquals(List.of(), events.seen);
    }

    @Test
    void interestDecidesWhatIsReportedAndConfirmAndShutdownReachTheClient() throws Exception {
        SocketChannel c = client("CONNECT 9\n");
        pumpUntil(() -> !events.seen.isEmpty(), "request");
        VsockUnixMux.HostSocket<String> s = events.requested.getFirst();
        assertTrue(s.confirm(1 << 30));
        ByteBuffer ok = ByteBuffer.allocate(32);
        c.read(ok);
        assertEquals("OK 1073741824\n", new String(ok.array(), 0, ok.position(), StandardCharsets.US_ASCII));

        c.write(ByteBuffer.wrap("data".getBytes(StandardCharsets.US_ASCII)));
        pumpFor(100);
        assertEquals(1, events.seen.size(), "no interest: data waits in the socket unreported");
        s.interest(true, false);
        pumpUntil(() -> events.seen.size() == 2, "readable");
        assertEquals("readable port 9", events.seen.get(1));
        ByteBuffer got = ByteBuffer.allocate(16);
        assertEquals(4, s.read(got));
        assertEquals(0, s.read(ByteBuffer.allocate(16)), "nothing more waits");

        s.interest(false, true);
        pumpUntil(() -> events.seen.size() == 3, "writable");
        assertEquals("writable port 9", events.seen.get(2));
        s.interest(false, false);

        s.shutdownOutput();
        assertTrue(closedByPeer(c), "the client's reads end");
        c.shutdownOutput();
        assertEquals(-1, s.read(ByteBuffer.allocate(16)), "the host closed its end for writing");
    }

    @Test
    void connectReachesUdsUnderscorePortAndNothingListeningIsAnError() throws Exception {
        try (ServerSocketChannel host = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            host.bind(UnixDomainSocketAddress.of(Path.of(uds + "_1234")));
            VsockUnixMux.Connecting<String> out = mux.connect(1234, "guest 1234");
            if (!out.connected()) {
                pumpUntil(() -> !events.seen.isEmpty(), "connected");
                assertEquals(List.of("connected guest 1234"), events.seen);
            }
            try (SocketChannel accepted = host.accept()) {
                accepted.write(ByteBuffer.wrap("hi".getBytes(StandardCharsets.US_ASCII)));
                out.socket().interest(true, false);
                pumpUntil(() -> events.seen.contains("readable guest 1234"), "readable");
                assertEquals(2, out.socket().read(ByteBuffer.allocate(8)));
            }
            out.socket().close();
            assertFalse(out.socket().isOpen());
        }
        assertThrows(IOException.class, () -> mux.connect(999, "nobody"));
    }

    @Test
    void closeRemovesTheSocketFileAndClosesWaitingClients() throws Exception {
        SocketChannel waiting = client("CONN");
        pumpUntil(() -> mux.awaitingClients() == 1, "accept");
        assertTrue(Files.exists(uds));
        mux.close();
        assertFalse(Files.exists(uds));
        assertTrue(closedByPeer(waiting));
        assertThrows(IOException.class, () -> SocketChannel.open(UnixDomainSocketAddress.of(uds)));
    }
}
