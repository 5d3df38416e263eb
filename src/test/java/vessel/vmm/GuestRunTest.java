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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
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
