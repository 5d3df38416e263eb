package vessel.display.web;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * The guest's serial console output, passed on to where it went before (the terminal, a log) and copied to
 * every browser console listening. The last {@link #HISTORY} bytes are kept, so a page opened late shows the
 * prompt and what led to it. A listener must not block: the UART's writer (a vCPU) calls it.
 */
public final class SerialFanOut extends OutputStream {
    static final int HISTORY = 64 * 1024;

    private final OutputStream downstream;
    private final Set<Consumer<byte[]>> listeners = ConcurrentHashMap.newKeySet();
    private final byte[] history = new byte[HISTORY];
    private long written;

    public SerialFanOut(OutputStream downstream) {
        this.downstream = downstream;
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        java.util.Objects.checkFromIndexSize(off, len, b.length);
        byte[] copy = java.util.Arrays.copyOfRange(b, off, off + len);
        synchronized (history) {
            for (byte x : copy) {
                history[(int) (written++ % HISTORY)] = x;
            }
            for (Consumer<byte[]> l : listeners) {
                l.accept(copy);
            }
        }
        downstream.write(b, off, len);
    }

    @Override
    public void flush() throws IOException {
        downstream.flush();
    }

    /** Adds a listener and hands it the history first, with no output lost or repeated in between. */
    public void listen(Consumer<byte[]> listener) {
        synchronized (history) {
            int n = (int) Math.min(written, HISTORY);
            byte[] past = new byte[n];
            for (int i = 0; i < n; i++) {
                past[i] = history[(int) ((written - n + i) % HISTORY)];
            }
            if (n > 0) {
                listener.accept(past);
            }
            listeners.add(listener);
        }
    }

    public void unlisten(Consumer<byte[]> listener) {
        listeners.remove(listener);
    }
}
