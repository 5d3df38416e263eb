package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/** {@code struct kvm_cpuid_entry2}; a list of them follows the 8-byte {@code struct kvm_cpuid2} header. */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("function"), JAVA_INT.withName("index"), JAVA_INT.withName("flags"),
            JAVA_INT.withName("eax"), JAVA_INT.withName("ebx"), JAVA_INT.withName("ecx"),
            JAVA_INT.withName("edx"), MemoryLayout.sequenceLayout(3, JAVA_INT).withName("padding"))
            .withName("kvm_cpuid_entry2");
    /** {@code struct kvm_cpuid2}: u32 nent, u32 padding. */
    public static final long HEADER_BYTES = 8;
    /** The entry's {@code index} (ECX input) matters for this leaf. */
    public static final int FLAG_SIGNIFICANT_INDEX = 1;

    static CpuidEntry read(MemorySegment m) {
        return new CpuidEntry(m.get(JAVA_INT, 0), m.get(JAVA_INT, 4), m.get(JAVA_INT, 8), m.get(JAVA_INT, 12),
                m.get(JAVA_INT, 16), m.get(JAVA_INT, 20), m.get(JAVA_INT, 24));
    }

    void write(MemorySegment m) {
        int[] v = {function, index, flags, eax, ebx, ecx, edx, 0, 0, 0};
        MemorySegment.copy(v, 0, m, JAVA_INT, 0, v.length);
    }

    public CpuidEntry withRegs(int eax, int ebx, int ecx, int edx) {
        return new CpuidEntry(function, index, flags, eax, ebx, ecx, edx);
    }
}
