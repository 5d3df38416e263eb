package vessel.sys;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A seccomp allowlist: which system calls a thread may make, some only with certain arguments, compiled
 * to classic BPF. Anything not listed gets the filter's refusal (kill the process, or only log).
 *
 * <p>The program checks the architecture first (x86_64 only) and refuses the x32 ABI (numbers with bit
 * 30 set), then tests each listed call in turn; a listed call with a condition loads the argument and
 * compares its low 32 bits, which is all the kernel uses of an ioctl request, a socket family or clone flags.
 *
 * <p>A process builds its filter on its way to the API socket, so the compiler keeps to plain calls: each
 * {@link When} and {@link Answer} emits its own instructions rather than a pattern switch choosing, since a
 * pattern switch's first run spins a class (SwitchBootstraps) that the JVM's AOT cache does not keep.
 */
public final class SeccompFilter {
    /** {@code AUDIT_ARCH_X86_64}: EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE. */
    public static final int AUDIT_ARCH_X86_64 = 0xC000003E;
    public static final int X32_SYSCALL_BIT = 0x40000000;

    public static final int RET_KILL_PROCESS = 0x80000000;
    public static final int RET_ERRNO = 0x00050000;
    public static final int RET_LOG = 0x7ffc0000;
    public static final int RET_ALLOW = 0x7fff0000;

    /** Offsets in {@code struct seccomp_data}: int nr, u32 arch, u64 instruction_pointer, u64 args[6]. */
    public static final int DATA_NR = 0;
    public static final int DATA_ARCH = 4;
    public static final int DATA_ARGS = 16;

    /** What a call that is not allowed gets. */
    public enum Refusal {
        /** SECCOMP_RET_KILL_PROCESS: the whole process dies of SIGSYS; the kernel's audit log names the call. */
        KILL(RET_KILL_PROCESS),
        /** SECCOMP_RET_LOG: the call goes ahead and the kernel logs it (a discovery and debugging mode). */
        LOG(RET_LOG);

        final int action;

        Refusal(int action) {
            this.action = action;
        }
    }

    /** When a listed call is let through. */
    public sealed interface When {
        /**
         * Appends the check to {@code b}: it goes on to the instruction after it when the condition holds and
         * returns {@code refuse} when not. The call number in the accumulator is overwritten.
         */
        void emit(List<Bpf.Insn> b, int refuse);

        /** Argument {@code arg}'s low 32 bits are one of {@code values}. */
        record ArgIn(int arg, Set<Integer> values) implements When {
            public ArgIn {
                checkArg(arg);
                if (values.isEmpty()) {
                    throw new IllegalArgumentException("an argument check needs at least one value");
                }
                values = Set.copyOf(values);
            }

            @Override
            public void emit(List<Bpf.Insn> b, int refuse) {
                b.add(Bpf.Insn.loadWord(DATA_ARGS + 8 * arg));
                // In ascending order, so that the same table always compiles to the same program.
                Integer[] sorted = values.toArray(new Integer[0]);
                Arrays.sort(sorted);
                for (int i = 0; i < sorted.length; i++) {
                    b.add(Bpf.Insn.jumpIfEqual(sorted[i], sorted.length - i, 0));
                }
                b.add(Bpf.Insn.ret(refuse));
            }
        }

        /** Argument {@code arg} has every bit of {@code mask} set. */
        record ArgHasBits(int arg, int mask) implements When {
            public ArgHasBits {
                checkArg(arg);
            }

            @Override
            public void emit(List<Bpf.Insn> b, int refuse) {
                b.add(Bpf.Insn.loadWord(DATA_ARGS + 8 * arg));
                b.add(Bpf.Insn.and(mask));
                b.add(Bpf.Insn.jumpIfEqual(mask, 1, 0));
                b.add(Bpf.Insn.ret(refuse));
            }
        }

        private static void checkArg(int arg) {
            if (arg < 0 || arg > 5) {
                throw new IllegalArgumentException("system calls have arguments 0 to 5, not " + arg);
            }
        }
    }

    /** What a listed call gets: let through, or failed with an errno (clone3's ENOSYS makes glibc use clone). */
    public sealed interface Answer {
        /** The filter's return value for the call. */
        int action();

        record Allow() implements Answer {
            @Override
            public int action() {
                return RET_ALLOW;
            }
        }

        record Errno(int errno) implements Answer {
            @Override
            public int action() {
                return RET_ERRNO | (errno & 0xffff);
            }
        }

        Answer ALLOW = new Allow();
    }

    /** One row of a table: {@code call} is answered {@code answer}, if {@code when} holds (null: always). */
    public record Rule(Syscall call, When when, Answer answer) {
        public static Rule allow(Syscall call) {
            return new Rule(call, null, Answer.ALLOW);
        }

        public static Rule allowIf(Syscall call, When when) {
            return new Rule(call, when, Answer.ALLOW);
        }

        public static Rule fail(Syscall call, int errno) {
            return new Rule(call, null, new Answer.Errno(errno));
        }
    }

    private final Map<Syscall, Rule> rules;

    private SeccompFilter(Map<Syscall, Rule> rules) {
        this.rules = rules;
    }

    /** A filter from table rows; a call may appear once. */
    public static SeccompFilter of(Collection<Rule> rows) {
        Map<Syscall, Rule> map = new EnumMap<>(Syscall.class);
        for (Rule r : rows) {
            if (map.put(r.call(), r) != null) {
                throw new IllegalArgumentException(r.call().kernelName() + " appears twice in one seccomp table");
            }
        }
        return new SeccompFilter(map);
    }

    public Map<Syscall, Rule> rules() {
        return java.util.Collections.unmodifiableMap(rules);
    }

    /** The BPF program, refusing what is not listed with {@code refusal}. */
    public List<Bpf.Insn> compile(Refusal refusal) {
        int refuse = refusal.action;
        List<Bpf.Insn> p = new ArrayList<>();
        p.add(Bpf.Insn.loadWord(DATA_ARCH));
        p.add(Bpf.Insn.jumpIfEqual(AUDIT_ARCH_X86_64, 1, 0));
        p.add(Bpf.Insn.ret(refuse));
        p.add(Bpf.Insn.loadWord(DATA_NR));
        p.add(Bpf.Insn.jumpIfAnySet(X32_SYSCALL_BIT, 0, 1));
        p.add(Bpf.Insn.ret(refuse));
        for (Rule r : rules.values()) {
            List<Bpf.Insn> body = body(r, refuse);
            if (body.size() > 255) {
                throw new IllegalArgumentException("the check of " + r.call().kernelName() + " is too long for one BPF jump");
            }
            // A still holds the call number here: every body ends in a return.
            p.add(Bpf.Insn.jumpIfEqual(r.call().number(), 0, body.size()));
            p.addAll(body);
        }
        p.add(Bpf.Insn.ret(refuse));
        if (p.size() > Bpf.MAX_INSNS) {
            throw new IllegalArgumentException("seccomp program of " + p.size() + " instructions is too long");
        }
        return List.copyOf(p);
    }

    private static List<Bpf.Insn> body(Rule r, int refuse) {
        List<Bpf.Insn> b = new ArrayList<>();
        if (r.when() != null) {
            r.when().emit(b, refuse);
        }
        b.add(Bpf.Insn.ret(r.answer().action()));
        return b;
    }
}
