package vessel.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import vessel.sys.Errno;
import vessel.sys.Libc;
import vessel.sys.SysException;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Kicks a vCPU thread out of KVM_RUN with a real-time signal, without a signal handler (a Java upcall in
 * a handler would crash the JVM). The vCPU thread keeps the signal blocked, and tells KVM to unblock it
 * only inside KVM_RUN: a kick there makes KVM_RUN return EINTR; a kick at any other moment stays pending
 * and makes the next KVM_RUN return EINTR at once, so no kick is lost. KVM parks the thread's own mask in
 * {@code real_blocked}, so the signal's default (fatal) action never fires. The thread then takes the
 * pending signal with a zero-timeout sigtimedwait, and must do so once more before it ends: HotSpot
 * restores a thread's original signal mask when the thread exits, which would deliver a pending kick
 * with its default action and end the process.
 */
public final class VcpuKick {
    /** SIGRTMIN+6: free in the JVM, which uses SIGUSR2, SIGSEGV and a few others itself. */
    public static final int SIGNAL = Libc.sigrtmin() + 6;

    /** Read-only, so every vCPU thread shares them: the kick's signal set and a zero timeout (timespec). */
    private static final MemorySegment KICK_SET = sigset(Arena.global());
    private static final MemorySegment ZERO_TIMEOUT = Arena.global().allocate(16, 8);

    private VcpuKick() {}

    /** Prepares the calling thread, which will run {@code vcpu}; returns its pthread id for {@link #kick}. */
    public static long armCurrentThread(VcpuFd vcpu) throws SysException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment set = sigset(arena);
            MemorySegment old = arena.allocate(Libc.SIGSET_BYTES, 8);
            Libc.pthreadSigmask(Libc.SIG_BLOCK, set, old);
            long inKvm = old.get(JAVA_LONG, 0) & ~bit();
            vcpu.setSignalMask(inKvm);
        }
        return Libc.pthreadSelf();
    }

    /** Sends the kick; harmless if the thread is not in KVM_RUN (it will see EINTR on its next entry). */
    public static void kick(long pthread) {
        int err = Libc.pthreadKill(pthread, SIGNAL);
        if (err != 0) {
            throw new IllegalStateException("pthread_kill: " + Errno.describe(err));
        }
    }

    /** On the vCPU thread, after KVM_RUN returned EINTR: takes the pending kick so the next entry runs. */
    public static void consumePending() {
        while (Libc.sigtimedwaitRaw(KICK_SET, ZERO_TIMEOUT) == SIGNAL) {
            // several kicks may coalesce into one pending signal; loop until none is left
        }
    }

    private static long bit() {
        return 1L << (SIGNAL - 1);
    }

    private static MemorySegment sigset(Arena arena) {
        MemorySegment set = arena.allocate(Libc.SIGSET_BYTES, 8);
        set.set(JAVA_LONG, 0, bit());
        return set;
    }
}
