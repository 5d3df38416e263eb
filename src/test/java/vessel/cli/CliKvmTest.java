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
                "run", "--kernel", TestGuests.get("long.bin").toString(), "--entry", "long", "--reboot", "restart", "--quiet"))
                .redirectErrorStream(true).start(); // --quiet: a slow start's progress line would come first
        try (var in = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()))) {
            assertEquals("vessel long mode ok", in.readLine());
            assertEquals("vessel long mode ok", in.readLine());
        } finally {
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aSilentGuestGetsAProgressLineOnStderrWithinSecondsAndQuietHidesIt() throws Exception {
        RequiresKvm.assumeKvm();
        // spin.bin never prints: the line must come on its own, and stdout (the console) stay empty.
        for (boolean quiet : new boolean[] {false, true}) {
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of(
                    "run", "--kernel", TestGuests.get("spin.bin").toString(), "--entry", "long"));
            if (quiet) {
                args.add("--quiet");
            }
            Process p = new ProcessBuilder(VesselProcess.command(args.toArray(String[]::new))).start();
            try (var err = new java.io.BufferedReader(new java.io.InputStreamReader(p.getErrorStream()))) {
                if (!quiet) {
                    // A start slowed by a busy host first reports its phase ("assembling the VM"); the
                    // guest's silence is reported once it runs. Every line must be a progress line.
                    String line = err.readLine();
                    for (int i = 0; i < 10 && line != null && line.matches("vessel: \\d+ s: .*")
                            && !line.contains("silent"); i++) {
                        line = err.readLine();
                    }
                    assertTrue(line != null && line.matches("vessel: \\d+ s: .*silent.*KVM exits/s \\(--quiet hides this\\)"),
                            "progress line: " + line);
                } else {
                    Thread.sleep(5000); // more than the 2 s after which the line would come
                    assertEquals(0, p.getErrorStream().available(), "--quiet printed something on stderr");
                }
                assertEquals(0, p.getInputStream().available(), "a silent guest's console stays empty");
            } finally {
                p.destroy();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
