package vessel.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code vessel screenshot --api-sock PATH -o FILE}: asks a running Vessel's API for {@code GET /screenshot}
 * and writes the PNG. The HTTP exchange is the one request the JDK's client cannot make (it has no Unix
 * sockets), so it is written out here: one request, the connection closed after the answer, the answer bounded.
 */
final class ScreenshotCommand {
    static final String HELP = """
            Usage: vessel screenshot --api-sock PATH -o FILE

            Writes a PNG of the guest's display (a Vessel started with --display or --vnc and
            --api-sock PATH) to FILE ("-" for standard output).""";
    /** 8192 x 8192 pixels of incompressible RGB, and headers. */
    static final int MAX_ANSWER = 8192 * 8192 * 3 + (1 << 20);

    private ScreenshotCommand() {}

    static int run(List<String> args) throws UsageException, IOException {
        Path sock = null;
        String output = null;
        List<String> rest = new ArrayList<>(args);
        while (!rest.isEmpty()) {
            String opt = rest.removeFirst();
            switch (opt) {
                case "-h", "--help" -> {
                    System.out.println(HELP);
                    return 0;
                }
                case "--api-sock" -> sock = Path.of(value(opt, rest));
                case "-o", "--output" -> output = value(opt, rest);
                default -> throw new UsageException("unknown option '" + opt + "' (see vessel screenshot --help)");
            }
        }
        if (sock == null || output == null) {
            throw new UsageException("vessel screenshot needs --api-sock PATH and -o FILE");
        }
        byte[] png = fetch(sock);
        if (output.equals("-")) {
            System.out.write(png);
            System.out.flush();
        } else {
            Files.write(Path.of(output), png);
        }
        return 0;
    }

    /** The PNG, or an IOException with the API's fault_message. */
    static byte[] fetch(Path sock) throws IOException {
        if (!Files.exists(sock)) {
            throw new IOException("no API socket at " + sock);
        }
        byte[] answer;
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(sock));
            ch.write(ByteBuffer.wrap("GET /screenshot HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII)));
            InputStream in = Channels.newInputStream(ch);
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                all.write(buf, 0, n);
                if (all.size() > MAX_ANSWER) {
                    throw new IOException("the API's answer is over " + MAX_ANSWER + " bytes");
                }
            }
            answer = all.toByteArray();
        } catch (java.net.SocketException e) {
            throw new IOException("cannot reach the API at " + sock + ": " + e.getMessage());
        }
        int end = indexOf(answer, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        if (end < 0) {
            throw new IOException("the API at " + sock + " did not answer with HTTP");
        }
        String head = new String(answer, 0, end, StandardCharsets.ISO_8859_1);
        String[] lines = head.split("\r\n");
        String[] status = lines[0].split(" ", 3);
        byte[] body = java.util.Arrays.copyOfRange(answer, end + 4, answer.length);
        for (String h : lines) {
            if (h.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                int length = Integer.parseInt(h.substring(15).strip());
                if (length <= body.length) {
                    body = java.util.Arrays.copyOf(body, length);
                }
            }
        }
        if (status.length < 2 || !status[1].equals("200")) {
            String text = new String(body, StandardCharsets.UTF_8);
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"fault_message\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"")
                    .matcher(text);
            throw new IOException("screenshot: " + (m.find() ? m.group(1).replace("\\\"", "\"") : lines[0]));
        }
        return body;
    }

    private static int indexOf(byte[] b, byte[] what) {
        outer:
        for (int i = 0; i + what.length <= b.length; i++) {
            for (int j = 0; j < what.length; j++) {
                if (b[i + j] != what[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private static String value(String opt, List<String> rest) throws UsageException {
        if (rest.isEmpty()) {
            throw new UsageException(opt + " needs a value");
        }
        return rest.removeFirst();
    }
}
