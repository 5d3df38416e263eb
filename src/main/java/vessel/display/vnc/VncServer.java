package vessel.display.vnc;

import vessel.sys.AcceptLoop;
import java.io.EOFException;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import vessel.devices.display.Display;
import vessel.devices.display.LinearFramebuffer;
import vessel.devices.input.InputSink;
import vessel.display.DisplaySource;

/**
 * A VNC server for the guest's display, on TCP or a Unix socket. Each client has two platform threads of its
 * own (reading its messages, sending its updates), so a slow or hostile client delays only itself; none ever
 * touches a vCPU or its locks: pixels are read from the framebuffer's memory, written pages from its dirty
 * log (one poller for all clients), and input goes to an {@link InputSink}, which does not block.
 */
public final class VncServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.vnc");
    /** How often the dirty log is read while clients are connected: at most this many frames a second. */
    static final int FRAMES_PER_SECOND = 60;
    /** A client must finish version, security and initialisation within this. */
    static final long HANDSHAKE_SECONDS = 10;
    static final int MAX_CLIENTS = 16;

    /**
     * Where and how to serve.
     *
     * @param address  an {@link InetSocketAddress} or a {@link UnixDomainSocketAddress}
     * @param password the VNC Authentication password (8 bytes count), or null for security type None
     * @param name     the desktop name clients show
     */
    public record Options(SocketAddress address, byte[] password, String name) {
        public Options {
            if (!(address instanceof InetSocketAddress) && !(address instanceof UnixDomainSocketAddress)) {
                throw new IllegalArgumentException("a VNC server listens on TCP or a Unix socket");
            }
            if (password != null && password.length == 0) {
                throw new IllegalArgumentException("the VNC password is empty");
            }
            if (password == null && address instanceof InetSocketAddress inet && !isLoopback(inet)) {
                throw new IllegalArgumentException("VNC on " + inet.getHostString() + " (not a loopback address) needs"
                        + " a password (--vnc-password-file FILE): without one anyone who can reach the port has the"
                        + " guest's console");
            }
            name = name == null ? "vessel" : name;
        }

        private static boolean isLoopback(InetSocketAddress a) {
            return a.getAddress() != null && a.getAddress().isLoopbackAddress();
        }
    }

    private final Options options;
    private final ServerSocketChannel listener;
    private final DisplaySource source;
    private final InputSink input;
    private final Set<Client> clients = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService timers;
    private final Thread acceptor;
    private final AtomicInteger ids = new AtomicInteger();
    private volatile boolean closed;

    private record Client(int id, SocketChannel channel, VncSession session) { }

    private VncServer(Options options, ServerSocketChannel listener, DisplaySource source, InputSink input) {
        this.options = options;
        this.listener = listener;
        this.source = source;
        this.input = input;
        this.timers = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("vnc-poll")
                .daemon(true).unstarted(r));
        this.acceptor = AcceptLoop.unstarted("vnc-accept", "VNC server", listener,
                channel -> serve(channel, Channels.newInputStream(channel), Channels.newOutputStream(channel)), LOG);
        if (options.password() != null) {
            // The JDK loads DES and seeds SecureRandom on first use: in a JVM under QEMU's emulation (the
            // nested-KVM VM) that took longer than a client's handshake may, and the first client was dropped.
            VncAuth.response(options.password(), new byte[VncAuth.CHALLENGE_BYTES]);
            VncSession.CHALLENGES.nextBytes(new byte[VncAuth.CHALLENGE_BYTES]);
        }
    }

    /**
     * A server with no listener of its own, for clients that come another way ({@link #serve}): the browser
     * console's WebSockets when there is no {@code --vnc}.
     */
    public static VncServer withoutListener(byte[] password, DisplaySource source, InputSink input) throws IOException {
        ServerSocketChannel unbound = ServerSocketChannel.open();
        VncServer server = new VncServer(new Options(new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0),
                password, "vessel"), unbound, source, input);
        server.timers.scheduleAtFixedRate(server::poll, 0, 1000 / FRAMES_PER_SECOND, TimeUnit.MILLISECONDS);
        return server;
    }

    /** Listens and starts serving; a busy or unusable address is one IOException line. */
    public static VncServer start(Options options, DisplaySource source, InputSink input) throws IOException {
        SocketAddress address = options.address();
        ServerSocketChannel listener = ServerSocketChannel.open(address instanceof UnixDomainSocketAddress
                ? StandardProtocolFamily.UNIX : ((InetSocketAddress) address).getAddress() instanceof java.net.Inet6Address
                ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET);
        try {
            if (address instanceof UnixDomainSocketAddress unix && Files.exists(unix.getPath())) {
                throw new BindException("Address already in use (the file exists)");
            }
            listener.bind(address, MAX_CLIENTS);
        } catch (IOException e) {
            listener.close();
            throw new IOException("VNC server cannot listen on " + describe(address) + ": " + e.getMessage());
        } catch (java.nio.channels.UnresolvedAddressException e) {
            listener.close();
            throw new IOException("VNC server cannot listen on " + describe(address) + ": unknown host");
        }
        VncServer server = new VncServer(options, listener, source, input);
        server.acceptor.start();
        server.timers.scheduleAtFixedRate(server::poll, 0, 1000 / FRAMES_PER_SECOND, TimeUnit.MILLISECONDS);
        return server;
    }

    static String describe(SocketAddress a) {
        if (a instanceof UnixDomainSocketAddress u) {
            return "unix:" + u.getPath();
        }
        InetSocketAddress i = (InetSocketAddress) a;
        return (i.getAddress() != null ? i.getAddress().getHostAddress() : i.getHostString()) + ":" + i.getPort();
    }

    /** Where it listens (with the port the system chose for port 0). */
    public SocketAddress localAddress() throws IOException {
        return listener.getLocalAddress();
    }

    /** Whether clients must answer VNC Authentication. */
    public boolean hasPassword() {
        return options.password() != null;
    }

    /** Clients connected now. */
    public int clientCount() {
        return clients.size();
    }

    /**
     * Serves one more client whose RFB bytes come and go through {@code in} and {@code out} (a WebSocket on
     * {@code channel}, for the browser console), on its own threads; closing {@code channel} drops it.
     */
    public void serve(SocketChannel channel, java.io.InputStream in, java.io.OutputStream out) {
        if (closed || clients.size() >= MAX_CLIENTS) {
            LOG.log(System.Logger.Level.WARNING, "VNC client refused: " + (closed ? "closing" : MAX_CLIENTS + " are connected"));
            closeQuietly(channel);
            return;
        }
        int id = ids.incrementAndGet();
        VncSession session = new VncSession(in, out, source, input, options.password(), options.name());
        Client client = new Client(id, channel, session);
        clients.add(client);
        Thread.ofPlatform().name("vnc-client-" + id).daemon(true).start(() -> serve(client));
    }

    /** The client's reader thread: handshake, then messages until it leaves or breaks the protocol. */
    private void serve(Client c) {
        var watchdog = timers.schedule(() -> closeQuietly(c.channel()), HANDSHAKE_SECONDS, TimeUnit.SECONDS);
        Thread sender = null;
        try {
            c.session().handshake();
            watchdog.cancel(false);
            LOG.log(System.Logger.Level.INFO, "VNC client " + c.id() + " connected (RFB 3." + c.session().minorVersion() + ")");
            sender = Thread.ofPlatform().name("vnc-update-" + c.id()).daemon(true).start(() -> send(c));
            while (!closed) {
                c.session().handle(c.session().readMessage());
            }
        } catch (EOFException e) {
            LOG.log(System.Logger.Level.INFO, "VNC client " + c.id() + " disconnected");
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.INFO, "VNC client " + c.id() + " dropped: " + (watchdog.isDone() && !watchdog.isCancelled()
                    ? "no handshake within " + HANDSHAKE_SECONDS + " s" : e.getMessage() != null ? e.getMessage()
                    : e.getClass().getSimpleName()));
        } finally {
            watchdog.cancel(false);
            drop(c);
            if (sender != null) {
                sender.interrupt();
            }
        }
    }

    /** The client's sender thread: an update whenever one is asked for and there is something to send. */
    private void send(Client c) {
        try {
            while (!closed && c.channel().isOpen()) {
                if (!c.session().sendUpdate()) {
                    c.session().awaitWork(1000 / FRAMES_PER_SECOND);
                }
            }
        } catch (InterruptedException e) {
            // dropped
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.INFO, "VNC client " + c.id() + " dropped while sending: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
        } finally {
            drop(c);
        }
    }

    private long[] pages = new long[0];

    /** The poller: one read of the dirty log for every client. */
    private void poll() {
        if (clients.isEmpty()) {
            return;
        }
        try {
            Display d = source.current();
            if (d == null || d.mode() == null) {
                return;
            }
            int words = (LinearFramebuffer.pages(d.framebuffer().byteSize()) + 63) / 64;
            if (pages.length != words) {
                pages = new long[words];
            }
            java.util.Arrays.fill(pages, 0);
            boolean known = d.takeDirtyPages(pages);
            for (Client c : clients) {
                c.session().markDirty(pages, known);
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, () -> "VNC dirty-page poll: " + e);
        }
    }

    private void drop(Client c) {
        if (clients.remove(c)) {
            closeQuietly(c.channel());
            c.session().close();
        }
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
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
        for (Client c : clients) {
            drop(c);
        }
        timers.shutdownNow();
        if (options.address() instanceof UnixDomainSocketAddress unix) {
            try {
                Files.deleteIfExists(unix.getPath());
            } catch (IOException ignored) {
                // best effort
            }
        }
    }
}
