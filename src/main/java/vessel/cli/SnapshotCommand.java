package vessel.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import vessel.vmm.ConfigException;
import vessel.vmm.snapshot.MemoryFile;
import vessel.vmm.snapshot.SnapshotFile;
import vessel.vmm.snapshot.SnapshotFormatException;
import vessel.vmm.snapshot.VmSnapshot;

/** {@code vessel snapshot merge}: a diff snapshot's memory onto its base's, so the diff's state file restores. */
final class SnapshotCommand {
    static final String HELP = """
            Usage: vessel snapshot merge --state DIFF_STATE --diff-mem DIFF_MEM --base-mem BASE_MEM

            Copies the pages a diff snapshot holds (its state file lists them) from DIFF_MEM into
            BASE_MEM, in place. BASE_MEM is then the memory of the diff's moment:
              vessel run --restore-snapshot DIFF_STATE --mem-file BASE_MEM
            A chain of diffs is merged oldest first. Keep a copy of BASE_MEM to restore the base again.""";

    private SnapshotCommand() {}

    static int run(List<String> args) throws UsageException, ConfigException, IOException {
        List<String> rest = new ArrayList<>(args);
        if (rest.isEmpty() || rest.contains("--help") || rest.contains("-h")) {
            System.out.println(HELP);
            return rest.isEmpty() ? Main.EXIT_USAGE : 0;
        }
        if (!rest.removeFirst().equals("merge")) {
            throw new UsageException("vessel snapshot knows one command, merge (see vessel snapshot --help)");
        }
        Path state = null;
        Path diff = null;
        Path base = null;
        while (!rest.isEmpty()) {
            String opt = rest.removeFirst();
            if (rest.isEmpty()) {
                throw new UsageException(opt + " needs a value");
            }
            Path value = Path.of(rest.removeFirst());
            switch (opt) {
                case "--state" -> state = value;
                case "--diff-mem" -> diff = value;
                case "--base-mem" -> base = value;
                default -> throw new UsageException("unknown option '" + opt + "' (see vessel snapshot --help)");
            }
        }
        if (state == null || diff == null || base == null) {
            throw new UsageException("vessel snapshot merge needs --state, --diff-mem and --base-mem");
        }
        try {
            VmSnapshot snapshot = SnapshotFile.read(state);
            long bytes = MemoryFile.merge(snapshot, diff, base);
            System.err.println("vessel: merged " + bytes + " bytes of " + diff + " into " + base);
            return 0;
        } catch (SnapshotFormatException e) {
            throw new ConfigException(e.getMessage());
        }
    }
}
