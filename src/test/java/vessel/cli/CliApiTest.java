package vessel.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.Curl;
import vessel.testkit.RequiresKvm;
import vessel.testkit.VesselProcess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code vessel api} and Firecracker's command line, as separate processes: options, config files, signals. */
@Timeout(180)
class CliApiTest {
    @TempDir
    Path dir;

    private static void assertOneLineError(CliTest.Result r, int status, String fragment) {
        assertEquals(status, r.status(), r.err());
        assertTrue(r.err().startsWith("vessel: ") && r.err().contains(fragment), r.err());
        assertEquals(1, r.err().lines().count(), "one line, no stack trace: " + r.err());
    }

    /** Starts {@code vessel ARGS} in the background, its output to files in the test's folder. */
    static Process start(Path dir, String... args) throws Exception {
        return new ProcessBuilder(VesselProcess.command(args)).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(dir.resolve("stdout-" + System.nanoTime()).toFile())
                .redirectError(dir.resolve("stderr-" + System.nanoTime()).toFile()).start();
    }

    /** Waits until the socket answers GET / (the JVM starting takes a while on slow hosts). */
    static void awaitSocket(Path socket, Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            assertTrue(p.isAlive(), "vessel ended before its socket answered");
            if (Files.exists(socket)) {
                try {
                    if (Curl.get(socket, "/").status() == 200) {
                        return;
                    }
                } catch (java.io.IOException e) {
                    // bound but not yet accepting
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("API socket " + socket + " did not answer");
    }

    @Test
    void optionsThatCannotWorkAreOneLineEach() throws Exception {
        assertOneLineError(CliTest.vessel("--no-api"), 2, "--no-api needs --config-file");
        assertOneLineError(CliTest.vessel("api", "--id", "x"), 2, "--api-sock PATH is needed");
        assertOneLineError(CliTest.vessel("--api-sock"), 2, "--api-sock needs a value");
        assertOneLineError(CliTest.vessel("--api-sock", "/tmp/x.sock", "--bogus"), 2, "--bogus");
        assertOneLineError(CliTest.vessel("--api-sock", "/tmp/x.sock", "--id", "a b"), 2, "--id");
        assertOneLineError(CliTest.vessel("--api-sock", "/tmp/x.sock", "--mmds-size-limit", "lots"), 2,
                "--mmds-size-limit takes a number of bytes");
        assertOneLineError(CliTest.vessel("--api-sock", "/tmp/x.sock", "--mmds-size-limit", "-1"), 2,
                "--mmds-size-limit cannot be negative");
        assertOneLineError(CliTest.vessel("--no-api", "--config-file", dir.resolve("missing.json").toString()), 2,
                "missing.json does not exist");
        CliTest.Result help = CliTest.vessel("api", "--help");
        assertEquals(0, help.status());
        assertTrue(help.out().contains("--config-file FILE"), help.out());
        assertTrue(CliTest.vessel("--version").out().startsWith("vessel "));
    }

    @Test
    void badConfigFilesAreOneLineNamingTheFile() throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "k");
        Path bad = Files.writeString(dir.resolve("bad.json"), "{\"boot-source\": ");
        assertOneLineError(CliTest.vessel("--no-api", "--config-file", bad.toString()), 2, "bad.json: An error occurred");
        Path unknown = Files.writeString(dir.resolve("unknown.json"), "{\"boot-source\": {\"kernel_image_path\": \""
                + kernel + "\"}, \"frobnicate\": true}");
        assertOneLineError(CliTest.vessel("--no-api", "--config-file", unknown.toString()), 2, "unknown field `frobnicate`");
        Path noKernel = Files.writeString(dir.resolve("nokernel.json"),
                "{\"boot-source\": {\"kernel_image_path\": \"/nonexistent/vmlinux\"}}");
        assertOneLineError(CliTest.vessel("--no-api", "--config-file", noKernel.toString()), 2,
                "/nonexistent/vmlinux cannot be opened");
    }

    @Test
    void aConfigFileWithoutKvmIsOneLineWithTheReason() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(RequiresKvm.available(), "skipped: this host has KVM");
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "k");
        Path config = Files.writeString(dir.resolve("vm.json"), "{\"boot-source\": {\"kernel_image_path\": \""
                + kernel + "\"}, \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}}");
        assertOneLineError(CliTest.vessel("--no-api", "--config-file", config.toString()), 1, "/dev/kvm");
    }

    /**
     * The filters are installed on a thread of their own while the process gets its socket ready: by the
     * time the socket answers, every thread of the process is in filter mode (Seccomp: 2), and with
     * --no-seccomp none is.
     */
    @Test
    void everyThreadIsFilteredByTheFirstAnswer() throws Exception {
        for (boolean filtered : new boolean[] {true, false}) {
            Path socket = dir.resolve("filtered-" + filtered + ".sock");
            Process p = filtered ? start(dir, "--api-sock", socket.toString())
                    : start(dir, "--api-sock", socket.toString(), "--no-seccomp");
            try {
                awaitSocket(socket, p);
                int threads = 0;
                try (java.util.stream.Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(p.pid()), "task"))) {
                    for (Path t : tasks.toList()) {
                        String status;
                        try {
                            status = Files.readString(t.resolve("status"));
                        } catch (java.nio.file.NoSuchFileException gone) {
                            continue; // the thread ended while we looked
                        }
                        String name = status.lines().findFirst().orElse("");
                        assertTrue(status.contains(filtered ? "Seccomp:\t2" : "Seccomp:\t0"),
                                (filtered ? "not filtered: " : "filtered: ") + name);
                        threads++;
                    }
                }
                assertTrue(threads > 5, "the JVM's threads and the API's: " + threads);
            } finally {
                p.destroy();
                assertTrue(p.waitFor(60, TimeUnit.SECONDS), "vessel did not end on SIGTERM");
            }
        }
    }

    @Test
    void sigtermRemovesTheSocketAndASecondProcessCannotTakeIt() throws Exception {
        Path socket = dir.resolve("api.sock");
        Path metrics = dir.resolve("metrics.json");
        Process p = start(dir, "--api-sock", socket.toString(), "--id", "first", "--metrics-path", metrics.toString());
        try {
            awaitSocket(socket, p);
            assertTrue(Curl.get(socket, "/").body().contains("\"id\":\"first\""));
            CliTest.Result second = CliTest.vessel("--api-sock", socket.toString());
            assertOneLineError(second, 1, "in use by another process");
            assertEquals(200, Curl.get(socket, "/").status());
            assertTrue(Files.exists(metrics));
        } finally {
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "vessel did not end on SIGTERM");
        }
        assertEquals(143, p.exitValue());
        assertFalse(Files.exists(socket), "socket left behind");
    }
}
