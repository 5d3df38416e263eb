package vessel.gdb;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

import vessel.vmm.GuestDebugger;

/**
 * Listens for GDB on a TCP address (loopback unless told otherwise) and serves one connection at a
 * time on a daemon thread, each over the VM's {@link GuestDebugger}. Closing it stops listening.
 */
public final class GdbServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.gdb");
    private final ServerSocket socket;
    private final Thread thread;

    private GdbServer(ServerSocket socket, GuestDebugger debugger) {
        this.socket = socket;
        this.thread = Thread.ofPlatform().name("gdb-stub").daemon(true).unstarted(() -> acceptLoop(debugger));
    }

    /** Binds {@code address} and starts serving; throws if it cannot be bound. */
    public static GdbServer start(InetSocketAddress address, GuestDebugger debugger) throws IOException {
        ServerSocket s = new ServerSocket();
        try {
            s.setReuseAddress(true);
            s.bind(address, 1);
        } catch (IOException e) {
            s.close();
            throw new IOException("cannot listen for gdb on " + address.getHostString() + ":" + address.getPort()
                    + ": " + e.getMessage(), e);
        }
        GdbServer server = new GdbServer(s, debugger);
        server.thread.start();
        return server;
    }

    public int port() {
        return socket.getLocalPort();
    }

    private void acceptLoop(GuestDebugger debugger) {
        while (!socket.isClosed()) {
            try (Socket client = socket.accept()) {
                client.setTcpNoDelay(true);
                new GdbSession(new VmTarget(debugger)).serve(client);
            } catch (IOException e) {
                if (!socket.isClosed()) {
                    LOG.log(System.Logger.Level.WARNING, "gdb connection: " + e.getMessage());
                }
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "gdb connection ended: " + e);
            }
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
