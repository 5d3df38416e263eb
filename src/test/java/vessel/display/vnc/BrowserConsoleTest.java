package vessel.display.vnc;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import vessel.devices.display.DisplayMode;
import vessel.display.web.SerialFanOut;
import vessel.display.web.WebConsole;
import vessel.testkit.HeadlessChromium;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The browser console without a guest: Debian's chromium loads the page, noVNC connects over the WebSocket
 * and its keys reach the input sink; xterm.js shows the serial history and sends what is typed into it. The
 * nested DisplayLinuxTest does the same against the stock kernel.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class BrowserConsoleTest {
    static final Path ASSETS = Path.of(System.getProperty("user.dir"), ".cache", "web");

    @BeforeAll
    static void fetchAssets() throws Exception {
        Process fetch = new ProcessBuilder("scripts/web-assets.sh", "--quiet").inheritIO().start();
        assertEquals(0, fetch.waitFor(), "scripts/web-assets.sh failed");
    }

    private static WebConsole start(VncServer vnc, SerialFanOut serial, LinkedBlockingQueue<Byte> typed) throws IOException {
        return WebConsole.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), ASSETS, vnc, serial,
                (data, off, len) -> {
                    for (int i = 0; i < len; i++) {
                        typed.add(data[off + i]);
                    }
                });
    }

    @Test
    void noVncShowsTheDisplayAndTypesIntoItAndXtermCarriesTheSerialConsole(@TempDir Path tmp) throws Exception {
        FakeDisplay display = new FakeDisplay(DisplayMode.of(320, 200, 32)).pattern();
        RecordingInputSink input = new RecordingInputSink();
        SerialFanOut serial = new SerialFanOut(new ByteArrayOutputStream());
        serial.write("hello from the guest\r\n".getBytes(StandardCharsets.US_ASCII));
        LinkedBlockingQueue<Byte> typed = new LinkedBlockingQueue<>();
        try (VncServer vnc = VncServer.withoutListener(null, () -> display, input);
             WebConsole web = start(vnc, serial, typed);
             HeadlessChromium chromium = HeadlessChromium.start(tmp.resolve("chromium"), 800, 700)) {
            chromium.navigate("http://127.0.0.1:" + web.localAddress().getPort() + "/");
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
            while (!chromium.evaluate("document.getElementById('display-state').textContent + ' '"
                    + " + document.getElementById('serial-state').textContent").equals("connected connected")) {
                assertTrue(System.nanoTime() < deadline, chromium.evaluate("document.body.innerText"));
                Thread.sleep(100);
            }
            assertEquals(1, vnc.clientCount());
            // noVNC drew the framebuffer: the pattern's top-left pixel is 0x204080
            String pixel = "";
            while (!pixel.equals("32,64,128")) {
                assertTrue(System.nanoTime() < deadline, "noVNC's canvas shows " + pixel);
                pixel = chromium.evaluate("Array.from(document.querySelector('#screen canvas').getContext('2d')"
                        + ".getImageData(5, 5, 1, 1).data.slice(0, 3)).join(',')");
                Thread.sleep(100);
            }
            chromium.evaluate("window.vesselDisplay.focus(), 'ok'");
            chromium.type("ls\n");
            assertEquals(java.util.List.of("key 0x6c down", "key 0x6c up", "key 0x73 down", "key 0x73 up",
                    "key 0xff0d down", "key 0xff0d up"), input.await(6));

            String line = "";
            while (!line.contains("hello from the guest")) {
                assertTrue(System.nanoTime() < deadline, "xterm shows '" + line + "'");
                line = chromium.evaluate("window.vesselTerminal.buffer.active.getLine(0).translateToString()");
                Thread.sleep(100);
            }
            serial.write("second line\r\n".getBytes(StandardCharsets.US_ASCII));
            chromium.evaluate("window.vesselTerminal.focus(), 'ok'");
            chromium.type("x\n");
            assertEquals((byte) 'x', typed.poll(1, TimeUnit.MINUTES));
            assertEquals((byte) '\r', typed.poll(1, TimeUnit.MINUTES));
            while (!chromium.evaluate("window.vesselTerminal.buffer.active.getLine(1).translateToString()").contains("second line")) {
                assertTrue(System.nanoTime() < deadline, "xterm did not show the live output");
                Thread.sleep(100);
            }
        }
    }

    @Test
    void withAPasswordTheWrongOneIsRefusedAndTheRightOneOpensDisplayAndSerial(@TempDir Path tmp) throws Exception {
        byte[] password = "s3cret-pw".getBytes(StandardCharsets.US_ASCII);
        FakeDisplay display = new FakeDisplay(DisplayMode.of(320, 200, 32)).pattern();
        SerialFanOut serial = new SerialFanOut(new ByteArrayOutputStream());
        serial.write("behind the password\r\n".getBytes(StandardCharsets.US_ASCII));
        LinkedBlockingQueue<Byte> typed = new LinkedBlockingQueue<>();
        try (VncServer vnc = VncServer.withoutListener(password, () -> display, new RecordingInputSink());
             WebConsole web = WebConsole.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), ASSETS, vnc,
                     password, serial, (data, off, len) -> {
                         for (int i = 0; i < len; i++) {
                             typed.add(data[off + i]);
                         }
                     });
             HeadlessChromium chromium = HeadlessChromium.start(tmp.resolve("chromium"), 800, 700)) {
            String url = "http://127.0.0.1:" + web.localAddress().getPort() + "/";
            String states = "document.getElementById('display-state').textContent + ' / '"
                    + " + document.getElementById('serial-state').textContent";
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
            for (String attempt : new String[] {"wrong-pw", "s3cret-pw"}) {
                chromium.navigate(url);
                String expected = attempt.equals("wrong-pw") ? "wrong password / wrong password" : "connected / connected";
                while (!chromium.evaluate(states).equals("waiting for the password / waiting for the password")) {
                    assertTrue(System.nanoTime() < deadline, chromium.evaluate(states));
                    Thread.sleep(100);
                }
                chromium.evaluate("document.getElementById('password').value = '" + attempt + "';"
                        + " document.getElementById('connect').click(); 'ok'");
                while (!chromium.evaluate(states).equals(expected)) {
                    assertTrue(System.nanoTime() < deadline, attempt + ": " + chromium.evaluate(states));
                    Thread.sleep(100);
                }
            }
            String line = "";
            while (!line.contains("behind the password")) {
                assertTrue(System.nanoTime() < deadline, "xterm shows '" + line + "'");
                line = chromium.evaluate("window.vesselTerminal.buffer.active.getLine(0).translateToString()");
                Thread.sleep(100);
            }
            String pixel = "";
            while (!pixel.equals("32,64,128")) {
                assertTrue(System.nanoTime() < deadline, "noVNC's canvas shows " + pixel);
                pixel = chromium.evaluate("Array.from(document.querySelector('#screen canvas').getContext('2d')"
                        + ".getImageData(5, 5, 1, 1).data.slice(0, 3)).join(',')");
                Thread.sleep(100);
            }
            chromium.evaluate("window.vesselTerminal.focus(), 'ok'");
            chromium.type("y");
            assertEquals((byte) 'y', typed.poll(1, TimeUnit.MINUTES));
            assertNull(typed.poll(0, TimeUnit.SECONDS), "nothing reached the guest before the password: " + typed);
        }
    }

    @Test
    void theSerialWebSocketWithAPasswordGivesNothingToAWrongAnswer() throws Exception {
        byte[] password = "s3cret-pw".getBytes(StandardCharsets.US_ASCII);
        SerialFanOut serial = new SerialFanOut(OutputStream.nullOutputStream());
        serial.write("history".getBytes(StandardCharsets.US_ASCII));
        LinkedBlockingQueue<Byte> typed = new LinkedBlockingQueue<>();
        try (WebConsole web = WebConsole.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), ASSETS, null,
                password, serial, (data, off, len) -> typed.add(data[off]))) {
            int port = web.localAddress().getPort();
            for (boolean right : new boolean[] {false, true}) {
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                    s.setSoTimeout(10_000);
                    OutputStream out = s.getOutputStream();
                    out.write(("GET /serial HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    InputStream in = s.getInputStream();
                    String head = "";
                    while (!head.endsWith("\r\n\r\n")) {
                        head += (char) in.read();
                    }
                    assertTrue(head.startsWith("HTTP/1.1 101"), head);
                    byte[] challenge = frame(in);
                    assertEquals(VncAuth.CHALLENGE_BYTES, challenge.length);
                    byte[] answer = VncAuth.response(right ? password : "guess".getBytes(StandardCharsets.US_ASCII), challenge);
                    // a masked binary frame, as a client sends; typed bytes ride in the same message after it
                    byte[] payload = java.util.Arrays.copyOf(answer, answer.length + 1);
                    payload[answer.length] = 'z';
                    out.write(new byte[] {(byte) 0x82, (byte) (0x80 | payload.length), 0, 0, 0, 0});
                    out.write(payload);
                    assertEquals(java.util.List.of(0, 0, 0, right ? 0 : 1), java.util.List.of(
                            java.util.stream.IntStream.of(toInts(frame(in))).boxed().toArray()));
                    if (right) {
                        assertEquals("history", new String(frame(in), StandardCharsets.US_ASCII));
                        assertEquals((byte) 'z', typed.poll(1, TimeUnit.MINUTES));
                    } else {
                        assertEquals(-1, in.read(), "a wrong answer ends the connection");
                        assertNull(typed.poll(0, TimeUnit.SECONDS));
                    }
                }
            }
        }
    }

    private static int[] toInts(byte[] b) {
        int[] r = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            r[i] = b[i] & 0xff;
        }
        return r;
    }

    /** One unmasked server frame's payload (short ones only). */
    private static byte[] frame(InputStream in) throws IOException {
        int opcode = in.read();
        int length = in.read();
        assertEquals(0x82, opcode, "a binary frame");
        assertTrue(length < 126);
        return in.readNBytes(length);
    }

    @Test
    void itServesOnlyItsOwnFilesAndOnlyItsOwnOriginsWebSockets() throws Exception {
        SerialFanOut serial = new SerialFanOut(OutputStream.nullOutputStream());
        try (WebConsole web = start(null, serial, new LinkedBlockingQueue<>())) {
            int port = web.localAddress().getPort();
            assertTrue(get(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").startsWith("HTTP/1.1 200"));
            assertTrue(get(port, "GET /novnc/core/rfb.js HTTP/1.1\r\n\r\n").contains("text/javascript"));
            assertTrue(get(port, "GET /novnc/../../../etc/passwd HTTP/1.1\r\n\r\n").startsWith("HTTP/1.1 404"));
            assertTrue(get(port, "GET /etc/passwd HTTP/1.1\r\n\r\n").startsWith("HTTP/1.1 404"));
            String upgrade = "GET /serial HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUpgrade: websocket\r\n"
                    + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
            assertTrue(get(port, upgrade + "Origin: http://evil.example\r\n\r\n").startsWith("HTTP/1.1 403"));
            assertTrue(get(port, upgrade.replace("/serial", "/vnc") + "\r\n").startsWith("HTTP/1.1 404"), "no display");
            assertTrue(get(port, "RFB 003.008\n").startsWith("HTTP/1.1 400"));
        }
    }

    @Test
    void badAddressesAndMissingAssetsAreOneLine(@TempDir Path tmp) throws Exception {
        SerialFanOut serial = new SerialFanOut(OutputStream.nullOutputStream());
        IOException remote = assertThrows(IOException.class, () -> WebConsole.start(
                new InetSocketAddress(InetAddress.getByName("192.0.2.1"), 0), ASSETS, null, serial, (d, o, l) -> { }));
        assertEquals("the browser console on 192.0.2.1 (not a loopback address) needs a password: without one anyone"
                + " who can reach the port has the guest's display and serial console", remote.getMessage());
        IOException missing = assertThrows(IOException.class, () -> WebConsole.start(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), tmp, null, serial, (d, o, l) -> { }));
        assertTrue(missing.getMessage().contains("scripts/web-assets.sh fetches it"), missing.getMessage());
        try (WebConsole first = start(null, serial, new LinkedBlockingQueue<>())) {
            IOException busy = assertThrows(java.net.BindException.class, () -> WebConsole.start(first.localAddress(), ASSETS, null,
                    serial, (d, o, l) -> { }));
            assertTrue(busy.getMessage().startsWith("the browser console cannot listen on 127.0.0.1:"), busy.getMessage());
            assertTrue(!busy.getMessage().contains("\n"));
        }
    }

    private static String get(int port, String request) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            byte[] head = in.readNBytes(200);
            return new String(head, StandardCharsets.ISO_8859_1);
        }
    }
}
