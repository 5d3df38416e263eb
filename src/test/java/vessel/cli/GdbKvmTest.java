package vessel.cli;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.testkit.NativeTools;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;
import vessel.testkit.VesselProcess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Debian's gdb drives {@code vessel run --gdb} on guests/debug.bin: a breakpoint on the guest's
 * gdb_target (set by symbol from the guest's ELF), a register read there, a single step, and the guest
 * then running to its end, which gdb sees as the inferior's exit code.
 */
@vessel.testkit.KvmTest
@Timeout(180)
class GdbKvmTest {
    @Test
    void gdbBreaksReadsARegisterStepsAndTheGuestFinishes() throws Exception {
        RequiresKvm.assumeKvm();
        Path gdb = Path.of("/usr/bin/gdb");
        Assumptions.assumeTrue(Files.isExecutable(gdb), "gdb is not installed (apt-get install gdb; scripts/packages.sh lists it)");
        Path bin = TestGuests.get("debug.bin");
        Path elf = bin.getParent().resolve("obj/debug.elf");
        int port;
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        Process vessel = new ProcessBuilder(VesselProcess.command("run", "--kernel", bin.toString(), "--entry", "long",
                "--debug-exit", "--quiet", "--gdb", "127.0.0.1:" + port, "--gdb-wait")).start();
        try {
            BufferedReader err = new BufferedReader(new InputStreamReader(vessel.getErrorStream(), StandardCharsets.UTF_8));
            String listening = err.readLine();
            assertTrue(listening != null && listening.contains("gdb stub listening on 127.0.0.1:" + port), "stderr: " + listening);
            Process g = new ProcessBuilder(gdb.toString(), "-nx", "-batch", "-ex", "set pagination off",
                    "-ex", "file " + elf, "-ex", "target remote 127.0.0.1:" + port,
                    "-ex", "break gdb_target", "-ex", "continue", "-ex", "p/x $rip", "-ex", "stepi",
                    "-ex", "p/x $rax", "-ex", "continue").redirectErrorStream(true).directory(NativeTools.projectDir().toFile()).start();
            String gdbOut = new String(g.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(g.waitFor(60, TimeUnit.SECONDS), "gdb did not finish: " + gdbOut);
            long target = symbol(elf, "gdb_target");
            assertTrue(gdbOut.contains("Breakpoint 1, 0x" + String.format("%016x", target) + " in gdb_target"), gdbOut);
            assertTrue(gdbOut.contains("$1 = 0x" + Long.toHexString(target)), gdbOut);
            assertTrue(gdbOut.contains("$2 = 0x5eed"), gdbOut); // the step ran mov $0x5eed,%eax
            assertTrue(gdbOut.contains("exited with code 051"), gdbOut); // 41, in octal
            assertTrue(vessel.waitFor(30, TimeUnit.SECONDS), "vessel did not end after gdb");
            String console = new String(vessel.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(console.endsWith("vessel debug ok\n"), console);
            assertEquals(41, vessel.exitValue());
        } finally {
            vessel.destroyForcibly();
            vessel.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static long symbol(Path elf, String name) throws Exception {
        Process nm = new ProcessBuilder(List.of("nm", elf.toString())).start();
        for (String line : new String(nm.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 3 && f[2].equals(name)) {
                return Long.parseLong(f[0], 16);
            }
        }
        throw new AssertionError(name + " not in " + elf);
    }
}
