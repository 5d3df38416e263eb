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

    /** A kernel that cannot take the filters is one line, naming the way out, not a stack trace. */
    private static IOException failed(SysException e) {
        return new IOException("cannot install the seccomp filters: " + e.getMessage()
                + " (--no-seccomp runs without them)");
    }

    /**
     * Starts installing the filters on a thread of their own, so that the caller's start-up work that
     * needs no protection (logging, options, the API socket's channel) overlaps building them: the first
     * FFM downcall handle alone is a large part of a process's way to its API socket. The filter goes onto
     * every thread of the process (TSYNC), the caller's included; the caller must {@link Pending#await}
     * before anything untrusted can reach the process (a request served, a guest started, a vCPU or
     * device thread started, whose own filters are stacked only once the process filter is in).
     */
    static Pending start(Seccomp.Level level) {
        Pending p = new Pending(level);
        if (p.thread != null) {
            p.thread.start();
        }
        return p;
    }

    /** The filters being installed by {@link #start}. */
    static final class Pending {
        private final Seccomp.Level level;
        private final Thread thread;
        private volatile SysException failure;
        private volatile RuntimeException bug;

        private Pending(Seccomp.Level level) {
            this.level = level;
            this.thread = level == Seccomp.Level.OFF ? null
                    : Thread.ofPlatform().name("seccomp-install").unstarted(this::install);
        }

        private void install() {
            try {
                SeccompPolicy.install(level);
            } catch (SysException e) {
                failure = e;
            } catch (RuntimeException e) {
                bug = e;
            }
        }

        /** Waits until the filters are in; throws if they could not be installed. */
        void await() throws IOException, InterruptedException {
            if (thread == null) {
                return;
            }
            thread.join();
            if (bug != null) {
                throw new IllegalStateException("installing the seccomp filters failed", bug);
            }
            if (failure != null) {
                throw failed(failure);
            }
        }
    }
}
