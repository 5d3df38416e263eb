package vessel.api;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.unixdomain.server.UnixDomainServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.util.thread.Scheduler;

import vessel.api.Model.Fault;
import vessel.sys.FileModeMask;

/**
 * Serves the API over HTTP/1.1 on a Unix domain socket (Jetty). The socket file is created owner-only
 * (0600, under a umask, so there is no moment when others could connect); an existing path is refused if
 * something answers on it and removed if it is a stale socket; {@link #close()} removes it. Bodies over
 * {@link #MAX_PAYLOAD} bytes are refused, as Firecracker's default {@code --http-api-max-payload-size}.
 * Like Firecracker, which serves each connection as its bytes arrive, no client waits on another's: each
 * request is read on its own virtual thread, reads are bounded in time ({@link #READ_TIMEOUT},
 * {@link #BODY_DEADLINE}) and size (headers, body), and connections past {@link #MAX_CONNECTIONS} get a 503.
 */
public final class ApiServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.api");

    /** Firecracker's default payload limit (its HTTP_MAX_PAYLOAD_SIZE). */
    public static final int MAX_PAYLOAD = 51_200;
    /**
     * How long a connection may go without sending a byte while the server waits on it (an unfinished
     * header block or body, or an idle keep-alive connection); then it is closed, with a 408 when a request
     * had begun. Jetty's default is 30 s; a client that stalls is answered by nobody for that long.
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
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private final Path path;
    private final Server server;
    private boolean closed;

    private ApiServer(Path path, Server server) {
        this.path = path;
        this.server = server;
    }

    /** Binds {@code path} and serves {@code vmm} on it until {@link #close()}. */
    public static ApiServer start(Path path, Vmm vmm) throws IOException {
        return start(path, vmm, MAX_PAYLOAD);
    }

    public static ApiServer start(Path path, Vmm vmm, int maxPayload) throws IOException {
        Path socket = path.toAbsolutePath();
        claim(socket);
        // Platform threads accept and select only; each request is handled on its own virtual thread, so a
        // request blocked reading a slow body holds no pooled thread. (With handlers on this pool, six stalled
        // bodies, its 8 threads less acceptor and selector, left every other client unanswered for Jetty's
        // 30 s idle timeout.) Requests that change the VM still run one at a time: each Vmm method holds its lock.
        QueuedThreadPool threads = new QueuedThreadPool(8, 2);
        threads.setName("api");
        threads.setDaemon(true);
        threads.setVirtualThreadsExecutor(
                Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("api-request-", 0).factory()));
        Server server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        http.setRequestHeaderSize(MAX_HEADER_BYTES);
        UnixDomainServerConnector connector = new UnixDomainServerConnector(server, 1, 1, new HttpConnectionFactory(http));
        connector.setUnixDomainPath(socket);
        connector.setIdleTimeout(READ_TIMEOUT.toMillis());
        OpenConnections open = new OpenConnections(MAX_CONNECTIONS, server.getScheduler());
        connector.addEventListener(open);
        server.addConnector(connector);
        server.setHandler(new ApiHandler(new Router(vmm), maxPayload, open));
        server.setErrorHandler(new JsonErrors());
        ApiServer api = new ApiServer(socket, server);
        try {
            // bind(2) creates the socket file with mode 0777 & ~umask: 0600 from the first moment.
            FileModeMask.with(0177, () -> {
                server.start();
                return null;
            });
        } catch (Exception e) {
            api.close();
            throw new IOException("cannot serve the API on " + socket + ": " + e.getMessage(), e);
        }
        ProcessHandle.current().info().startInstant().ifPresent(t ->
                vmm.metrics().startupTime(Duration.between(t, Instant.now()).toNanos() / 1000));
        LOG.log(System.Logger.Level.INFO, () -> "API server listening on " + socket);
        return api;
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
            server.stop();
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "API server did not stop cleanly: " + e.getMessage());
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot remove API socket " + path + ": " + e.getMessage());
        }
    }

    /**
     * Counts open connections and marks each one opened beyond the limit, whose requests are refused;
     * closes a connection that has not delivered a request's headers by {@link #FIRST_HEADERS_DEADLINE}.
     * Marking at open (not counting at request time) means a connection once served is never refused
     * later; of connections opened at the same moment, which one is past the limit is a race.
     */
    private static final class OpenConnections implements Connection.Listener {
        private final int limit;
        private final AtomicInteger open = new AtomicInteger();
        private final Scheduler scheduler;
        private final Set<Connection> overLimit = ConcurrentHashMap.newKeySet();
        /** Connections whose first request has not reached the handler yet. */
        private final Set<Connection> awaitingHeaders = ConcurrentHashMap.newKeySet();

        OpenConnections(int limit, Scheduler scheduler) {
            this.limit = limit;
            this.scheduler = scheduler;
        }

        @Override
        public void onOpened(Connection connection) {
            if (open.incrementAndGet() > limit) {
                overLimit.add(connection);
            }
            awaitingHeaders.add(connection);
            scheduler.schedule(() -> {
                if (awaitingHeaders.remove(connection)) {
                    connection.getEndPoint().close(new TimeoutException(
                            "no request headers within " + FIRST_HEADERS_DEADLINE));
                }
            }, FIRST_HEADERS_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
        }

        @Override
        public void onClosed(Connection connection) {
            open.decrementAndGet();
            overLimit.remove(connection);
            awaitingHeaders.remove(connection);
        }

        /** A request's headers are in: its connection is past the first-headers deadline. */
        void headersReceived(Request request) {
            awaitingHeaders.remove(request.getConnectionMetaData().getConnection());
        }

        boolean refused(Request request) {
            return overLimit.contains(request.getConnectionMetaData().getConnection());
        }
    }

    /**
     * Each request: the body (up to the limit) to the {@link Router}, its reply back. Runs on its own
     * virtual thread (see {@link #start}), so a blocking read of a slow body delays only its own client;
     * {@link #READ_TIMEOUT} and {@link #BODY_DEADLINE} end that read.
     */
    private static final class ApiHandler extends Handler.Abstract {
        private final Router router;
        private final int maxPayload;
        private final OpenConnections open;

        ApiHandler(Router router, int maxPayload, OpenConnections open) {
            super(InvocationType.BLOCKING);
            this.router = router;
            this.maxPayload = maxPayload;
            this.open = open;
        }

        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            Answer answer = answer(request);
            Router.Reply reply = answer.reply();
            response.setStatus(reply.status());
            if (answer.close()) {
                response.getHeaders().put(HttpHeader.CONNECTION, HttpHeaderValue.CLOSE.asString());
            }
            if (reply.body() == null) {
                callback.succeeded();
            } else {
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, reply.contentType());
                response.getHeaders().put(HttpHeader.CONTENT_LENGTH, reply.body().length);
                response.write(true, ByteBuffer.wrap(reply.body()), callback);
            }
            return true;
        }

        /** A reply, and whether the connection ends after it (the rest of its bytes are no request we can find). */
        private record Answer(Router.Reply reply, boolean close) { }

        private Answer answer(Request request) {
            open.headersReceived(request);
            if (open.refused(request)) {
                return new Answer(Router.Reply.fault(503, "Too many open connections to the API socket (the limit is "
                        + MAX_CONNECTIONS + ")."), true);
            }
            long length = request.getLength();
            if (length > maxPayload) {
                return new Answer(tooLarge(length), true);
            }
            byte[] body;
            EndPoint endPoint = request.getConnectionMetaData().getConnection().getEndPoint();
            Scheduler.Task deadline = request.getComponents().getScheduler().schedule(
                    () -> endPoint.close(new TimeoutException("request body not complete within " + BODY_DEADLINE)),
                    BODY_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
            try (InputStream in = Content.Source.asInputStream(request)) {
                body = in.readNBytes(maxPayload + 1);
            } catch (IOException e) {
                // Jetty ended the read: the client went quiet for READ_TIMEOUT, passed BODY_DEADLINE (then the
                // connection is closed already and this reply goes nowhere), or broke the framing.
                String why = "Request body not received in time: " + rootMessage(e);
                return new Answer(Router.Reply.fault(408, why), true);
            } finally {
                deadline.cancel();
            }
            if (body.length > maxPayload) {
                return new Answer(tooLarge(body.length), true);
            }
            return new Answer(router.handle(request.getMethod(), request.getHttpURI().getPath(), body), false);
        }

        private static String rootMessage(Throwable e) {
            while (e.getCause() != null && e.getCause() != e) {
                e = e.getCause();
            }
            return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        }

        private Router.Reply tooLarge(long length) {
            return Router.Reply.fault(400, "Request payload with size " + length + " is larger than the limit of "
                    + maxPayload + " allowed by server.");
        }
    }

    /** Jetty's own errors (malformed HTTP, unsupported framing) as {@code fault_message} JSON, not HTML. */
    private static final class JsonErrors extends ErrorHandler {
        @Override
        protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
                                        Callback callback) {
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
            response.write(true, ByteBuffer.wrap(Json.write(new Fault(describe(code, message)))), callback);
        }

        @Override
        public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
            fields.put(new HttpField(HttpHeader.CONTENT_TYPE, "application/json"));
            return ByteBuffer.wrap(Json.writeString(new Fault(describe(status, reason))).getBytes(StandardCharsets.UTF_8));
        }

        private static String describe(int code, String message) {
            return "HTTP " + code + (message == null || message.isBlank() ? "" : ": " + message);
        }
    }
}
