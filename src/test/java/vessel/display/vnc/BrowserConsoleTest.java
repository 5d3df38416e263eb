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
        assertTrue(remote.getMessage().contains("loopback addresses only"), remote.getMessage());
        IOException missing = assertThrows(IOException.class, () -> WebConsole.start(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), tmp, null, serial, (d, o, l) -> { }));
        assertTrue(missing.getMessage().contains("scripts/web-assets.sh fetches it"), missing.getMessage());
        try (WebConsole first = start(null, serial, new LinkedBlockingQueue<>())) {
            IOException busy = assertThrows(IOException.class, () -> WebConsole.start(first.localAddress(), ASSETS, null,
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
