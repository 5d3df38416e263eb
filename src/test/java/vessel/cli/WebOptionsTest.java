package vessel.cli;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.devices.display.DisplayMode;
import vessel.testkit.TestGuests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code vessel run --web HOST:PORT}: what it parses to, and one line with status 2 for what cannot be served
 * (a Unix socket, a bad port, a busy port, a non-loopback address without a password), before any guest runs.
 * WebConsoleKvmTest runs it for real.
 */
class WebOptionsTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void fetchAssets() throws Exception {
        Process fetch = new ProcessBuilder("scripts/web-assets.sh", "--quiet").inheritIO().start();
        assertEquals(0, fetch.waitFor(), "scripts/web-assets.sh failed");
    }

    private static RunOptions parse(String... args) throws Exception {
        RunOptions options = new RunOptions();
        options.parse(List.of(args));
        return options;
    }

    @Test
    void webTakesHostAndPortOrABarePortOnLoopbackAndBringsADisplay() throws Exception {
        RunOptions o = parse("--kernel", "/k", "--web", "127.0.0.1:8080");
        assertEquals(new InetSocketAddress("127.0.0.1", 8080), o.display.web);
        assertEquals(DisplayMode.of(1024, 768, 32), o.display.modeForVm());
        assertNull(o.display.vncOptions(), "no VNC listener of its own");
        assertEquals(new InetSocketAddress("127.0.0.1", 9000), parse("--kernel", "/k", "--web=9000").display.web);
        assertEquals(new InetSocketAddress("::1", 0), parse("--kernel", "/k", "--web", "[::1]:0").display.web);
        assertEquals(DisplayMode.of(640, 480, 32),
                parse("--kernel", "/k", "--display", "640x480x32", "--web", "0").display.modeForVm());
    }

    @Test
    void offLoopbackWebNeedsThePasswordFileWhichVncAndWebShare() throws Exception {
        UsageException e = assertThrows(UsageException.class,
                () -> parse("--kernel", "/k", "--web", "192.0.2.1:8080").display.vncOptions());
        assertEquals("--web on 192.0.2.1 (not a loopback address) needs a password (--vnc-password-file FILE): without"
                + " one anyone who can reach the port has the guest's display and serial console", e.getMessage());
        Path password = dir.resolve("password");
        Files.writeString(password, "secret\n");
        RunOptions o = parse("--kernel", "/k", "--web", "0.0.0.0:8080", "--vnc-password-file", password.toString());
        assertNull(o.display.vncOptions());
        assertEquals(password, o.display.passwordFile);
        e = assertThrows(UsageException.class,
                () -> parse("--kernel", "/k", "--vnc-password-file", password.toString()).display.vncOptions());
        assertEquals("--vnc-password-file needs --vnc ADDRESS or --web ADDRESS", e.getMessage());
    }

    @Test
    void badWebAddressesAreOneLine() {
        UsageException e = assertThrows(UsageException.class, () -> parse("--kernel", "/k", "--web", "unix:/tmp/x"));
        assertEquals("--web takes HOST:PORT (a browser cannot open a Unix socket), not 'unix:/tmp/x'", e.getMessage());
        e = assertThrows(UsageException.class, () -> parse("--kernel", "/k", "--web", "127.0.0.1:65536"));
        assertEquals("--web takes HOST:PORT (port 0 to 65535) or unix:PATH, not '127.0.0.1:65536'", e.getMessage());
        e = assertThrows(UsageException.class, () -> parse("--kernel", "/k", "--web"));
        assertTrue(e.getMessage().contains("--web"), e.getMessage());
    }

    @Test
    void aFirmwareBootHasNoDisplayAndSaysSoNamingTheOptionGiven() {
        for (String option : new String[] {"--vnc", "--web"}) {
            UsageException e = assertThrows(UsageException.class,
                    () -> parse("--firmware", "/fw.bin", "--drive", "path=/disk", option, "0"));
            assertEquals(option + " shows the framebuffer of a directly booted kernel; firmware boots have no display yet"
                    + " (boot with --kernel, or use the serial console)", e.getMessage());
        }
        vessel.vmm.ConfigException e = assertThrows(vessel.vmm.ConfigException.class,
                () -> parse("--firmware", "/fw.bin", "--drive", "path=/disk", "--display", "640x480x32", "--web", "0"));
        assertEquals("--display describes a framebuffer to a directly booted kernel; firmware boots have none yet"
                + " (give --kernel, or leave --display out)", e.getMessage());
    }

    @Test
    void theCliAnswersABusyPortAndAMissingPasswordWithOneLineAndStatusTwo() throws Exception {
        String kernel = TestGuests.get("marker.elf").toString();
        CliTest.Result remote = CliTest.vessel("run", "--kernel", kernel, "--web", "0.0.0.0:0");
        assertEquals(2, remote.status(), remote.err());
        assertEquals("vessel: --web on 0.0.0.0 (not a loopback address) needs a password (--vnc-password-file FILE):"
                + " without one anyone who can reach the port has the guest's display and serial console\n", remote.err());

        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CliTest.Result busy = CliTest.vessel("run", "--kernel", kernel, "--quiet", "--web",
                    "127.0.0.1:" + taken.getLocalPort());
            assertEquals(2, busy.status(), busy.err());
            assertTrue(busy.err().matches("vessel: the browser console cannot listen on 127\\.0\\.0\\.1:"
                    + taken.getLocalPort() + ": [^\n]+\n"), busy.err());
            assertEquals("", busy.out(), "no guest ran");
        }
    }
}
