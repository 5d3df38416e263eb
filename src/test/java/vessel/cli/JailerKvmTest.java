package vessel.cli;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import vessel.testkit.NativeTools;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;
import vessel.testkit.VesselProcess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code vessel jailer} starting tiny flat guests for real: as an unprivileged uid, chrooted, in its cgroup,
 * with its limits. Needs root (the jailer does) and KVM.
 */
@vessel.testkit.KvmTest
class JailerKvmTest {
    private static final int UID = 12345;
    private static final int GID = 12346;
    private static final Path SCRATCH = NativeTools.projectDir().resolve("target/jailer-test");
    private static final Path BASE = SCRATCH.resolve("base");
    private static Path jar;
    private static Path cgroupMount;
    private final List<String> ids = new ArrayList<>();

    @BeforeAll
    static void setUp() throws Exception {
        RequiresKvm.assumeKvm();
        Assumptions.assumeTrue(Files.getAttribute(Path.of("/proc/self"), "unix:uid").equals(0),
                "skipped: vessel jailer needs root (it mounts, chroots and switches user)");
        for (String tool : List.of("unshare", "setpriv", "prlimit", "chroot", "mount", "mknod")) {
            Assumptions.assumeTrue(Files.exists(Path.of("/usr/bin", tool)) || Files.exists(Path.of("/usr/sbin", tool))
                    || Files.exists(Path.of("/bin", tool)), "skipped: " + tool + " is missing");
        }
        Files.createDirectories(BASE);
        jar = vesselJar(SCRATCH.resolve("dist"));
        cgroupMount = CgroupV2.findMount(Files.readAllLines(Path.of("/proc/self/mountinfo")));
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (String id : ids) {
            Path jail = BASE.resolve("vessel").resolve(id);
            if (Files.exists(jail)) {
                try (var paths = Files.walk(jail)) { // does not follow the jail's symlinks (lib -> usr/lib)
                    for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                        Files.delete(p);
                    }
                }
            }
            if (cgroupMount != null) {
                Path cg = cgroupMount.resolve("vessel").resolve(id);
                for (int i = 0; i < 50 && Files.exists(cg); i++) {
                    try {
                        Files.delete(cg); // EBUSY until the last member is gone
                    } catch (IOException e) {
                        Thread.sleep(100);
                    }
                }
            }
        }
    }

    private String newId() {
        String id = "jt-" + ProcessHandle.current().pid() + "-" + ids.size();
        ids.add(id);
        return id;
    }

    private static List<String> jailer(String id, String... more) {
        List<String> args = new ArrayList<>(List.of("jailer", "--id", id, "--uid", "" + UID, "--gid", "" + GID,
                "--exec-file", jar.toString(), "--chroot-base-dir", BASE.toString()));
        args.addAll(List.of(more));
        return VesselProcess.command(args.toArray(String[]::new));
    }

    @Test
    void theFlatGuestRunsInTheJailAndEndsWithItsStatus() throws Exception {
        String id = newId();
        List<String> cmd = jailer(id, "--link", TestGuests.get("long.bin").toString(),
                "--cgroup", "cgroup.max.descendants=0", "--", "run", "--kernel", "/long.bin", "--entry", "long");
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        byte[] out = p.getInputStream().readAllBytes();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals("vessel long mode ok\n", new String(out, StandardCharsets.UTF_8), err);
        assertEquals(0, p.exitValue(), err);
        Path root = BASE.resolve("vessel").resolve(id).resolve("root");
        assertTrue(Files.isRegularFile(root.resolve("vessel/vessel.jar")), "the exec file is in the jail");
        assertEquals(UID, Files.getAttribute(root, "unix:uid"), "the jail's root belongs to the VMM's user");
        if (cgroupMount != null) {
            assertEquals("0", Files.readString(cgroupMount.resolve("vessel").resolve(id).resolve("cgroup.max.descendants")).strip());
        }
    }

    @Test
    void theVmmRunsAsTheUidChrootedInItsCgroupWithItsLimits() throws Exception {
        String id = newId();
        List<String> cmd = jailer(id, "--link", TestGuests.get("spin.bin").toString(), "--new-pid-ns",
                "--resource-limit", "no-file=1024", "--resource-limit", "fsize=1000000",
                "--", "run", "--kernel", "/spin.bin", "--entry", "long", "--quiet");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(SCRATCH.resolve(id + ".log").toFile()).start();
        Path root = BASE.resolve("vessel").resolve(id).resolve("root");
        long pid = -1;
        try {
            Path status = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            // the pid file is written before the last exec (pid stays): wait until that pid is the VMM's JVM
            while (System.nanoTime() < deadline) {
                if (pid < 0 && Files.exists(root.resolve("vessel.pid"))) {
                    String text = Files.readString(root.resolve("vessel.pid")).strip();
                    pid = text.isEmpty() ? -1 : Long.parseLong(text);
                }
                if (pid > 0) {
                    status = Path.of("/proc", "" + pid, "status");
                    if (Files.exists(status) && Files.readString(status).contains("Name:\tjava")) {
                        break;
                    }
                }
                assertTrue(p.isAlive(), () -> "the jailer ended: " + log(id));
                Thread.sleep(100);
            }
            if (status == null || !Files.readString(status).contains("Name:\tjava")) {
                fail("no jailed java process within 60 s: " + log(id));
            }
            String s = Files.readString(status);
            assertTrue(s.contains("Uid:\t" + UID + "\t" + UID + "\t" + UID + "\t" + UID + "\n"), s);
            assertTrue(s.contains("Gid:\t" + GID + "\t" + GID + "\t" + GID + "\t" + GID + "\n"), s);
            assertTrue(s.contains("Groups:\t" + GID + " \n"), s);
            assertTrue(s.contains("CapEff:\t0000000000000000\n") && s.contains("CapPrm:\t0000000000000000\n"), s);
            assertTrue(s.contains("NoNewPrivs:\t1\n"), s);
            assertTrue(s.matches("(?s).*NSpid:\t" + pid + "\t1\n.*"), "process 1 of a new PID namespace: " + s);
            assertEquals(root.toRealPath(), Path.of("/proc", "" + pid, "root").toRealPath(), "its root is the chroot");
            String limits = Files.readString(Path.of("/proc", "" + pid, "limits"));
            assertTrue(limits.matches("(?s).*Max open files\\s+1024\\s+1024\\s.*"), limits);
            assertTrue(limits.matches("(?s).*Max file size\\s+1000000\\s+1000000\\s.*"), limits);
            if (cgroupMount == null) {
                Assumptions.abort("no cgroup v2 hierarchy mounted: cgroup membership not checked");
            }
            String cgroups = Files.readString(Path.of("/proc", "" + pid, "cgroup"));
            assertTrue(cgroups.contains("0::/vessel/" + id + "\n"), cgroups);
            assertTrue(Files.readString(cgroupMount.resolve("vessel").resolve(id).resolve("cgroup.procs")).contains("" + pid));
            assertTrue(p.isAlive(), "the spin guest runs on");
        } finally {
            p.destroy(); // the jailer's shutdown hook stops the VMM it started
            p.waitFor(10, TimeUnit.SECONDS);
            if (pid > 0) {
                ProcessHandle.of(pid).ifPresent(h -> {
                    try {
                        h.onExit().get(10, TimeUnit.SECONDS);
                    } catch (Exception e) {
                        h.destroyForcibly();
                        fail("the VMM outlived its jailer: " + e);
                    }
                });
            }
        }
    }

    @Test
    void cpuAndMemoryLimitsAreWrittenWhereTheHierarchyOffersThem() throws Exception {
        Assumptions.assumeTrue(cgroupMount != null, "skipped: no cgroup v2 hierarchy mounted");
        List<String> offered = List.of(Files.readString(cgroupMount.resolve("cgroup.controllers")).strip().split("\\s+"));
        Assumptions.assumeTrue(offered.contains("cpu") && offered.contains("memory"), "skipped: the cgroup v2 hierarchy at "
                + cgroupMount + " offers no cpu and memory controllers (offers: " + offered + "; a hybrid host keeps them in v1)");
        String id = newId();
        CliTest.Result r = run(jailer(id, "--link", TestGuests.get("long.bin").toString(), "--cgroup", "cpu.max=50000 100000",
                "--cgroup", "memory.max=1073741824", "--", "run", "--kernel", "/long.bin", "--entry", "long"));
        assertEquals(0, r.status(), r.err());
        Path cg = cgroupMount.resolve("vessel").resolve(id);
        assertEquals("50000 100000", Files.readString(cg.resolve("cpu.max")).strip());
        assertEquals("1073741824", Files.readString(cg.resolve("memory.max")).strip());
    }

    @Test
    void aControllerTheHierarchyLacksIsRefusedInOneLineBeforeAnythingIsBuilt() throws Exception {
        Assumptions.assumeTrue(cgroupMount != null, "skipped: no cgroup v2 hierarchy mounted");
        String offered = Files.readString(cgroupMount.resolve("cgroup.controllers"));
        Assumptions.assumeFalse(offered.contains("cpu"), "skipped: this host's cgroup v2 offers cpu");
        String id = newId();
        CliTest.Result r = run(jailer(id, "--cgroup", "cpu.max=50000 100000", "--", "run", "--kernel", "/x", "--entry", "long"));
        assertEquals(2, r.status(), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("vessel: --cgroup cpu.*: the cgroup v2 hierarchy at " + cgroupMount + " offers no 'cpu' controller"), r.err());
        assertTrue(!Files.exists(BASE.resolve("vessel").resolve(id)), "no jail left behind");
    }

    private static CliTest.Result run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        byte[] out = p.getInputStream().readAllBytes();
        byte[] err = p.getErrorStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new CliTest.Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    }

    private static String log(String id) {
        try {
            return Files.readString(SCRATCH.resolve(id + ".log"));
        } catch (IOException e) {
            return e.toString();
        }
    }

    /**
     * A Vessel jar as `mvn package` makes it (Main-Class, Class-Path lib/...), from this run's classes: the
     * package phase comes after the tests, so target/vessel.jar may be missing or stale here.
     */
    private static Path vesselJar(Path dir) throws Exception {
        Path lib = Files.createDirectories(dir.resolve("lib"));
        Set<Path> entries = new LinkedHashSet<>();
        for (String e : VesselProcess.classpath().split(java.io.File.pathSeparator)) {
            Path p = Path.of(e).toAbsolutePath();
            entries.add(p);
            if (p.toString().endsWith(".jar") && Files.isRegularFile(p)) {
                try (JarFile j = new JarFile(p.toFile())) { // Surefire's booter jar names the real classpath in its manifest
                    String cp = j.getManifest() == null ? null : j.getManifest().getMainAttributes().getValue(Attributes.Name.CLASS_PATH);
                    if (cp != null) {
                        for (String url : cp.strip().split("\\s+")) {
                            entries.add(url.startsWith("file:") ? Path.of(URI.create(url)) : p.getParent().resolve(url));
                        }
                    }
                }
            }
        }
        Path classes = NativeTools.projectDir().resolve("target/classes");
        List<String> libs = new ArrayList<>();
        for (Path e : entries) {
            if (e.toString().endsWith(".jar") && Files.isRegularFile(e) && !e.getFileName().toString().startsWith("surefire")) {
                Files.copy(e, lib.resolve(e.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                libs.add("lib/" + e.getFileName());
            }
        }
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        m.getMainAttributes().put(Attributes.Name.MAIN_CLASS, "vessel.cli.Main");
        m.getMainAttributes().put(Attributes.Name.CLASS_PATH, String.join(" ", libs));
        m.getMainAttributes().putValue("Enable-Native-Access", "ALL-UNNAMED");
        Path jarFile = dir.resolve("vessel.jar");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jarFile), m);
             var files = Files.walk(classes)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
                try (InputStream in = Files.newInputStream(f, LinkOption.NOFOLLOW_LINKS)) {
                    in.transferTo(out);
                }
                out.closeEntry();
            }
        }
        return jarFile;
    }
}
