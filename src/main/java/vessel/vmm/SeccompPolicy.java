package vessel.vmm;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import vessel.kvm.KvmIoctl;
import vessel.sys.Bpf;
import vessel.sys.Errno;
import vessel.sys.Seccomp;
import vessel.sys.Seccomp.ThreadKind;
import vessel.sys.SeccompFilter;
import vessel.sys.SeccompFilter.Rule;
import vessel.sys.SeccompFilter.When;
import vessel.sys.SysException;
import vessel.sys.Syscall;
import vessel.sys.Tap;

import static vessel.sys.Syscall.*;

/**
 * Which system calls each kind of Vessel thread may make: the table the seccomp filters are built from.
 *
 * <p>Every thread runs Java, so every table starts with what the JVM itself does on any thread (class
 * loading, locks, GC and safepoints, signals, time), measured with {@code strace -f} on the CLI and API
 * paths. The process filter (on all threads, the JVM's own included) adds what assembling a VM needs:
 * any ioctl, since KVM's system and VM ioctls are made there (on the main thread, or on an API thread at
 * InstanceStart). A vCPU thread may use only the vCPU ioctls and the few VM ones that device emulation
 * on it makes (interrupt routing, ioeventfds and irqfds when the guest programs a device), the event
 * loop and device threads no KVM ioctl at all. Note that a thread's filters are inherited: a device
 * thread started when the guest's driver activates the device (on a vCPU thread) runs under the vCPU
 * table and its own, so the vCPU table must allow what device threads need (sockets for vsock).
 *
 * <p>Not listed, hence refused everywhere: program execution (execve, execveat, fork-style clone),
 * ptrace and process_vm_*, mount and namespaces (setns, unshare), module loading, kexec, reboot, bpf,
 * kill of other processes, sockets of families other than Unix and IP, and every call no thread here
 * was seen to make.
 *
 * <p>Only the process filter is compiled at start-up, on the way to the API socket; a thread kind's own
 * filter is compiled when its first thread enters (a vCPU's needs the KVM ioctl numbers, whose
 * struct layouts a process serving only the API never loads).
 */
public final class SeccompPolicy {
    private static final int AF_UNIX = 1;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int CLONE_THREAD = 0x00010000;
    private static final int PR_SET_NAME = 15;
    private static final int PR_GET_NAME = 16;
    private static final int PR_GET_NO_NEW_PRIVS = 39;
    private static final int TCGETS = 0x5401;
    private static final int FIONREAD = 0x541B;
    private static final int FIONBIO = 0x5421;

    /**
     * KVM ioctls only VM assembly makes (the main or API thread): never a vCPU's. Memory slots are not
     * among them: firmware's writes to the host bridge's PAM registers (on a vCPU) switch the BIOS area
     * between ROM and RAM, as on QEMU, which makes that ioctl on its vCPU threads too.
     */
    static Set<KvmIoctl> assemblyOnly() {
        return EnumSet.of(KvmIoctl.GET_API_VERSION, KvmIoctl.CREATE_VM,
                KvmIoctl.GET_MSR_INDEX_LIST, KvmIoctl.GET_VCPU_MMAP_SIZE, KvmIoctl.GET_SUPPORTED_CPUID,
                KvmIoctl.CREATE_VCPU, KvmIoctl.SET_TSS_ADDR,
                KvmIoctl.SET_IDENTITY_MAP_ADDR, KvmIoctl.CREATE_IRQCHIP, KvmIoctl.CREATE_PIT2, KvmIoctl.SET_CPUID2);
    }

    /** Terminal and file-descriptor ioctls that the JDK makes on any thread (isatty, available, blocking mode). */
    private static final Set<Integer> FD_IOCTLS = Set.of(TCGETS, FIONREAD, FIONBIO);

    private SeccompPolicy() {}

    /** The table of {@code kind}, for a process whose id is {@code pid}, without io_uring. */
    public static List<Rule> table(ThreadKind kind, long pid) {
        return table(kind, pid, false);
    }

    /**
     * The table of {@code kind}, for a process whose id is {@code pid}; with {@code uring} (virtio-blk's
     * io_uring engine in use) the io_uring calls too: making and registering rings where VMs are assembled
     * and drives replaced (the process and API tables), only submitting on vCPU, event-loop and device
     * threads. Seccomp cannot see into a ring's entries: each ring is restricted to positional I/O on its
     * one image file when it is made (see vessel.sys.IoUring), so submitting reaches nothing else.
     */
    public static List<Rule> table(ThreadKind kind, long pid, boolean uring) {
        List<Rule> t = jvm(pid);
        if (uring) {
            t.add(Rule.allow(IO_URING_ENTER));
            if (kind == ThreadKind.PROCESS || kind == ThreadKind.API) {
                t.add(Rule.allow(IO_URING_SETUP));
                t.add(Rule.allow(IO_URING_REGISTER));
            }
        }
        Set<Integer> ioctls = switch (kind) {
            case PROCESS, API -> null; // any request: VM assembly happens on these
            case VCPU -> vcpuIoctls();
            case EVENT_LOOP, DEVICE -> FD_IOCTLS;
        };
        t.add(ioctls == null ? Rule.allow(IOCTL) : Rule.allowIf(IOCTL, new When.ArgIn(1, ioctls)));
        return t;
    }

    /** The vCPU's ioctls: all Vessel's KVM ones but assembly's, TUNSETOFFLOAD (virtio-net activation) and the JDK's. */
    static Set<Integer> vcpuIoctls() {
        Set<Integer> s = new HashSet<>();
        for (KvmIoctl i : EnumSet.complementOf(EnumSet.copyOf(assemblyOnly()))) {
            s.add((int) i.request());
        }
        s.add((int) Tap.TUNSETOFFLOAD);
        s.addAll(FD_IOCTLS);
        return s;
    }

    /** What any thread of a JVM (and Vessel's code on it) does, measured; everything but ioctl. */
    private static List<Rule> jvm(long pid) {
        List<Rule> t = new ArrayList<>();
        // Files: class loading, logs, disk images, sockets' paths.
        for (Syscall s : List.of(READ, WRITE, PREAD64, PWRITE64, READV, WRITEV, OPEN, OPENAT, CLOSE, STAT, FSTAT,
                LSTAT, NEWFSTATAT, STATX, STATFS, FSTATFS, ACCESS, FACCESSAT, FACCESSAT2, READLINK, READLINKAT, LSEEK,
                GETDENTS64, GETCWD, FCHDIR, FCNTL, DUP, DUP2, DUP3, PIPE, PIPE2, FLOCK, FTRUNCATE, FSYNC, FDATASYNC,
                FALLOCATE, FADVISE64, COPY_FILE_RANGE, SENDFILE, MKDIR, MKDIRAT, RMDIR, UNLINK, UNLINKAT, RENAME,
                RENAMEAT, CHMOD, FCHMOD, UMASK)) {
            t.add(Rule.allow(s));
        }
        // Memory, threads, locks, signals, time: the JVM's runtime, GC and safepoints.
        for (Syscall s : List.of(MMAP, MUNMAP, MPROTECT, MADVISE, MREMAP, MSYNC, MINCORE, BRK, MEMBARRIER,
                FUTEX, SET_ROBUST_LIST, GET_ROBUST_LIST, RSEQ, SET_TID_ADDRESS, SCHED_YIELD, SCHED_GETAFFINITY,
                GETCPU, EXIT, EXIT_GROUP, RESTART_SYSCALL, RT_SIGACTION, RT_SIGPROCMASK, RT_SIGRETURN,
                RT_SIGTIMEDWAIT, SIGALTSTACK, CLOCK_GETTIME, CLOCK_GETRES, CLOCK_NANOSLEEP, NANOSLEEP,
                GETTIMEOFDAY, GETPID, GETTID, GETPPID, GETUID, GETEUID, GETGID, GETEGID, UNAME, SYSINFO,
                GETRLIMIT, GETRUSAGE, TIMES, GETRANDOM)) {
            t.add(Rule.allow(s));
        }
        // Threads only: clone without CLONE_THREAD would be a new process. clone3 passes its flags in
        // memory BPF cannot read, so it fails with ENOSYS and glibc falls back to clone.
        t.add(Rule.allowIf(CLONE, new When.ArgHasBits(0, CLONE_THREAD)));
        t.add(Rule.fail(CLONE3, Errno.ENOSYS));
        // Signals and limits of this process only (thread kicks, the JVM's handshakes).
        t.add(Rule.allowIf(TGKILL, new When.ArgIn(0, Set.of((int) pid))));
        t.add(Rule.allowIf(PRLIMIT64, new When.ArgIn(0, Set.of(0, (int) pid))));
        t.add(Rule.allowIf(PRCTL, new When.ArgIn(0, Set.of(PR_SET_NAME, PR_GET_NAME, Seccomp.PR_SET_NO_NEW_PRIVS,
                PR_GET_NO_NEW_PRIVS))));
        // More filters only (a thread stacking its own table); they can only take calls away.
        t.add(Rule.allowIf(SECCOMP, new When.ArgIn(0, Set.of(Seccomp.SECCOMP_SET_MODE_FILTER))));
        // Waiting: epoll (the event loop, NIO selectors), eventfds, poll.
        for (Syscall s : List.of(POLL, PPOLL, SELECT, PSELECT6, EPOLL_CREATE1, EPOLL_CTL, EPOLL_WAIT, EPOLL_PWAIT,
                EPOLL_PWAIT2, EVENTFD2)) {
            t.add(Rule.allow(s));
        }
        // Sockets: the API's Unix socket, vsock's host side; the JDK probes IP families at start-up.
        t.add(Rule.allowIf(SOCKET, new When.ArgIn(0, Set.of(AF_UNIX, AF_INET, AF_INET6))));
        t.add(Rule.allowIf(SOCKETPAIR, new When.ArgIn(0, Set.of(AF_UNIX))));
        for (Syscall s : List.of(CONNECT, ACCEPT, ACCEPT4, BIND, LISTEN, GETSOCKNAME, GETPEERNAME, GETSOCKOPT,
                SETSOCKOPT, SHUTDOWN, SENDTO, RECVFROM, SENDMSG, RECVMSG)) {
            t.add(Rule.allow(s));
        }
        return t;
    }

    /** {@code kind}'s compiled program, without io_uring; null for the API threads, whose table is the process's. */
    public static List<Bpf.Insn> program(ThreadKind kind, Seccomp.Level level, long pid) {
        return program(kind, level, pid, false);
    }

    /** {@code kind}'s compiled program, with io_uring's calls if {@code uring}; null for the API threads. */
    public static List<Bpf.Insn> program(ThreadKind kind, Seccomp.Level level, long pid, boolean uring) {
        if (kind == ThreadKind.API) {
            return null; // the same table as the process's: nothing to stack
        }
        SeccompFilter.Refusal refusal = level == Seccomp.Level.LOG ? SeccompFilter.Refusal.LOG : SeccompFilter.Refusal.KILL;
        return SeccompFilter.of(table(kind, pid, uring)).compile(refusal);
    }

    /** Every kind's compiled program, without io_uring; kinds whose table is the process's get none of their own. */
    public static Map<ThreadKind, List<Bpf.Insn>> programs(Seccomp.Level level, long pid) {
        return programs(level, pid, false);
    }

    /** Every kind's compiled program, with io_uring's calls if {@code uring}. */
    public static Map<ThreadKind, List<Bpf.Insn>> programs(Seccomp.Level level, long pid, boolean uring) {
        Map<ThreadKind, List<Bpf.Insn>> m = new EnumMap<>(ThreadKind.class);
        for (ThreadKind k : ThreadKind.values()) {
            List<Bpf.Insn> p = program(k, level, pid, uring);
            if (p != null) {
                m.put(k, p);
            }
        }
        return m;
    }

    /** The per-thread programs of one process, compiled when a thread of the kind first enters. */
    private record ThreadTables(Seccomp.Level level, long pid, boolean uring) implements Seccomp.ThreadPrograms {
        @Override
        public List<Bpf.Insn> program(ThreadKind kind) {
            return SeccompPolicy.program(kind, level, pid, uring);
        }
    }

    /**
     * Installs the process filter on every thread and arms the per-thread ones; does nothing at
     * {@link Seccomp.Level#OFF}. For the CLI and API processes, never for a JVM that embeds Vessel.
     */
    public static void install(Seccomp.Level level) throws SysException {
        // Probed before the filter goes in; if drives then use io_uring, the filter lets its calls through.
        install(level, vessel.devices.virtio.VirtioBlock.Engine.defaultEngine() == vessel.devices.virtio.VirtioBlock.Engine.URING
                && vessel.devices.virtio.VirtioBlock.Engine.uringAvailable());
    }

    /** As above, with io_uring's calls allowed if {@code uring} (drives made with the URING engine). */
    public static void install(Seccomp.Level level, boolean uring) throws SysException {
        if (level == Seccomp.Level.OFF) {
            return;
        }
        long pid = ProcessHandle.current().pid();
        Seccomp.installProcess(program(ThreadKind.PROCESS, level, pid, uring), new ThreadTables(level, pid, uring));
    }
}
