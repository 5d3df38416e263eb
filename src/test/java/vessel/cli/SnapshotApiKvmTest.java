package vessel.cli;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.boot.EntryMode;
import vessel.testkit.Curl;
import vessel.testkit.NativeTools;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;
import vessel.testkit.VesselProcess;
import vessel.vmm.VirtualMachine;
import vessel.vmm.VmConfig;
import vessel.vmm.snapshot.VmSnapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Firecracker's snapshot API on a real guest (guests/counter.S): a snapshot taken in this JVM is loaded
 * paused by {@code PUT /snapshot/load} in a new Vessel, snapshotted again there with {@code PUT
 * /snapshot/create}, resumed, and that second snapshot restores too, each going on with the same count.
 */
@vessel.testkit.KvmTest
@Timeout(300)
class SnapshotApiKvmTest {
    private Path dir;
    private final List<Process> started = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        RequiresKvm.assumeKvm();
        dir = Files.createTempDirectory(Files.createDirectories(NativeTools.projectDir().resolve("target/scratch")), "api");
    }

    @AfterEach
    void tearDown() {
        started.forEach(Process::destroyForcibly);
    }

    private static void ok(Curl.Response r) {
        assertEquals(204, r.status(), r.body());
    }

    @Test
    void aSnapshotLoadsPausedThroughTheApiIsSnapshottedAgainAndBothRestore() throws Exception {
        Path state = dir.resolve("a.state");
        Path mem = dir.resolve("a.mem");
        long stamp;
        long target;
        VmConfig config = VmConfig.builder().kernel(TestGuests.get("counter.bin")).entry(EntryMode.LONG).memory("32M")
                .debugExit(true).build();
        try (VirtualMachine vm = VirtualMachine.create(config, new ByteArrayOutputStream())) {
            vm.start();
            while (vm.memory().readLong(0x20000) < 1000) {
                Thread.sleep(5);
            }
            vm.pause();
            stamp = vm.memory().readLong(0x20010);
            target = vm.memory().readLong(0x20000) + 4000;
            vm.memory().writeLong(0x20008, target);
            vm.snapshot(state, mem, VmSnapshot.Type.FULL);
        }
        String expected = "stamp=" + stamp + " count=" + target + "\n";

        Path socket = dir.resolve("api.sock");
        Path out = dir.resolve("api.out");
        Process p = new ProcessBuilder(VesselProcess.command("--api-sock", socket.toString()))
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(out.toFile()).redirectError(dir.resolve("api.err").toFile()).start();
        started.add(p);
        CliApiTest.awaitSocket(socket, p);
        Curl.Response bad = Curl.put(socket, "/snapshot/load", "{\"snapshot_path\": \"" + state + "\", "
                + "\"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"" + dir.resolve("none.mem") + "\"}}");
        assertEquals(400, bad.status());
        assertTrue(bad.body().contains("Load snapshot error: memory file " + dir.resolve("none.mem") + " does not exist"),
                bad.body());
        assertTrue(Curl.get(socket, "/").body().contains("\"state\":\"Not started\""), "a failed load starts nothing");

        ok(Curl.put(socket, "/snapshot/load", "{\"snapshot_path\": \"" + state + "\", "
                + "\"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"" + mem + "\"}, \"resume_vm\": false}"));
        assertTrue(Curl.get(socket, "/").body().contains("\"state\":\"Paused\""));
        Path state2 = dir.resolve("b.state");
        Path mem2 = dir.resolve("b.mem");
        ok(Curl.put(socket, "/snapshot/create", "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"" + state2
                + "\", \"mem_file_path\": \"" + mem2 + "\"}"));
        ok(Curl.patch(socket, "/vm", "{\"state\": \"Resumed\"}"));
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the loaded guest did not end");
        assertEquals(11, p.exitValue(), Files.readString(dir.resolve("api.err")));
        assertEquals(expected, Files.readString(out));

        Process again = new ProcessBuilder(VesselProcess.command("run", "--quiet", "--restore-snapshot", state2.toString(),
                "--mem-file", mem2.toString())).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectErrorStream(true).start();
        started.add(again);
        String text = new String(again.getInputStream().readAllBytes());
        assertTrue(again.waitFor(120, TimeUnit.SECONDS));
        assertEquals(11, again.exitValue(), text);
        assertEquals(expected, text);
    }
}
