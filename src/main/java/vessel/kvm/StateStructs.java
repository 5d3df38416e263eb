package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The structs that only snapshots move, kept as the kernel's raw bytes (a restore hands back exactly what
 * a save got): their layouts, written once here and pinned against linux/kvm.h in KvmLayoutTest.
 */
public final class StateStructs {
    private StateStructs() {}

    /** {@code struct kvm_xcrs}: the extended control registers (XCR0 and any others KVM reports). */
    public static final StructLayout XCRS = MemoryLayout.structLayout(
            JAVA_INT.withName("nr_xcrs"), JAVA_INT.withName("flags"),
            MemoryLayout.sequenceLayout(16, MemoryLayout.structLayout(JAVA_INT.withName("xcr"),
                    JAVA_INT.withName("reserved"), JAVA_LONG.withName("value"))).withName("xcrs"),
            MemoryLayout.sequenceLayout(16, JAVA_LONG).withName("padding")).withName("kvm_xcrs");

    /** {@code struct kvm_irqchip}: one in-kernel interrupt controller, by {@code chip_id}. */
    public static final StructLayout IRQCHIP = MemoryLayout.structLayout(
            JAVA_INT.withName("chip_id"), JAVA_INT.withName("pad"),
            MemoryLayout.sequenceLayout(512, JAVA_BYTE).withName("chip")).withName("kvm_irqchip");

    /** {@code chip_id} values of {@link #IRQCHIP}: the two 8259s and the IOAPIC. */
    public static final int IRQCHIP_PIC_MASTER = 0;
    public static final int IRQCHIP_PIC_SLAVE = 1;
    public static final int IRQCHIP_IOAPIC = 2;

    /** {@code struct kvm_pit_state2}: the in-kernel i8254's three channels. */
    public static final StructLayout PIT_STATE2 = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(3 * 24, JAVA_BYTE).withName("channels"), JAVA_INT.withName("flags"),
            MemoryLayout.sequenceLayout(9, JAVA_INT).withName("reserved")).withName("kvm_pit_state2");

    /** {@code struct kvm_clock_data}: kvmclock's nanoseconds, as the guest reads them. */
    public static final StructLayout CLOCK_DATA = MemoryLayout.structLayout(
            JAVA_LONG.withName("clock"), JAVA_INT.withName("flags"), JAVA_INT.withName("pad0"),
            JAVA_LONG.withName("realtime"), JAVA_LONG.withName("host_tsc"),
            MemoryLayout.sequenceLayout(4, JAVA_INT).withName("pad")).withName("kvm_clock_data");

    /** {@code struct kvm_dirty_log}: a slot and where the kernel writes its bitmap of written pages. */
    public static final StructLayout DIRTY_LOG = MemoryLayout.structLayout(
            JAVA_INT.withName("slot"), JAVA_INT.withName("padding1"), JAVA_LONG.withName("dirty_bitmap"))
            .withName("kvm_dirty_log");

    /** {@code struct kvm_vcpu_events} flags: apply {@code nmi.pending}, {@code sipi_vector}. */
    public static final int VCPUEVENT_VALID_NMI_PENDING = 0x1;
    public static final int VCPUEVENT_VALID_SIPI_VECTOR = 0x2;
}
