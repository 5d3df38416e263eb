package vessel.cli;

import java.io.IOException;

import vessel.sys.Seccomp;
import vessel.sys.SysException;
import vessel.vmm.SeccompPolicy;

/** {@code --seccomp-level} and {@code --no-seccomp}, shared by {@code vessel run} and the API command. */
final class SeccompOption {
    private SeccompOption() {}

    static Seccomp.Level level(String text) throws UsageException {
        Seccomp.Level l = Seccomp.Level.parse(text);
        if (l == null) {
            throw new UsageException("--seccomp-level takes 0 (off), 1 (log) or 2 (kill), not '" + text + "'");
        }
        return l;
    }

    /**
     * Installs the filters before any guest runs. A kernel that cannot take them is one line, naming the
     * way out, not a stack trace.
     */
    static void install(Seccomp.Level level) throws IOException {
        try {
            SeccompPolicy.install(level);
        } catch (SysException e) {
            throw new IOException("cannot install the seccomp filters: " + e.getMessage()
                    + " (--no-seccomp runs without them)");
        }
    }
}
