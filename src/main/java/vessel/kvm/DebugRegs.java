package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code struct kvm_debugregs}: the guest's own DR0-DR3, DR6 and DR7 (KVM_GET/SET_DEBUGREGS). These are
 * the guest's values even while a host debugger has breakpoints of its own set through
 * {@link GuestDebug}.
 */
public record DebugRegs(long[] db, long dr6, long dr7, long flags) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(4, JAVA_LONG).withName("db"), JAVA_LONG.withName("dr6"),
            JAVA_LONG.withName("dr7"), JAVA_LONG.withName("flags"),
            MemoryLayout.sequenceLayout(9, JAVA_LONG).withName("reserved")).withName("kvm_debugregs");

    /** DR6.BS: the #DB came from a single-step trap (RFLAGS.TF). */
    public static final long DR6_BS = 1L << 14;
    /** DR6.B0-B3: which breakpoint condition matched. */
    public static final long DR6_BREAKPOINTS = 0xf;

    public DebugRegs {
        if (db.length != 4) {
            throw new IllegalArgumentException("DR0-DR3 are 4 registers, not " + db.length);
        }
        db = db.clone();
    }

    @Override
    public long[] db() {
        return db.clone();
    }

    public DebugRegs withDr6(long value) {
        return new DebugRegs(db, value, dr7, flags);
    }

    static DebugRegs read(MemorySegment m) {
        return new DebugRegs(m.asSlice(0, 32).toArray(JAVA_LONG), m.get(JAVA_LONG, 32), m.get(JAVA_LONG, 40),
                m.get(JAVA_LONG, 48));
    }

    void write(MemorySegment m) {
        MemorySegment.copy(db, 0, m, JAVA_LONG, 0, 4);
        m.set(JAVA_LONG, 32, dr6);
        m.set(JAVA_LONG, 40, dr7);
        m.set(JAVA_LONG, 48, flags);
    }
}
