package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code struct kvm_guest_debug}: what a host debugger asks of KVM_SET_GUEST_DEBUG. {@code debugreg}
 * holds DR0-DR7 as the debugger wants them (only 0-3 and 7 are used) when {@link #USE_HW_BP} is set;
 * KVM then keeps the guest's own debug registers aside and makes a match exit with KVM_EXIT_DEBUG.
 */
public record GuestDebug(int control, long[] debugreg) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("control"), JAVA_INT.withName("pad"),
            MemoryLayout.structLayout(MemoryLayout.sequenceLayout(8, JAVA_LONG).withName("debugreg")).withName("arch"))
            .withName("kvm_guest_debug");

    public static final int ENABLE = 0x1;
    public static final int SINGLESTEP = 0x2;
    public static final int USE_SW_BP = 0x10000;
    public static final int USE_HW_BP = 0x20000;
    /** Interrupts are not delivered while single-stepping (KVM_CAP_SET_GUEST_DEBUG2 says if supported). */
    public static final int BLOCKIRQ = 0x100000;

    /** Guest debugging off: the guest's own debug registers and TF are in effect again. */
    public static final GuestDebug OFF = new GuestDebug(0, new long[8]);

    public GuestDebug {
        if (debugreg.length != 8) {
            throw new IllegalArgumentException("DR0-DR7 are 8 slots, not " + debugreg.length);
        }
        debugreg = debugreg.clone();
    }

    @Override
    public long[] debugreg() {
        return debugreg.clone();
    }

    void write(MemorySegment m) {
        m.set(JAVA_INT, 0, control);
        MemorySegment.copy(debugreg, 0, m, JAVA_LONG, 8, 8);
    }
}
