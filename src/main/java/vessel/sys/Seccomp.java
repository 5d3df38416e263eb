package vessel.sys;

import java.lang.foreign.Arena;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Installs seccomp filters ({@code prctl(PR_SET_NO_NEW_PRIVS)}, then {@code seccomp(SECCOMP_SET_MODE_FILTER)}).
 *
 * <p>One filter for the whole process comes first, synchronised onto every thread that exists (TSYNC:
 * the JVM's own threads too); new threads inherit their creator's filters. Then each Vessel thread
 * stacks the filter of its {@link ThreadKind} on top when it starts ({@link #enterThread}); the kernel
 * runs all of a thread's filters and the strictest answer wins. Until {@link #installProcess} has run,
 * {@link #enterThread} does nothing: a JVM that embeds Vessel keeps no filters unless it asks.
 */
public final class Seccomp {
    public static final int PR_SET_NO_NEW_PRIVS = 38;
    public static final int SECCOMP_SET_MODE_FILTER = 1;
    public static final int SECCOMP_FILTER_FLAG_TSYNC = 1;

    /** The kinds of thread with a filter of their own. */
    public enum ThreadKind {
        /** Every thread of the process, the JVM's included: installed once, on all of them. */
        PROCESS,
        VCPU,
        /** The device event loop (virtio queues). */
        EVENT_LOOP,
        /** A device's own thread (virtio-net's TAP reader, virtio-vsock's sockets). */
        DEVICE,
        /** The API server's request threads. */
        API
    }

    /** How much filtering: {@code --seccomp-level 0|1|2}. */
    public enum Level {
        OFF, LOG, KILL;

        /** 0, 1 or 2, as Firecracker's old {@code --seccomp-level} spelled them; null if {@code text} is none. */
        public static Level parse(String text) {
            return switch (text) {
                case "0" -> OFF;
                case "1" -> LOG;
                case "2" -> KILL;
                default -> null;
            };
        }
    }

    /** Where a thread kind's program comes from; compiled on demand, since most kinds wait for a guest. */
    public interface ThreadPrograms {
        /** {@code kind}'s program, or null if the kind stacks nothing on the process filter. */
        List<Bpf.Insn> program(ThreadKind kind);
    }

    private static volatile ThreadPrograms threadPrograms;
    /** Programs compiled so far, an empty list for a kind with none; guarded by the class's lock. */
    private static final Map<ThreadKind, List<Bpf.Insn>> COMPILED = new EnumMap<>(ThreadKind.class);

    private Seccomp() {}

    /**
     * Installs {@code process} on every thread of the process and keeps {@code threads} for
     * {@link #enterThread}. Once per process.
     */
    public static synchronized void installProcess(List<Bpf.Insn> process, ThreadPrograms threads) throws SysException {
        if (threadPrograms != null) {
            throw new IllegalStateException("the process's seccomp filters are already installed");
        }
        install(process, SECCOMP_FILTER_FLAG_TSYNC);
        threadPrograms = threads;
    }

    /** Whether {@link #installProcess} has run in this process. */
    public static boolean active() {
        return threadPrograms != null;
    }

    private static synchronized List<Bpf.Insn> programOf(ThreadPrograms threads, ThreadKind kind) {
        List<Bpf.Insn> p = COMPILED.get(kind);
        if (p == null) {
            p = threads.program(kind);
            p = p == null ? List.of() : p;
            COMPILED.put(kind, p);
        }
        return p;
    }

    /**
     * Stacks {@code kind}'s filter on the calling thread, if the process has filters and the kind has one;
     * a thread calls it once, first thing.
     */
    public static void enterThread(ThreadKind kind) {
        ThreadPrograms threads = threadPrograms;
        if (threads == null || kind == ThreadKind.PROCESS) {
            return;
        }
        List<Bpf.Insn> program = programOf(threads, kind);
        if (program.isEmpty()) {
            return;
        }
        try {
            install(program, 0);
        } catch (SysException e) {
            // The process filter went in, so the kernel can take filters: this is a bug, not the host.
            throw new IllegalStateException("seccomp filter of " + Thread.currentThread().getName() + ": " + e.getMessage(), e);
        }
    }

    /** Installs one program on the calling thread (with TSYNC, on all of them). */
    public static void install(List<Bpf.Insn> program, int flags) throws SysException {
        int r = Libc.prctlRaw(PR_SET_NO_NEW_PRIVS, 1);
        if (r < 0) {
            throw new SysException("prctl(PR_SET_NO_NEW_PRIVS)", -r);
        }
        try (Arena arena = Arena.ofConfined()) {
            long s = Libc.seccompRaw(SECCOMP_SET_MODE_FILTER, flags, Bpf.fprog(program, arena));
            if (s < 0) {
                throw new SysException("seccomp(SECCOMP_SET_MODE_FILTER)", (int) -s);
            }
            if (s > 0) {
                throw new SysException("seccomp(SECCOMP_SET_MODE_FILTER): thread " + s + " could not take the filter", Errno.EBUSY);
            }
        }
    }
}
