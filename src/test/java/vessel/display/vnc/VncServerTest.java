package vessel.display.vnc;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import vessel.devices.display.Display;
import vessel.devices.display.DisplayMode;
import vessel.testkit.NativeTools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The VNC server against a scripted client and a display in heap memory: protocol, encodings, input, bad clients. */
@Timeout(60)
class VncServerTest {
    private static final InetSocketAddress LOOPBACK = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);

    private final AtomicReference<Display> display = new AtomicReference<>();
    private final RecordingInputSink input = new RecordingInputSink();
    private VncServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private SocketAddress start(byte[] password) throws IOException {
        server = VncServer.start(new VncServer.Options(LOOPBACK, password, "test"), display::get, input);
        return server.localAddress();
    }

    private FakeDisplay show(int w, int h) {
        FakeDisplay d = new FakeDisplay(DisplayMode.of(w, h, 32)).pattern();
        display.set(d);
        return d;
    }

    private static void assertSameFrame(FakeDisplay d, RfbTestClient c, int tolerance) {
        assertEquals(d.mode.width(), c.width);
        for (int y = 0; y < d.mode.height(); y++) {
            for (int x = 0; x < d.mode.width(); x++) {
                int want = d.get(x, y);
                int got = c.at(x, y);
                for (int shift = 0; shift < 24; shift += 8) {
                    int delta = Math.abs((want >>> shift & 0xff) - (got >>> shift & 0xff));
                    if (delta > tolerance) {
                        throw new AssertionError(String.format("pixel %d,%d: %06x, expected %06x", x, y, got, want));
                    }
                }
            }
        }
    }

    @Test
    void rawAndZrleShowTheFrameExactly() throws IOException {
        FakeDisplay d = show(200, 150);
        SocketAddress at = start(null);
        for (int encoding : new int[] {VncSession.ENCODING_RAW, VncSession.ENCODING_ZRLE}) {
            try (RfbTestClient c = new RfbTestClient(at)) {
                c.connect();
                assertEquals(200, c.width);
                assertEquals(150, c.height);
                assertEquals("test", c.name);
                c.setEncodings(encoding);
                c.request(false, 0, 0, c.width, c.height);
                List<RfbTestClient.Rect> rects = c.readUpdate();
                assertTrue(rects.stream().allMatch(r -> r.encoding() == encoding), rects.toString());
                assertSameFrame(d, c, 0);
            }
        }
    }

    @Test
    void aSixteenBitClientGetsTheFrameInItsFormat() throws IOException {
        FakeDisplay d = show(130, 140);
        SocketAddress at = start(null);
        for (int encoding : new int[] {VncSession.ENCODING_RAW, VncSession.ENCODING_ZRLE}) {
            try (RfbTestClient c = new RfbTestClient(at)) {
                c.connect();
                c.setPixelFormat16();
                c.setEncodings(encoding);
                c.request(false, 0, 0, c.width, c.height);
                c.readUpdate();
                assertSameFrame(d, c, 8); // 5 and 6 bits a channel
            }
        }
    }

    @Test
    void anIncrementalUpdateCarriesOnlyTheLinesOfTheWrittenPages() throws Exception {
        FakeDisplay d = show(1024, 64); // a line is one 4 KiB page
        SocketAddress at = start(null);
        try (RfbTestClient c = new RfbTestClient(at)) {
            c.connect();
            c.setEncodings(VncSession.ENCODING_ZRLE);
            c.request(false, 0, 0, c.width, c.height);
            c.readUpdate();
            c.request(true, 0, 0, c.width, c.height);
            Thread.sleep(300);
            assertEquals(0, c.in.available(), "no update while nothing changed");
            d.paintLine(37, 0x00ff00);
            List<RfbTestClient.Rect> rects = c.readUpdate();
            assertEquals(List.of(new RfbTestClient.Rect(0, 37, 1024, 1, VncSession.ENCODING_ZRLE)), rects);
            assertEquals(0x00ff00, c.at(500, 37));
            assertSameFrame(d, c, 0);
        }
    }

    @Test
    void whenTheDirtyLogCannotTellTheWholeFrameIsSent() throws Exception {
        FakeDisplay d = show(64, 64);
        SocketAddress at = start(null);
        try (RfbTestClient c = new RfbTestClient(at)) {
            c.connect();
            c.request(false, 0, 0, 64, 64);
            c.readUpdate();
            c.request(true, 0, 0, 64, 64);
            d.set(3, 60, 0xabcdef); // not marked: only the "unknown" answer brings it
            d.unknown();
            assertEquals(List.of(new RfbTestClient.Rect(0, 0, 64, 64, VncSession.ENCODING_RAW)), c.readUpdate());
            assertEquals(0xabcdef, c.at(3, 60));
        }
    }

    @Test
    void aNewModeIsAnnouncedWithDesktopSize() throws Exception {
        show(64, 48);
        SocketAddress at = start(null);
        try (RfbTestClient c = new RfbTestClient(at)) {
            c.connect();
            c.setEncodings(VncSession.ENCODING_RAW, VncSession.ENCODING_DESKTOP_SIZE);
            c.request(false, 0, 0, c.width, c.height);
            c.readUpdate();
            FakeDisplay bigger = show(100, 80);
            c.request(true, 0, 0, 64, 48);
            List<RfbTestClient.Rect> rects = c.readUpdate();
            assertEquals(new RfbTestClient.Rect(0, 0, 100, 80, VncSession.ENCODING_DESKTOP_SIZE), rects.getFirst());
            assertEquals(100, c.width);
            assertSameFrame(bigger, c, 0);
        }
    }

    @Test
    void keysAndPointerReachTheInputSink() throws Exception {
        show(320, 200);
        SocketAddress at = start(null);
        try (RfbTestClient c = new RfbTestClient(at)) {
            c.connect();
            c.key(0x61, true);
            c.key(0x61, false);
            c.key(0xff0d, true);
            c.pointer(1, 10, 20);
            c.pointer(0, 9999, 9999);
            assertEquals(List.of("key 0x61 down", "key 0x61 up", "key 0xff0d down", "pointer 10,20 buttons 1 of 320x200",
                    "pointer 319,199 buttons 0 of 320x200"), input.await(5));
        }
    }

    @Test
    void rfb33And37ClientsAreServed() throws IOException {
        show(40, 30);
        SocketAddress at = start(null);
        for (String version : new String[] {"RFB 003.003\n", "RFB 003.007\n", "RFB 003.889\n"}) {
            try (RfbTestClient c = new RfbTestClient(at)) {
                int result = c.handshake(version, null);
                assertEquals(version.equals("RFB 003.889\n") ? 0 : -1, result, version);
                c.init();
                c.request(false, 0, 0, 40, 30);
                c.readUpdate();
                assertEquals(0x204080, c.at(5, 5));
            }
        }
    }

    @Test
    void vncAuthenticationLetsTheRightPasswordInAndTellsTheWrongOneWhy() throws IOException {
        show(40, 30);
        SocketAddress at = start("s3cret".getBytes(StandardCharsets.US_ASCII));
        try (RfbTestClient c = new RfbTestClient(at)) {
            assertEquals(0, c.handshake("RFB 003.008\n", "s3cret".getBytes(StandardCharsets.US_ASCII)));
            c.init();
            assertEquals(40, c.width);
        }
        try (RfbTestClient c = new RfbTestClient(at)) {
            assertEquals(1, c.handshake("RFB 003.008\n", "guess".getBytes(StandardCharsets.US_ASCII)));
            assertEquals("VNC authentication failed", c.reason());
            assertTrue(c.dropped());
        }
        try (RfbTestClient c = new RfbTestClient(at)) {
            assertEquals(1, c.handshake("RFB 003.003\n", "guess".getBytes(StandardCharsets.US_ASCII)));
        }
    }

    @Test
    void debiansNetVncLogsInWithThePasswordCapturesTheFrameAndTypesWithShift(@TempDir Path tmp) throws Exception {
        FakeDisplay d = show(64, 160);
        SocketAddress at = start("s3cret".getBytes(StandardCharsets.US_ASCII));
        Path png = tmp.resolve("capture.png");
        String out = vessel.testkit.NetVnc.run(tmp, at, "s3cret", png, "eA+1\n");
        assertTrue(out.contains("typed 5 keys"), out);
        java.awt.image.BufferedImage image = javax.imageio.ImageIO.read(png.toFile());
        assertEquals(64, image.getWidth());
        for (int y = 0; y < 160; y += 7) {
            for (int x = 0; x < 64; x += 5) {
                assertEquals(d.get(x, y), image.getRGB(x, y) & 0xffffff, "pixel " + x + "," + y);
            }
        }
        String up = " up", down = " down";
        assertEquals(List.of("key 0x65" + down, "key 0x65" + up,
                "key 0xffe1" + down, "key 0x41" + down, "key 0x41" + up, "key 0xffe1" + up,
                "key 0xffe1" + down, "key 0x2b" + down, "key 0x2b" + up, "key 0xffe1" + up,
                "key 0x31" + down, "key 0x31" + up, "key 0xff0d" + down, "key 0xff0d" + up), input.await(14));
        AssertionError wrong = assertThrows(AssertionError.class, () -> vessel.testkit.NetVnc.run(tmp, at, "guess", null, ""));
        assertTrue(wrong.getMessage().contains("login failed"), wrong.getMessage());
    }

    @Test
    void vncAuthIsD3desWithTheKeysBitsReversed() {
        // The vncpasswd file of "password" is "password" encrypted with VNC's fixed key by d3des: dbd83cfd727a1458.
        byte[] fixedKey = {23, 82, 107, 6, 35, 78, 88, 7};
        byte[] r = VncAuth.response(fixedKey, "passwordpassword".getBytes(StandardCharsets.US_ASCII));
        assertEquals("dbd83cfd727a1458dbd83cfd727a1458", java.util.HexFormat.of().formatHex(r));
        assertTrue(java.util.Arrays.equals(VncAuth.response("password".getBytes(StandardCharsets.US_ASCII), new byte[16]),
                VncAuth.response("password-and-more".getBytes(StandardCharsets.US_ASCII), new byte[16])),
                "only 8 characters count");
    }

    @Test
    void aNonLoopbackAddressWithoutAPasswordIsRefusedInOneLine() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new VncServer.Options(new InetSocketAddress("0.0.0.0", 5900), null, null));
        assertTrue(e.getMessage().contains("needs a password") && !e.getMessage().contains("\n"), e.getMessage());
        new VncServer.Options(new InetSocketAddress("0.0.0.0", 5900), new byte[] {'x'}, null);
        new VncServer.Options(UnixDomainSocketAddress.of("/tmp/x"), null, null);
    }

    @Test
    void aBusyPortIsOneLine() throws IOException {
        try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            IOException e = assertThrows(IOException.class, () -> VncServer.start(new VncServer.Options(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), busy.getLocalPort()), null, null),
                    display::get, input));
            assertTrue(e.getMessage().startsWith("VNC server cannot listen on 127.0.0.1:" + busy.getLocalPort())
                    && e.getMessage().contains("in use") && !e.getMessage().contains("\n"), e.getMessage());
        }
    }

    @Test
    void garbageAndVanishingClientsAreDroppedAndOthersStillServed() throws Exception {
        show(1024, 768);
        SocketAddress at = start(null);
        try (RfbTestClient c = new RfbTestClient(at)) {
            c.in.readFully(new byte[12]);
            c.out.write("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertTrue(c.dropped(), "an HTTP request is no RFB client");
        }
        try (RfbTestClient c = new RfbTestClient(at)) {
            c.connect();
            c.out.write(new byte[] {99, 1, 2, 3});
            assertTrue(c.dropped(), "unknown message type");
        }
        try (RfbTestClient c = new RfbTestClient(at)) {
            c.connect();
            c.out.write(new byte[] {2, 0, (byte) 0xff, (byte) 0xff}); // 65535 encodings: over the bound
            assertTrue(c.dropped());
        }
        for (int i = 0; i < 5; i++) {
            RfbTestClient c = new RfbTestClient(at);
            c.connect();
            c.request(false, 0, 0, 1024, 768); // 3 MiB of raw pixels, and gone before they are sent
            c.channel.close();
        }
        try (RfbTestClient c = new RfbTestClient(at)) {
            c.connect();
            c.setEncodings(VncSession.ENCODING_ZRLE);
            c.request(false, 0, 0, 1024, 768);
            c.readUpdate();
            assertEquals(0x204080, c.at(5, 5));
        }
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (server.clientCount() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(0, server.clientCount(), "every client's threads ended");
    }

    @Test
    void aUnixSocketServesToo() throws IOException {
        show(40, 30);
        Path dir = NativeTools.projectDir().resolve("target/vnc-test");
        Files.createDirectories(dir);
        Path sock = dir.resolve("vnc-" + ProcessHandle.current().pid() + ".sock");
        Files.deleteIfExists(sock);
        server = VncServer.start(new VncServer.Options(UnixDomainSocketAddress.of(sock), null, null), display::get, input);
        try (RfbTestClient c = new RfbTestClient(UnixDomainSocketAddress.of(sock))) {
            c.connect();
            assertEquals("vessel", c.name);
        }
        IOException e = assertThrows(IOException.class, () -> VncServer.start(new VncServer.Options(
                UnixDomainSocketAddress.of(sock), null, null), display::get, input));
        assertTrue(e.getMessage().contains("in use"), e.getMessage());
        server.close();
        assertFalse(Files.exists(sock), "socket removed on close");
    }
}
