package vessel.vmm;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import vessel.boot.EntryMode;
import vessel.kvm.ExitReason;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs the project's own guests on the real /dev/kvm through the public API. */
@vessel.testkit.KvmTest
@Timeout(120)
class GuestRunTest {
    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    /** A console sink that is safe to read while the vCPU thread writes. */
    static final class Console extends OutputStream {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
            bytes.write(b);
        }

        synchronized String text() {
            return bytes.toString();
        }
    }

    private static VmExit run(VmConfig config, Console console) throws Exception {
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            vm.start();
            VmExit exit = vm.awaitExit(60_000);
            assertTrue(exit != null, "guest did not end within 60 s; console so far: " + console.text());
            return exit;
        }
    }

    @ParameterizedTest
    @CsvSource({
        "real.bin, REAL, vessel real mode ok, 33",
        "protected.bin, PROTECTED, vessel protected mode ok, 35",
        "long.bin, LONG, vessel long mode ok, 37",
    })
    void flatGuestsPrintAndExitThroughTheDebugPort(String guest, EntryMode mode, String message, int status) throws Exception {
        Console console = new Console();
        VmExit exit = run(VmConfig.builder().kernel(TestGuests.get(guest)).entry(mode).memory("16M")
                .debugExit(true).build(), console);
        assertEquals(message + "\n", console.text());
        assertEquals(VmExit.Reason.DEBUG_EXIT, exit.reason());
        assertEquals(status, exit.status());
    }

    @Test
    void theGuestSpeedProbeRunsItsLoopToThePortWrite() throws Exception {
        try (vessel.kvm.Kvm kvm = vessel.kvm.Kvm.open()) {
            GuestSpeed speed = GuestSpeed.measure(kvm);
            assertTrue(speed.nanos() > 0 && speed.mips() > 0.01, "measured " + speed);
        }
    }

    @Test
    void withoutTheDebugPortTheGuestsResetEndsTheVmWithZero() throws Exception {
        Console console = new Console();
        VmExit exit = run(VmConfig.builder().kernel(TestGuests.get("long.bin")).entry(EntryMode.LONG)
                .memory("16M").build(), console);
        assertEquals("vessel long mode ok\n", console.text());
        assertEquals(VmExit.Reason.RESET, exit.reason());
        assertEquals(0, exit.status());
    }

    @Test
    void int3ReachesTheGuestsOwnHandlerAndReturns() throws Exception {
        Console console = new Console();
        VmExit exit = run(VmConfig.builder().kernel(TestGuests.get("int3.bin")).entry(EntryMode.LONG)
                .memory("16M").debugExit(true).build(), console);
        assertEquals("int3 handled\nvessel int3 ok\n", console.text());
        assertEquals(39, exit.status());
    }

    /**
     * The guest's own debug registers, TF and icebp reach its #DB handler (guests/debug.S): Vessel sets
     * no guest debug state of its own, and completes icebp where the host's KVM stops on it. A data
     * watchpoint is reported, not required: a host that emulates guest code (kvm_pvm) checks none.
     */
    @Test
    void debugExceptionsReachTheGuestsOwnHandler() throws Exception {
        Console console = new Console();
        VmExit exit = run(VmConfig.builder().kernel(TestGuests.get("debug.bin")).entry(EntryMode.LONG)
                .memory("16M").debugExit(true).build(), console);
        assertTrue(console.text().matches("debug hw 1 watch [01] step 6 icebp 1\nvessel debug ok\n"),
                console.text() + " / " + exit.detail());
        assertEquals(41, exit.status());
    }

    /**
     * Every emulation assist completes its instruction in a real guest. The host CPU runs these natively,
     * so the guest (guests/assists.S) sends each one to the assist through the test-only assist probe, the
     * path a KVM emulation failure there takes; the guest checks each result, and the per-kind counts show
     * the assist, not the CPU, executed every one of them.
     */
    @Test
    void eachEmulationAssistCompletesItsInstructionInAGuest() throws Exception {
        Console console = new Console();
        VmConfig config = VmConfig.builder().kernel(TestGuests.get("assists.bin")).entry(EntryMode.LONG)
                .memory("16M").debugExit(true).build();
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            vm.installAssistProbe(ASSIST_PROBE_PORT);
            vm.start();
            VmExit exit = vm.awaitExit(60_000);
            assertTrue(exit != null, "guest did not end within 60 s; console so far: " + console.text());
            assertEquals("vessel assists ok\n", console.text(), exit.detail());
            assertEquals(43, exit.status(), exit.detail());
            assertEquals("int_n=1 clac=1 stac=1 fwait=1 ldmxcsr=3 stmxcsr=2 popcnt=3 movbe=3"
                    + " movd=3 movq=1 movdq=1 padd=1 plogic=1 punpck=1 pshift=2 pshufd=1 page_fault=2", vm.assistSummary());
        }
    }

    /**
     * A guest drives the i8042 as a driver's probe does (guests/ps2.S): keyboard reset and enable, mouse
     * reporting on, each reply checked; a key and a pointer move sent through {@link VirtualMachine#input()}
     * arrive as a set-1 scancode and a 3-byte packet, and each latched its IRQ in the guest's 8259.
     */
    @Test
    void keysAndPointerMovesReachAGuestThroughTheI8042() throws Exception {
        Console console = new Console();
        // The virtio-input devices (on PCI, no driver here) get the same events and must not disturb it.
        VmConfig config = VmConfig.builder().kernel(TestGuests.get("ps2.bin")).entry(EntryMode.LONG)
                .memory("16M").debugExit(true).virtioInput(vessel.devices.virtio.VirtioInput.Kind.KEYBOARD)
                .virtioInput(vessel.devices.virtio.VirtioInput.Kind.TABLET).build();
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            vm.start();
            awaitConsole(vm, console, "ps2 ready\n");
            vm.input().key('a', true);
            awaitConsole(vm, console, "irq1 ");
            vm.input().pointer(100, 100, 0, 640, 480);
            vm.input().pointer(105, 97, 1, 640, 480); // right 5, up 3, left button down
            VmExit exit = vm.awaitExit(60_000);
            assertTrue(exit != null, "guest did not end; console: " + console.text());
            assertEquals("ps2 ready\nkey 30 irq1 1\nmouse 9 5 3 irq12 1\n", console.text(), exit.detail());
            assertEquals(37, exit.status());
        }
    }

    /**
     * A guest programs the bochs-display adapter (guests/bochs.S): moves its BARs (the video memory slot
     * must follow BAR0), reads the dispi ID and sizes, is refused an 8-bit mode, sets 640x480x32 as Linux's
     * bochs driver does and draws three pixels; the host reads them through the Display, and the dirty
     * log names the pages they are on and no others.
     */
    @Test
    void aGuestSetsABochsModeAndItsPixelsReachTheDisplay() throws Exception {
        Console console = new Console();
        VmConfig config = VmConfig.builder().kernel(TestGuests.get("bochs.bin")).entry(EntryMode.LONG)
                .memory("16M").debugExit(true).displayAdapter(VmConfig.DisplayAdapter.BOCHS)
                .display(vessel.devices.display.DisplayMode.of(320, 200, 32)).build();
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            vessel.devices.display.Display display = vm.displayAdapter().orElseThrow();
            assertNull(display.mode(), "off until the guest sets a mode");
            assertEquals(320, vm.display().orElseThrow().mode().width(), "the boot framebuffer is shown until then");
            long[] dirty = new long[64];
            vm.start();
            awaitConsole(vm, console, "enable ");
            assertSame(display, vm.display().orElseThrow(), "the adapter is shown once its mode is set");
            assertTrue(!display.takeDirtyPages(dirty), "a new mode: the whole frame");
            vm.memory().writeLong(0x20000, 1); // GO_FLAG: the guest draws now
            VmExit exit = vm.awaitExit(60_000);
            assertTrue(exit != null, "guest did not end; console: " + console.text());
            assertEquals("bochs id 45253 vram 256 qext 8 refused 0 enable 65\n", console.text(), exit.detail());
            assertEquals(37, exit.status());
            java.util.Arrays.fill(dirty, 0);
            assertTrue(display.takeDirtyPages(dirty));
            long[] expected = new long[64];
            expected[0] = 1; // page 0: (0,0) and (320,0)
            expected[299 / 64] |= 1L << (299 % 64); // (639,479) at byte 1228796
            assertArrayEquals(expected, dirty, "exactly the pages the guest drew on");
            vessel.devices.display.DisplayMode mode = display.mode();
            assertEquals(vessel.devices.display.DisplayMode.of(640, 480, 32), mode);
            java.lang.foreign.MemorySegment fb = display.framebuffer();
            java.lang.foreign.ValueLayout.OfInt px = java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
            assertEquals(0x00ff0000, fb.get(px, 0));
            assertEquals(0x0000ff00, fb.get(px, (479L * 640 + 639) * 4));
            assertEquals(0x000000ff, fb.get(px, 320L * 4));
            assertEquals(0, fb.get(px, 100L * 2560), "cleared when the mode was set");
            fb.set(px, 4, 0); // a host write is not the guest's: the log must not see it
            java.util.Arrays.fill(dirty, 0);
            assertTrue(display.takeDirtyPages(dirty));
            assertTrue(java.util.Arrays.stream(dirty).allMatch(w -> w == 0), "nothing written since");
        }
    }

    private static void awaitConsole(VirtualMachine vm, Console console, String text) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!console.text().contains(text)) {
            assertTrue(System.nanoTime() < deadline && vm.state() != VirtualMachine.State.ENDED,
                    "no '" + text.strip() + "' from the guest; console: " + console.text());
            Thread.sleep(5);
        }
    }

    /** ASSIST_PROBE in guests/assists.S. */
    private static final int ASSIST_PROBE_PORT = 0xe0;

    @Test
    void multibootKernelLinkedBelowSixtyFourKibBootsAsUnderQemu() throws Exception {
        Console console = new Console();
        VmExit exit = run(VmConfig.builder().kernel(TestGuests.get("multiboot-low.elf")).memory("128M")
                .debugExit(true).build(), console);
        assertTrue(console.text().startsWith("multiboot ok\n"), console.text());
        assertEquals(85, exit.status(), exit.detail());
    }

    /**
     * The PIT's IRQ 0 reaches I/O APIC pin 2, where the MADT's override sends a guest to look (pit.elf,
     * guests/multiboot/pit.c). KVM's own default routing puts it on pin 0: a Linux guest that used the
     * PIT then never saw a tick, and with a FADT that is not hardware-reduced (so Linux sets up the PIT)
     * its clock stopped during boot.
     */
    @Test
    void thePitInterruptArrivesOnIoApicPinTwoAsTheMadtSays() throws Exception {
        Console console = new Console();
        VmExit exit = run(VmConfig.builder().kernel(TestGuests.get("pit.elf")).memory("32M").debugExit(true).build(),
                console);
        assertTrue(console.text().startsWith("pit: irq 0 on ioapic pin 2 after "), console.text());
        assertEquals(85, exit.status(), exit.detail());
    }

    @Test
    void multibootKernelGetsCmdlineModulesAndMemoryMap(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path initrd = dir.resolve("initrd.txt");
        Files.writeString(initrd, "first module\nmore");
        Console console = new Console();
        Path kernel = TestGuests.get("multiboot.elf");
        VmExit exit = run(VmConfig.builder().kernel(kernel).memory("32M").cmdline("hello world")
                .initrd(initrd).debugExit(true).build(), console);
        String out = console.text();
        assertTrue(out.startsWith("multiboot ok\n"), out);
        assertTrue(out.contains("cmdline: " + kernel + " hello world\n"), out);
        assertTrue(out.contains("mem_lower=639K mem_upper=31744K\n"), out);
        assertTrue(out.contains("mods=1\n"), out);
        assertTrue(out.contains("mod 0: 17 bytes: first module\n"), out);
        assertTrue(out.contains("mmap entries="), out);
        assertEquals(85, exit.status(), out);
    }

    @Test
    void pauseStopsTheGuestResumeRestartsItAndNoExitIsLost() throws Exception {
        Console console = new Console();
        VmConfig config = VmConfig.builder().kernel(TestGuests.get("spin.bin")).entry(EntryMode.LONG).memory("16M").build();
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            vm.start();
            waitForCounter(vm, 100);
            vm.pause();
            assertEquals(VirtualMachine.State.PAUSED, vm.state());
            long paused = vm.memory().readLong(0x20000);
            Thread.sleep(300);
            assertEquals(paused, vm.memory().readLong(0x20000), "a paused guest must not run");
            vm.resume();
            waitForCounter(vm, paused + 100);
            vm.stop();
            VmExit exit = vm.awaitExit(10_000);
            assertEquals(VmExit.Reason.STOPPED, exit.reason());
            assertEquals(0, exit.status());
            long counter = vm.memory().readLong(0x20000);
            long io = vm.exitCounts()[ExitReason.IO];
            assertTrue(io == counter || io == counter - 1, "I/O exits " + io + " vs guest iterations " + counter);
        }
    }

    @Test
    void stopReachesApplicationProcessorsWaitingForSipi() throws Exception {
        Console console = new Console();
        VmConfig config = VmConfig.builder().kernel(TestGuests.get("spin.bin")).entry(EntryMode.LONG)
                .memory("16M").cpus(4).build();
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            vm.start();
            waitForCounter(vm, 10);
            vm.pause(); // the APs sit in KVM_RUN waiting for INIT/SIPI; each must be kicked out
            vm.resume();
            vm.stop();
            assertEquals(VmExit.Reason.STOPPED, vm.awaitExit(10_000).reason());
        }
    }

    @Test
    void aGuestStillRunningIsReportedAsSuch() throws Exception {
        VmConfig config = VmConfig.builder().kernel(TestGuests.get("spin.bin")).entry(EntryMode.LONG).memory("16M").build();
        try (VirtualMachine vm = VirtualMachine.create(config, new Console())) {
            vm.start();
            assertNull(vm.awaitExit(200));
        }
    }

    private static void waitForCounter(VirtualMachine vm, long atLeast) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (vm.memory().readLong(0x20000) < atLeast) {
            assertTrue(System.nanoTime() < deadline, "guest counter stuck at " + vm.memory().readLong(0x20000));
            Thread.sleep(5);
        }
    }
}
