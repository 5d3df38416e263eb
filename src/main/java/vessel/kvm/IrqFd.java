package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/** {@code struct kvm_irqfd}: a write to eventfd {@code fd} raises interrupt line {@code gsi}. */
public record IrqFd(int fd, int gsi, int flags, int resampleFd) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("fd"), JAVA_INT.withName("gsi"), JAVA_INT.withName("flags"),
            JAVA_INT.withName("resamplefd"), MemoryLayout.sequenceLayout(16, JAVA_BYTE).withName("pad"))
            .withName("kvm_irqfd");
    public static final int DEASSIGN = 1;
    public static final int RESAMPLE = 2;

    void write(MemorySegment m) {
        m.fill((byte) 0);
        m.set(JAVA_INT, 0, fd);
        m.set(JAVA_INT, 4, gsi);
        m.set(JAVA_INT, 8, flags);
        m.set(JAVA_INT, 12, resampleFd);
    }
}
