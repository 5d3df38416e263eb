package vessel.cli;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The jailed VM's cgroup in the cgroup v2 hierarchy: MOUNT/PARENT/ID. On a pure v2 host MOUNT is
 * /sys/fs/cgroup; on a hybrid one (v1 controllers at /sys/fs/cgroup/NAME) it is where cgroup2 is mounted
 * (/sys/fs/cgroup/unified), which offers only the controllers v1 does not hold: a --cgroup file whose
 * controller it lacks is refused, naming what it offers.
 *
 * @param mount where the v2 hierarchy is mounted
 * @param dir the VM's cgroup folder
 */
record CgroupV2(Path mount, Path dir) {
    /** Interface files of every cgroup, not of a controller (cgroup.max.descendants, ...). */
    private static final String CORE = "cgroup";

    /** Where cgroup2 is mounted, from /proc/self/mountinfo: /sys/fs/cgroup if it is one, else the first; null if none. */
    static Path findMount(List<String> mountinfo) {
        Path first = null;
        for (String line : mountinfo) {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
            String[] f = line.split(" ");
            int dash = Arrays.asList(f).indexOf("-");
            if (dash < 5 || dash + 1 >= f.length || !f[dash + 1].equals("cgroup2")) {
                continue;
            }
            Path point = Path.of(f[4].replace("\\040", " "));
            if (point.equals(Path.of("/sys/fs/cgroup"))) {
                return point;
            }
            if (first == null) {
                first = point;
            }
        }
        return first;
    }

    /** The controllers the files need (cpu for cpu.max, ...), each offered by the hierarchy at {@code mount}, or a refusal naming what it offers. */
    static Set<String> checkControllers(Path mount, Map<String, String> files) throws UsageException, IOException {
        Set<String> controllers = new LinkedHashSet<>();
        for (String file : files.keySet()) {
            String controller = file.substring(0, file.indexOf('.'));
            if (!controller.equals(CORE)) {
                controllers.add(controller);
            }
        }
        List<String> offered = words(mount.resolve("cgroup.controllers"));
        for (String c : controllers) {
            if (!offered.contains(c)) {
                String v1 = Files.isDirectory(Path.of("/sys/fs/cgroup", c)) && !mount.equals(Path.of("/sys/fs/cgroup"))
                        ? "; this host keeps it in cgroup v1 (/sys/fs/cgroup/" + c + "), which vessel jailer does not use" : "";
                throw new UsageException("--cgroup " + c + ".*: the cgroup v2 hierarchy at " + mount + " offers no '" + c
                        + "' controller (it offers: " + (offered.isEmpty() ? "none" : String.join(" ", offered)) + ")" + v1);
            }
        }
        return controllers;
    }

    /**
     * Checks that the hierarchy offers every controller the files need, enables them from the mount down to
     * PARENT (a controller reaches a cgroup only through its ancestors' cgroup.subtree_control), creates
     * PARENT/ID and writes the files. Processes join it later (the jail's first step writes cgroup.procs).
     */
    static CgroupV2 create(Path mount, String parent, String id, Map<String, String> files) throws UsageException, IOException {
        Set<String> controllers = checkControllers(mount, files);
        List<Path> levels = new ArrayList<>();
        levels.add(mount);
        for (String part : parent.split("/")) {
            levels.add(levels.getLast().resolve(part));
        }
        for (int i = 0; i < levels.size(); i++) {
            Path level = levels.get(i);
            if (i > 0) {
                mkdir(level);
            }
            if (i < levels.size() - 1) {
                List<String> enabled = words(level.resolve("cgroup.subtree_control"));
                for (String c : controllers) {
                    if (!enabled.contains(c)) {
                        write(level.resolve("cgroup.subtree_control"), "+" + c);
                    }
                }
            }
        }
        Path dir = levels.getLast().resolve(id);
        try {
            Files.createDirectory(dir);
        } catch (FileAlreadyExistsException e) {
            throw new UsageException("cgroup " + dir + " already exists: an id is for one VM (rmdir it, or pick another --id)");
        }
        try {
            for (Map.Entry<String, String> f : files.entrySet()) {
                Path file = dir.resolve(f.getKey());
                if (!Files.exists(file)) {
                    throw new UsageException("--cgroup " + f.getKey() + ": " + dir + " has no such file");
                }
                try {
                    Files.writeString(file, f.getValue());
                } catch (IOException e) {
                    // the kernel refuses a malformed value with EINVAL: that is the user's input
                    throw new UsageException("--cgroup " + f.getKey() + "=" + f.getValue() + ": the kernel refused it (" + reason(e) + ")");
                }
            }
        } catch (UsageException e) {
            Files.deleteIfExists(dir); // empty: nothing joined it yet
            throw e;
        }
        return new CgroupV2(mount, dir);
    }

    /** The path /proc/PID/cgroup shows for a member ("0::" + this). */
    String path() {
        return "/" + mount.relativize(dir);
    }

    private static List<String> words(Path file) throws IOException {
        try {
            return List.of(Files.readString(file).strip().split("\\s+")).stream().filter(w -> !w.isEmpty()).toList();
        } catch (NoSuchFileException e) {
            throw new IOException(file + " is missing: is " + file.getParent() + " a cgroup v2 hierarchy?");
        }
    }

    private static void mkdir(Path dir) throws IOException {
        try {
            Files.createDirectory(dir);
        } catch (FileAlreadyExistsException ignored) {
            // a parent shared by every VM
        }
    }

    private static void write(Path file, String value) throws IOException {
        try {
            Files.writeString(file, value);
        } catch (IOException e) {
            throw new IOException("cannot write " + value + " to " + file + ": " + reason(e));
        }
    }

    private static String reason(IOException e) {
        String m = e.getMessage();
        int colon = m == null ? -1 : m.lastIndexOf(": ");
        return colon < 0 ? String.valueOf(m) : m.substring(colon + 2);
    }
}
