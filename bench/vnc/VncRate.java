import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Arrays;

import vessel.devices.display.Display;
import vessel.devices.display.DisplayMode;
import vessel.devices.input.InputSink;
import vessel.display.vnc.VncServer;

/**
 * Frames per second and bytes per frame through Vessel's VNC server, for a full-screen change and a one-line
 * change, Raw and ZRLE, at 1024x768x32 over loopback TCP. The "guest" is this program: it writes the
 * framebuffer and marks the pages it wrote as KVM's dirty log would, then waits for the client to receive
 * the update; so the figures are the server's (poll, encode, send) and the client's receive, not a guest's
 * drawing speed (on an emulating host a guest takes about a second to fill such a frame).
 */
public class VncRate {
    static final DisplayMode MODE = DisplayMode.of(1024, 768, 32);

    static final class BenchDisplay implements Display {
        final MemorySegment fb = MemorySegment.ofArray(new byte[(int) MODE.size()]);
        private long[] dirty = new long[(int) (MODE.size() / 4096 + 63) / 64];

        synchronized void paint(int fromLine, int lines, int seed) {
            for (int y = fromLine; y < fromLine + lines; y++) {
                for (int x = 0; x < MODE.width(); x++) {
                    // text-like content: few colours per tile, changing with seed
                    int on = ((x / 8 + y / 16 + seed) % 7 == 0) || ((x * 7 + y * 3 + seed) % 11 == 0) ? 1 : 0;
                    fb.set(ValueLayout.JAVA_INT_UNALIGNED, (long) y * MODE.stride() + 4L * x, on == 1 ? 0xaaaaaa : 0x000000);
                }
                long first = (long) y * MODE.stride() / 4096;
                long last = ((long) y * MODE.stride() + MODE.stride() - 1) / 4096;
                for (long p = first; p <= last; p++) {
                    dirty[(int) (p / 64)] |= 1L << (p % 64);
                }
            }
        }

        @Override
        public DisplayMode mode() {
            return MODE;
        }

        @Override
        public MemorySegment framebuffer() {
            return fb;
        }

        @Override
        public synchronized boolean takeDirtyPages(long[] pages) {
            for (int i = 0; i < Math.min(pages.length, dirty.length); i++) {
                pages[i] |= dirty[i];
            }
            Arrays.fill(dirty, 0);
            return true;
        }
    }

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 3;
        BenchDisplay display = new BenchDisplay();
        display.paint(0, MODE.height(), 0);
        try (VncServer server = VncServer.start(new VncServer.Options(new InetSocketAddress(
                InetAddress.getLoopbackAddress(), 0), null, "bench"), () -> display, InputSink.NONE)) {
            for (int encoding : new int[] {0, 16}) {
                for (boolean full : new boolean[] {true, false}) {
                    run(server, display, encoding, full, seconds);
                }
            }
        }
    }

    static void run(VncServer server, BenchDisplay display, int encoding, boolean full, double seconds) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(server.localAddress());
            s.setTcpNoDelay(true);
            DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream(), 1 << 16));
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            RfbClient.handshake(in, out, encoding, MODE.width(), MODE.height());
            RfbClient.request(out, false, MODE.width(), MODE.height());
            long first = RfbClient.readUpdate(in);
            int frames = 0;
            long bytes = 0;
            long start = System.nanoTime();
            long end = start + (long) (seconds * 1e9);
            int seed = 1;
            long painting = 0;
            while (System.nanoTime() < end) {
                RfbClient.request(out, true, MODE.width(), MODE.height());
                long p0 = System.nanoTime();
                if (full) {
                    display.paint(0, MODE.height(), seed++);
                } else {
                    display.paint(seed++ % MODE.height(), 1, seed);
                }
                painting += System.nanoTime() - p0;
                bytes += RfbClient.readUpdate(in);
                frames++;
            }
            System.out.printf("  (painting took %.1f ms a frame)%n", painting / 1e6 / Math.max(1, frames));
            double elapsed = (System.nanoTime() - start) / 1e9;
            System.out.printf("%-4s %-11s frames_per_sec=%.1f bytes_per_frame=%d first_full_frame_bytes=%d%n",
                    encoding == 0 ? "raw" : "zrle", full ? "full-screen" : "one-line", frames / elapsed,
                    frames == 0 ? 0 : bytes / frames, first);
        }
    }
}
