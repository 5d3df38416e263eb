package vessel.cli;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code vessel jailer}: validates, builds the jail (chroot folder, cgroup), then enters it through
 * {@link Jail#command}. Started by ./vessel, it hands that command line back (NUL-separated, to the file the
 * {@code vessel.jailer.exec} property names) and the launcher execs it, so the jailer's process becomes the
 * VMM's as Firecracker's jailer's does; started as plain {@code java}, it runs the command as its child and
 * ends with its status.
 */
final class JailerCommand {
    static final String EXEC_PROPERTY = "vessel.jailer.exec";

    private JailerCommand() {}

    static int run(List<String> args) throws UsageException, IOException, InterruptedException {
        JailerOptions o = JailerOptions.parse(args);
        if (o.help) {
            System.out.println(JailerOptions.HELP);
            return 0;
        }
        o.checkHost(runningJar());
        // /proc/self belongs to the effective uid
        if (!Files.getAttribute(Path.of("/proc/self"), "unix:uid").equals(0)) {
            throw new UsageException("vessel jailer must run as root (it mounts, chroots and then switches to --uid)");
        }
        Jail.Tools tools = Jail.Tools.HOST;
        Path mount = CgroupV2.findMount(Files.readAllLines(Path.of("/proc/self/mountinfo")));
        if (mount == null && !o.cgroupFiles.isEmpty()) {
            throw new UsageException("--cgroup needs a cgroup v2 hierarchy, and none is mounted (mount -t cgroup2 none /sys/fs/cgroup)");
        }
        if (mount != null) {
            CgroupV2.checkControllers(mount, o.cgroupFiles);
        }
        Jail jail = new Jail(o, Path.of(System.getProperty("java.home")));
        CgroupV2 cgroup = null;
        List<String> command;
        try {
            jail.build();
            // without a v2 hierarchy (a pure v1 host) the VMM runs in the jailer's cgroups: nothing to limit it by
            cgroup = mount == null ? null : CgroupV2.create(mount, o.parentCgroup, o.id, o.cgroupFiles);
            command = jail.command(tools, cgroup, vmmJvmOptions());
        } catch (UsageException | IOException | RuntimeException e) {
            // a refusal half-way (a --link across filesystems, a value the kernel rejects) leaves nothing behind
            jail.remove();
            if (cgroup != null) {
                Files.deleteIfExists(cgroup.dir());
            }
            throw e;
        }
        String execFile = System.getProperty(EXEC_PROPERTY);
        if (execFile != null) {
            StringBuilder b = new StringBuilder();
            command.forEach(a -> b.append(a).append('\0'));
            Files.writeString(Path.of(execFile), b, StandardCharsets.UTF_8);
            return 0;
        }
        // SIGTERM to this JVM reaches the VMM too. The hook is in place before the VMM starts (a signal in
        // between would otherwise leave it running); it stops the VMM first, so that its parent (unshare, with
        // --new-pid-ns) reaps it and ends with its status.
        java.util.concurrent.atomic.AtomicReference<Process> started = new java.util.concurrent.atomic.AtomicReference<>();
        Thread stop = new Thread(() -> {
            Process vmm;
            synchronized (started) { // a start under way completes first
                vmm = started.get();
            }
            if (vmm == null) {
                return;
            }
            vmm.descendants().forEach(ProcessHandle::destroy);
            boolean ended = false;
            try {
                ended = vmm.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                // fall through to the forced stop
            }
            if (!ended) {
                // a VMM that is init of its PID namespace ignores SIGTERM until its JVM installs a handler, and
                // unshare ignores SIGTERM while it waits: SIGKILL, so that no VMM outlives its jailer
                vmm.descendants().forEach(ProcessHandle::destroyForcibly);
                vmm.destroyForcibly();
            }
        }, "jailer-stop");
        Runtime.getRuntime().addShutdownHook(stop);
        Process vmm;
        synchronized (started) {
            vmm = new ProcessBuilder(command).inheritIO().start();
            started.set(vmm);
        }
        int status = vmm.waitFor();
        try {
            Runtime.getRuntime().removeShutdownHook(stop);
        } catch (IllegalStateException ignored) {
            // already shutting down
        }
        return status;
    }

    /**
     * The VMM's JVM options: what Vessel needs (native access; aircompressor's Unsafe), no hsperfdata file in
     * the jail's /tmp, and the tuning this JVM was started with (./vessel's scripts/jvm-options.sh) minus
     * options naming host files (an AOT cache, a log file), which the chroot does not hold.
     */
    static List<String> vmmJvmOptions() {
        List<String> options = new ArrayList<>(List.of("--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-XX:-UsePerfData"));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            boolean tuning = a.startsWith("-XX:") || a.startsWith("-Xms") || a.startsWith("-Xmx") || a.startsWith("-Xss");
            if (tuning && !a.contains("AOT") && !a.contains("/") && !options.contains(a)) {
                options.add(a);
            }
        }
        return options;
    }

    /** The jar this code runs from, or null (a class folder, as under Maven's tests). */
    private static Path runningJar() {
        try {
            var source = JailerCommand.class.getProtectionDomain().getCodeSource();
            Path p = source == null ? null : Path.of(source.getLocation().toURI());
            return p != null && Files.isRegularFile(p) && p.toString().endsWith(".jar") ? p : null;
        } catch (URISyntaxException | SecurityException e) {
            return null;
        }
    }
}
