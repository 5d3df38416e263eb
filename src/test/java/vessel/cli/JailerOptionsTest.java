package vessel.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import vessel.testkit.NativeTools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code vessel jailer}'s options and refusals, without starting anything. */
class JailerOptionsTest {
    private static final Path SCRATCH = NativeTools.projectDir().resolve("target/jailer-unit");
    private static Path jar;

    @BeforeAll
    static void scratch() throws IOException {
        Files.createDirectories(SCRATCH.resolve("lib"));
        Files.writeString(SCRATCH.resolve("lib/dep.jar"), "not read");
        jar = SCRATCH.resolve("vessel.jar");
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        m.getMainAttributes().put(Attributes.Name.MAIN_CLASS, "vessel.cli.Main");
        m.getMainAttributes().put(Attributes.Name.CLASS_PATH, "lib/dep.jar");
        try (var out = new JarOutputStream(Files.newOutputStream(jar), m)) {
            out.flush();
        }
    }

    private static List<String> base(String... more) {
        List<String> args = new ArrayList<>(List.of("--id", "vm-1", "--uid", "123", "--gid", "100"));
        args.addAll(Arrays.asList(more));
        return args;
    }

    private static List<String> withVmm(String... more) {
        List<String> args = base(more);
        args.addAll(List.of("--", "run", "--kernel", "/long.bin", "--entry", "long"));
        return args;
    }

    private static String refusal(List<String> args) {
        return assertThrows(UsageException.class, () -> JailerOptions.parse(args)).getMessage();
    }

    @Test
    void firecrackersOptionsAreUnderstood() throws UsageException {
        JailerOptions o = JailerOptions.parse(withVmm("--exec-file", "/opt/vessel.jar", "--chroot-base-dir", "/var/jail",
                "--netns", "/var/run/netns/vm1", "--new-pid-ns", "--daemonize", "--cgroup-version", "2",
                "--parent-cgroup", "all/vms", "--cgroup", "cpu.max=50000 100000", "--cgroup=memory.max=512M",
                "--resource-limit", "fsize=250000000", "--link", "disk.img"));
        assertEquals("vm-1", o.id);
        assertEquals(123, o.uid);
        assertEquals(100, o.gid);
        assertEquals(Path.of("/opt/vessel.jar"), o.execFile);
        assertEquals("vessel", o.execFileName());
        assertEquals(Path.of("/var/jail/vessel/vm-1"), o.jailDir());
        assertEquals(Path.of("/var/run/netns/vm1"), o.netns);
        assertTrue(o.newPidNs && o.daemonize);
        assertEquals("all/vms", o.parentCgroup);
        assertEquals("50000 100000", o.cgroupFiles.get("cpu.max"));
        assertEquals("512M", o.cgroupFiles.get("memory.max"));
        assertEquals(250000000L, o.limits.get(JailerOptions.Resource.FSIZE));
        assertEquals(JailerOptions.DEFAULT_NO_FILE, o.limits.get(JailerOptions.Resource.NO_FILE), "Firecracker's default bound");
        assertEquals(List.of(Path.of("disk.img")), o.links);
        assertEquals(List.of("run", "--kernel", "/long.bin", "--entry", "long"), o.vmmArgs, "everything after -- goes to the VMM");
    }

    @Test
    void defaultsAreFirecrackersWhereVesselHasThem() throws UsageException {
        JailerOptions o = JailerOptions.parse(withVmm("--exec-file", "vessel.jar"));
        assertEquals(Path.of("/srv/jailer"), o.chrootBase);
        assertEquals("vessel", o.parentCgroup);
    }

    @ParameterizedTest
    @ValueSource(strings = {"vm_1", "vm/1", "../x", "vm 1", "vé", "", "a123456789a123456789a123456789a123456789a123456789a123456789abcde"})
    void idsOtherThanLettersDigitsAndHyphensUpTo64AreRefused(String id) {
        List<String> args = withVmm();
        args.set(1, id);
        assertTrue(refusal(args).startsWith("--id takes 1 to 64 ASCII letters, digits or '-'"));
    }

    @Test
    void sixtyFourCharactersIsTheLongestId() throws UsageException {
        List<String> args = withVmm();
        args.set(1, "a".repeat(64));
        assertEquals(64, JailerOptions.parse(args).id.length());
    }

    @Test
    void badInputIsRefusedWithWhatToChange() {
        assertEquals("--id ID is needed (the VM's unique id: letters, digits, '-')",
                refusal(List.of("--uid", "1", "--gid", "1", "--", "run")));
        assertEquals("--uid UID and --gid GID are needed (whom the VMM runs as)",
                refusal(List.of("--id", "a", "--uid", "1", "--", "run")));
        assertTrue(refusal(withVmm("--uid", "0")).contains("must not be 0"));
        assertEquals("--uid takes a numeric id (0 to 4294967294), not 'nobody'", refusal(withVmm("--uid", "nobody")));
        assertEquals("--gid takes a numeric id (0 to 4294967294), not '-5'", refusal(withVmm("--gid", "-5")));
        assertTrue(refusal(withVmm("--cgroup-version", "1")).contains("cgroup v2 only"));
        assertTrue(refusal(withVmm("--cgroup", "cpumax")).startsWith("--cgroup takes FILE=VALUE"));
        assertTrue(refusal(withVmm("--cgroup", "../cpu.max=1")).startsWith("--cgroup takes FILE=VALUE"));
        assertTrue(refusal(withVmm("--cgroup", "cpu.max=")).contains("needs a one-line value"));
        assertTrue(refusal(withVmm("--cgroup", "cpu.max=1\n2")).contains("needs a one-line value"));
        assertEquals("--resource-limit takes fsize=BYTES or no-file=COUNT, not 'cpu=1'", refusal(withVmm("--resource-limit", "cpu=1")));
        assertEquals("--resource-limit no-file takes a whole number, not 'lots'", refusal(withVmm("--resource-limit", "no-file=lots")));
        assertTrue(refusal(withVmm("--parent-cgroup", "a/../b")).startsWith("--parent-cgroup takes a relative path"));
        assertTrue(refusal(withVmm("--parent-cgroup", "/abs")).startsWith("--parent-cgroup takes a relative path"));
        assertTrue(refusal(withVmm("--netns", "/x", "--new-net-ns")).contains("contradict"));
        assertTrue(refusal(base()).startsWith("the VMM's arguments are needed after --"));
        assertTrue(refusal(withVmm("--kernel", "x")).startsWith("unknown option '--kernel'"));
        assertEquals("--exec-file needs a value", refusal(withVmm("--exec-file")));
        assertTrue(refusal(withVmm("--node", "0")).startsWith("--node is not supported"));
    }

    private static JailerOptions parsed(String... more) throws UsageException {
        return JailerOptions.parse(withVmm(more));
    }

    private static String hostRefusal(JailerOptions o, Path runningJar) {
        return assertThrows(UsageException.class, () -> o.checkHost(runningJar)).getMessage();
    }

    @Test
    void whatTheOptionsNameMustExistOnTheHost() throws Exception {
        Path base = SCRATCH;
        assertEquals("--exec-file JAR is needed (this vessel runs from classes, not from a jar)",
                hostRefusal(parsed("--chroot-base-dir", base.toString()), null));
        assertEquals("--exec-file " + base.resolve("missing.jar") + " is not a file",
                hostRefusal(parsed("--exec-file", base.resolve("missing.jar").toString(), "--chroot-base-dir", base.toString()), null));
        assertTrue(hostRefusal(parsed("--exec-file", jar.toString(), "--chroot-base-dir", base.resolve("nope").toString()), null)
                .startsWith("--chroot-base-dir " + base.resolve("nope") + " is not a directory"));
        assertEquals("--link " + base.resolve("nope.img") + " is not a file",
                hostRefusal(parsed("--exec-file", jar.toString(), "--chroot-base-dir", base.toString(), "--link", base.resolve("nope.img").toString()), null));
        assertTrue(hostRefusal(parsed("--exec-file", jar.toString(), "--chroot-base-dir", base.toString(), "--netns", "/var/run/netns/no-such-ns"), null)
                .startsWith("--netns /var/run/netns/no-such-ns does not exist"));
        Files.createDirectories(base.resolve("vessel/taken"));
        List<String> taken = withVmm("--exec-file", jar.toString(), "--chroot-base-dir", base.toString());
        taken.set(1, "taken");
        assertTrue(hostRefusal(JailerOptions.parse(taken), null).startsWith("jail " + base.resolve("vessel/taken") + " already exists"));
        JailerOptions ok = parsed("--chroot-base-dir", base.toString());
        ok.checkHost(jar);
        assertEquals(jar, ok.execFile, "the running jar is the default exec file");
    }

    @Test
    void theExecFileMustBeAnExecutableJarWhoseClassPathStaysInItsFolder() throws Exception {
        assertEquals(List.of("lib/dep.jar"), Jail.classPath(jar));
        Path text = Files.writeString(SCRATCH.resolve("notes.txt"), "hello");
        assertTrue(assertThrows(UsageException.class, () -> Jail.classPath(text)).getMessage().contains("is not a jar"));
        Path escaping = SCRATCH.resolve("escaping.jar");
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        m.getMainAttributes().put(Attributes.Name.MAIN_CLASS, "vessel.cli.Main");
        m.getMainAttributes().put(Attributes.Name.CLASS_PATH, "../../etc/x.jar");
        try (var out = new JarOutputStream(Files.newOutputStream(escaping), m)) {
            out.flush();
        }
        assertTrue(assertThrows(UsageException.class, () -> Jail.classPath(escaping)).getMessage().contains("is not inside the jar's folder"));
    }

    @Test
    void theV2HierarchyIsFoundInMountinfoPureOrHybrid() {
        String hybrid = "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw";
        String v1 = "42 31 0:39 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu";
        String pure = "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate";
        assertEquals(Path.of("/sys/fs/cgroup/unified"), CgroupV2.findMount(List.of(v1, hybrid)));
        assertEquals(Path.of("/sys/fs/cgroup"), CgroupV2.findMount(List.of(hybrid, pure)), "the standard place wins");
        assertEquals(null, CgroupV2.findMount(List.of(v1)));
    }

    @Test
    void theCliRefusesBadInputInOneLineWithStatusTwo() throws Exception {
        CliTest.Result r = CliTest.vessel("jailer", "--id", "bad_id", "--uid", "1", "--gid", "1", "--", "run");
        assertEquals(2, r.status(), r.err());
        assertEquals("vessel: --id takes 1 to 64 ASCII letters, digits or '-', not 'bad_id'\n", r.err());
    }
}
