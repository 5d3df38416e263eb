package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** {@code struct kvm_ioeventfd}: a guest write to {@code addr} signals eventfd {@code fd} without leaving the kernel. */
public record IoEventFd(long datamatch, long addr, int len, int fd, int flags) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("datamatch"), JAVA_LONG.withName("addr"), JAVA_INT.withName("len"),
            JAVA_INT.withName("fd"), JAVA_INT.withName("flags"),
            MemoryLayout.sequenceLayout(36, JAVA_BYTE).withName("pad")).withName("kvm_ioeventfd");
    public static final int FLAG_DATAMATCH = 1;
    public static final int FLAG_PIO = 2;
    public static final int FLAG_DEASSIGN = 4;

    void write(MemorySegment m) {
        m.fill((byte) 0);
        m.set(JAVA_LONG, 0, datamatch);
        m.set(JAVA_LONG, 8, addr);
        m.set(JAVA_INT, 16, len);
        m.set(JAVA_INT, 20, fd);
        m.set(JAVA_INT, 24, flags);
    }
}
