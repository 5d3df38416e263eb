package vessel.cli;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.Curl;
import vessel.testkit.HeadlessChromium;
import vessel.testkit.Ocr;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;
import vessel.testkit.VesselProcess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a user of {@code vessel run --web} sees, on a guest whose screen is known: marker.elf paints
 * "VESSEL 4711" on a 640x480x32 framebuffer (and only "drawn" on its serial console, so the marker can be
 * read off the display alone). curl fetches the page and its noVNC and xterm.js files; Debian's chromium
 * opens it, and tesseract reads the marker in the screenshot of noVNC's canvas. The API's GET /screenshot of
 * the same guest reads the same.
 */
@vessel.testkit.KvmTest
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class WebConsoleKvmTest {
    static final String MARKER = "VESSEL 4711";
    private static final Pattern ANNOUNCED = Pattern.compile("vessel: browser console on (http://127\\.0\\.0\\.1:(\\d+)/)");

    @TempDir
    Path dir;

    @BeforeAll
    static void fetchAssets() throws Exception {
        Process fetch = new ProcessBuilder("scripts/web-assets.sh", "--quiet").inheritIO().start();
        assertEquals(0, fetch.waitFor(), "scripts/web-assets.sh failed");
    }

    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    @Test
    void curlGetsThePageAndChromiumShowsTheGuestsScreenWhereOcrReadsTheMarker() throws Exception {
        Path out = dir.resolve("out");
        Path err = dir.resolve("err");
        Process vessel = new ProcessBuilder(VesselProcess.command("run", "--kernel", TestGuests.get("marker.elf").toString(),
                "--memory", "16M", "--display", "640x480x32", "--web", "127.0.0.1:0", "--quiet"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
            Matcher announced;
            while (!(announced = ANNOUNCED.matcher(read(err))).find() || !read(out).contains("drawn\n")) {
                assertTrue(vessel.isAlive(), () -> "vessel run ended: " + read(err));
                assertTrue(System.nanoTime() < deadline, () -> "no console or no drawing: " + read(err) + read(out));
                Thread.sleep(50);
            }
            String url = announced.group(1);

            // The page and the libraries it loads, through a real HTTP client.
            Fetched page = curl(url);
            assertEquals("200 text/html; charset=utf-8", page.statusAndType());
            assertTrue(page.body().contains("import RFB from '/novnc/core/rfb.js'") && page.body().contains("/xterm/xterm.js"),
                    page.body());
            Fetched rfb = curl(url + "novnc/core/rfb.js");
            assertEquals("200 text/javascript; charset=utf-8", rfb.statusAndType());
            assertTrue(rfb.body().contains("export default class RFB"), "noVNC's RFB module");
            Fetched xterm = curl(url + "xterm/xterm.js");
            assertEquals("200 text/javascript; charset=utf-8", xterm.statusAndType());
            assertTrue(xterm.body().length() > 100_000, "xterm.js, " + xterm.body().length() + " bytes");
            assertEquals("200 text/css; charset=utf-8", curl(url + "xterm/xterm.css").statusAndType());
            assertEquals("404 text/plain", curl(url + "novnc/../../pom.xml").statusAndType());

            try (HeadlessChromium chromium = HeadlessChromium.start(dir.resolve("chromium"), 900, 800)) {
                chromium.navigate(url);
                while (!chromium.evaluate("document.getElementById('display-state').textContent").equals("connected")) {
                    assertTrue(System.nanoTime() < deadline, chromium.evaluate("document.body.innerText"));
                    Thread.sleep(100);
                }
                // noVNC's canvas, where the page shows it: the screenshot is cut to it, so what tesseract reads
                // was drawn there (not in the page's text or its terminal).
                String rect = "";
                String text = "";
                BufferedImage screen = null;
                while (!text.contains(MARKER)) {
                    assertTrue(System.nanoTime() < deadline, "tesseract read '" + text + "' on noVNC's canvas " + rect
                            + ", not '" + MARKER + "'");
                    Thread.sleep(500);
                    rect = chromium.evaluate("(() => { const c = document.querySelector('#screen canvas');"
                            + " const r = c.getBoundingClientRect();"
                            + " return [Math.round(r.x), Math.round(r.y), c.width, c.height].join(','); })()");
                    int[] r = java.util.Arrays.stream(rect.split(",")).mapToInt(Integer::parseInt).toArray();
                    assertEquals(640, r[2], "noVNC's canvas has the guest's width: " + rect);
                    assertEquals(480, r[3], "noVNC's canvas has the guest's height: " + rect);
                    BufferedImage page1 = ImageIO.read(new ByteArrayInputStream(chromium.screenshot()));
                    screen = page1.getSubimage(r[0], r[1], r[2], r[3]);
                    text = Ocr.read(screen, dir.resolve("browser.png"));
                }
                // marker.elf's white background, and black strokes in the middle row of its text
                assertEquals(0xffffff, screen.getRGB(10, 10) & 0xffffff);
                boolean ink = false;
                for (int x = 144; x < 496; x++) {
                    ink |= (screen.getRGB(x, 240) & 0xffffff) == 0;
                }
                assertTrue(ink, "no black pixel on the marker's middle row");
            }
        } finally {
            vessel.destroy();
            vessel.waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void theApisScreenshotOfTheSameGuestReadsTheMarkerAndABlankScreenDoesNot() throws Exception {
        Path sock = dir.resolve("api.sock");
        Path err = dir.resolve("err");
        Process api = new ProcessBuilder(VesselProcess.command("api", "--api-sock", sock.toString(), "--display", "640x480x32"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(dir.resolve("out").toFile()).redirectError(err.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
            while (!Files.exists(sock)) {
                assertTrue(api.isAlive() && System.nanoTime() < deadline, () -> "vessel api: " + read(err));
                Thread.sleep(50);
            }
            assertEquals(204, Curl.put(sock, "/boot-source", "{\"kernel_image_path\": \""
                    + TestGuests.get("marker.elf") + "\"}").status());
            assertEquals(204, Curl.put(sock, "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 16}").status());
            assertEquals(204, Curl.put(sock, "/actions", "{\"action_type\": \"InstanceStart\"}").status());
            String text = "";
            while (!text.contains(MARKER)) {
                assertTrue(System.nanoTime() < deadline, "tesseract read '" + text + "' in GET /screenshot");
                Thread.sleep(300);
                text = Ocr.read(screenshot(sock), dir.resolve("api.png"));
            }
        } finally {
            api.destroy();
            api.waitFor(30, TimeUnit.SECONDS);
        }
        // the same OCR finds no marker on a blank screen: the check above can fail
        BufferedImage blank = new BufferedImage(640, 480, BufferedImage.TYPE_INT_RGB);
        assertFalse(Ocr.read(blank, dir.resolve("blank.png")).contains(MARKER));
    }

    /** GET /screenshot on the API socket, as bytes. */
    private byte[] screenshot(Path sock) throws Exception {
        Path png = dir.resolve("shot.png");
        Files.deleteIfExists(png);
        Process curl = new ProcessBuilder("curl", "-sS", "--max-time", "60", "--unix-socket", sock.toString(), "-o",
                png.toString(), "-w", "%{http_code}", "http://localhost/screenshot").start();
        String status = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(curl.waitFor(90, TimeUnit.SECONDS));
        assertEquals("200", status, () -> read(png));
        return Files.readAllBytes(png);
    }

    record Fetched(String statusAndType, String body) { }

    /** GET {@code url} with curl: "STATUS CONTENT-TYPE" and the body. */
    private Fetched curl(String url) throws Exception {
        Path body = dir.resolve("body");
        Process curl = new ProcessBuilder("curl", "-sS", "--max-time", "60", "--path-as-is", "-o", body.toString(), "-w",
                "%{http_code} %{content_type}", url).start();
        String status = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(curl.waitFor(90, TimeUnit.SECONDS));
        return new Fetched(status, Files.exists(body) ? Files.readString(body, StandardCharsets.UTF_8) : "");
    }

    static String read(Path p) {
        try {
            return Files.exists(p) ? Files.readString(p, StandardCharsets.ISO_8859_1) : "";
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }
}
