package vessel.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import vessel.boot.EntryMode;
import vessel.devices.TokenBucket;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;

/** Firecracker's serial_out_path and serial rate limiter, with a project-built guest on the real /dev/kvm. */
@vessel.testkit.KvmTest
@Timeout(120)
class SerialOutputKvmTest {
    @TempDir
    Path dir;

    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    private static String run(VmConfig config) throws Exception {
        GuestRunTest.Console console = new GuestRunTest.Console();
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            vm.start();
            assertTrue(vm.awaitExit(60_000) != null, "guest did not end; console so far: " + console.text());
        }
        return console.text();
    }

    @Test
    void theGuestsSerialOutputAlsoGoesToTheFile() throws Exception {
        Path out = dir.resolve("serial.log");
        Files.writeString(out, "earlier\n"); // appended to, as a FIFO or a log would be
        String console = run(VmConfig.builder().kernel(TestGuests.get("long.bin")).entry(EntryMode.LONG)
                .memory("16M").debugExit(true).serialOutput(out).build());
        assertEquals("vessel long mode ok\n", console);
        assertEquals("earlier\nvessel long mode ok\n", Files.readString(out));
    }

    @Test
    void outputBeyondTheRateLimitIsDropped() throws Exception {
        Path out = dir.resolve("limited.log");
        // 8 bytes and no refill worth speaking of within the guest's run: the rest of the line is dropped.
        String console = run(VmConfig.builder().kernel(TestGuests.get("long.bin")).entry(EntryMode.LONG)
                .memory("16M").debugExit(true).serialOutput(out)
                .serialRateLimit(new TokenBucket.Config(8, 0, 1_000_000)).build());
        assertEquals("vessel l", console);
        assertEquals("vessel l", Files.readString(out));
    }

    @Test
    void aSerialOutputInAMissingDirectoryIsOneLineAndNoVm() {
        ConfigException e = assertThrows(ConfigException.class, () -> run(VmConfig.builder()
                .kernel(TestGuests.get("long.bin")).entry(EntryMode.LONG).memory("16M").debugExit(true)
                .serialOutput(dir.resolve("no/such/dir/serial.log")).build()));
        assertTrue(e.getMessage().contains("directory does not exist"), e.getMessage());
    }
}
