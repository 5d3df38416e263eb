package vessel.api;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * What any local client can send to the API socket. A request head parses or fails with HTTP's own 4xx/5xx
 * and a one-line reason; through a real server, whatever the bytes (heads, bodies, chunked framing,
 * pipelined requests, a connection cut anywhere), every answer is a whole HTTP/1.1 response with a known
 * status, and the server ends each connection in bounded time.
 */
class HttpHeadFuzzTest {
    private static final Pattern STATUS_LINE = Pattern.compile("HTTP/1\\.1 (\\d{3}) [^\\r\\n]*\\r\\n");

    @FuzzTest(maxDuration = "5s")
    void heads(byte[] bytes) {
        try {
            HttpHead head = HttpHead.parse(bytes, 0, bytes.length);
            if (!head.path().startsWith("/") || !HttpHead.isToken(head.method())) {
                throw new AssertionError("accepted " + head);
            }
        } catch (HttpHead.HttpError e) {
            int s = e.status();
            if (s != 400 && s != 431 && s != 501 && s != 505) {
                throw new AssertionError("status " + s + " for a malformed head", e);
            }
            if (e.getMessage() == null || e.getMessage().isBlank() || e.getMessage().chars().anyMatch(c -> c < 0x20)) {
                throw new AssertionError("not a one-line reason: " + e.getMessage(), e);
            }
        }
    }

    private static ApiServer server;
    private static Path socket;

    private static synchronized Path server() throws IOException {
        if (server == null) {
            Path dir = Files.createTempDirectory("http-fuzz");
            socket = dir.resolve("api.sock");
            server = ApiServer.start(socket, new Vmm("http-fuzz", new RouterTest.RecordingLauncher()));
            Runtime.getRuntime().addShutdownHook(new Thread(server::close));
        }
        return socket;
    }

    @FuzzTest(maxDuration = "5s")
    void connections(FuzzedDataProvider data) throws IOException {
        boolean framed = data.consumeBoolean();
        byte[] bytes;
        if (framed) {
            // Mostly well-formed heads, so the fuzzer reaches the bodies and the framing behind them.
            String method = data.pickValue(new String[] {"GET", "PUT", "PATCH"});
            String path = data.pickValue(new String[] {"/", "/machine-config", "/vm", "/mmds", "/x%41", "/%zz"});
            String framing = data.pickValue(new String[] {"Content-Length: " + data.consumeInt(-1, 70_000) + "\r\n",
                "Transfer-Encoding: chunked\r\n", "Expect: 100-continue\r\nContent-Length: 5\r\n", ""});
            String head = method + " " + path + " HTTP/1.1\r\nHost: x\r\n" + framing + "\r\n";
            byte[] rest = data.consumeRemainingAsBytes();
            bytes = new byte[head.length() + rest.length];
            System.arraycopy(head.getBytes(StandardCharsets.ISO_8859_1), 0, bytes, 0, head.length());
            System.arraycopy(rest, 0, bytes, head.length(), rest.length);
        } else {
            bytes = data.consumeRemainingAsBytes();
        }
        String reply;
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(server()))) {
            ByteBuffer out = ByteBuffer.wrap(bytes);
            while (out.hasRemaining()) {
                ch.write(out);
            }
            ch.shutdownOutput();
            reply = readUntilClosed(ch, 15_000);
        }
        // Every response in the reply: a status line with a known status, then its headers.
        int at = 0;
        while (at < reply.length()) {
            Matcher m = STATUS_LINE.matcher(reply);
            if (!m.find(at) || m.start() != at) {
                throw new AssertionError("not an HTTP response at " + at + ": " + reply);
            }
            int status = Integer.parseInt(m.group(1));
            if (status >= 500 && status != 501 && status != 505 && status != 503) {
                throw new AssertionError("status " + status + ": " + reply);
            }
            int headEnd = reply.indexOf("\r\n\r\n", at);
            if (headEnd < 0) {
                throw new AssertionError("a response head without its end: " + reply);
            }
            Matcher len = Pattern.compile("(?i)\r\nContent-Length: (\\d+)\r\n").matcher(reply.substring(at, headEnd + 2));
            int bodyLength = len.find() ? Integer.parseInt(len.group(1)) : 0;
            at = headEnd + 4 + bodyLength;
            if (at > reply.length()) {
                throw new AssertionError("a body shorter than its Content-Length: " + reply);
            }
            if (reply.substring(headEnd, at).contains("\tat ")) {
                throw new AssertionError("a stack trace in a reply: " + reply);
            }
        }
    }

    private static String readUntilClosed(SocketChannel ch, long limitMs) throws IOException {
        long deadline = System.nanoTime() + limitMs * 1_000_000;
        StringBuilder got = new StringBuilder();
        ch.configureBlocking(false);
        try (Selector sel = Selector.open()) {
            ch.register(sel, SelectionKey.OP_READ);
            ByteBuffer buf = ByteBuffer.allocate(8192);
            while (true) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("the server kept the connection open; received: " + got);
                }
                sel.select(Math.max(1, left / 1_000_000));
                sel.selectedKeys().clear();
                int n;
                try {
                    n = ch.read(buf);
                } catch (IOException reset) {
                    return got.toString();
                }
                if (n < 0) {
                    return got.toString();
                }
                got.append(new String(buf.array(), 0, buf.position(), StandardCharsets.ISO_8859_1));
                buf.clear();
            }
        }
    }
}
