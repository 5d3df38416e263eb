package vessel.vmm;

import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.boot.EntryMode;
import vessel.devices.display.Display;
import vessel.devices.display.DisplayMode;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The boot framebuffer under real KVM: a guest's stores land in it, and the dirty log names exactly the pages written. */
@vessel.testkit.KvmTest
@Timeout(120)
class FramebufferKvmTest {
    static final DisplayMode MODE = DisplayMode.of(320, 200, 32);

    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    /** framebuffer.bin's pattern: red = x, green = y, blue = 0x40. */
    static int expectedPixel(int x, int y) {
        return (x & 0xff) << 16 | (y & 0xff) << 8 | 0x40;
    }

    static VmConfig config() throws Exception {
        return VmConfig.builder().kernel(TestGuests.get("framebuffer.bin")).entry(EntryMode.PROTECTED).memory("16M")
                .debugExit(true).display(MODE).build();
    }

    static void awaitConsole(GuestRunTest.Console console, String text) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!console.text().contains(text)) {
            assertTrue(System.nanoTime() < deadline, "no '" + text.strip() + "' within 60 s; console: " + console.text());
            Thread.sleep(20);
        }
    }

    static void send(VirtualMachine vm, String s) throws InterruptedException {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        vm.sendConsoleInput(b, 0, b.length);
    }

    @Test
    void theGuestsPixelsAndOnlyItsWrittenPagesReachTheDisplay() throws Exception {
        GuestRunTest.Console console = new GuestRunTest.Console();
        Display display;
        try (VirtualMachine vm = VirtualMachine.create(config(), console)) {
            display = vm.display().orElseThrow();
            assertEquals(MODE, display.mode());
            vm.start();
            awaitConsole(console, "drawn\n");
            for (int[] p : new int[][] {{0, 0}, {319, 0}, {17, 123}, {319, 199}, {255, 255 % 200}}) {
                int pixel = display.framebuffer().get(ValueLayout.JAVA_INT_UNALIGNED, (long) p[1] * MODE.stride() + p[0] * 4L);
                assertEquals(expectedPixel(p[0], p[1]), pixel, "pixel " + p[0] + "," + p[1]);
            }
            long[] pages = new long[1];
            assertTrue(display.takeDirtyPages(pages), "dirty log unavailable");
            assertEquals(-1L >>> (64 - 63), pages[0], "all 63 pages of the frame drawn");
            pages[0] = 0;
            assertTrue(display.takeDirtyPages(pages));
            assertEquals(0, pages[0], "nothing written since");

            send(vm, "l");
            awaitConsole(console, "line\n");
            assertTrue(display.takeDirtyPages(pages));
            // line 100 is bytes 128000-129279: page 31 alone
            assertEquals(1L << 31, pages[0]);
            assertEquals(0x00ffffff, display.framebuffer().get(ValueLayout.JAVA_INT_UNALIGNED, 100L * MODE.stride() + 40));

            send(vm, "q");
            VmExit exit = vm.awaitExit(60_000);
            assertNotNull(exit);
            assertEquals(39, exit.status());
        }
        // A display server that outlives the VM reads nothing freed.
        assertThrows(IllegalStateException.class, () -> display.framebuffer().get(ValueLayout.JAVA_INT, 0));
        assertTrue(!display.takeDirtyPages(new long[1]));
    }
}
