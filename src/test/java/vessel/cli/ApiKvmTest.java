package vessel.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.Curl;
import vessel.testkit.DefaultImage;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;
import vessel.testkit.VesselProcess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Firecracker's getting-started flow against {@code vessel} processes on KVM, driven by curl: machine
 * config, boot source, InstanceStart, console output, pause, resume, Ctrl-Alt-Del, metrics; several VMs
 * at once, each stopped on its own; a config file booting without API calls. The guest is
 * {@code waiter.elf} (guests/multiboot/waiter.c), which ticks until Ctrl-Alt-Del; one test boots the default
 * Linux guest from Firecracker's example config file.
 */
@vessel.testkit.KvmTest
@Timeout(900)
class ApiKvmTest {
    @TempDir
    Path dir;
    private final List<Vessel> started = new ArrayList<>();

    /** One vessel process: its socket, console (stdout) and stderr files. */
    record Vessel(Process process, Path socket, Path stdout, Path stderr) {
        String console() throws IOException {
            return Files.readString(stdout, StandardCharsets.ISO_8859_1);
        }

        String err() throws IOException {
            return Files.readString(stderr, StandardCharsets.ISO_8859_1);
        }

        /** Waits until the console satisfies {@code done}, failing with what it shows if the process ends first. */
        String awaitConsole(Predicate<String> done, String what, int seconds) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (System.nanoTime() < deadline) {
                String c = console();
                if (done.test(c)) {
                    return c;
                }
                if (!process.isAlive()) {
                    throw new AssertionError("vessel ended (" + process.exitValue() + ") before " + what
                            + "; console: " + tail(c) + "; stderr: " + err());
                }
                Thread.sleep(100);
            }
            throw new AssertionError("no " + what + " within " + seconds + " s; console: " + tail(console()));
        }

        int awaitEnd(int seconds) throws Exception {
            assertTrue(process.waitFor(seconds, TimeUnit.SECONDS), "vessel did not end; console: " + tail(console()));
            return process.exitValue();
        }
    }

    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    @AfterEach
    void stopAll() throws InterruptedException {
        for (Vessel v : started) {
            if (v.process().isAlive()) {
                v.process().destroyForcibly();
                v.process().waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    private static String tail(String s) {
        return s.length() <= 400 ? s : "..." + s.substring(s.length() - 400);
    }

    private Vessel vessel(String name, String... args) throws Exception {
        Path socket = dir.resolve(name + ".sock");
        Path out = dir.resolve(name + ".out");
        Path err = dir.resolve(name + ".err");
        List<String> cmd = new ArrayList<>(VesselProcess.command(args));
        if (!List.of(args).contains("--no-api")) {
            cmd.addAll(List.of("--api-sock", socket.toString()));
        }
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        Vessel v = new Vessel(p, socket, out, err);
        started.add(v);
        return v;
    }

    private static String waiter() throws Exception {
        return TestGuests.get("waiter.elf").toString();
    }

    private static void ok(Curl.Response r) {
        assertEquals(204, r.status(), r.body());
    }

    private static int ticks(String console) {
        return (int) console.lines().filter(l -> l.startsWith("tick ")).count();
    }

    @Test
    void gettingStartedFlowPauseResumeCtrlAltDel() throws Exception {
        Path metrics = dir.resolve("metrics.json");
        Vessel v = vessel("flow", "--id", "flow-vm");
        CliApiTest.awaitSocket(v.socket(), v.process());
        ok(Curl.put(v.socket(), "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 32}"));
        ok(Curl.put(v.socket(), "/boot-source", "{\"kernel_image_path\": \"" + waiter() + "\", \"boot_args\": \"waiter\"}"));
        ok(Curl.put(v.socket(), "/metrics", "{\"metrics_path\": \"" + metrics + "\"}"));
        // A drive, as the guide's flow has: it becomes a virtio-blk function on the guest's PCI bus.
        ok(Curl.put(v.socket(), "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \""
                + copyOf(DefaultImage.file("data.ext4")) + "\", \"is_root_device\": true, \"is_read_only\": false}"));
        ok(Curl.put(v.socket(), "/actions", "{\"action_type\": \"InstanceStart\"}"));
        v.awaitConsole(c -> c.contains("waiter ready\n") && ticks(c) >= 1, "first tick", 120);
        assertTrue(Curl.get(v.socket(), "/").body().contains("\"state\":\"Running\""));

        // Post-boot: configuration and a second start are refused; the server goes on serving.
        Curl.Response late = Curl.put(v.socket(), "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 64}");
        assertEquals(400, late.status());
        assertTrue(late.body().contains("not supported after starting the microVM"), late.body());
        assertEquals(400, Curl.put(v.socket(), "/actions", "{\"action_type\": \"InstanceStart\"}").status());

        ok(Curl.patch(v.socket(), "/vm", "{\"state\": \"Paused\"}"));
        assertTrue(Curl.get(v.socket(), "/").body().contains("\"state\":\"Paused\""));
        int pausedAt = v.console().length();
        Thread.sleep(3000); // several tick periods
        assertEquals(pausedAt, v.console().length(), "the console moved while paused");

        ok(Curl.patch(v.socket(), "/vm", "{\"state\": \"Resumed\"}"));
        assertTrue(Curl.get(v.socket(), "/").body().contains("\"state\":\"Running\""));
        int before = ticks(v.console());
        v.awaitConsole(c -> ticks(c) > before, "a tick after resume", 120);

        ok(Curl.put(v.socket(), "/actions", "{\"action_type\": \"FlushMetrics\"}"));
        String line = Files.readAllLines(metrics).getLast();
        assertTrue(line.contains("\"vcpu\":{") && line.contains("\"exit_io\":") && !line.contains("\"exit_io\":0,"), line);
        assertTrue(line.contains("\"put_api_requests\":{"), line);

        ok(Curl.put(v.socket(), "/actions", "{\"action_type\": \"SendCtrlAltDel\"}"));
        assertEquals(0, v.awaitEnd(120), v.err());
        assertTrue(v.console().contains("ctrl-alt-del\n"), tail(v.console()));
        assertFalse(Files.exists(v.socket()), "socket left behind");
        assertTrue(Files.readAllLines(metrics).size() >= 2, "a last metrics line at exit");
    }

    /** A guest asleep in ACPI S3 (s3.elf) wakes on PATCH /vm {"state": "Resumed"}, at its FACS waking vector. */
    @Test
    void patchVmResumedWakesAGuestFromS3() throws Exception {
        Vessel v = vessel("s3");
        CliApiTest.awaitSocket(v.socket(), v.process());
        ok(Curl.put(v.socket(), "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 32}"));
        ok(Curl.put(v.socket(), "/boot-source", "{\"kernel_image_path\": \"" + TestGuests.get("s3.elf") + "\"}"));
        ok(Curl.put(v.socket(), "/actions", "{\"action_type\": \"InstanceStart\"}"));
        v.awaitConsole(c -> c.contains("sleeping\n"), "the guest going to sleep", 120);
        // The VM stops within milliseconds of the guest's write; resuming a running VM changes nothing,
        // so ask until the guest has woken.
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!v.console().contains("woke at") && System.nanoTime() < deadline) {
            ok(Curl.patch(v.socket(), "/vm", "{\"state\": \"Resumed\"}"));
            Thread.sleep(500);
        }
        assertEquals(0, v.awaitEnd(120), v.err()); // its i8042 reset: no debug-exit device here
        assertTrue(v.console().contains("sleeping\nwoke at 0700:0008\n"), tail(v.console()));
    }

    @Test
    void severalVmsAtOnceEachStoppedOnItsOwn() throws Exception {
        // Started one after another: waiter.elf spins, and the nested-KVM VM the tests may run in has two CPUs.
        Path config = Files.writeString(dir.resolve("b.json"), "{\"boot-source\": {\"kernel_image_path\": \""
                + waiter() + "\"}, \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 16}}");
        Vessel a = vessel("a");
        CliApiTest.awaitSocket(a.socket(), a.process());
        ok(Curl.put(a.socket(), "/boot-source", "{\"kernel_image_path\": \"" + waiter() + "\"}"));
        ok(Curl.put(a.socket(), "/actions", "{\"action_type\": \"InstanceStart\"}"));
        a.awaitConsole(s -> s.contains("waiter ready\n"), "a: waiter ready", 180);
        Vessel b = vessel("b", "--config-file", config.toString()); // boots without API calls, serves the API too
        b.awaitConsole(s -> s.contains("waiter ready\n"), "b: waiter ready", 180);
        assertTrue(Curl.get(b.socket(), "/").body().contains("\"state\":\"Running\""));
        assertTrue(Curl.get(a.socket(), "/").body().contains("\"state\":\"Running\""));

        a.process().destroy(); // SIGTERM: the guest stops, the socket goes, the other runs on
        assertEquals(143, a.awaitEnd(60));
        assertFalse(Files.exists(a.socket()));
        assertTrue(b.process().isAlive());
        int before = ticks(b.console());
        b.awaitConsole(s -> ticks(s) > before, "b ticking after a ended", 120);

        Vessel c = vessel("c", "--no-api", "--config-file", config.toString());
        c.awaitConsole(s -> s.contains("waiter ready\n"), "c: waiter ready", 180);
        assertFalse(Files.exists(c.socket()));
        ok(Curl.put(b.socket(), "/actions", "{\"action_type\": \"SendCtrlAltDel\"}"));
        assertEquals(0, b.awaitEnd(120), b.err());
        assertFalse(Files.exists(b.socket()));
        assertTrue(c.process().isAlive());
        c.process().destroy();
        assertEquals(143, c.awaitEnd(60));
    }

    /**
     * Firecracker's tests/framework/vm_config.json (its getting-started guide's --config-file example),
     * pointed at the default guest's kernel, initrd and data disk; {@code drives} as given.
     */
    private String firecrackerExampleConfig(String drives) {
        return """
                {
                  "boot-source": {
                    "kernel_image_path": "%s",
                    "boot_args": "console=ttyS0 reboot=k panic=1 pci=off",
                    "initrd_path": "%s"
                  },
                  "drives": %s,
                  "machine-config": {
                    "vcpu_count": 2,
                    "mem_size_mib": 1024,
                    "smt": false,
                    "track_dirty_pages": false
                  },
                  "balloon": null,
                  "network-interfaces": [],
                  "vsock": null,
                  "logger": null,
                  "metrics": null,
                  "mmds-config": null
                }
                """.formatted(DefaultImage.file("vmlinuz"), DefaultImage.file("initramfs.cpio.gz"), drives);
    }

    /** Boots the config with --no-api to the default guest's /init marker, then SIGTERM; null if it ended first. */
    private Vessel bootToInit(String json) throws Exception {
        Path config = Files.writeString(dir.resolve("vm_config-" + System.nanoTime() + ".json"), json);
        Vessel v = vessel("linux-" + System.nanoTime(), "--no-api", "--config-file", config.toString());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(600);
        while (System.nanoTime() < deadline && v.process().isAlive() && !v.console().contains("VESSEL-INIT: started")) {
            Thread.sleep(200);
        }
        return v;
    }

    @Test
    @vessel.testkit.LinuxGuestTest
    void firecrackersExampleConfigWithItsRootDriveBootsTheDefaultGuest() throws Exception {
        RequiresKvm.assumeLinuxGuests();
        // One stock boot only (each takes minutes where KVM emulates guest code): the example as its
        // docs give it, root drive included, with only the paths pointed at the default guest.
        Vessel v = bootToInit(firecrackerExampleConfig("""
                [
                    {
                      "drive_id": "rootfs",
                      "path_on_host": "%s",
                      "is_root_device": true,
                      "partuuid": null,
                      "is_read_only": false,
                      "cache_type": "Unsafe",
                      "io_engine": "Sync",
                      "rate_limiter": null
                    }
                  ]""".formatted(copyOf(DefaultImage.file("data.ext4")))));
        assertTrue(v.console().contains("VESSEL-INIT: started"), "no /init marker; console: " + tail(v.console())
                + "; stderr: " + v.err());
        v.process().destroy();
        assertEquals(143, v.awaitEnd(60));
    }

    private Path copyOf(Path image) throws IOException {
        return Files.copy(image, dir.resolve(image.getFileName()));
    }
}
