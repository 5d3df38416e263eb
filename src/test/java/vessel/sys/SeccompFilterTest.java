package vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

import vessel.sys.SeccompFilter.Refusal;
import vessel.sys.SeccompFilter.Rule;
import vessel.sys.SeccompFilter.When;
import vessel.testkit.BpfInterpreter;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static vessel.sys.SeccompFilter.RET_ALLOW;
import static vessel.sys.SeccompFilter.RET_ERRNO;
import static vessel.sys.SeccompFilter.RET_KILL_PROCESS;
import static vessel.sys.SeccompFilter.RET_LOG;

/** The BPF that a table compiles to, run in an interpreter over sample seccomp_data. */
class SeccompFilterTest {
    private static final SeccompFilter TABLE = SeccompFilter.of(List.of(
            Rule.allow(Syscall.READ),
            Rule.allow(Syscall.FUTEX),
            Rule.allowIf(Syscall.IOCTL, new When.ArgIn(1, Set.of(0xAE80, 0x5401, 0x8090AE82))),
            Rule.allowIf(Syscall.CLONE, new When.ArgHasBits(0, 0x00010000)),
            Rule.fail(Syscall.CLONE3, Errno.ENOSYS)));
    private static final List<Bpf.Insn> KILL = TABLE.compile(Refusal.KILL);

    @Test
    void listedCallsPassAndOthersKillTheProcess() {
        assertEquals(RET_ALLOW, BpfInterpreter.x86(KILL, Syscall.READ, 0, 0, 100));
        assertEquals(RET_ALLOW, BpfInterpreter.x86(KILL, Syscall.FUTEX));
        assertEquals(RET_KILL_PROCESS, BpfInterpreter.x86(KILL, Syscall.WRITE));
        assertEquals(RET_KILL_PROCESS, BpfInterpreter.x86(KILL, Syscall.EXECVE));
        assertEquals(RET_KILL_PROCESS, BpfInterpreter.run(KILL, SeccompFilter.AUDIT_ARCH_X86_64, 999));
    }

    @Test
    void anotherArchitectureOrTheX32AbiIsRefusedBeforeAnyNumberIsLookedAt() {
        int i386 = 0x40000003; // AUDIT_ARCH_I386: its read is number 3, x86_64's close
        assertEquals(RET_KILL_PROCESS, BpfInterpreter.run(KILL, i386, Syscall.READ.number()));
        assertEquals(RET_KILL_PROCESS, BpfInterpreter.run(KILL, SeccompFilter.AUDIT_ARCH_X86_64,
                SeccompFilter.X32_SYSCALL_BIT | Syscall.READ.number()));
    }

    @Test
    void ioctlPassesOnlyWithAListedRequestComparingItsLow32Bits() {
        assertEquals(RET_ALLOW, BpfInterpreter.x86(KILL, Syscall.IOCTL, 7, 0xAE80));
        assertEquals(RET_ALLOW, BpfInterpreter.x86(KILL, Syscall.IOCTL, 7, 0x5401));
        // A request with bit 31 set (_IOR) is an int the sign extends; the kernel and the filter use 32 bits.
        assertEquals(RET_ALLOW, BpfInterpreter.x86(KILL, Syscall.IOCTL, 7, 0x8090AE82L));
        assertEquals(RET_ALLOW, BpfInterpreter.x86(KILL, Syscall.IOCTL, 7, 0xFFFFFFFF8090AE82L));
        assertEquals(RET_KILL_PROCESS, BpfInterpreter.x86(KILL, Syscall.IOCTL, 7, 0xAE01));
        assertEquals(RET_KILL_PROCESS, BpfInterpreter.x86(KILL, Syscall.IOCTL, 0xAE80, 0)); // the fd is not the request
    }

    @Test
    void cloneMakesThreadsOnlyAndClone3IsAnsweredEnosys() {
        assertEquals(RET_ALLOW, BpfInterpreter.x86(KILL, Syscall.CLONE, 0x3d0f00)); // glibc's pthread_create flags
        assertEquals(RET_KILL_PROCESS, BpfInterpreter.x86(KILL, Syscall.CLONE, 0x01200011)); // fork's
        assertEquals(RET_ERRNO | Errno.ENOSYS, BpfInterpreter.x86(KILL, Syscall.CLONE3));
    }

    @Test
    void logModeLogsWhatKillModeWouldKill() {
        List<Bpf.Insn> log = TABLE.compile(Refusal.LOG);
        assertEquals(RET_LOG, BpfInterpreter.x86(log, Syscall.EXECVE));
        assertEquals(RET_LOG, BpfInterpreter.x86(log, Syscall.IOCTL, 7, 0xAE01));
        assertEquals(RET_ALLOW, BpfInterpreter.x86(log, Syscall.READ));
    }

    @Test
    void aCallListedTwiceOrAnImpossibleArgumentIsRefusedWhenTheTableIsMade() {
        assertThrows(IllegalArgumentException.class, () -> SeccompFilter.of(List.of(
                Rule.allow(Syscall.READ), Rule.allow(Syscall.READ))));
        assertThrows(IllegalArgumentException.class, () -> new When.ArgIn(6, Set.of(1)));
        assertThrows(IllegalArgumentException.class, () -> new When.ArgIn(0, Set.of()));
    }

    @Test
    void theKernelsSockFprogPointsAtTheInstructions() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fprog = Bpf.fprog(KILL, arena);
            assertEquals(KILL.size(), Short.toUnsignedInt(fprog.get(JAVA_SHORT, 0)));
            MemorySegment filters = fprog.get(ADDRESS, 8).reinterpret(KILL.size() * 8L);
            Bpf.Insn last = KILL.getLast();
            long at = (KILL.size() - 1) * 8L;
            assertEquals(last.code(), filters.get(JAVA_SHORT, at));
            assertEquals(last.jt(), filters.get(JAVA_BYTE, at + 2));
            assertEquals(last.k(), filters.get(JAVA_INT, at + 4));
        }
    }
}
