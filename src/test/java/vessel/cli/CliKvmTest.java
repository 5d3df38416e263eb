package vessel.cli;

import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;
import vessel.testkit.VesselProcess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLI booting guests on KVM, in its own process, as a user would. */
@vessel.testkit.KvmTest
class CliKvmTest {
    @Test
    void longModeGuestPrintsAndExitsZero() throws Exception {
        RequiresKvm.assumeKvm();
        CliTest.Result r = CliTest.vessel("run", "--kernel", TestGuests.get("long.bin").toString(), "--entry", "long");
        assertEquals("vessel long mode ok\n", r.out());
        assertEquals(0, r.status(), r.err());
    }

    @Test
    void multibootKernelEndsWithQemusDebugExitStatus() throws Exception {
        RequiresKvm.assumeKvm();
        CliTest.Result r = CliTest.vessel("run", "--kernel", TestGuests.get("multiboot.elf").toString(), "--debug-exit",
                "--cmdline", "from the cli");
        assertTrue(r.out().contains("from the cli"), r.out());
        assertEquals(85, r.status(), r.err());
    }

    @Test
    void rebootRestartBootsTheGuestAgain() throws Exception {
        RequiresKvm.assumeKvm();
        // long.bin resets through the i8042 when no debug-exit port is attached: with --reboot restart
        // it must come up again, so its line appears more than once.
        Process p = new ProcessBuilder(VesselProcess.command(
                "run", "--kernel", TestGuests.get("long.bin").toString(), "--entry", "long", "--reboot", "restart")).redirectErrorStream(true).start();
        try (var in = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()))) {
            assertEquals("vessel long mode ok", in.readLine());
            assertEquals("vessel long mode ok", in.readLine());
        } finally {
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
