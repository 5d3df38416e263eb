package vessel.display.web;

import vessel.sys.AcceptLoop;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.SocketTimeoutException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Locale;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import vessel.display.vnc.VncAuth;
import vessel.display.vnc.VncServer;

/**
 * The browser console ({@code --web HOST:PORT}): one page showing the guest's display through noVNC and its
 * serial console through xterm.js, both over WebSockets on the same port, as websockify does for noVNC:
 * <ul>
 * <li>{@code GET /}: the page (in Vessel's jar); {@code /novnc/...} and {@code /xterm/...}: the libraries,
 * from the folder scripts/web-assets.sh fills, so the page works offline;</li>
 * <li>{@code /vnc}: RFB in binary WebSocket messages, served by the {@link VncServer} (its password, if any,
 * is asked by noVNC);</li>
 * <li>{@code /serial}: the serial console's bytes both ways, after the password's challenge if there is one.</li>
 * </ul>
 * Off loopback it needs a password, the VNC server's: anyone reaching the port would otherwise have the
 * guest's display and shell. The page asks for it once; noVNC answers the VNC server's VNC Authentication with
 * it, and the serial WebSocket asks the same question (a 16-byte challenge, its DES answer as VNC
 * Authentication computes it, then 4 bytes of result as RFB's SecurityResult: 0 for accepted), so the password
 * never crosses the network. WebSockets from another origin (a page from elsewhere, open in the same browser)
 * are refused for the same reason.
 */
public final class WebConsole implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.web");
    private static final SecureRandom RANDOM = new SecureRandom();
    static final int MAX_CONNECTIONS = 32;
    /** A browser sends its request at once; a connection silent this long is dropped. */
    static final int REQUEST_TIMEOUT_MS = 10_000;
    /** Serial output waiting for one slow browser, in chunks: beyond it that browser is dropped. */
    static final int SERIAL_BACKLOG = 1024;

    /** The guest's serial input, for what is typed into the page's terminal. */
    @FunctionalInterface
    public interface SerialInput {
        void send(byte[] data, int off, int len) throws InterruptedException;
    }

    private final ServerSocketChannel listener;
    private final Path assets;
    private final VncServer vnc;
    /** The serial console's password, the VNC server's; null for none (loopback only). */
    private final byte[] password;
    private final SerialFanOut serialOutput;
    private final SerialInput serialInput;
    private final Semaphore connections = new Semaphore(MAX_CONNECTIONS);
    private volatile boolean closed;

    private WebConsole(ServerSocketChannel listener, Path assets, VncServer vnc, byte[] password,
                       SerialFanOut serialOutput, SerialInput serialInput) {
        this.listener = listener;
        this.assets = assets;
        this.vnc = vnc;
        this.password = password;
        this.serialOutput = serialOutput;
        this.serialInput = serialInput;
    }

    /** Checks the folder holds what the page loads; the one line names the script that fetches them. */
    public static void checkAssets(Path assets) throws IOException {
        for (String file : new String[] {"novnc/core/rfb.js", "xterm/xterm.js", "xterm/xterm.css"}) {
            if (!Files.isRegularFile(assets.resolve(file))) {
                throw new IOException("the browser console's JavaScript is missing (no " + assets.resolve(file)
                        + "): scripts/web-assets.sh fetches it");
            }
        }
    }

    /** A console without a password, on a loopback address. */
    public static WebConsole start(InetSocketAddress address, Path assets, VncServer vnc, SerialFanOut serialOutput,
                                   SerialInput serialInput) throws IOException {
        return start(address, assets, vnc, null, serialOutput, serialInput);
    }

    /**
     * Listens on {@code address} and serves; {@code vnc} may be null for a guest without a display.
     * {@code password} (null for none, on loopback only) guards the serial console and must be {@code vnc}'s
     * too. A busy port is a {@link BindException}; a non-loopback address without a password or missing assets
     * is one IOException line.
     */
    public static WebConsole start(InetSocketAddress address, Path assets, VncServer vnc, byte[] password,
                                   SerialFanOut serialOutput, SerialInput serialInput) throws IOException {
        if (address.getAddress() == null) {
            throw new IOException("the browser console cannot listen on " + address.getHostString() + ": unknown host");
        }
        if (password == null && !address.getAddress().isLoopbackAddress()) {
            throw new IOException("the browser console on " + address.getAddress().getHostAddress()
                    + " (not a loopback address) needs a password: without one anyone who can reach the port has"
                    + " the guest's display and serial console");
        }
        if (password != null && password.length == 0) {
            throw new IOException("the browser console's password is empty");
        }
        if (vnc != null && vnc.hasPassword() != (password != null)) {
            throw new IllegalArgumentException("the browser console's password must be its VNC server's");
        }
        checkAssets(assets);
        ServerSocketChannel listener = ServerSocketChannel.open(address.getAddress() instanceof java.net.Inet6Address
                ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET);
        try {
            listener.bind(address, MAX_CONNECTIONS);
        } catch (IOException e) {
            listener.close();
            throw new BindException("the browser console cannot listen on " + address.getAddress().getHostAddress()
                    + ":" + address.getPort() + ": " + e.getMessage());
        }
        WebConsole console = new WebConsole(listener, assets, vnc, password == null ? null : password.clone(),
                serialOutput, serialInput);
        AcceptLoop.unstarted("web-accept", "browser console", listener, console::accepted, LOG).start();
        return console;
    }

    /** Where it listens (with the port the system chose for port 0). */
    public InetSocketAddress localAddress() throws IOException {
        return (InetSocketAddress) listener.getLocalAddress();
    }

    private void accepted(SocketChannel channel) {
        if (!connections.tryAcquire()) {
            closeQuietly(channel);
            return;
        }
        Thread.ofPlatform().name("web-connection").daemon(true).start(() -> {
            boolean handedOver = false;
            try {
                handedOver = handle(channel);
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, () -> "browser console connection dropped: " + e.getMessage());
            } finally {
                connections.release();
                if (!handedOver) {
                    closeQuietly(channel);
                }
            }
        });
    }

    /** Serves one connection's request; true when the VNC server took the channel over. */
    private boolean handle(SocketChannel channel) throws IOException {
        channel.socket().setSoTimeout(REQUEST_TIMEOUT_MS);
        InputStream in = channel.socket().getInputStream();
        OutputStream out = new BufferedOutputStream(channel.socket().getOutputStream(), 1 << 16);
        HttpRequest request;
        try {
            request = HttpRequest.read(in);
        } catch (SocketTimeoutException e) {
            return false;
        } catch (WebSocketException e) {
            respond(out, 400, "text/plain", (e.getMessage() + "\n").getBytes(StandardCharsets.UTF_8));
            return false;
        }
        channel.socket().setSoTimeout(0);
        String path = request.pathOnly();
        if (!request.method().equals("GET")) {
            respond(out, 405, "text/plain", "GET only\n".getBytes(StandardCharsets.UTF_8));
            return false;
        }
        if (request.isWebSocketUpgrade()) {
            if (!sameOrigin(request)) {
                respond(out, 403, "text/plain", "a WebSocket from another origin\n".getBytes(StandardCharsets.UTF_8));
                return false;
            }
            switch (path) {
                case "/vnc" -> {
                    if (vnc == null) {
                        respond(out, 404, "text/plain", "this guest has no display\n".getBytes(StandardCharsets.UTF_8));
                        return false;
                    }
                    WebSocket ws = upgrade(request, in, out);
                    vnc.serve(channel, ws.input(), ws.binaryOutput());
                    return true;
                }
                case "/serial" -> {
                    serial(channel, upgrade(request, in, out));
                    return false;
                }
                default -> {
                    respond(out, 404, "text/plain", "no WebSocket here\n".getBytes(StandardCharsets.UTF_8));
                    return false;
                }
            }
        }
        if (path.equals("/") || path.equals("/index.html")) {
            try (InputStream page = WebConsole.class.getResourceAsStream("console.html")) {
                if (page == null) {
                    throw new IOException("console.html is missing from the jar");
                }
                String html = new String(page.readAllBytes(), StandardCharsets.UTF_8)
                        .replace("%HAS_DISPLAY%", vnc != null ? "true" : "false")
                        .replace("%NEEDS_PASSWORD%", password != null ? "true" : "false");
                respond(out, 200, "text/html; charset=utf-8", html.getBytes(StandardCharsets.UTF_8));
            }
            return false;
        }
        Path file = asset(path);
        if (file == null) {
            respond(out, 404, "text/plain", "not found\n".getBytes(StandardCharsets.UTF_8));
        } else {
            respond(out, 200, contentType(file), Files.readAllBytes(file));
        }
        return false;
    }

    /** The file a path names under /novnc/ or /xterm/, or null: nothing outside those folders is served. */
    Path asset(String path) {
        if (!(path.startsWith("/novnc/") || path.startsWith("/xterm/")) || path.contains("..") || path.contains("\\")
                || path.contains("%") || path.contains("//")) {
            return null;
        }
        Path root = assets.toAbsolutePath().normalize();
        Path file = root.resolve(path.substring(1)).normalize();
        return file.startsWith(root) && Files.isRegularFile(file) ? file : null;
    }

    private static String contentType(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".js")) {
            return "text/javascript; charset=utf-8"; // ES modules load only with a JavaScript type
        }
        if (name.endsWith(".css")) {
            return "text/css; charset=utf-8";
        }
        return "application/octet-stream";
    }

    /** No Origin (not a browser) or the page's own: a browser tab on another site may not drive the guest. */
    private static boolean sameOrigin(HttpRequest request) {
        String origin = request.header("origin");
        return origin.isEmpty() || origin.equalsIgnoreCase("http://" + request.header("host"));
    }

    private static WebSocket upgrade(HttpRequest request, InputStream in, OutputStream out) throws IOException {
        out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: " + WebSocket.acceptKey(request.header("sec-websocket-key")) + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.flush();
        return new WebSocket(in, out);
    }

    private static void respond(OutputStream out, int status, String type, byte[] body) throws IOException {
        String reason = switch (status) {
            case 200 -> "OK";
            case 400 -> "Bad Request";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            default -> "Method Not Allowed";
        };
        out.write(("HTTP/1.1 " + status + " " + reason + "\r\nContent-Type: " + type + "\r\nContent-Length: "
                + body.length + "\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
    }

    /**
     * The serial console over a WebSocket: output (history first) from a queue a sender thread drains, so the
     * UART's writer never waits for a browser; input read here and handed to the guest.
     */
    private void serial(SocketChannel channel, WebSocket ws) throws IOException {
        InputStream fromBrowser = ws.input(); // one stream: what follows the answer stays in it
        if (password != null && !authenticated(channel, ws, fromBrowser)) {
            return;
        }
        BlockingQueue<byte[]> backlog = new ArrayBlockingQueue<>(SERIAL_BACKLOG);
        OutputStream toBrowser = ws.binaryOutput();
        Thread sender = Thread.ofPlatform().name("web-serial-out").daemon(true).unstarted(() -> {
            try {
                while (true) {
                    byte[] chunk = backlog.take();
                    if (chunk.length == 0) {
                        return; // the browser fell behind, or left
                    }
                    toBrowser.write(chunk, 0, chunk.length);
                }
            } catch (InterruptedException | IOException e) {
                // the connection is ending
            }
        });
        Consumer<byte[]> listener = chunk -> {
            if (!backlog.offer(chunk)) {
                backlog.clear();
                backlog.offer(new byte[0]);
            }
        };
        serialOutput.listen(listener);
        sender.start();
        try {
            byte[] buf = new byte[4096];
            int n;
            while (!closed && (n = fromBrowser.read(buf)) > 0) {
                serialInput.send(buf, 0, n);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            serialOutput.unlisten(listener);
            sender.interrupt();
        }
    }

    /**
     * The serial console's VNC Authentication: a random challenge, the client's DES answer within the request
     * timeout, then RFB's SecurityResult (4 bytes: 0 accepted, 1 refused, after which the connection ends).
     */
    private boolean authenticated(SocketChannel channel, WebSocket ws, InputStream fromBrowser) throws IOException {
        byte[] challenge = new byte[VncAuth.CHALLENGE_BYTES];
        RANDOM.nextBytes(challenge);
        OutputStream toBrowser = ws.binaryOutput();
        toBrowser.write(challenge);
        channel.socket().setSoTimeout(REQUEST_TIMEOUT_MS);
        byte[] answer;
        try {
            answer = fromBrowser.readNBytes(VncAuth.CHALLENGE_BYTES);
        } catch (SocketTimeoutException e) {
            return false;
        }
        channel.socket().setSoTimeout(0);
        boolean ok = answer.length == VncAuth.CHALLENGE_BYTES && VncAuth.check(password, challenge, answer);
        toBrowser.write(new byte[] {0, 0, 0, (byte) (ok ? 0 : 1)});
        if (!ok) {
            LOG.log(System.Logger.Level.INFO, "browser console: a serial connection gave a wrong password");
        }
        return ok;
    }

    private static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // already gone
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            listener.close();
        } catch (IOException ignored) {
            // closing
        }
    }
}
