package vessel.vmm;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ACPI S3 on the real /dev/kvm with {@code s3.elf} (guests/multiboot/s3.c): the guest finds the FACS
 * through RSDP, XSDT and FADT, leaves a real-mode waking vector, and writes SLP_TYP(S3) | SLP_EN to
 * PM1a control. The VM must then stop until a wake event, and wake the guest at CS:IP = 0x700:0x8 with
 * WAK_STS set; the guest's wake code says so through the debug-exit port (status 85).
 */
@vessel.testkit.KvmTest
@Timeout(120)
class SleepKvmTest {
    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    private static VirtualMachine sleepingGuest(GuestRunTest.Console console, int cpus) throws Exception {
        VirtualMachine vm = VirtualMachine.create(VmConfig.builder().kernel(TestGuests.get("s3.elf")).memory("32M")
                .cpus(cpus).debugExit(true).build(), console);
        vm.start();
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (vm.state() != VirtualMachine.State.SUSPENDED) {
            VmExit early = vm.awaitExit(20);
            assertNull(early, () -> "the guest ended instead of sleeping: " + early + "; console: " + console.text());
            assertTrue(System.nanoTime() < deadline, () -> "not suspended within 60 s; console: " + console.text());
        }
        assertTrue(console.text().endsWith("sleeping\n"), console.text());
        return vm;
    }

    @Test
    void suspendedGuestStaysAsleepThenResumeWakesItAtItsFacsVector() throws Exception {
        GuestRunTest.Console console = new GuestRunTest.Console();
        try (VirtualMachine vm = sleepingGuest(console, 2)) {
            assertNull(vm.awaitExit(500), "a sleeping guest does nothing until woken");
            assertEquals(VirtualMachine.State.SUSPENDED, vm.state());
            assertEquals("sleeping\n", console.text().substring(console.text().indexOf("sleeping")));
            vm.resume(); // what the API's PATCH /vm {"state": "Resumed"} calls
            VmExit exit = vm.awaitExit(60_000);
            assertTrue(exit != null, "no exit after the wake; console: " + console.text());
            assertTrue(console.text().endsWith("sleeping\nwoke at 0700:0008\n"), console.text());
            assertEquals(85, exit.status(), exit + "; console: " + console.text());
        }
    }

    @Test
    void aConsoleKeypressWakesASleepingGuest() throws Exception {
        GuestRunTest.Console console = new GuestRunTest.Console();
        try (VirtualMachine vm = sleepingGuest(console, 1)) {
            byte[] key = "x".getBytes(StandardCharsets.US_ASCII);
            vm.sendConsoleInput(key, 0, key.length);
            VmExit exit = vm.awaitExit(60_000);
            assertTrue(exit != null, "no exit after the keypress; console: " + console.text());
            assertTrue(console.text().endsWith("woke at 0700:0008\n"), console.text());
            assertEquals(85, exit.status(), exit + "; console: " + console.text());
        }
    }

    @Test
    void aHostPauseOfASleepingGuestChangesNothingAndWakeWakesIt() throws Exception {
        GuestRunTest.Console console = new GuestRunTest.Console();
        try (VirtualMachine vm = sleepingGuest(console, 1)) {
            vm.pause(); // a host pause of a sleeping guest changes nothing
            assertEquals(VirtualMachine.State.SUSPENDED, vm.state());
            vm.wake();
            VmExit exit = vm.awaitExit(60_000);
            assertTrue(exit != null, "no exit after the wake; console: " + console.text());
            assertEquals(85, exit.status(), exit + "; console: " + console.text());
        }
    }
}
