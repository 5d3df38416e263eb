package vessel.sys;

import java.io.IOException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.function.Consumer;

/**
 * The one accept loop of the API socket, the VNC server and the browser console: a daemon platform thread
 * that hands each accepted connection to its server until the listener is closed. Closing the listener is
 * how a server stops it; a failure while the listener is still open is logged once and ends the loop, as a
 * listening socket that fails once (EMFILE aside, which the servers bound themselves) does not recover.
 */
public final class AcceptLoop {
    private AcceptLoop() {
    }

    /**
     * An unstarted thread named {@code threadName} accepting on {@code listener}; {@code what} names the
     * server in the log line a failure leaves on {@code log}.
     */
    public static Thread unstarted(String threadName, String what, ServerSocketChannel listener,
                                   Consumer<SocketChannel> onAccept, System.Logger log) {
        return Thread.ofPlatform().name(threadName).daemon(true).unstarted(() -> {
            while (listener.isOpen()) {
                SocketChannel channel;
                try {
                    channel = listener.accept();
                } catch (IOException e) {
                    if (listener.isOpen()) {
                        log.log(System.Logger.Level.WARNING, what + " stopped accepting: " + e.getMessage());
                    }
                    return;
                }
                onAccept.accept(channel);
            }
        });
    }
}
