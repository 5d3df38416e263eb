package vessel.display.vnc;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.boot.EntryMode;
import vessel.devices.display.DisplayMode;
import vessel.testkit.HostTools;
import vessel.testkit.NativeTools;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;
import vessel.vmm.VirtualMachine;
import vessel.vmm.VmConfig;
import vessel.vmm.VmExit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The VNC server in front of a guest on real KVM (guests/framebuffer.S): Debian's vncsnapshot (TightVNC's
 * RFB 3.3 viewer) captures what the guest drew; a scripted client then sees only the lines of the pages
 * the guest wrote next, and its keys reach the input sink.
 */
@vessel.testkit.KvmTest
@Timeout(180)
class VncKvmTest {
    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    static final class Console extends OutputStream {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
            bytes.write(b);
        }

        synchronized String text() {
            return bytes.toString(StandardCharsets.US_ASCII);
        }

        void await(String text) throws InterruptedException {
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!text().contains(text)) {
                assertTrue(System.nanoTime() < deadline, "no '" + text.strip() + "' within 60 s: " + text());
                Thread.sleep(20);
            }
        }
    }

    static int pattern(int x, int y) {
        return (x & 0xff) << 16 | (y & 0xff) << 8 | 0x40;
    }

    /** vncsnapshot takes a display number (port 5900 + N): the first free one of 40 to 99. */
    private static VncServer onADisplayNumber(vessel.display.DisplaySource source, RecordingInputSink input)
            throws java.io.IOException {
        java.io.IOException last = null;
        for (int n = 40; n < 100; n++) {
            try {
                return VncServer.start(new VncServer.Options(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                        5900 + n), null, "kvm"), source, input);
            } catch (java.io.IOException e) {
                last = e;
            }
        }
        throw last;
    }

    @Test
    void aRealViewerCapturesTheGuestsFrameAndUpdatesFollowItsWrites() throws Exception {
        Console console = new Console();
        RecordingInputSink input = new RecordingInputSink();
        VmConfig config = VmConfig.builder().kernel(TestGuests.get("framebuffer.bin")).entry(EntryMode.PROTECTED)
                .memory("16M").debugExit(true).display(DisplayMode.of(320, 200, 32)).build();
        try (VirtualMachine vm = VirtualMachine.create(config, console);
             VncServer server = onADisplayNumber(() -> vm.display().orElse(null), input)) {
            vm.start();
            console.await("drawn\n");
            int display = ((InetSocketAddress) server.localAddress()).getPort() - 5900;

            Path dir = NativeTools.projectDir().resolve("target/vnc-test");
            Files.createDirectories(dir);
            Path jpeg = dir.resolve("snapshot-" + ProcessHandle.current().pid() + ".jpg");
            HostTools.run("vncsnapshot", "-quiet", "-quality", "100", "127.0.0.1:" + display, jpeg.toString());
            BufferedImage image = ImageIO.read(jpeg.toFile());
            assertEquals(320, image.getWidth());
            assertEquals(200, image.getHeight());
            for (int y = 5; y < 200; y += 31) {
                for (int x = 3; x < 320; x += 29) {
                    int got = image.getRGB(x, y) & 0xffffff;
                    int want = pattern(x, y);
                    for (int shift = 0; shift < 24; shift += 8) {
                        assertTrue(Math.abs((got >>> shift & 0xff) - (want >>> shift & 0xff)) <= 16,
                                String.format("pixel %d,%d: %06x, the guest drew %06x (JPEG)", x, y, got, want));
                    }
                }
            }

            try (RfbTestClient c = new RfbTestClient(server.localAddress())) {
                c.connect();
                c.setEncodings(VncSession.ENCODING_ZRLE);
                c.request(false, 0, 0, 320, 200);
                c.readUpdate();
                long frameBytes = c.bytesRead;
                assertEquals(pattern(123, 45), c.at(123, 45));
                assertEquals(pattern(319, 199), c.at(319, 199));

                c.request(true, 0, 0, 320, 200);
                long before = c.bytesRead;
                vm.sendConsoleInput(new byte[] {'l'}, 0, 1);
                console.await("line\n");
                List<RfbTestClient.Rect> rects = c.readUpdate();
                // Line 100 is bytes 128000-129279 of page 31, which holds lines 99 to 102: those and no more.
                assertEquals(List.of(new RfbTestClient.Rect(0, 99, 320, 4, VncSession.ENCODING_ZRLE)), rects);
                assertEquals(0xffffff, c.at(200, 100));
                assertEquals(pattern(200, 101), c.at(200, 101));
                assertTrue(c.bytesRead - before < frameBytes / 10, (c.bytesRead - before) + " bytes for one changed line, "
                        + frameBytes + " for the frame");

                c.key(0xff0d, true);
                c.key(0xff0d, false);
                assertEquals(List.of("key 0xff0d down", "key 0xff0d up"), input.await(2));
            }
            vm.sendConsoleInput(new byte[] {'q'}, 0, 1);
            VmExit exit = vm.awaitExit(60_000);
            assertEquals(39, exit.status());
        }
    }
}
