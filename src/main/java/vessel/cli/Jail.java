package vessel.cli;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarFile;

/**
 * Builds the jail's folder and the command line that enters it.
 *
 * <p>Java cannot run code between fork and exec, where a jailer unshares, mounts, chroots and drops
 * privileges; util-linux and coreutils do each step and exec the next, so the last exec is the VMM's JVM:
 * <pre>
 * env -i PATH=...                     no inherited environment (JAVA_TOOL_OPTIONS, LD_PRELOAD, ...)
 *  [nsenter --net=NETNS]              join the given network namespace
 *  [setsid --fork]                    --daemonize
 *  unshare --mount [--pid --fork] [--net] -- sh -c SETUP
 *    SETUP (root, in the new mount namespace, outside the chroot): join the cgroup, write the pid file,
 *          bind-mount the JDK and shared libraries read-only, mount proc and a tmpfs /dev with only
 *          null, urandom, kvm and net/tun, then exec:
 *  prlimit --nofile=N:N [--fsize=N:N]  limits, inherited by everything exec'd after
 *  setpriv --no-new-privs --inh-caps=-all   no exec can gain privileges again (setuid, file capabilities)
 *  chroot --userspec=UID:GID --groups=GID ROOT   chroot(2), then setgroups/setgid/setuid: a root process
 *          that sets a non-zero uid loses every capability
 *  JAVA ... -jar /vessel/JAR VMM-ARGS
 * </pre>
 * The mounts exist only in the VM's mount namespace, so they vanish with it and need no clean-up.
 */
final class Jail {
    /** Host folders of shared libraries the JVM loads (libc, libz, ...), mirrored read-only into the chroot. */
    static final List<Path> LIBRARY_DIRS = List.of(Path.of("/lib"), Path.of("/lib64"), Path.of("/usr/lib"), Path.of("/usr/lib64"));
    /** Where the Vessel jar and its libraries go inside the chroot (not /lib: that is the host's libraries). */
    static final String VMM_DIR = "vessel";

    private final JailerOptions options;
    private final Path root;
    private final Path javaHome;
    private final List<Path> readOnlyBinds = new ArrayList<>();
    private String jar;

    Jail(JailerOptions options, Path javaHome) {
        this.options = options;
        this.root = options.jailDir().resolve("root");
        this.javaHome = javaHome;
    }

    Path root() {
        return root;
    }

    Path pidFile() {
        return root.resolve(options.execFileName() + ".pid");
    }

    /** Creates ROOT and places the Vessel jar, its Class-Path libraries and the --link files in it. */
    void build() throws UsageException, IOException {
        List<String> classPath = classPath(options.execFile);
        Files.createDirectories(root.getParent());
        Files.createDirectory(root);
        Path vmmDir = Files.createDirectory(root.resolve(VMM_DIR));
        jar = "/" + VMM_DIR + "/" + options.execFile.getFileName();
        linkOrCopy(options.execFile, vmmDir.resolve(options.execFile.getFileName()));
        Path jarDir = options.execFile.toAbsolutePath().getParent();
        for (String entry : classPath) {
            Path target = vmmDir.resolve(entry).normalize();
            Files.createDirectories(target.getParent());
            linkOrCopy(jarDir.resolve(entry), target);
        }
        for (Path link : options.links) {
            Path target = root.resolve(link.getFileName().toString());
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                throw new UsageException("--link " + link + ": /" + link.getFileName() + " is already taken in the chroot (two files of that name?)");
            }
            try {
                Files.createLink(target, link);
            } catch (FileSystemException e) {
                // a copy would split a writable drive from its original: hard links only, as Firecracker's users make them
                throw new UsageException("--link " + link + " cannot be hard-linked into " + root + " (" + reason(e)
                        + "): place it there yourself (a copy, or a bind mount)");
            }
        }
        for (Path dir : LIBRARY_DIRS) {
            mirror(dir);
        }
        Path realHome = javaHome.toRealPath();
        if (readOnlyBinds.stream().noneMatch(realHome::startsWith)) {
            mirror(realHome);
        }
        Files.createDirectory(root.resolve("proc"));
        Files.createDirectory(root.resolve("dev"));
        Path tmp = Files.createDirectory(root.resolve("tmp"));
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx------"));
        // the VMM may create files in its root (an API socket, as Firecracker's does) and in /tmp
        for (Path owned : List.of(root, tmp)) {
            Files.setAttribute(owned, "unix:uid", (int) options.uid, LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(owned, "unix:gid", (int) options.gid, LinkOption.NOFOLLOW_LINKS);
        }
    }

    /** Deletes the jail folder this run made (not following symlinks); nothing is mounted in it outside the VM's namespace. */
    void remove() throws IOException {
        Path jail = root.getParent();
        if (!Files.isDirectory(jail, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (var paths = Files.walk(jail)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** The command line that enters the jail and execs the VMM; {@code cgroup} may be null (no v2 hierarchy). */
    List<String> command(Tools tools, CgroupV2 cgroup, List<String> jvmOptions) throws IOException {
        List<String> c = new ArrayList<>(List.of(tools.env(), "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"));
        if (options.netns != null) {
            c.addAll(List.of(tools.get("nsenter"), "--net=" + options.netns.toAbsolutePath()));
        }
        if (options.daemonize) {
            c.addAll(List.of(tools.get("setsid"), "--fork"));
        }
        c.addAll(List.of(tools.get("unshare"), "--mount", "--propagation", "private"));
        if (options.newPidNs) {
            // the VMM is init of the new namespace: a SIGTERM that reaches it before the JVM has installed its
            // handlers is dropped by the kernel, so unshare's own end must take it down (SIGKILL)
            c.addAll(List.of("--pid", "--fork", "--kill-child"));
        }
        if (options.newNetNs) {
            c.add("--net");
        }
        c.addAll(List.of("--", tools.get("sh"), "-c", setupScript(tools, cgroup), "vessel-jailer"));
        c.add(tools.get("prlimit"));
        options.limits.forEach((r, n) -> c.add(r.prlimitOption + "=" + n + ":" + n));
        c.addAll(List.of("--", tools.get("setpriv"), "--no-new-privs", "--inh-caps=-all", "--",
                tools.get("chroot"), "--userspec=" + options.uid + ":" + options.gid, "--groups=" + options.gid,
                root.toString(), javaHome.toRealPath().resolve("bin/java").toString()));
        c.addAll(jvmOptions);
        c.addAll(List.of("-jar", jar));
        List<String> vmm = options.vmmArgs;
        c.addAll(vmm);
        if (vmm.getFirst().equals("api") || vmm.getFirst().startsWith("--")) {
            if (!vmm.contains("--id") && vmm.stream().noneMatch(a -> a.startsWith("--id="))) {
                c.add("--id=" + options.id); // as Firecracker's jailer passes its --id to Firecracker
            }
        }
        return c;
    }

    /** The shell step that runs as root inside the new namespaces and execs its arguments (prlimit ...). */
    private String setupScript(Tools tools, CgroupV2 cgroup) throws IOException {
        StringBuilder s = new StringBuilder("set -eu\n");
        if (cgroup != null) {
            // "0" moves the writer itself; unshare's waiting parent (--new-pid-ns) stays outside
            s.append("echo 0 > ").append(quote(cgroup.dir().resolve("cgroup.procs"))).append('\n');
        }
        // /proc is still the host's: the pid read through /proc/self is the one the host sees, and it stays
        // the VMM's through every exec below
        s.append("read -r pid rest < /proc/self/stat\n");
        s.append("echo \"$pid\" > ").append(quote(pidFile())).append('\n');
        for (Path dir : readOnlyBinds) {
            s.append("mount -o bind,ro,nosuid,nodev ").append(quote(dir)).append(' ').append(quote(inRoot(dir))).append('\n');
        }
        // a new PID namespace gets its own proc; without one, hidepid keeps other users' processes out of sight
        s.append("mount -t proc -o nosuid,nodev,noexec,hidepid=invisible proc ").append(quote(root.resolve("proc"))).append('\n');
        Path dev = root.resolve("dev");
        s.append("mount -t tmpfs -o nosuid,noexec,mode=755,size=64k tmpfs ").append(quote(dev)).append('\n');
        s.append(node(Path.of("/dev/null"), "666", false));
        s.append(node(Path.of("/dev/urandom"), "666", false));
        s.append(node(Path.of("/dev/kvm"), "600", true));
        if (Files.exists(Path.of("/dev/net/tun"))) {
            s.append("mkdir ").append(quote(dev.resolve("net"))).append('\n');
            s.append(node(Path.of("/dev/net/tun"), "600", true));
        }
        if (options.daemonize) {
            s.append("exec </dev/null >/dev/null 2>&1\n");
        }
        s.append("exec \"$@\"\n");
        return s.toString();
    }

    /** mknod for a copy of a host device inside the jail, owned by the VMM's user when {@code owned}. */
    private String node(Path hostDevice, String mode, boolean owned) throws IOException {
        if (!Files.exists(hostDevice)) {
            throw new IOException(hostDevice + " is missing on this host");
        }
        long rdev = (Long) Files.getAttribute(hostDevice, "unix:rdev");
        long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
        long minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
        Path node = inRoot(hostDevice);
        String line = "mknod -m " + mode + " " + quote(node) + " c " + major + " " + minor + "\n";
        return owned ? line + "chown " + options.uid + ":" + options.gid + " " + quote(node) + "\n" : line;
    }

    /** Makes {@code hostDir} exist in the chroot as on the host: a symlink as the same symlink, a folder as a read-only bind mount. */
    private void mirror(Path hostDir) throws IOException {
        Path inside = inRoot(hostDir);
        if (Files.isSymbolicLink(hostDir)) {
            Files.createDirectories(inside.getParent());
            Files.createSymbolicLink(inside, Files.readSymbolicLink(hostDir));
        } else if (Files.isDirectory(hostDir)) {
            Files.createDirectories(inside);
            readOnlyBinds.add(hostDir);
        }
    }

    private Path inRoot(Path absolute) {
        return root.resolve(Path.of("/").relativize(absolute));
    }

    /** The Class-Path entries of the jar's manifest, relative and inside the jar's folder (lib/x.jar). */
    static List<String> classPath(Path jarFile) throws UsageException {
        String attribute;
        try (JarFile jar = new JarFile(jarFile.toFile())) {
            if (jar.getManifest() == null || jar.getManifest().getMainAttributes().getValue(Attributes.Name.MAIN_CLASS) == null) {
                throw new UsageException("--exec-file " + jarFile + " is not an executable jar (its manifest names no Main-Class)");
            }
            attribute = jar.getManifest().getMainAttributes().getValue(Attributes.Name.CLASS_PATH);
        } catch (IOException e) {
            throw new UsageException("--exec-file " + jarFile + " is not a jar (" + e.getMessage() + ")");
        }
        List<String> entries = new ArrayList<>();
        Path dir = jarFile.toAbsolutePath().getParent();
        for (String entry : attribute == null ? new String[0] : attribute.strip().split("\\s+")) {
            if (entry.isEmpty()) {
                continue;
            }
            Path p = Path.of(entry).normalize();
            if (p.isAbsolute() || p.startsWith("..") || entry.contains(":")) {
                throw new UsageException("--exec-file " + jarFile + ": Class-Path entry " + entry + " is not inside the jar's folder");
            }
            if (!Files.isRegularFile(dir.resolve(p))) {
                throw new UsageException("--exec-file " + jarFile + ": its Class-Path names " + dir.resolve(p) + ", which is missing");
            }
            entries.add(p.toString());
        }
        return entries;
    }

    /** A hard link, or a copy across filesystems: as Firecracker's jailer copies its exec file in. */
    private static void linkOrCopy(Path from, Path to) throws IOException {
        try {
            Files.createLink(to, from);
        } catch (FileSystemException e) {
            Files.copy(from, to, StandardCopyOption.COPY_ATTRIBUTES);
        }
    }

    static String quote(Path p) {
        return quote(p.toString());
    }

    static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    private static String reason(FileSystemException e) {
        return e.getReason() == null ? e.getClass().getSimpleName() : e.getReason();
    }

    /** The host programs the command line runs, found by absolute path (the command's PATH is not trusted). */
    record Tools(List<Path> dirs) {
        static final Tools HOST = new Tools(List.of(Path.of("/usr/bin"), Path.of("/usr/sbin"), Path.of("/bin"), Path.of("/sbin")));

        String env() throws IOException {
            return get("env");
        }

        String get(String name) throws IOException {
            for (Path d : dirs) {
                Path p = d.resolve(name);
                if (Files.isExecutable(p)) {
                    return p.toString();
                }
            }
            String pkg = switch (name) {
                case "env", "chroot" -> "coreutils";
                case "sh" -> "dash";
                default -> "util-linux";
            };
            throw new IOException("vessel jailer needs " + name + " (" + pkg + "), which is not in " + dirs);
        }
    }
}
