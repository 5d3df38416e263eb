package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/** {@code struct kvm_dtable}: GDTR or IDTR. */
public record DescriptorTable(long base, int limit) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("base"), JAVA_SHORT.withName("limit"),
            MemoryLayout.sequenceLayout(3, JAVA_SHORT).withName("padding")).withName("kvm_dtable");

    static DescriptorTable read(MemorySegment m) {
        return new DescriptorTable(m.get(JAVA_LONG, 0), Short.toUnsignedInt(m.get(JAVA_SHORT, 8)));
    }

    void write(MemorySegment m) {
        m.set(JAVA_LONG, 0, base);
        m.set(JAVA_SHORT, 8, (short) limit);
        m.asSlice(10, 6).fill((byte) 0);
    }
}
