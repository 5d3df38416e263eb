package vessel.display.web;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WebSocketTest {
    /** A client frame: FIN as given, the opcode, masked with {@code mask} as RFC 6455 requires. */
    static byte[] clientFrame(boolean fin, int opcode, byte[] payload, byte[] mask) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write((fin ? 0x80 : 0) | opcode);
        if (payload.length < 126) {
            out.write(0x80 | payload.length);
        } else {
            out.write(0x80 | 126);
            out.write(payload.length >> 8);
            out.write(payload.length);
        }
        out.writeBytes(mask);
        for (int i = 0; i < payload.length; i++) {
            out.write(payload[i] ^ mask[i & 3]);
        }
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** Every byte the server wrote is in whole, unmasked frames with a known opcode. */
    static void assertWholeServerFrames(byte[] b) {
        int i = 0;
        while (i < b.length) {
            if (i + 2 > b.length) {
                throw new AssertionError("a cut frame header at " + i);
            }
            int opcode = b[i] & 0x0f;
            if ((b[i] & 0x80) == 0 || !(opcode == 1 || opcode == 2 || opcode == 8 || opcode == 9 || opcode == 10)) {
                throw new AssertionError("a bad server frame header " + (b[i] & 0xff));
            }
            if ((b[i + 1] & 0x80) != 0) {
                throw new AssertionError("a masked server frame");
            }
            long len = b[i + 1] & 0x7f;
            int header = 2;
            if (len == 126) {
                len = ((b[i + 2] & 0xff) << 8) | (b[i + 3] & 0xff);
                header = 4;
            } else if (len == 127) {
                throw new AssertionError("an answer too large for a control frame");
            }
            i += header + (int) len;
        }
        if (i != b.length) {
            throw new AssertionError("a cut frame at the end");
        }
    }

    @Test
    void theAcceptKeyIsRfc6455sExample() {
        assertEquals("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", WebSocket.acceptKey("dGhlIHNhbXBsZSBub25jZQ=="));
    }

    @Test
    void fragmentsAndMessagesAreOneStreamAndPingsAreAnswered() throws IOException {
        byte[] mask = {1, 2, 3, 4};
        byte[] in = concat(
                clientFrame(false, 2, "RFB ".getBytes(StandardCharsets.US_ASCII), mask),
                clientFrame(true, 9, "hi".getBytes(StandardCharsets.US_ASCII), mask),
                clientFrame(true, 0, "003".getBytes(StandardCharsets.US_ASCII), mask),
                clientFrame(true, 1, ".008\n".getBytes(StandardCharsets.US_ASCII), mask),
                clientFrame(true, 8, new byte[] {0x03, (byte) 0xe8}, mask));
        ByteArrayOutputStream answers = new ByteArrayOutputStream();
        InputStream stream = new WebSocket(new ByteArrayInputStream(in), answers).input();
        assertEquals("RFB 003.008\n", new String(stream.readAllBytes(), StandardCharsets.US_ASCII));
        byte[] a = answers.toByteArray();
        assertArrayEquals(new byte[] {(byte) 0x8a, 2, 'h', 'i', (byte) 0x88, 2, 0x03, (byte) 0xe8}, a, "pong, then close");
    }

    @Test
    void aBrokenClientIsDroppedWithOneReason() {
        byte[] mask = {9, 9, 9, 9};
        assertDropped("unmasked", new byte[] {(byte) 0x82, 1, 'x'});
        assertDropped("reserved bits", concat(new byte[] {(byte) 0xc2}, java.util.Arrays.copyOfRange(clientFrame(true, 2, new byte[1], mask), 1, 7)));
        assertDropped("reserved opcode", clientFrame(true, 3, new byte[1], mask));
        assertDropped("continuation", clientFrame(true, 0, new byte[1], mask));
        assertDropped("new message", concat(clientFrame(false, 2, new byte[1], mask), clientFrame(true, 2, new byte[1], mask)));
        assertDropped("control frame", clientFrame(false, 9, new byte[1], mask));
        assertDropped("control frame", clientFrame(true, 9, new byte[126], mask));
        byte[] huge = {(byte) 0x82, (byte) 0xff, 0, 0, 0, 0, 0x10, 0, 0, 0};
        assertDropped("bytes (at most", huge);
        byte[] negative = {(byte) 0x82, (byte) 0xff, (byte) 0x80, 0, 0, 0, 0, 0, 0, 0};
        assertDropped("top bit", negative);
    }

    private static void assertDropped(String why, byte[] in) {
        IOException e = assertThrows(IOException.class,
                () -> new WebSocket(new ByteArrayInputStream(in), java.io.OutputStream.nullOutputStream()).input().readAllBytes());
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }

    @Test
    void serverFramesUseTheShortestLength() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        WebSocket ws = new WebSocket(new ByteArrayInputStream(new byte[0]), out);
        ws.binaryOutput().write(new byte[300]);
        byte[] b = out.toByteArray();
        assertEquals(304, b.length);
        assertEquals(0x82, b[0] & 0xff);
        assertEquals(126, b[1]);
        assertEquals(300, ((b[2] & 0xff) << 8) | (b[3] & 0xff));
        assertWholeServerFrames(b);
    }

    @Test
    void requestHeadsAreBounded() throws IOException {
        HttpRequest r = HttpRequest.read(new ByteArrayInputStream(("GET /vnc?x=1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n"
                + "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: k\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII)));
        assertTrue(r.isWebSocketUpgrade());
        assertEquals("/vnc", r.pathOnly());
        assertThrows(WebSocketException.class, () -> HttpRequest.read(new ByteArrayInputStream(
                ("GET /" + "a".repeat(HttpRequest.MAX_LINE) + " HTTP/1.1\r\n\r\n").getBytes(StandardCharsets.US_ASCII))));
        assertThrows(WebSocketException.class, () -> HttpRequest.read(new ByteArrayInputStream(
                "RFB 003.008\n".getBytes(StandardCharsets.US_ASCII))));
        assertThrows(WebSocketException.class, () -> HttpRequest.read(new ByteArrayInputStream(
                ("GET / HTTP/1.1\r\n" + "X: y\r\n".repeat(HttpRequest.MAX_HEADERS + 1) + "\r\n").getBytes(StandardCharsets.US_ASCII))));
    }
}
