package vessel.api;

import vessel.sys.AcceptLoop;
import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import vessel.api.HttpHead.HttpError;
import vessel.sys.FileModeMask;

/**
 * Serves the API over HTTP/1.1 on a Unix domain socket: a small server of its own ({@link HttpHead} parses
 * the request heads): about a thousand classes fewer to load at start than with Jetty, which served it before.
 * The socket file is created owner-only (0600, under a umask, so there is no moment when others could
 * connect); an existing path is refused if something answers on it and removed if it is a stale socket;
 * {@link #close()} removes it. Bodies over {@link #MAX_PAYLOAD} bytes are refused, as Firecracker's default
 * {@code --http-api-max-payload-size}. Like Firecracker, which serves each connection as its bytes arrive,
 * no client waits on another's: each connection is read on its own virtual thread, reads are bounded in
 * time ({@link #READ_TIMEOUT}, {@link #FIRST_HEADERS_DEADLINE}, {@link #BODY_DEADLINE}) and size (headers,
 * body), and connections past {@link #MAX_CONNECTIONS} get a 503. Keep-alive, pipelining, chunked bodies
 * and {@code Expect: 100-continue} (curl's, for bodies over 1 KiB) are served.
 */
public final class ApiServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.api");

    /** Firecracker's default payload limit (its HTTP_MAX_PAYLOAD_SIZE). */
    public static final int MAX_PAYLOAD = 51_200;
    /**
     * How long a connection may go without sending a byte while the server waits on it (an unfinished
     * header block or body, or an idle keep-alive connection); then it is closed, with a 408 when a request
     * had begun. (Jetty, which served the API before, waited 30 s by default.)
     */
    static final Duration READ_TIMEOUT = Duration.ofSeconds(5);
    /**
     * How long a body may take in all, from the end of its headers: a client that dribbles a byte now and
     * then never trips {@link #READ_TIMEOUT}, so past this its connection is closed. A 51,200-byte body
     * takes microseconds on a Unix socket.
     */
    static final Duration BODY_DEADLINE = Duration.ofSeconds(10);
    /**
     * How long a new connection may take to deliver its first request's headers: one that sends a header
     * byte now and then never trips {@link #READ_TIMEOUT}, so past this it is closed. (Later requests on a
     * keep-alive connection are bounded by the read timeout and the header size only.)
     */
    static final Duration FIRST_HEADERS_DEADLINE = Duration.ofSeconds(10);
    /** Header block limit: a larger one gets a 431. Firecracker's requests carry a handful of headers. */
    static final int MAX_HEADER_BYTES = 8 * 1024;
    /**
     * Open connections served at once; a request on a connection opened beyond this gets a 503 and the
     * connection is closed, so a pile of stalled clients costs the others a clear refusal, not a wait.
     */
    static final int MAX_CONNECTIONS = 64;
    /** How often the deadline watch looks at the open connections. */
    private static final long WATCH_PERIOD_MS = 200;
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private final Path path;
    private final ServerSocketChannel listener;
    private final Router router;
    private final int maxPayload;
    private final Set<Connection> open = ConcurrentHashMap.newKeySet();
    private final Thread.Builder connectionThreads = Thread.ofVirtual().name("api-request-", 0);
    private volatile boolean closed;

    private ApiServer(Path path, ServerSocketChannel listener, Router router, int maxPayload) {
        this.path = path;
        this.listener = listener;
        this.router = router;
        this.maxPayload = maxPayload;
    }

    /** Binds {@code path} and serves {@code vmm} on it until {@link #close()}. */
    public static ApiServer start(Path path, Vmm vmm) throws IOException {
        return start(path, vmm, MAX_PAYLOAD);
    }

    public static ApiServer start(Path path, Vmm vmm, int maxPayload) throws IOException {
        try {
            return start(path, vmm, maxPayload, () -> { });
        } catch (InterruptedException e) {
            throw new AssertionError("nothing to wait for", e);
        }
    }

    /**
     * As {@link #start(Path, Vmm, int)}, running {@code beforeBind} once the socket's channel exists and
     * before it is bound, hence before any client can reach the server: the process's seccomp filters are
     * installed meanwhile, on another thread, and this is where the server waits for them (making the
     * channel is the JDK's SecureRandom seeding, worth overlapping with them).
     */
    public static ApiServer start(Path path, Vmm vmm, int maxPayload, BeforeBind beforeBind)
            throws IOException, InterruptedException {
        Path socket = path.toAbsolutePath();
        claim(socket);
        ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            beforeBind.run();
        } catch (IOException | InterruptedException | RuntimeException e) {
            listener.close();
            throw e;
        }
        try {
            // bind(2) creates the socket file with mode 0777 & ~umask: 0600 from the first moment.
            FileModeMask.with(0177, () -> listener.bind(UnixDomainSocketAddress.of(socket), MAX_CONNECTIONS));
        } catch (IOException e) {
            listener.close();
            throw new IOException("cannot serve the API on " + socket + ": " + e.getMessage(), e);
        }
        ApiServer api = new ApiServer(socket, listener, new Router(vmm), maxPayload);
        Thread acceptor = AcceptLoop.unstarted("api", "API socket", listener, api::accepted, LOG);
        Thread watch = Thread.ofPlatform().daemon().name("api-deadlines").unstarted(api::watchLoop);
        acceptor.start();
        watch.start();
        ProcessHandle.current().info().startInstant().ifPresent(t ->
                vmm.metrics().startupTime(Duration.between(t, Instant.now()).toNanos() / 1000));
        LOG.log(System.Logger.Level.INFO, () -> "API server listening on " + socket);
        return api;
    }

    /** What {@link #start(Path, Vmm, int, BeforeBind)} runs before it binds the socket. */
    @FunctionalInterface
    public interface BeforeBind {
        void run() throws IOException, InterruptedException;
    }

    /** Refuses a path in use; removes a stale socket left by a process that died. */
    static void claim(Path socket) throws IOException {
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        int mode = (int) Files.getAttribute(socket, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new IOException("API socket path " + socket + " exists and is not a socket");
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            throw new IOException("API socket " + socket + " is in use by another process");
        } catch (ConnectException e) {
            LOG.log(System.Logger.Level.INFO, () -> "removing stale API socket " + socket);
            Files.deleteIfExists(socket);
        }
    }

    public Path path() {
        return path;
    }

    /** Stops serving and removes the socket file. Safe to call more than once, and from a shutdown hook. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            listener.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "API server did not stop cleanly: " + e.getMessage());
        }
        for (Connection c : open) {
            c.closeQuietly();
        }
        synchronized (open) {
            open.notifyAll();
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot remove API socket " + path + ": " + e.getMessage());
        }
    }

    private void accepted(SocketChannel channel) {
        // Marked at open, not at request time: a connection once served is never refused later.
        Connection c = new Connection(channel, open.size() >= MAX_CONNECTIONS);
        open.add(c);
        synchronized (open) {
            open.notifyAll();
        }
        if (closed) {
            c.closeQuietly();
        }
        connectionThreads.start(c::serve);
    }

    /**
     * Ends the reads that passed a deadline: the idle bound between bytes, the first request's headers,
     * a body's. One thread for all connections, asleep while there are none. (A blocking channel read has
     * no timeout of its own; shutting the connection's input down ends it, and its thread answers 408.)
     */
    private void watchLoop() {
        try {
            while (!closed) {
                synchronized (open) {
                    while (open.isEmpty() && !closed) {
                        open.wait();
                    }
                }
                Thread.sleep(WATCH_PERIOD_MS);
                long now = System.nanoTime();
                for (Connection c : open) {
                    if (c.armed && now - c.deadline > 0) {
                        c.expire();
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String reason(int status) {
        return switch (status) {
            case 100 -> "Continue";
            case 200 -> "OK";
            case 204 -> "No Content";
            case 400 -> "Bad Request";
            case 404 -> "Not Found";
            case 408 -> "Request Timeout";
            case 431 -> "Request Header Fields Too Large";
            case 500 -> "Internal Server Error";
            case 501 -> "Not Implemented";
            case 503 -> "Service Unavailable";
            case 505 -> "HTTP Version Not Supported";
            default -> "Status " + status;
        };
    }

    /** One client connection: its requests in order, on its own virtual thread. */
    private final class Connection {
        private final SocketChannel channel;
        private final boolean overLimit;
        /** Received and not yet consumed: {@code [start, end)}. */
        private byte[] in = new byte[MAX_HEADER_BYTES + 1024];
        private int start;
        private int end;
        /** When the read in progress is given up (System.nanoTime()). */
        private volatile long deadline;
        /** Whether a read or write is in progress, and {@link #deadline} applies. */
        private volatile boolean armed;
        private volatile boolean expired;
        private volatile boolean writing;
        /** Where the current request's deadlines come from: the first headers' or the body's. */
        private long hardDeadline;

        Connection(SocketChannel channel, boolean overLimit) {
            this.channel = channel;
            this.overLimit = overLimit;
            this.hardDeadline = System.nanoTime() + FIRST_HEADERS_DEADLINE.toNanos();
        }

        void serve() {
            try {
                serveRequests();
            } catch (IOException gone) {
                // the client went away, or its connection was closed by a deadline
            } finally {
                closeQuietly();
                open.remove(this);
            }
        }

        private void serveRequests() throws IOException {
            while (true) {
                int lastLf = readHead();
                if (lastLf < 0) {
                    return;
                }
                HttpHead head;
                try {
                    head = HttpHead.parse(in, start, lastLf);
                } catch (HttpError e) {
                    reply(Router.Reply.fault(e.status(), "HTTP " + e.status() + ": " + e.getMessage()), true);
                    return;
                } finally {
                    start = skipBlankLine(lastLf);
                }
                hardDeadline = Long.MAX_VALUE;
                if (overLimit) {
                    reply(Router.Reply.fault(503, "Too many open connections to the API socket (the limit is "
                            + MAX_CONNECTIONS + ")."), true);
                    return;
                }
                if (head.contentLength() > maxPayload) {
                    reply(tooLarge(head.contentLength()), true);
                    return;
                }
                byte[] body;
                hardDeadline = System.nanoTime() + BODY_DEADLINE.toNanos();
                try {
                    if (head.expectContinue() && (head.chunked() || head.contentLength() > 0)) {
                        write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    }
                    body = head.chunked() ? readChunked() : readExactly((int) Math.max(0, head.contentLength()));
                } catch (HttpError e) {
                    reply(Router.Reply.fault(e.status(), e.getMessage()), true);
                    return;
                } catch (TimedOut e) {
                    reply(Router.Reply.fault(408, "Request body not received in time: " + e.getMessage()), true);
                    return;
                }
                hardDeadline = Long.MAX_VALUE;
                Router.Reply answer = router.handle(head.method(), head.path(), body);
                reply(answer, !head.keepAlive());
                if (!head.keepAlive()) {
                    return;
                }
            }
        }

        /**
         * Reads until a blank line ends a request head; returns where the head's last line ends (the blank
         * line after it is still in the buffer), or -1 when the client closed cleanly between requests.
         */
        private int readHead() throws IOException {
            int scanned = start;
            while (true) {
                // Blank lines before a request line are ignored (RFC 9112 2.2: a client may send a CRLF after a body).
                while (start < end && (in[start] == '\r' || in[start] == '\n')) {
                    start++;
                }
                for (int i = Math.max(scanned, start); i < end; i++) {
                    if (in[i] == '\n' && (i + 1 < end && in[i + 1] == '\n'
                            || i + 2 < end && in[i + 1] == '\r' && in[i + 2] == '\n')) {
                        return i;
                    }
                }
                scanned = Math.max(start, end - 2);
                if (end - start > MAX_HEADER_BYTES) {
                    reply(Router.Reply.fault(431, "HTTP 431: request headers larger than " + MAX_HEADER_BYTES
                            + " bytes"), true);
                    throw new IOException("header block too large");
                }
                int before = start;
                try {
                    if (fill() < 0) {
                        if (start == end) {
                            return -1;
                        }
                        throw new IOException("the connection ended inside a request head");
                    }
                } catch (TimedOut e) {
                    // A request had begun: say why it ends. An idle connection just closes.
                    if (start < end) {
                        reply(Router.Reply.fault(408, "HTTP 408: request headers not received in time"), true);
                    }
                    throw new IOException("timed out");
                }
                scanned -= before - start; // fill() may have moved the unread bytes to the buffer's start
            }
        }

        /** Past the blank line after the head's last line, which ends at {@code lastLf}. */
        private int skipBlankLine(int lastLf) {
            return in[lastLf + 1] == '\n' ? lastLf + 2 : lastLf + 3;
        }

        private byte[] readExactly(int length) throws IOException, TimedOut {
            byte[] body = new byte[length];
            int got = 0;
            while (got < length) {
                if (start == end && fill() < 0) {
                    throw new IOException("the connection ended inside a body");
                }
                int n = Math.min(length - got, end - start);
                System.arraycopy(in, start, body, got, n);
                start += n;
                got += n;
            }
            return body;
        }

        /** A chunked body, refused with the payload limit's message as soon as it grows past the limit. */
        private byte[] readChunked() throws IOException, TimedOut, HttpError {
            byte[] body = new byte[0];
            while (true) {
                String sizeLine = readLine(1024);
                int semi = sizeLine.indexOf(';');
                String hex = (semi >= 0 ? sizeLine.substring(0, semi) : sizeLine).strip();
                if (hex.isEmpty() || hex.length() > 8 || !hex.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                    throw new HttpError(400, "HTTP 400: a malformed chunk size");
                }
                long size = Long.parseLong(hex, 16);
                if (size == 0) {
                    for (int trailers = 0; !readLine(MAX_HEADER_BYTES).isEmpty(); trailers++) {
                        if (trailers == HttpHead.MAX_HEADERS) {
                            throw new HttpError(431, "HTTP 431: too many trailer lines");
                        }
                    }
                    return body;
                }
                if (body.length + size > maxPayload) {
                    throw new HttpError(400, tooLargeMessage(body.length + size));
                }
                int at = body.length;
                body = Arrays.copyOf(body, (int) (at + size));
                byte[] chunk = readExactly((int) size);
                System.arraycopy(chunk, 0, body, at, chunk.length);
                if (!readLine(2).isEmpty()) {
                    throw new HttpError(400, "HTTP 400: a chunk longer than its size");
                }
            }
        }

        /** One line (LF or CRLF ended) of at most {@code max} bytes, without its end. */
        private String readLine(int max) throws IOException, TimedOut, HttpError {
            while (true) {
                for (int i = start; i < end; i++) {
                    if (in[i] == '\n') {
                        int stop = i > start && in[i - 1] == '\r' ? i - 1 : i;
                        String line = new String(in, start, stop - start, StandardCharsets.ISO_8859_1);
                        start = i + 1;
                        return line;
                    }
                }
                if (end - start > max) {
                    throw new HttpError(400, "HTTP 400: a chunk line longer than " + max + " bytes");
                }
                if (fill() < 0) {
                    throw new IOException("the connection ended inside a chunked body");
                }
            }
        }

        /** Reads what the client sent next into the buffer; -1 at its end. Bounded by the deadlines. */
        private int fill() throws IOException, TimedOut {
            if (start == end) {
                start = 0;
                end = 0;
            } else if (end == in.length) {
                System.arraycopy(in, start, in, 0, end - start);
                end -= start;
                start = 0;
            }
            long idle = System.nanoTime() + READ_TIMEOUT.toNanos();
            deadline = hardDeadline != Long.MAX_VALUE && hardDeadline - idle < 0 ? hardDeadline : idle;
            armed = true;
            int n;
            try {
                n = channel.read(ByteBuffer.wrap(in, end, in.length - end));
            } finally {
                armed = false;
            }
            if (expired) {
                throw new TimedOut(hardDeadline != Long.MAX_VALUE && System.nanoTime() - hardDeadline >= 0
                        ? "past its deadline" : "the client sent nothing for " + READ_TIMEOUT.toSeconds() + " s");
            }
            if (n > 0) {
                end += n;
            }
            return n;
        }

        private void reply(Router.Reply reply, boolean close) throws IOException {
            StringBuilder head = new StringBuilder(128).append("HTTP/1.1 ").append(reply.status()).append(' ')
                    .append(reason(reply.status())).append("\r\n");
            byte[] body = reply.body();
            if (body != null) {
                head.append("Content-Type: ").append(reply.contentType()).append("\r\n");
            }
            if (reply.status() != 204) {
                head.append("Content-Length: ").append(body == null ? 0 : body.length).append("\r\n");
            }
            if (close) {
                head.append("Connection: close\r\n");
            }
            head.append("\r\n");
            byte[] h = head.toString().getBytes(StandardCharsets.ISO_8859_1);
            if (body == null || reply.status() == 204) {
                write(h);
            } else {
                byte[] all = Arrays.copyOf(h, h.length + body.length);
                System.arraycopy(body, 0, all, h.length, body.length);
                write(all);
            }
        }

        /** Writes all of {@code bytes}; a client that reads nothing for {@link #BODY_DEADLINE} is closed. */
        private void write(byte[] bytes) throws IOException {
            if (expired && !channel.isOpen()) {
                return;
            }
            ByteBuffer out = ByteBuffer.wrap(bytes);
            writing = true;
            deadline = System.nanoTime() + BODY_DEADLINE.toNanos();
            armed = true;
            try {
                while (out.hasRemaining()) {
                    channel.write(out);
                }
            } finally {
                armed = false;
                writing = false;
            }
        }

        /** Called by the watch: ends the blocked read (its thread then answers 408), or a stuck write. */
        void expire() {
            armed = false;
            expired = true;
            try {
                if (writing) {
                    channel.close();
                } else {
                    channel.shutdownInput();
                }
            } catch (IOException e) {
                closeQuietly();
            }
        }

        void closeQuietly() {
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing a socket: nothing more to do
            }
        }
    }

    /** A read ended by a deadline. */
    private static final class TimedOut extends Exception {
        TimedOut(String message) {
            super(message, null, false, false);
        }
    }

    private Router.Reply tooLarge(long length) {
        return Router.Reply.fault(400, tooLargeMessage(length));
    }

    private String tooLargeMessage(long length) {
        return "Request payload with size " + length + " is larger than the limit of " + maxPayload
                + " allowed by server.";
    }
}
