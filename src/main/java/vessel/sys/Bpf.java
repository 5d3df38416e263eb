package vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Classic BPF as seccomp runs it ({@code linux/filter.h}): the few instructions a filter needs, and the
 * kernel's {@code struct sock_filter} (8 bytes) and {@code struct sock_fprog} (a u16 length, then a pointer).
 */
public final class Bpf {
    public static final StructLayout SOCK_FILTER = MemoryLayout.structLayout(
            JAVA_SHORT.withName("code"), JAVA_BYTE.withName("jt"), JAVA_BYTE.withName("jf"),
            JAVA_INT.withName("k")).withName("sock_filter");
    public static final StructLayout SOCK_FPROG = MemoryLayout.structLayout(
            JAVA_SHORT.withName("len"), MemoryLayout.paddingLayout(6), ADDRESS.withName("filter"))
            .withName("sock_fprog");
    /** Where sock_fprog's pointer is, as SOCK_FPROG says (SeccompLayoutTest checks both against the C header). */
    static final int FPROG_FILTER_OFFSET = 8;

    /** The kernel's BPF_MAXINSNS: a longer program is refused with EINVAL. */
    public static final int MAX_INSNS = 4096;

    // Opcodes: class | size/op | source, from linux/bpf_common.h.
    public static final int LD_W_ABS = 0x00 | 0x00 | 0x20;   // BPF_LD | BPF_W | BPF_ABS
    public static final int ALU_AND_K = 0x04 | 0x50 | 0x00;  // BPF_ALU | BPF_AND | BPF_K
    public static final int JMP_JEQ_K = 0x05 | 0x10 | 0x00;  // BPF_JMP | BPF_JEQ | BPF_K
    public static final int JMP_JSET_K = 0x05 | 0x40 | 0x00; // BPF_JMP | BPF_JSET | BPF_K
    public static final int RET_K = 0x06 | 0x00;             // BPF_RET | BPF_K

    private Bpf() {}

    /** One {@code struct sock_filter}: {@code jt}/{@code jf} are forward skips of 0-255 instructions. */
    public record Insn(int code, int jt, int jf, int k) {
        public Insn {
            if ((code & ~0xffff) != 0 || (jt & ~0xff) != 0 || (jf & ~0xff) != 0) {
                throw new IllegalArgumentException("BPF instruction out of range: code " + code + " jt " + jt + " jf " + jf);
            }
        }

        public static Insn loadWord(int offset) {
            return new Insn(LD_W_ABS, 0, 0, offset);
        }

        public static Insn and(int mask) {
            return new Insn(ALU_AND_K, 0, 0, mask);
        }

        public static Insn jumpIfEqual(int value, int jt, int jf) {
            return new Insn(JMP_JEQ_K, jt, jf, value);
        }

        public static Insn jumpIfAnySet(int bits, int jt, int jf) {
            return new Insn(JMP_JSET_K, jt, jf, bits);
        }

        public static Insn ret(int value) {
            return new Insn(RET_K, 0, 0, value);
        }
    }

    /**
     * The program as the kernel reads it: an array of sock_filter and a sock_fprog pointing at it, in
     * {@code arena}. Both are filled as bytes and copied in once: a process installs its filters on its way
     * to the API socket, where the var handles that typed accesses need are made and run for the first time
     * (about 10 ms of the start-up's CPU), and for nothing else there.
     */
    public static MemorySegment fprog(List<Insn> program, Arena arena) {
        if (program.isEmpty() || program.size() > MAX_INSNS) {
            throw new IllegalArgumentException("a BPF program has 1 to " + MAX_INSNS + " instructions, not " + program.size());
        }
        ByteBuffer insns = ByteBuffer.allocate(Math.toIntExact(program.size() * SOCK_FILTER.byteSize()))
                .order(ByteOrder.nativeOrder());
        for (Insn in : program) {
            insns.putShort((short) in.code()).put((byte) in.jt()).put((byte) in.jf()).putInt(in.k());
        }
        MemorySegment filters = arena.allocate(SOCK_FILTER, program.size());
        filters.copyFrom(MemorySegment.ofArray(insns.array()));
        ByteBuffer head = ByteBuffer.allocate(Math.toIntExact(SOCK_FPROG.byteSize())).order(ByteOrder.nativeOrder());
        head.putShort(0, (short) program.size()).putLong(FPROG_FILTER_OFFSET, filters.address());
        MemorySegment fprog = arena.allocate(SOCK_FPROG);
        fprog.copyFrom(MemorySegment.ofArray(head.array()));
        return fprog;
    }

}
