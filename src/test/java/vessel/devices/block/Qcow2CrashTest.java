package vessel.devices.block;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.VesselProcess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static vessel.devices.block.QemuTools.ok;
import static vessel.devices.block.QemuTools.run;

/**
 * A writer killed with SIGKILL in the middle of writing leaves an image that qemu-img check finds
 * consistent: clean (exit 0) or with leaked clusters only (exit 3), never corrupt (exit 2).
 */
class Qcow2CrashTest {
    @TempDir
    Path dir;

    @Test
    void killedMidWriteTheImageChecksWithoutCorruption() throws Exception {
        // Small clusters: the writer keeps making L2 tables and refcount blocks, so a kill lands among them.
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "base.qcow2", "64M");
        ok(dir, "qemu-io", "-c", "write -P 0x42 0 8M", "base.qcow2");
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "-b", "base.qcow2",
                "-F", "qcow2", "vm.qcow2");
        long[] waits = {150, 400, 900};
        for (int round = 0; round < waits.length; round++) {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", VesselProcess.classpath(), Qcow2Scribbler.class.getName(),
                    dir.resolve("vm.qcow2").toString(), Long.toString(round)));
            Process child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream()));
                assertEquals("writing", out.readLine(), "the writer started");
                Thread.sleep(waits[round]);
                assertTrue(child.isAlive(), "still writing when killed");
            } finally {
                child.destroyForcibly(); // SIGKILL: no shutdown hooks, no close
                assertTrue(child.waitFor(30, TimeUnit.SECONDS));
            }
            QemuTools.Result check = run(dir, "qemu-img", "check", "vm.qcow2");
            assertTrue(check.exit() == 0 || check.exit() == 3, "round " + round + ": qemu-img check exited "
                    + check.exit() + ": " + check.output());
            assertFalse(check.output().contains("ERROR"), check.output());
        }
        try (Qcow2Image image = Qcow2Image.open(dir.resolve("vm.qcow2"), true)) {
            ByteBuffer all = ByteBuffer.allocate((int) image.size());
            image.read(0, all); // every table the writers left is readable
        }
        ok(dir, "qemu-img", "check", "base.qcow2");
    }
}
