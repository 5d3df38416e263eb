package vessel.vmm;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import vessel.kvm.KvmIoctl;
import vessel.sys.Bpf;
import vessel.sys.Seccomp;
import vessel.sys.Seccomp.ThreadKind;
import vessel.sys.Syscall;
import vessel.sys.Tap;
import vessel.testkit.BpfInterpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static vessel.sys.SeccompFilter.RET_ALLOW;
import static vessel.sys.SeccompFilter.RET_KILL_PROCESS;
import static vessel.sys.SeccompFilter.RET_LOG;

/** What each kind of thread may do under Vessel's table, the kernel's way: through the compiled BPF. */
class SeccompPolicyTest {
    private static final long PID = 4242;
    private static final Map<ThreadKind, List<Bpf.Insn>> KILL = SeccompPolicy.programs(Seccomp.Level.KILL, PID);

    private static int verdict(ThreadKind kind, Syscall call, long... args) {
        return BpfInterpreter.x86(KILL.get(kind), call, args);
    }

    @Test
    void theJvmsEverydayCallsPassOnEveryThread() {
        for (ThreadKind k : KILL.keySet()) {
            for (Syscall s : List.of(Syscall.FUTEX, Syscall.MMAP, Syscall.OPENAT, Syscall.READ, Syscall.RT_SIGRETURN,
                    Syscall.SCHED_YIELD, Syscall.MADVISE, Syscall.CLOCK_GETTIME, Syscall.EXIT)) {
                assertEquals(RET_ALLOW, verdict(k, s), k + " " + s.kernelName());
            }
            assertEquals(RET_ALLOW, verdict(k, Syscall.TGKILL, PID, 77, 34), k + ": a kick of one of our threads");
            assertEquals(RET_KILL_PROCESS, verdict(k, Syscall.TGKILL, 1, 1, 9), k + ": a signal to another process");
        }
    }

    @Test
    void dangerousCallsKillOnEveryThread() {
        for (ThreadKind k : KILL.keySet()) {
            for (Syscall s : List.of(Syscall.EXECVE, Syscall.EXECVEAT, Syscall.PTRACE, Syscall.MOUNT, Syscall.BPF,
                    Syscall.KEXEC_LOAD, Syscall.INIT_MODULE, Syscall.FINIT_MODULE, Syscall.REBOOT, Syscall.SETNS,
                    Syscall.UNSHARE, Syscall.UMOUNT2, Syscall.KEXEC_FILE_LOAD)) {
                assertEquals(RET_KILL_PROCESS, verdict(k, s), k + " " + s.kernelName());
            }
            assertEquals(RET_KILL_PROCESS, verdict(k, Syscall.SOCKET, 17 /* AF_PACKET */, 3, 0), k + ": raw packets");
            assertEquals(RET_ALLOW, verdict(k, Syscall.SOCKET, 1 /* AF_UNIX */, 1, 0), k + ": Unix sockets");
            assertEquals(RET_KILL_PROCESS, verdict(k, Syscall.CLONE, 0x01200011), k + ": fork");
        }
    }

    @Test
    void aVcpuMayRunAndServiceItsGuestButNotAssembleVms() {
        for (KvmIoctl i : List.of(KvmIoctl.RUN, KvmIoctl.GET_REGS, KvmIoctl.SET_REGS, KvmIoctl.SET_SIGNAL_MASK,
                KvmIoctl.TRANSLATE, KvmIoctl.SET_VCPU_EVENTS, KvmIoctl.SET_GSI_ROUTING, KvmIoctl.IRQFD, KvmIoctl.IOEVENTFD,
                KvmIoctl.SET_USER_MEMORY_REGION)) {
            assertEquals(RET_ALLOW, verdict(ThreadKind.VCPU, Syscall.IOCTL, 9, i.request()), i.displayName());
        }
        for (KvmIoctl i : SeccompPolicy.assemblyOnly()) {
            assertEquals(RET_KILL_PROCESS, verdict(ThreadKind.VCPU, Syscall.IOCTL, 9, i.request()), i.displayName());
            assertEquals(RET_ALLOW, verdict(ThreadKind.PROCESS, Syscall.IOCTL, 9, i.request()), i.displayName());
        }
        assertEquals(RET_ALLOW, verdict(ThreadKind.VCPU, Syscall.IOCTL, 9, Tap.TUNSETOFFLOAD));
        assertEquals(RET_KILL_PROCESS, verdict(ThreadKind.VCPU, Syscall.IOCTL, 9, Tap.TUNSETIFF));
    }

    @Test
    void deviceThreadsAndTheEventLoopMakeNoKvmIoctl() {
        for (ThreadKind k : List.of(ThreadKind.EVENT_LOOP, ThreadKind.DEVICE)) {
            for (KvmIoctl i : KvmIoctl.values()) {
                assertEquals(RET_KILL_PROCESS, verdict(k, Syscall.IOCTL, 9, i.request()), k + " " + i.displayName());
            }
            assertEquals(RET_ALLOW, verdict(k, Syscall.IOCTL, 1, 0x5401), k + ": isatty's TCGETS");
        }
    }

    @Test
    void ioUringCallsPassOnlyWithTheUringEngineAndRingsAreMadeOnlyWhereVmsAreAssembled() {
        Map<ThreadKind, List<Bpf.Insn>> uring = SeccompPolicy.programs(Seccomp.Level.KILL, PID, true);
        for (ThreadKind k : KILL.keySet()) {
            for (Syscall s : List.of(Syscall.IO_URING_SETUP, Syscall.IO_URING_ENTER, Syscall.IO_URING_REGISTER)) {
                assertEquals(RET_KILL_PROCESS, verdict(k, s), "without io_uring: " + k + " " + s.kernelName());
            }
            assertEquals(RET_ALLOW, BpfInterpreter.x86(uring.get(k), Syscall.IO_URING_ENTER), k + " submits");
            int assembly = k == ThreadKind.PROCESS ? RET_ALLOW : RET_KILL_PROCESS;
            assertEquals(assembly, BpfInterpreter.x86(uring.get(k), Syscall.IO_URING_SETUP), k + " makes rings");
            assertEquals(assembly, BpfInterpreter.x86(uring.get(k), Syscall.IO_URING_REGISTER), k + " registers");
            assertEquals(RET_KILL_PROCESS, BpfInterpreter.x86(uring.get(k), Syscall.EXECVE), k + " still refuses execve");
        }
        assertNull(uring.get(ThreadKind.API), "the API threads (replacing a drive's image) have the process's table");
    }

    @Test
    void theApiThreadsAddNothingToTheProcessFilterAndLogModeOnlyLogs() {
        // VM assembly runs on an API thread at InstanceStart: it needs what the process filter allows.
        assertNull(KILL.get(ThreadKind.API));
        Map<ThreadKind, List<Bpf.Insn>> log = SeccompPolicy.programs(Seccomp.Level.LOG, PID);
        for (ThreadKind k : log.keySet()) {
            assertEquals(RET_LOG, BpfInterpreter.x86(log.get(k), Syscall.EXECVE), k.toString());
        }
        assertFalse(Seccomp.active(), "the test JVM installs no filter");
    }
}
