package vessel.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;
import vessel.testkit.VesselProcess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CLI's seccomp filters on a running VM, seen from outside as the kernel reports them in
 * /proc/PID/task/TID/status: every thread filtered, and a forbidden call from a device thread ending
 * the process with SIGSYS.
 */
@vessel.testkit.KvmTest
class SeccompKvmTest {
    /** A process killed by a signal ends, as Java reports it, with 128 + the signal; SIGSYS is 31. */
    private static final int KILLED_BY_SIGSYS = 128 + 31;

    /** spin.bin never ends; --entropy gives the VM a virtio device, so the event loop thread runs too. */
    private static List<String> spinningVm(String... extra) throws Exception {
        List<String> args = new ArrayList<>(List.of("run", "--kernel", TestGuests.get("spin.bin").toString(),
                "--entry", "long", "--cpus", "2", "--entropy", "--quiet"));
        args.addAll(List.of(extra));
        return VesselProcess.command(args.toArray(String[]::new));
    }

    /**
     * Thread name to its status lines "Seccomp" and "Seccomp_filters", once the VM's threads are all up and,
     * if {@code stacked}, have installed their own filters (a thread shows in /proc a moment before it has).
     */
    private static Map<String, String> threadsOnceRunning(Process p, boolean stacked) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            assertTrue(p.isAlive(), "vessel ended early with status " + (p.isAlive() ? "" : p.exitValue()));
            Map<String, String> threads = threads(p.pid());
            List<String> vm = List.of("vcpu-0", "vcpu-1", "devices");
            if (vm.stream().allMatch(t -> threads.containsKey(t)
                    && (!stacked || threads.get(t).contains("Seccomp_filters:\t2")))) {
                return threads;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the VM's threads did not all start" + (stacked ? " with their own filters" : "")
                + ": " + threads(p.pid()));
    }

    private static Map<String, String> threads(long pid) throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path t : tasks.toList()) {
                try {
                    String name = Files.readString(t.resolve("comm")).strip() + " (" + t.getFileName() + ")";
                    String seccomp = Files.readAllLines(t.resolve("status")).stream()
                            .filter(l -> l.startsWith("Seccomp")).reduce((a, b) -> a + " " + b).orElse("");
                    m.put(name, seccomp);
                    m.putIfAbsent(name.substring(0, name.indexOf(" (")), seccomp);
                } catch (java.nio.file.NoSuchFileException gone) {
                    // the thread ended while we looked
                }
            }
        }
        return m;
    }

    @Test
    void everyThreadOfARunningVmIsFilteredAndVcpusAndTheEventLoopStackTheirOwn() throws Exception {
        RequiresKvm.assumeKvm();
        Process p = new ProcessBuilder(spinningVm()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            Map<String, String> threads = threadsOnceRunning(p, true);
            assertTrue(threads.size() > 10, "the JVM's threads should be there too: " + threads.keySet());
            threads.forEach((name, status) ->
                    assertTrue(status.contains("Seccomp:\t2"), name + " is not in filter mode: " + status));
            // One filter for the process; the vCPU and event-loop threads stack a second.
            assertTrue(threads.get("vcpu-0").contains("Seccomp_filters:\t2"), threads.get("vcpu-0"));
            assertTrue(threads.get("vcpu-1").contains("Seccomp_filters:\t2"), threads.get("vcpu-1"));
            assertTrue(threads.get("devices").contains("Seccomp_filters:\t2"), threads.get("devices"));
            // The launcher's threads (comm "java") and the JVM's own have the process filter only.
            assertTrue(threads.get("java").contains("Seccomp_filters:\t1"), threads.toString());
            assertTrue(threads.get("VM Thread").contains("Seccomp_filters:\t1"), threads.toString());
        } finally {
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void withoutSeccompNoThreadIsFiltered() throws Exception {
        RequiresKvm.assumeKvm();
        Process p = new ProcessBuilder(spinningVm("--no-seccomp")).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            threadsOnceRunning(p, false).forEach((name, status) ->
                    assertTrue(status.contains("Seccomp:\t0"), name + " is filtered: " + status));
        } finally {
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aForbiddenCallFromTheDeviceEventLoopEndsTheProcessWithSigsys() throws Exception {
        RequiresKvm.assumeKvm();
        // The test hook makes the event loop's thread issue ioctl(-1, KVM_CREATE_VM) as it starts: the
        // process filter allows any ioctl, the event loop's own table no KVM one.
        List<String> cmd = new ArrayList<>(spinningVm());
        cmd.add(1, "-Dvessel.test.eventLoopForbiddenCall=true");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "vessel kept running after a forbidden call");
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(KILLED_BY_SIGSYS, p.exitValue(), out);
        assertFalse(out.contains("forbidden ioctl returned"), "the call returned instead of ending the process: " + out);

        // At --seccomp-level 1 the same call is only logged (by the kernel) and Vessel goes on.
        List<String> logOnly = new ArrayList<>(spinningVm("--seccomp-level", "1"));
        logOnly.add(1, "-Dvessel.test.eventLoopForbiddenCall=true");
        Process q = new ProcessBuilder(logOnly).redirectErrorStream(true).start();
        try {
            threadsOnceRunning(q, true);
            Thread.sleep(500);
            assertTrue(q.isAlive(), "log mode ended the process");
        } finally {
            q.destroy();
            q.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
