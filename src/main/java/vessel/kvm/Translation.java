package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** {@code struct kvm_translation}: a guest-virtual address walked through the vCPU's page tables. */
public record Translation(long linearAddress, long physicalAddress, boolean valid, boolean writeable,
                          boolean usermode) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("linear_address"), JAVA_LONG.withName("physical_address"),
            JAVA_BYTE.withName("valid"), JAVA_BYTE.withName("writeable"), JAVA_BYTE.withName("usermode"),
            MemoryLayout.sequenceLayout(5, JAVA_BYTE).withName("pad")).withName("kvm_translation");

    static Translation read(MemorySegment m) {
        return new Translation(m.get(JAVA_LONG, 0), m.get(JAVA_LONG, 8), m.get(JAVA_BYTE, 16) != 0,
                m.get(JAVA_BYTE, 17) != 0, m.get(JAVA_BYTE, 18) != 0);
    }
}
