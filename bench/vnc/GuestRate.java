import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

/**
 * Vessel's and QEMU's VNC servers in front of the same guest (guests/multiboot/fbpaint.c on a bochs-display at
 * 1024x768x32), measured by this one scripted RFB client: for a full-screen and a one-line repaint, Raw and
 * ZRLE, the bytes of the update, the time from the client's request to the whole update received (the server's
 * latency: it includes waiting for the server's next look at the framebuffer), and changes per second end to
 * end (command on the serial console, the guest repaints and answers "k", request, update).
 *
 * Usage: java GuestRate.java SECONDS_PER_CASE NAME COMMAND... [--next NAME COMMAND...]: each COMMAND runs the
 * guest with its serial console on stdin/stdout and its VNC server on 127.0.0.1:{PORT} (replaced here).
 */
public class GuestRate {
    static final int WIDTH = 1024;
    static final int HEIGHT = 768;

    public static void main(String[] args) throws Exception {
        double seconds = Double.parseDouble(args[0]);
        List<List<String>> vmms = new ArrayList<>();
        List<String> current = null;
        for (int i = 1; i < args.length; i++) {
            if (current == null || args[i].equals("--next")) {
                current = new ArrayList<>();
                vmms.add(current);
                if (args[i].equals("--next")) {
                    continue;
                }
            }
            current.add(args[i]);
        }
        for (List<String> vmm : vmms) {
            run(vmm.get(0), vmm.subList(1, vmm.size()), seconds);
        }
    }

    static int freePort() throws IOException {
        for (int port = 5950; port < 6000; port++) {
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress("127.0.0.1", port));
                return port;
            } catch (IOException busy) {
                // the next
            }
        }
        throw new IOException("no free port in 5950-5999");
    }

    static void run(String name, List<String> template, double seconds) throws Exception {
        int port = freePort();
        List<String> command = new ArrayList<>();
        for (String a : template) {
            command.add(a.replace("{PORT}", Integer.toString(port)).replace("{DISPLAY}", Integer.toString(port - 5900)));
        }
        Process vm = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            InputStream serialIn = vm.getInputStream();
            OutputStream serialOut = vm.getOutputStream();
            long started = System.nanoTime();
            StringBuilder console = new StringBuilder();
            while (!console.toString().contains("fbpaint ready\n")) {
                int b = serialIn.read();
                if (b < 0) {
                    throw new IOException(name + ": the guest ended before it was ready: " + console);
                }
                console.append((char) b);
            }
            System.out.printf("%s: guest ready after %.1f s%n", name, (System.nanoTime() - started) / 1e9);
            for (int encoding : new int[] {0, 16}) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port));
                    s.setTcpNoDelay(true);
                    s.setSoTimeout(60_000); // a server that never answers fails the run instead of hanging it
                    DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream(), 1 << 16));
                    DataOutputStream out = new DataOutputStream(s.getOutputStream());
                    RfbClient.handshake(in, out, encoding, WIDTH, HEIGHT);
                    RfbClient.request(out, false, WIDTH, HEIGHT);
                    long first = RfbClient.readUpdate(in);
                    for (char change : new char[] {'f', 'l'}) {
                        int frames = 0;
                        long bytes = 0;
                        long paintNanos = 0;
                        long latencyNanos = 0;
                        long start = System.nanoTime();
                        long end = start + (long) (seconds * 1e9);
                        while (System.nanoTime() < end || frames < 3) {
                            long t0 = System.nanoTime();
                            serialOut.write(change);
                            serialOut.flush();
                            int k;
                            while ((k = serialIn.read()) != 'k') {
                                if (k < 0) {
                                    throw new IOException(name + ": the guest ended");
                                }
                            }
                            long t1 = System.nanoTime();
                            RfbClient.request(out, true, WIDTH, HEIGHT);
                            bytes += RfbClient.readUpdate(in);
                            long t2 = System.nanoTime();
                            paintNanos += t1 - t0;
                            latencyNanos += t2 - t1;
                            frames++;
                        }
                        double elapsed = (System.nanoTime() - start) / 1e9;
                        System.out.printf("%-6s %-4s %-11s changes_per_sec=%.1f bytes_per_update=%d update_latency_ms=%.1f"
                                        + " guest_paint_ms=%.1f (first full frame %d bytes, %d changes)%n",
                                name, encoding == 0 ? "raw" : "zrle", change == 'f' ? "full-screen" : "one-line",
                                frames / elapsed, bytes / frames, latencyNanos / 1e6 / frames, paintNanos / 1e6 / frames,
                                first, frames);
                    }
                }
            }
            vm.getOutputStream().write('q');
            vm.getOutputStream().flush();
        } finally {
            vm.destroy();
            vm.waitFor();
        }
    }
}
