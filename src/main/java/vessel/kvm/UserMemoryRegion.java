package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** {@code struct kvm_userspace_memory_region}: one memory slot. */
public record UserMemoryRegion(int slot, int flags, long guestPhysAddr, long memorySize, long userspaceAddr) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("slot"), JAVA_INT.withName("flags"), JAVA_LONG.withName("guest_phys_addr"),
            JAVA_LONG.withName("memory_size"), JAVA_LONG.withName("userspace_addr"))
            .withName("kvm_userspace_memory_region");
    public static final int LOG_DIRTY_PAGES = 1;
    public static final int READONLY = 2;

    void write(MemorySegment m) {
        m.set(JAVA_INT, 0, slot);
        m.set(JAVA_INT, 4, flags);
        m.set(JAVA_LONG, 8, guestPhysAddr);
        m.set(JAVA_LONG, 16, memorySize);
        m.set(JAVA_LONG, 24, userspaceAddr);
    }
}
