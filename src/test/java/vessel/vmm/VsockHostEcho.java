package vessel.vmm;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** The host's side of the vsock checks, speaking Firecracker's Unix-socket protocol. */
final class VsockHostEcho implements AutoCloseable {
    private final ServerSocketChannel server;
    private final CompletableFuture<String> received = new CompletableFuture<>();

    private VsockHostEcho(ServerSocketChannel server) {
        this.server = server;
    }

    /** Listens at {@code path} (where guest connections to a host port arrive); answers "host-echo:" + what it read. */
    static VsockHostEcho listen(Path path) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        VsockHostEcho echo = new VsockHostEcho(server);
        Thread.ofPlatform().daemon(true).name("vsock-host-echo").start(() -> {
            try (SocketChannel c = server.accept()) {
                String text = readAll(c);
                echo.received.complete(text);
                c.write(ByteBuffer.wrap(("host-echo:" + text).getBytes(StandardCharsets.UTF_8)));
            } catch (IOException e) {
                echo.received.completeExceptionally(e);
            }
        });
        return echo;
    }

    /** What the guest sent, once it closed its side. */
    String received() throws Exception {
        return received.get(60, TimeUnit.SECONDS);
    }

    /** CONNECT to guest port {@code port} through the VM's socket, send {@code text}, return the echo. */
    static String connectAndEcho(Path uds, int port, String text) throws IOException {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(uds))) {
            c.write(ByteBuffer.wrap(("CONNECT " + port + "\n").getBytes(StandardCharsets.US_ASCII)));
            StringBuilder line = new StringBuilder();
            ByteBuffer one = ByteBuffer.allocate(1);
            while (line.isEmpty() || line.charAt(line.length() - 1) != '\n') {
                one.clear();
                if (c.read(one) < 0) {
                    return "connection closed after '" + line + "'";
                }
                line.append((char) one.get(0));
            }
            if (!line.toString().startsWith("OK ")) {
                return "no OK: '" + line + "'";
            }
            c.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
            c.shutdownOutput();
            return readAll(c);
        }
    }

    private static String readAll(SocketChannel c) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(4096);
        while (c.read(buf) >= 0) {
            buf.flip();
            out.write(buf.array(), 0, buf.limit());
            buf.clear();
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
