package vessel.cli;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The options of {@code vessel jailer}, which are Firecracker's jailer's (docs/jailer.md): what they mean is
 * in {@link #HELP}. {@link #parse} checks the words; {@link #checkHost} then checks the named files and
 * directories, so that every refusal is one line before anything on the host is touched.
 */
final class JailerOptions {
    static final String HELP = """
            Usage: vessel jailer --id ID --uid UID --gid GID [options] -- VMM-ARGUMENTS...

            Starts one Vessel VMM (a JVM running the Vessel jar) as Firecracker's jailer starts Firecracker:
            in a chroot at CHROOT_BASE/vessel/ID/root holding only what the VM needs, in new mount (and
            optionally PID and network) namespaces, in its own cgroup v2, with resource limits, as UID:GID
            with no capabilities and no_new_privs. Run it as root. Paths in VMM-ARGUMENTS are inside the
            chroot: --link FILE puts FILE at /NAME there.

              --id ID                  the VM's unique id: 1 to 64 ASCII letters, digits or '-'
              --uid UID, --gid GID     whom the VMM runs as (numeric, not 0)
              --exec-file JAR          the Vessel jar to run (default: the jar this command runs from); it
                                       and the jars its manifest's Class-Path names go to /vessel/
              --chroot-base-dir DIR    where jails are built (default /srv/jailer; must exist)
              --link FILE              hard-link FILE into the chroot as /NAME (same filesystem only);
                                       repeatable: kernel, initrd, drives
              --netns PATH             join this network namespace (e.g. /var/run/netns/NAME)
              --new-net-ns             a new, empty network namespace instead (no host network at all)
              --new-pid-ns             a new PID namespace: the VMM is its process 1
              --cgroup FILE=VALUE      write VALUE to FILE of the VM's cgroup (cpu.max=50000 100000,
                                       memory.max=512M, ...); repeatable
              --cgroup-version 2       the only one supported (cgroup v1 is not)
              --parent-cgroup PATH     the cgroup is PARENT/ID under the v2 mount (default: vessel)
              --resource-limit RES=N   fsize (bytes a file may grow to) or no-file (open files;
                                       default 2048); repeatable
              --daemonize              a new session, stdin/stdout/stderr on /dev/null, return at once

            Example: vessel jailer --id vm1 --uid 123 --gid 100 --link target/guests/long.bin \\
                       -- run --kernel /long.bin --entry long""";

    static final Path DEFAULT_CHROOT_BASE = Path.of("/srv/jailer");
    static final String DEFAULT_PARENT_CGROUP = "vessel";
    static final long DEFAULT_NO_FILE = 2048; // Firecracker's jailer's default bound
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9-]{1,64}");
    private static final Pattern CGROUP_FILE = Pattern.compile("[a-z][a-z0-9_]*(\\.[A-Za-z0-9_]+)+");

    /** A setrlimit(2) resource, named as Firecracker's jailer names it and as prlimit(1) sets it. */
    enum Resource {
        FSIZE("fsize", "--fsize"), NO_FILE("no-file", "--nofile");

        final String jailerName;
        final String prlimitOption;

        Resource(String jailerName, String prlimitOption) {
            this.jailerName = jailerName;
            this.prlimitOption = prlimitOption;
        }
    }

    boolean help;
    String id;
    long uid = -1;
    long gid = -1;
    Path execFile;
    Path chrootBase = DEFAULT_CHROOT_BASE;
    final List<Path> links = new ArrayList<>();
    Path netns;
    boolean newNetNs;
    boolean newPidNs;
    final Map<String, String> cgroupFiles = new LinkedHashMap<>();
    String parentCgroup = DEFAULT_PARENT_CGROUP;
    final Map<Resource, Long> limits = new LinkedHashMap<>();
    boolean daemonize;
    List<String> vmmArgs = List.of();

    static JailerOptions parse(List<String> args) throws UsageException {
        JailerOptions o = new JailerOptions();
        List<String> rest = new ArrayList<>(args);
        while (!rest.isEmpty()) {
            String opt = rest.removeFirst();
            if (opt.equals("--")) {
                o.vmmArgs = List.copyOf(rest);
                break;
            }
            String inline = null;
            int eq = opt.indexOf('=');
            if (opt.startsWith("--") && eq > 0) {
                inline = opt.substring(eq + 1);
                opt = opt.substring(0, eq);
            }
            switch (opt) {
                case "-h", "--help" -> o.help = true;
                case "--id" -> o.id = value(opt, inline, rest);
                case "--uid" -> o.uid = id(opt, value(opt, inline, rest));
                case "--gid" -> o.gid = id(opt, value(opt, inline, rest));
                case "--exec-file" -> o.execFile = Path.of(value(opt, inline, rest));
                case "--chroot-base-dir" -> o.chrootBase = Path.of(value(opt, inline, rest));
                case "--link" -> o.links.add(Path.of(value(opt, inline, rest)));
                case "--netns" -> o.netns = Path.of(value(opt, inline, rest));
                case "--new-net-ns" -> o.newNetNs = true;
                case "--new-pid-ns" -> o.newPidNs = true;
                case "--daemonize" -> o.daemonize = true;
                case "--cgroup" -> o.cgroup(value(opt, inline, rest));
                case "--cgroup-version" -> {
                    String v = value(opt, inline, rest);
                    if (!v.equals("2")) {
                        throw new UsageException("--cgroup-version " + v + ": vessel jailer supports cgroup v2 only (--cgroup-version 2)");
                    }
                }
                case "--parent-cgroup" -> o.parentCgroup = relativeCgroup(value(opt, inline, rest));
                case "--resource-limit" -> o.limit(value(opt, inline, rest));
                case "--node" -> throw new UsageException("--node is not supported: pin CPUs and memory with --cgroup cpuset.cpus=... --cgroup cpuset.mems=...");
                default -> throw new UsageException("unknown option '" + opt + "' (see vessel jailer --help; the VMM's own options go after --)");
            }
        }
        if (o.help) {
            return o;
        }
        if (o.id == null) {
            throw new UsageException("--id ID is needed (the VM's unique id: letters, digits, '-')");
        }
        if (!ID.matcher(o.id).matches()) {
            throw new UsageException("--id takes 1 to 64 ASCII letters, digits or '-', not '" + o.id + "'");
        }
        if (o.uid < 0 || o.gid < 0) {
            throw new UsageException("--uid UID and --gid GID are needed (whom the VMM runs as)");
        }
        if (o.uid == 0 || o.gid == 0) {
            throw new UsageException("--uid and --gid must not be 0: the jailer exists to run the VMM unprivileged");
        }
        if (o.netns != null && o.newNetNs) {
            throw new UsageException("--netns and --new-net-ns contradict each other (join one, or make a new one)");
        }
        if (o.vmmArgs.isEmpty()) {
            throw new UsageException("the VMM's arguments are needed after -- (e.g. -- run --kernel /long.bin --entry long)");
        }
        o.limits.putIfAbsent(Resource.NO_FILE, DEFAULT_NO_FILE);
        return o;
    }

    /**
     * Checks what the options name on this host. {@code runningJar} is the jar this JVM runs from (null when it
     * runs from a class folder), the default for --exec-file.
     */
    void checkHost(Path runningJar) throws UsageException {
        if (execFile == null) {
            if (runningJar == null) {
                throw new UsageException("--exec-file JAR is needed (this vessel runs from classes, not from a jar)");
            }
            execFile = runningJar;
        }
        if (!Files.isRegularFile(execFile)) {
            throw new UsageException("--exec-file " + execFile + " is not a file");
        }
        if (!Files.isDirectory(chrootBase)) {
            throw new UsageException("--chroot-base-dir " + chrootBase + " is not a directory (create it first, e.g. mkdir -p " + chrootBase + ")");
        }
        for (Path link : links) {
            if (!Files.isRegularFile(link)) {
                throw new UsageException("--link " + link + " is not a file");
            }
        }
        if (netns != null && !Files.exists(netns)) {
            throw new UsageException("--netns " + netns + " does not exist (ip netns add NAME makes /var/run/netns/NAME)");
        }
        Path jail = jailDir();
        if (Files.exists(jail, LinkOption.NOFOLLOW_LINKS)) {
            // Firecracker's jailer reuses it; a jail an earlier VMM could write to is not reused here,
            // since root builds the next jail inside it (a planted symlink would redirect that).
            throw new UsageException("jail " + jail + " already exists: an id is for one VM (remove it, or pick another --id)");
        }
    }

    /** The name the jail's layout uses for the VMM, Firecracker's exec_file_name: the jar's name without .jar. */
    String execFileName() {
        String name = execFile.getFileName().toString();
        return name.endsWith(".jar") && name.length() > 4 ? name.substring(0, name.length() - 4) : name;
    }

    /** CHROOT_BASE/EXEC_FILE_NAME/ID: the jail; the chroot is its root/ folder. */
    Path jailDir() {
        return chrootBase.toAbsolutePath().resolve(execFileName()).resolve(id);
    }

    private void cgroup(String spec) throws UsageException {
        int eq = spec.indexOf('=');
        String file = eq < 0 ? spec : spec.substring(0, eq);
        if (eq < 0 || !CGROUP_FILE.matcher(file).matches()) {
            throw new UsageException("--cgroup takes FILE=VALUE with FILE a cgroup file such as cpu.max or memory.max, not '" + spec + "'");
        }
        String value = spec.substring(eq + 1);
        if (value.isEmpty() || value.indexOf('\n') >= 0) {
            throw new UsageException("--cgroup " + file + " needs a one-line value (e.g. " + file + "=max)");
        }
        cgroupFiles.put(file, value);
    }

    private void limit(String spec) throws UsageException {
        int eq = spec.indexOf('=');
        String name = eq < 0 ? spec : spec.substring(0, eq);
        Resource resource = null;
        for (Resource r : Resource.values()) {
            if (r.jailerName.equals(name)) {
                resource = r;
            }
        }
        if (eq < 0 || resource == null) {
            throw new UsageException("--resource-limit takes fsize=BYTES or no-file=COUNT, not '" + spec + "'");
        }
        String v = spec.substring(eq + 1);
        try {
            long n = Long.parseLong(v);
            if (n < 0) {
                throw new NumberFormatException();
            }
            limits.put(resource, n);
        } catch (NumberFormatException e) {
            throw new UsageException("--resource-limit " + name + " takes a whole number, not '" + v + "'");
        }
    }

    private static String relativeCgroup(String path) throws UsageException {
        String trimmed = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        for (String part : trimmed.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..") || !part.chars().allMatch(
                    c -> c == '-' || c == '_' || c == '.' || (c < 128 && Character.isLetterOrDigit(c)))) {
                throw new UsageException("--parent-cgroup takes a relative path of plain names (a/b), not '" + path + "'");
            }
        }
        return trimmed;
    }

    private static long id(String opt, String v) throws UsageException {
        try {
            long n = Long.parseLong(v);
            if (n < 0 || n > 0xFFFF_FFFEL) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException(opt + " takes a numeric id (0 to 4294967294), not '" + v + "'");
        }
    }

    private static String value(String opt, String inline, List<String> rest) throws UsageException {
        if (inline != null) {
            return inline;
        }
        if (rest.isEmpty() || rest.getFirst().startsWith("--")) {
            throw new UsageException(opt + " needs a value");
        }
        return rest.removeFirst();
    }
}
