package vessel.vmm;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import vessel.devices.display.DisplayMode;
import vessel.display.Png;
import vessel.testkit.Cpio;
import vessel.testkit.DefaultImage;
import vessel.testkit.HostTools;
import vessel.testkit.RequiresKvm;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Debian's stock cloud kernel takes the boot framebuffer that screen_info describes (efifb, or simplefb
 * through sysfb) with no driver to load, and its framebuffer console shows what /init writes to the first
 * VT: tesseract reads the marker back from a screenshot.
 */
@vessel.testkit.LinuxGuestTest
class DisplayLinuxTest {
    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    @Test
    @Timeout(value = 60, unit = java.util.concurrent.TimeUnit.MINUTES)
    void theStockKernelsConsoleShowsOnTheFramebufferAndOcrReadsItsMarker(@TempDir Path tmp) throws Exception {
        // Letters whose console glyphs tesseract does not mistake for one another (it read a V as U once;
        // O/Q/D, I/J/L, S/5, B/8 and Z/2 are alike too).
        String letters = "AEFHKMNPRTWXY";
        StringBuilder token = new StringBuilder();
        Random random = new Random();
        for (int i = 0; i < 6; i++) {
            token.append(letters.charAt(random.nextInt(letters.length())));
        }
        String marker = "VESSEL SCREEN " + token;
        Path checks = tmp.resolve("checks.cpio");
        Files.write(checks, new Cpio().directory("etc").directory("etc/vessel-checks.d")
                .file("etc/vessel-checks.d/60-display.sh", """
                        echo "VESSEL-CHECK fb=$(cat /sys/class/graphics/fb0/name 2>/dev/null || echo none)"
                        printf '\\033[2J\\033[H\\n\\n  %s\\n\\n' "%MARKER%" >/dev/tty1
                        echo "VESSEL-CHECK screen=written"
                        """.replace("%MARKER%", marker), 0644).toBytes());
        String cmdline = Files.readString(DefaultImage.file("cmdline")).strip() + " vessel.check=none";
        VmConfig config = VmConfig.builder().kernel(DefaultImage.file("vmlinuz"))
                .initrd(DefaultImage.file("initramfs.cpio.gz")).initrd(checks).memory("256M")
                .display(DisplayMode.of(640, 480, 32)).cmdline(cmdline).build();
        GuestRunTest.Console console = new GuestRunTest.Console();
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            vm.start();
            long deadline = System.nanoTime() + 50L * 60 * 1_000_000_000L;
            while (!console.text().contains("VESSEL-CHECK screen=written")) {
                assertTrue(System.nanoTime() < deadline && vm.state() != VirtualMachine.State.ENDED,
                        "no screen check; console: " + console.text());
                Thread.sleep(200);
            }
            assertTrue(console.text().contains("VESSEL-CHECK fb=EFI VGA") || console.text().contains("VESSEL-CHECK fb=simple"),
                    "the kernel's framebuffer driver took the display: " + console.text());
            String text = "";
            for (int attempt = 0; attempt < 5 && !text.contains(token.toString()); attempt++) {
                Thread.sleep(1000);
                BufferedImage shot = ImageIO.read(new ByteArrayInputStream(Png.of(vm.display().orElseThrow())));
                // fbcon's 8x16 font is small for OCR: three times the size, smoothed.
                BufferedImage big = new BufferedImage(shot.getWidth() * 3, shot.getHeight() * 3, BufferedImage.TYPE_INT_RGB);
                Graphics2D g = big.createGraphics();
                g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
                g.drawImage(shot, 0, 0, big.getWidth(), big.getHeight(), null);
                g.dispose();
                Path png = tmp.resolve("screen.png");
                ImageIO.write(big, "png", png.toFile());
                text = HostTools.run("tesseract", png.toString(), "stdout").replaceAll("\\s+", " ");
            }
            assertTrue(text.contains(token.toString()), "tesseract read '" + text.strip() + "', not '" + marker + "'");
            vm.stop();
        }
    }
}
