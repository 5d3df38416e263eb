package vessel.testkit;

import java.util.List;

import vessel.sys.Bpf;
import vessel.sys.SeccompFilter;

/**
 * Runs a seccomp BPF program over one {@code struct seccomp_data}, as the kernel would, for the few
 * instructions Vessel's filters use; anything else fails the test. Jumps are checked to stay inside the program.
 */
public final class BpfInterpreter {
    private BpfInterpreter() {}

    /** The action the program returns for call {@code nr} on {@code arch} with {@code args} (up to 6). */
    public static int run(List<Bpf.Insn> program, int arch, int nr, long... args) {
        int a = 0;
        int pc = 0;
        for (int steps = 0; steps <= program.size(); steps++) {
            if (pc < 0 || pc >= program.size()) {
                throw new AssertionError("BPF program ran off its end at " + pc);
            }
            Bpf.Insn in = program.get(pc);
            switch (in.code()) {
                case Bpf.LD_W_ABS -> {
                    a = load(in.k(), arch, nr, args);
                    pc++;
                }
                case Bpf.ALU_AND_K -> {
                    a &= in.k();
                    pc++;
                }
                case Bpf.JMP_JEQ_K -> pc += 1 + (a == in.k() ? in.jt() : in.jf());
                case Bpf.JMP_JSET_K -> pc += 1 + ((a & in.k()) != 0 ? in.jt() : in.jf());
                case Bpf.RET_K -> {
                    return in.k();
                }
                default -> throw new AssertionError("instruction the interpreter does not know: " + in);
            }
        }
        throw new AssertionError("BPF program did not return");
    }

    private static int load(int offset, int arch, int nr, long[] args) {
        if (offset == SeccompFilter.DATA_NR) {
            return nr;
        }
        if (offset == SeccompFilter.DATA_ARCH) {
            return arch;
        }
        int i = (offset - SeccompFilter.DATA_ARGS) / 8;
        if (offset < SeccompFilter.DATA_ARGS || i > 5) {
            throw new AssertionError("load from seccomp_data offset " + offset);
        }
        long arg = i < args.length ? args[i] : 0;
        // Little-endian: the low half of args[i] is at its offset, the high half 4 bytes on.
        return (offset - SeccompFilter.DATA_ARGS) % 8 == 0 ? (int) arg : (int) (arg >>> 32);
    }

    /** {@link #run} for x86_64. */
    public static int x86(List<Bpf.Insn> program, vessel.sys.Syscall call, long... args) {
        return run(program, SeccompFilter.AUDIT_ARCH_X86_64, call.number(), args);
    }
}
