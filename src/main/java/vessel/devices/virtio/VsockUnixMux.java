package vessel.devices.virtio;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import vessel.sys.Epoll;
import vessel.sys.Errno;
import vessel.sys.EventFd;
import vessel.sys.IoVec;
import vessel.sys.Libc;
import vessel.sys.SysException;
import vessel.sys.UnixSocket;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The host side of virtio-vsock as Firecracker has it: Unix sockets, all non-blocking, waited on by one
 * epoll instance. It knows nothing of virtqueues, packets or credit; {@link VirtioVsock} drives it.
 *
 * <ul>
 * <li>A listening socket at {@code uds}. A host client connects and sends {@code CONNECT <port>\n}; the
 * multiplexer reads that line and reports {@link Events#connectRequested} with the bytes that followed
 * it. A client that sends anything else, or nothing within {@value #CONNECT_LINE_MAX} bytes, is closed.
 * <li>{@link #connect}: a socket to {@code <uds>_<port>}, for a connection the guest asked for. A Unix
 * stream connect completes at once or fails, so it is connected when connect returns;
 * {@link Events#connected} and {@link Events#connectFailed} are for a host side where it need not be.
 * <li>Each socket is watched for what its owner asks ({@link HostSocket#interest}) and reported
 * {@link Events#readable} or {@link Events#writable}; a hang-up or error is reported as both (what the
 * owner watches for), so the owner's next call finds it.
 * </ul>
 *
 * <p>The sockets are bare descriptors ({@link UnixSocket}), not NIO channels, so that stream bytes move
 * with one {@code readv}/{@code writev} between a socket and guest memory ({@link HostSocket#readv},
 * {@link HostSocket#writev}), and waiting and dispatching allocate nothing: a ready event carries its
 * socket's slot and generation, not a key to look up.
 *
 * <p>Threads: one thread calls {@link #select} (it blocks) and then {@link #dispatch}; everything else,
 * dispatch included, runs under the owner's lock. A change of interest from another thread takes effect
 * in the waiting epoll_wait at once.
 *
 * @param <C> what the owner attaches to each socket (its connection)
 */
final class VsockUnixMux<C> implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.devices.virtio");

    /** The longest CONNECT line, newline included: "CONNECT 4294967295\n" and some spaces. */
    static final int CONNECT_LINE_MAX = 32;
    /** Ready events one wait takes; more wait for the next. */
    private static final int EVENTS = 64;
    /** Host clients accepted per dispatch; the listener, still readable, is reported again. */
    private static final int ACCEPTS_PER_DISPATCH = 64;
    private static final int BACKLOG = 128;
    private static final long LISTENER = -1;
    private static final long WAKEUP = -2;
    /** Bytes {@link HostSocket#read(ByteBuffer)} and {@link HostSocket#write(ByteBuffer)} move per call. */
    private static final int SCRATCH = 4096;

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
        private final int fd;
        /** Slot in the mux's table and its generation there: what a ready event carries. */
        private final long token;
        /** What epoll watches for (EPOLLIN, EPOLLOUT), 0 when the socket is not in the epoll set. */
        private int watched;
        private boolean open = true;
        /** The CONNECT line being read: a host client that has not asked for a port yet. */
        private ByteBuffer line;
        private C attachment;

        private HostSocket(VsockUnixMux<C> mux, int fd, long token) {
            this.mux = mux;
            this.fd = fd;
            this.token = token;
        }

        C attachment() {
            return attachment;
        }

        void attach(C connection) {
            this.attachment = connection;
        }

        /** Bytes read into {@code dst}: 0 when none wait now, -1 when the host closed its end for writing. */
        int read(ByteBuffer dst) throws IOException {
            int len = Math.min(dst.remaining(), SCRATCH);
            if (len == 0) {
                return 0;
            }
            long n = Libc.readRaw(fd, mux.scratch, len);
            if (n == 0) {
                return -1;
            }
            n = answer(n, "read");
            for (int i = 0; i < n; i++) {
                dst.put(mux.scratch.get(JAVA_BYTE, i));
            }
            return (int) n;
        }

        /** Bytes of {@code src} the socket took now (maybe 0: its buffer is full). */
        int write(ByteBuffer src) throws IOException {
            int len = Math.min(src.remaining(), SCRATCH);
            for (int i = 0; i < len; i++) {
                mux.scratch.set(JAVA_BYTE, i, src.get(src.position() + i));
            }
            int n = (int) answer(Libc.writeRaw(fd, mux.scratch, len), "write");
            src.position(src.position() + n);
            return n;
        }

        /** Bytes of {@code src[0, len)} (native) the socket took now (maybe 0: its buffer is full). */
        int write(MemorySegment src, int len) throws IOException {
            return (int) answer(Libc.writeRaw(fd, src, len), "write");
        }

        /**
         * One readv into the buffers of {@code iov}'s first {@code count} entries: bytes read, 0 when none
         * wait now, -1 when the host closed its end for writing. Allocates nothing but on an error.
         */
        long readv(IoVec iov, int count) throws IOException {
            long n = Libc.readvRaw(fd, iov, count);
            return n == 0 ? -1 : answer(n, "readv");
        }

        /** One writev from the buffers of {@code iov}'s first {@code count} entries: bytes the socket took (maybe 0). */
        long writev(IoVec iov, int count) throws IOException {
            return answer(Libc.writevRaw(fd, iov, count), "writev");
        }

        /** A call's count, 0 for "not now" (EAGAIN, EINTR); an error becomes an IOException. */
        private static long answer(long n, String call) throws IOException {
            if (n >= 0) {
                return n;
            }
            if (n == -Errno.EAGAIN || n == -Errno.EINTR) {
                return 0;
            }
            throw new IOException("vsock host socket " + call + ": " + Libc.strerror((int) -n));
        }

        /**
         * Firecracker's answer to a CONNECT line once the guest accepted: {@code OK <hostPort>\n}. False
         * when the socket did not take it all (a fresh socket's send buffer always has room for it).
         */
        boolean confirm(int hostPort) {
            byte[] ok = ("OK " + Integer.toUnsignedString(hostPort) + "\n").getBytes(StandardCharsets.US_ASCII);
            try {
                return write(ByteBuffer.wrap(ok)) == ok.length;
            } catch (IOException e) {
                return false;
            }
        }

        /** The host's reads end; a peer already gone changes nothing. */
        void shutdownOutput() {
            if (open) {
                UnixSocket.shutdownOutput(fd);
            }
        }

        /** Watch for these; a closed socket ignores it. */
        void interest(boolean read, boolean write) {
            int ops = (read ? Epoll.EPOLLIN : 0) | (write ? Epoll.EPOLLOUT : 0);
            if (!open || ops == watched) {
                return;
            }
            synchronized (mux) {
                if (mux.released.get()) {
                    return;
                }
                try {
                    mux.epoll.watch(fd, watched, ops, token);
                    watched = ops;
                } catch (SysException e) {
                    throw new IllegalStateException("virtio-vsock: " + e.getMessage(), e);
                }
            }
        }

        boolean isOpen() {
            return open;
        }

        void close() {
            if (!open) {
                return;
            }
            open = false;
            mux.awaiting.remove(this);
            mux.release(this);
            Libc.close(fd); // which takes it out of the epoll set too
        }
    }

    private final Path uds;
    /** {@code <uds>_}, to which a guest connection's port is appended. */
    private final String portPrefix;
    private final int listener;
    private final Epoll epoll;
    private final EventFd wakeup;
    private final MemorySegment scratch = Arena.ofAuto().allocate(SCRATCH);
    /** Sockets by slot (a ready event's token names one); null where free. */
    @SuppressWarnings("unchecked")
    private HostSocket<C>[] sockets = new HostSocket[16];
    /** Each slot's generation, so an event for a socket closed since its wait is not taken for the slot's next. */
    private int[] generations = new int[16];
    /** Host clients that have not sent their CONNECT line yet. */
    private final Set<HostSocket<C>> awaiting = new HashSet<>();
    /** Events the last wait found, for {@link #dispatch}. */
    private int ready;
    private volatile boolean closed;
    private volatile boolean selecting;
    private final java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * Binds the listening socket at {@code uds} (a stale socket file nobody listens on is replaced).
     *
     * @throws IOException the directory is missing, the path is in use, or the socket cannot be made
     */
    VsockUnixMux(Path uds) throws IOException {
        this.uds = uds;
        this.portPrefix = uds + "_";
        removeStaleSocket(uds);
        int l = UnixSocket.listen(uds, BACKLOG);
        Epoll e = null;
        EventFd w = null;
        try {
            e = new Epoll(EVENTS);
            w = new EventFd(Libc.EFD_NONBLOCK);
            e.watch(l, 0, Epoll.EPOLLIN, LISTENER);
            e.watch(w.fd(), 0, Epoll.EPOLLIN, WAKEUP);
            linkDataCalls(w);
        } catch (SysException | RuntimeException ex) {
            if (e != null) {
                e.close();
            }
            if (w != null) {
                w.close();
            }
            Libc.close(l);
            deleteSocketFile(uds);
            throw new IOException("virtio-vsock: " + ex.getMessage(), ex);
        }
        this.listener = l;
        this.epoll = e;
        this.wakeup = w;
    }

    /**
     * Makes each call of the sockets' path once here, while the VM is assembled, on the wakeup eventfd,
     * where none changes anything (a readv of nothing waiting, a writev and a write adding 0, a read of
     * nothing): the first call of each generates code (its downcall stub and adapters, tens of ms on an idle
     * host and seconds in an emulated one), which at a guest's first connect ran between its REQUEST and
     * the device's RESPONSE, beyond Linux's 2-second connect timeout. Registering the listener and the
     * eventfd above went through {@link Epoll#watch}, the path's epoll_ctl, for the same reason.
     */
    private void linkDataCalls(EventFd w) throws SysException {
        scratch.fill((byte) 0);
        IoVec iov = new IoVec(1);
        iov.set(0, scratch, 0, Long.BYTES);
        long r = Libc.readvRaw(w.fd(), iov, 1);
        check(r == -Errno.EAGAIN, "readv", r);
        r = Libc.writevRaw(w.fd(), iov, 1);
        check(r == Long.BYTES, "writev", r);
        r = Libc.writeRaw(w.fd(), scratch, Long.BYTES);
        check(r == Long.BYTES, "write", r);
        check(w.drain() == 0, "read", 0);
    }

    private static void check(boolean expected, String call, long r) {
        if (!expected) {
            throw new IllegalStateException(call + " on the wakeup eventfd: " + (r < 0 ? Libc.strerror((int) -r) : r));
        }
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

    /** A socket for {@code fd} in a free slot, watched for nothing yet. */
    private HostSocket<C> register(int fd) {
        int slot = 0;
        while (slot < sockets.length && sockets[slot] != null) {
            slot++;
        }
        if (slot == sockets.length) {
            sockets = Arrays.copyOf(sockets, slot * 2);
            generations = Arrays.copyOf(generations, slot * 2);
        }
        int generation = ++generations[slot] & 0x7FFF_FFFF;
        HostSocket<C> s = new HostSocket<>(this, fd, ((long) generation << 32) | slot);
        sockets[slot] = s;
        return s;
    }

    private void release(HostSocket<C> s) {
        int slot = (int) s.token;
        if (sockets[slot] == s) {
            sockets[slot] = null;
        }
    }

    /**
     * Connects to {@code <uds>_<port>}; the socket is connected when this returns (see the class comment).
     *
     * @throws IOException nothing listens there (or the socket cannot be made); nothing is left open
     */
    Connecting<C> connect(int port, C attachment) throws IOException {
        // String.concat, not +: a concatenation's first run generates code, on the way to the guest's RESPONSE.
        Path target = Path.of(portPrefix.concat(Integer.toUnsignedString(port)));
        int fd;
        try {
            fd = UnixSocket.connect(target);
        } catch (IOException e) {
            LOG.log(Level.DEBUG, () -> "virtio-vsock: guest connect to " + target + ": " + e.getMessage());
            throw e;
        }
        HostSocket<C> s = register(fd);
        s.attach(attachment);
        return new Connecting<>(s, true);
    }

    /** A socket from {@link #connect}, and whether it is connected already. */
    record Connecting<C>(HostSocket<C> socket, boolean connected) { }

    /**
     * Blocks until a socket has news or {@link #wakeup}; returns at once if news waits.
     *
     * @throws ClosedSelectorException the multiplexer is closed
     */
    void select() throws IOException {
        select(-1);
    }

    /** As {@link #select}, giving up after {@code millis} (for tests). */
    void select(long millis) throws IOException {
        selecting = true;
        try {
            if (closed) {
                throw new ClosedSelectorException();
            }
            ready = epoll.await((int) Math.min(millis, Integer.MAX_VALUE));
        } catch (SysException e) {
            throw new IOException("virtio-vsock: " + e.getMessage(), e);
        } finally {
            selecting = false;
        }
        if (closed) {
            releaseDescriptors();
            throw new ClosedSelectorException();
        }
    }

    /** Makes the selecting thread return from {@link #select} (the owner has work for its next pass). */
    synchronized void wakeup() {
        if (released.get()) {
            return;
        }
        try {
            wakeup.signal();
        } catch (SysException e) {
            throw new IllegalStateException("virtio-vsock: " + e.getMessage(), e);
        }
    }

    /** Reports the news the last {@link #select} found; call under the owner's lock. */
    void dispatch(Events<C> events) {
        int n = ready;
        ready = 0;
        for (int i = 0; i < n && !closed; i++) {
            try {
                ready(epoll.token(i), epoll.events(i), events);
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, "virtio-vsock: socket event failed", e);
            }
        }
    }

    private void ready(long token, int what, Events<C> events) {
        if (token == LISTENER) {
            accept(events);
            return;
        }
        if (token == WAKEUP) {
            try {
                wakeup.drain();
            } catch (SysException e) {
                throw new IllegalStateException("virtio-vsock: " + e.getMessage(), e);
            }
            return;
        }
        int slot = (int) token;
        HostSocket<C> s = slot >= 0 && slot < sockets.length ? sockets[slot] : null;
        if (s == null || s.token != token) {
            return; // closed since the wait
        }
        // A hang-up or an error is news for whatever the owner waits for: its next call finds out what.
        int broken = (what & (Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0 ? Epoll.EPOLLIN | Epoll.EPOLLOUT : 0;
        int news = (what | broken) & s.watched;
        if ((news & Epoll.EPOLLOUT) != 0) {
            events.writable(s);
        }
        if ((news & Epoll.EPOLLIN) != 0 && s.open && (s.watched & Epoll.EPOLLIN) != 0) {
            if (s.line != null) {
                readConnectLine(s, events);
            } else {
                events.readable(s);
            }
        }
    }

    private void accept(Events<C> events) {
        for (int i = 0; i < ACCEPTS_PER_DISPATCH; i++) {
            int fd = UnixSocket.accept(listener);
            if (fd == -Errno.EAGAIN) {
                return;
            }
            if (fd < 0) {
                LOG.log(Level.WARNING, "virtio-vsock: accept on " + uds + " failed: " + Libc.strerror(-fd));
                return;
            }
            if (!events.acceptsClient()) {
                Libc.close(fd); // no driver yet (or too many): the client sees the connection close
                continue;
            }
            HostSocket<C> s = register(fd);
            s.line = ByteBuffer.allocate(CONNECT_LINE_MAX);
            awaiting.add(s);
            s.interest(true, false);
        }
    }

    /** Reads {@code CONNECT <port>\n}; bytes after it are the start of the stream. */
    private void readConnectLine(HostSocket<C> s, Events<C> events) {
        int n;
        try {
            n = s.read(s.line);
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
        s.interest(false, false); // the owner says what to watch for once it has a connection for it
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
     * file; a thread in {@link #select} wakes and gets a ClosedSelectorException. The sockets handed to the
     * owner are the owner's to close.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeAwaitingClients();
        Libc.close(listener);
        deleteSocketFile(uds);
        wakeup();
        // A thread in epoll_wait still uses the epoll and eventfd descriptors: the last one out closes them.
        if (!selecting) {
            releaseDescriptors();
        }
    }

    private synchronized void releaseDescriptors() {
        if (released.compareAndSet(false, true)) {
            epoll.close();
            wakeup.close();
        }
    }

    private static void deleteSocketFile(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // best effort
        }
    }
}
