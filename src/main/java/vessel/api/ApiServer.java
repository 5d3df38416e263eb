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

import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
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

import vessel.api.Model.Fault;
import vessel.sys.FileModeMask;

/**
 * Serves the API over HTTP/1.1 on a Unix domain socket (Jetty). The socket file is created owner-only
 * (0600, under a umask, so there is no moment when others could connect); an existing path is refused if
 * something answers on it and removed if it is a stale socket; {@link #close()} removes it. Bodies over
 * {@link #MAX_PAYLOAD} bytes are refused, as Firecracker's default {@code --http-api-max-payload-size}.
 */
public final class ApiServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.api");

    /** Firecracker's default payload limit (its HTTP_MAX_PAYLOAD_SIZE). */
    public static final int MAX_PAYLOAD = 51_200;
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
        QueuedThreadPool threads = new QueuedThreadPool(8, 2);
        threads.setName("api");
        threads.setDaemon(true);
        Server server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        UnixDomainServerConnector connector = new UnixDomainServerConnector(server, 1, 1, new HttpConnectionFactory(http));
        connector.setUnixDomainPath(socket);
        server.addConnector(connector);
        server.setHandler(new ApiHandler(new Router(vmm), maxPayload));
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

    /** Each request: the body (up to the limit) to the {@link Router}, its reply back. */
    private static final class ApiHandler extends Handler.Abstract {
        private final Router router;
        private final int maxPayload;

        ApiHandler(Router router, int maxPayload) {
            super(InvocationType.BLOCKING);
            this.router = router;
            this.maxPayload = maxPayload;
        }

        @Override
        public boolean handle(Request request, Response response, Callback callback) throws Exception {
            Router.Reply reply;
            long length = request.getLength();
            if (length > maxPayload) {
                reply = tooLarge(length);
            } else {
                byte[] body;
                try (InputStream in = Content.Source.asInputStream(request)) {
                    body = in.readNBytes(maxPayload + 1);
                }
                reply = body.length > maxPayload ? tooLarge(body.length)
                        : router.handle(request.getMethod(), request.getHttpURI().getPath(), body);
            }
            response.setStatus(reply.status());
            if (reply.body() == null) {
                callback.succeeded();
            } else {
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
                response.write(true, ByteBuffer.wrap(reply.body()), callback);
            }
            return true;
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
