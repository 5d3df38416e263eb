package vessel.devices.virtio;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The host side of virtio-vsock as Firecracker has it: Unix sockets, all non-blocking, waited on by one
 * {@link Selector}. It knows nothing of virtqueues, packets or credit; {@link VirtioVsock} drives it.
 *
 * <ul>
 * <li>A listening socket at {@code uds}. A host client connects and sends {@code CONNECT <port>\n}; the
 * multiplexer reads that line and reports {@link Events#connectRequested} with the bytes that followed
 * it. A client that sends anything else, or nothing within {@value #CONNECT_LINE_MAX} bytes, is closed.
 * <li>{@link #connect}: a socket to {@code <uds>_<port>}, for a connection the guest asked for;
 * {@link Events#connected} or {@link Events#connectFailed} say how it went when it does not at once.
 * <li>Each socket is watched for what its owner asks ({@link HostSocket#interest}) and reported
 * {@link Events#readable} or {@link Events#writable}.
 * </ul>
 *
 * <p>Threads: one thread calls {@link #select} (it blocks) and then {@link #dispatch}; everything else,
 * dispatch included, runs under the owner's lock. A change of interest from another thread wakes the
 * selecting thread, so it waits for the right events.
 *
 * @param <C> what the owner attaches to each socket (its connection)
 */
final class VsockUnixMux<C> implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.devices.virtio");

    /** The longest CONNECT line, newline included: "CONNECT 4294967295\n" and some spaces. */
    static final int CONNECT_LINE_MAX = 32;

    /** What the multiplexer reports; called from {@link #dispatch}, one event at a time. */
    interface Events<C> {
        /** Whether one more host client may connect now; if not, it is closed at once. */
        boolean acceptsClient();

        /**
         * A host client asked for guest port {@code port} ({@code early}: the bytes it sent after its line,
         * maybe none). The socket is now the owner's, watched for nothing until it sets the interest.
         */
        void connectRequested(HostSocket<C> socket, int port, byte[] early);

        /** A socket from {@link #connect} finished connecting. */
        void connected(HostSocket<C> socket);

        /** A socket from {@link #connect} could not connect; the owner closes it. */
        void connectFailed(HostSocket<C> socket);

        void readable(HostSocket<C> socket);

        void writable(HostSocket<C> socket);
    }

    /** One host Unix socket, with the owner's connection attached. Used under the owner's lock. */
    static final class HostSocket<C> {
        private final VsockUnixMux<C> mux;
        private final SocketChannel channel;
        private SelectionKey key;
        /** The CONNECT line being read: a host client that has not asked for a port yet. */
        private ByteBuffer line;
        private C attachment;

        private HostSocket(VsockUnixMux<C> mux, SocketChannel channel) {
            this.mux = mux;
            this.channel = channel;
        }

        C attachment() {
            return attachment;
        }

        void attach(C connection) {
            this.attachment = connection;
        }

        /** Bytes read into {@code dst}: 0 when none wait now, -1 when the host closed its end for writing. */
        int read(ByteBuffer dst) throws IOException {
            return channel.read(dst);
        }

        /** Bytes of {@code src} the socket took now (maybe 0: its buffer is full). */
        int write(ByteBuffer src) throws IOException {
            return channel.write(src);
        }

        /**
         * Firecracker's answer to a CONNECT line once the guest accepted: {@code OK <hostPort>\n}. False
         * when the socket did not take it all (a fresh socket's send buffer always has room for it).
         */
        boolean confirm(int hostPort) {
            byte[] ok = ("OK " + Integer.toUnsignedString(hostPort) + "\n").getBytes(StandardCharsets.US_ASCII);
            try {
                return channel.write(ByteBuffer.wrap(ok)) == ok.length;
            } catch (IOException e) {
                return false;
            }
        }

        /** The host's reads end; a peer already gone changes nothing. */
        void shutdownOutput() {
            try {
                channel.shutdownOutput();
            } catch (IOException ignored) {
                // the peer went away; its reads end anyway
            }
        }

        /** Watch for these; a closed socket ignores it. */
        void interest(boolean read, boolean write) {
            if (key == null || !key.isValid()) {
                return;
            }
            int ops = (read ? SelectionKey.OP_READ : 0) | (write ? SelectionKey.OP_WRITE : 0);
            if (key.interestOps() != ops) {
                key.interestOps(ops);
                mux.interestChanged();
            }
        }

        boolean isOpen() {
            return channel.isOpen();
        }

        void close() {
            mux.awaiting.remove(this);
            closeQuietly(channel);
        }
    }

    private final Path uds;
    private final ServerSocketChannel listener;
    private final Selector selector;
    /** Host clients that have not sent their CONNECT line yet. */
    private final Set<HostSocket<C>> awaiting = new HashSet<>();
    private volatile Thread selecting;

    /**
     * Binds the listening socket at {@code uds} (a stale socket file nobody listens on is replaced).
     *
     * @throws IOException the directory is missing, the path is in use, or the socket cannot be made
     */
    VsockUnixMux(Path uds) throws IOException {
        this.uds = uds;
        removeStaleSocket(uds);
        ServerSocketChannel l = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            l.bind(UnixDomainSocketAddress.of(uds));
            l.configureBlocking(false);
            this.selector = Selector.open();
            l.register(selector, SelectionKey.OP_ACCEPT);
        } catch (IOException | RuntimeException e) {
            l.close();
            throw e;
        }
        this.listener = l;
    }

    /** Deletes a socket file at {@code path} that refuses connections (left by a VMM that died). */
    private static void removeStaleSocket(Path path) {
        if (!Files.exists(path) || Files.isDirectory(path)) {
            return;
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(path));
        } catch (IOException refused) {
            try {
                if (!Files.isRegularFile(path)) {
                    Files.deleteIfExists(path);
                }
            } catch (IOException ignored) {
                // bind reports it
            }
        }
    }

    Path uds() {
        return uds;
    }

    /** Host clients connected that have not asked for a port yet (they count toward a connection cap). */
    int awaitingClients() {
        return awaiting.size();
    }

    /**
     * Connects to {@code <uds>_<port>}; the socket is connected when {@link HostSocket#isOpen} and this
     * returned {@code connected} true, else {@link Events#connected} or {@link Events#connectFailed} follows.
     *
     * @throws IOException nothing listens there (or the socket cannot be made); nothing is left open
     */
    Connecting<C> connect(int port, C attachment) throws IOException {
        Path target = Path.of(uds + "_" + Integer.toUnsignedString(port));
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.configureBlocking(false);
            HostSocket<C> s = new HostSocket<>(this, ch);
            s.attach(attachment);
            boolean done = ch.connect(UnixDomainSocketAddress.of(target));
            s.key = ch.register(selector, done ? 0 : SelectionKey.OP_CONNECT, s);
            if (!done) {
                selector.wakeup();
            }
            return new Connecting<>(s, done);
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.DEBUG, () -> "virtio-vsock: guest connect to " + target + ": " + e.getMessage());
            closeQuietly(ch);
            throw e;
        }
    }

    /** A socket from {@link #connect}, and whether it is connected already. */
    record Connecting<C>(HostSocket<C> socket, boolean connected) { }

    /** Blocks until a socket has news or {@link #wakeup}; returns at once if news waits. */
    void select() throws IOException {
        selecting = Thread.currentThread();
        selector.select();
    }

    /** As {@link #select}, giving up after {@code millis} (for tests). */
    void select(long millis) throws IOException {
        selecting = Thread.currentThread();
        selector.select(millis);
    }

    /** Makes the selecting thread return from {@link #select} (the owner has work for its next pass). */
    void wakeup() {
        selector.wakeup();
    }

    private void interestChanged() {
        if (Thread.currentThread() != selecting) {
            selector.wakeup();
        }
    }

    /** Reports the news the last {@link #select} found; call under the owner's lock. */
    void dispatch(Events<C> events) {
        for (SelectionKey k : selector.selectedKeys()) {
            try {
                ready(k, events);
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, "virtio-vsock: socket event failed", e);
            }
        }
        selector.selectedKeys().clear();
    }

    @SuppressWarnings("unchecked")
    private void ready(SelectionKey k, Events<C> events) {
        if (!k.isValid()) {
            return;
        }
        if (k.channel() == listener) {
            accept(events);
            return;
        }
        HostSocket<C> s = (HostSocket<C>) k.attachment();
        if (k.isConnectable()) {
            try {
                if (!s.channel.finishConnect()) {
                    return;
                }
            } catch (IOException e) {
                events.connectFailed(s);
                return;
            }
            k.interestOps(0);
            events.connected(s);
            return;
        }
        if (k.isWritable()) {
            events.writable(s);
        }
        if (k.isValid() && k.isReadable()) {
            if (s.line != null) {
                readConnectLine(s, events);
            } else {
                events.readable(s);
            }
        }
    }

    private void accept(Events<C> events) {
        while (true) {
            SocketChannel ch;
            try {
                ch = listener.accept();
            } catch (IOException e) {
                LOG.log(Level.WARNING, "virtio-vsock: accept on " + uds + " failed: " + e.getMessage());
                return;
            }
            if (ch == null) {
                return;
            }
            if (!events.acceptsClient()) {
                closeQuietly(ch); // no driver yet (or too many): the client sees the connection close
                continue;
            }
            HostSocket<C> s = new HostSocket<>(this, ch);
            s.line = ByteBuffer.allocate(CONNECT_LINE_MAX);
            try {
                ch.configureBlocking(false);
                s.key = ch.register(selector, SelectionKey.OP_READ, s);
                awaiting.add(s);
            } catch (IOException e) {
                closeQuietly(ch);
            }
        }
    }

    /** Reads {@code CONNECT <port>\n}; bytes after it are the start of the stream. */
    private void readConnectLine(HostSocket<C> s, Events<C> events) {
        int n;
        try {
            n = s.channel.read(s.line);
        } catch (IOException e) {
            n = -1;
        }
        if (n < 0) {
            s.close();
            return;
        }
        byte[] b = s.line.array();
        int end = -1;
        for (int i = 0; i < s.line.position(); i++) {
            if (b[i] == '\n') {
                end = i;
                break;
            }
        }
        if (end < 0) {
            if (!s.line.hasRemaining()) {
                LOG.log(Level.INFO, "virtio-vsock: host client sent no CONNECT line; closed");
                s.close();
            }
            return;
        }
        String text = new String(b, 0, end, StandardCharsets.US_ASCII).strip();
        long port = -1;
        if (text.startsWith("CONNECT ")) {
            try {
                port = Long.parseLong(text.substring(8).strip());
            } catch (NumberFormatException e) {
                port = -1;
            }
        }
        if (port < 0 || port > 0xFFFF_FFFFL) {
            LOG.log(Level.INFO, "virtio-vsock: host client sent '" + text + "', not CONNECT <port>; closed");
            s.close();
            return;
        }
        byte[] early = Arrays.copyOfRange(b, end + 1, s.line.position());
        s.line = null;
        awaiting.remove(s);
        s.key.interestOps(0); // the owner says what to watch for once it has a connection for it
        events.connectRequested(s, (int) port, early);
    }

    /** Closes the host clients that have not asked for a port yet (the owner closes its own sockets). */
    void closeAwaitingClients() {
        for (HostSocket<C> s : List.copyOf(awaiting)) {
            s.close();
        }
    }

    /**
     * Closes the listener and the host clients that have not asked for a port, and removes the socket
     * file; a thread in {@link #select} gets a ClosedSelectorException. The sockets handed to the owner
     * are the owner's to close.
     */
    @Override
    public void close() {
        closeAwaitingClients();
        try {
            selector.close();
        } catch (IOException ignored) {
            // closing
        }
        closeQuietly(listener);
        try {
            Files.deleteIfExists(uds);
        } catch (IOException ignored) {
            // best effort
        }
    }

    private static void closeQuietly(java.nio.channels.Channel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
