package vessel.cli;

import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.Curl;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;
import vessel.testkit.VesselProcess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code vessel api --display ... --vnc ...} and {@code vessel screenshot}: the VNC server announces itself,
 * a screenshot before boot is one clear line, after boot a PNG of the display's size.
 */
@vessel.testkit.KvmTest
@Timeout(240)
class ScreenshotKvmTest {
    @TempDir
    Path dir;

    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    private static ProcessOutput vessel(String... args) throws Exception {
        Process p = new ProcessBuilder(VesselProcess.command(args)).redirectInput(ProcessBuilder.Redirect.from(
                new File("/dev/null"))).start();
        byte[] out = p.getInputStream().readAllBytes();
        byte[] err = p.getErrorStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        return new ProcessOutput(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    }

    record ProcessOutput(int status, String out, String err) { }

    @Test
    void aScreenshotIsAPngOfTheDisplayAndBeforeBootOneLine() throws Exception {
        Path sock = dir.resolve("api.sock");
        Path err = dir.resolve("err");
        List<String> cmd = new ArrayList<>(VesselProcess.command("api", "--api-sock", sock.toString(),
                "--display", "320x200x16", "--vnc", "127.0.0.1:0"));
        Process api = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(dir.resolve("out").toFile()).redirectError(err.toFile()).start();
        try {
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!Files.exists(sock) && System.nanoTime() < deadline) {
                assertTrue(api.isAlive(), () -> "vessel api ended: " + read(err));
                Thread.sleep(50);
            }
            assertTrue(read(err).matches("(?s)vessel: VNC server on 127\\.0\\.0\\.1:\\d+\n.*"), read(err));

            Path png = dir.resolve("shot.png");
            ProcessOutput early = vessel("screenshot", "--api-sock", sock.toString(), "-o", png.toString());
            assertEquals(1, early.status());
            assertEquals("vessel: screenshot: The microVM has not started: there is no display to capture yet.\n",
                    early.err());

            assertEquals(204, Curl.put(sock, "/boot-source", "{\"kernel_image_path\": \""
                    + TestGuests.get("waiter.elf") + "\"}").status());
            assertEquals(204, Curl.put(sock, "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 16}").status());
            assertEquals(204, Curl.put(sock, "/actions", "{\"action_type\": \"InstanceStart\"}").status());

            ProcessOutput shot = vessel("screenshot", "--api-sock", sock.toString(), "-o", png.toString());
            assertEquals(0, shot.status(), shot.err());
            BufferedImage image = ImageIO.read(png.toFile());
            assertEquals(320, image.getWidth());
            assertEquals(200, image.getHeight());
            assertEquals(0, image.getRGB(160, 100) & 0xffffff, "waiter.elf draws nothing: black");
        } finally {
            api.destroy();
            api.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }
}
