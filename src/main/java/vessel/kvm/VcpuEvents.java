package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code struct kvm_vcpu_events}: pending and injected exceptions, interrupts and NMIs. Kept as the raw
 * struct bytes with named accessors, so a get-modify-set round trip preserves fields Vessel does not model.
 */
public final class VcpuEvents {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            MemoryLayout.structLayout(JAVA_BYTE.withName("injected"), JAVA_BYTE.withName("nr"),
                    JAVA_BYTE.withName("has_error_code"), JAVA_BYTE.withName("pending"),
                    JAVA_INT.withName("error_code")).withName("exception"),
            MemoryLayout.structLayout(JAVA_BYTE.withName("injected"), JAVA_BYTE.withName("nr"),
                    JAVA_BYTE.withName("soft"), JAVA_BYTE.withName("shadow")).withName("interrupt"),
            MemoryLayout.structLayout(JAVA_BYTE.withName("injected"), JAVA_BYTE.withName("pending"),
                    JAVA_BYTE.withName("masked"), JAVA_BYTE.withName("pad")).withName("nmi"),
            JAVA_INT.withName("sipi_vector"), JAVA_INT.withName("flags"),
            MemoryLayout.sequenceLayout(4, JAVA_BYTE).withName("smi"),
            MemoryLayout.sequenceLayout(1, JAVA_BYTE).withName("triple_fault"),
            MemoryLayout.sequenceLayout(26, JAVA_BYTE).withName("reserved"),
            JAVA_BYTE.withName("exception_has_payload"),
            JAVA_LONG.withName("exception_payload")).withName("kvm_vcpu_events");

    final byte[] raw;

    VcpuEvents(byte[] raw) {
        this.raw = raw;
    }

    static VcpuEvents read(MemorySegment m) {
        return new VcpuEvents(m.asSlice(0, LAYOUT.byteSize()).toArray(JAVA_BYTE));
    }

    void write(MemorySegment m) {
        MemorySegment.copy(raw, 0, m, JAVA_BYTE, 0, raw.length);
    }

    public boolean exceptionInjected() {
        return raw[0] != 0;
    }

    public int exceptionVector() {
        return raw[1] & 0xff;
    }

    /**
     * Makes the next KVM_RUN deliver exception {@code vector} through the guest's IDT, as if the
     * instruction had raised it. With {@code flags} 0, KVM applies only the exception, interrupt and
     * NMI-injected fields, leaving SIPI, SMM and NMI-pending state alone.
     */
    public void injectException(int vector, Integer errorCode) {
        raw[0] = 1;
        raw[1] = (byte) vector;
        raw[2] = (byte) (errorCode != null ? 1 : 0);
        raw[3] = 0;
        int ec = errorCode != null ? errorCode : 0;
        raw[4] = (byte) ec;
        raw[5] = (byte) (ec >>> 8);
        raw[6] = (byte) (ec >>> 16);
        raw[7] = (byte) (ec >>> 24);
        raw[20] = raw[21] = raw[22] = raw[23] = 0; // flags: no optional fields are valid
    }

    /**
     * Makes the next KVM_RUN deliver {@code vector} as an external interrupt, which pushes no error code:
     * the behaviour of {@code int n} once RIP has been moved past the instruction.
     */
    public void injectInterrupt(int vector) {
        raw[8] = 1;
        raw[9] = (byte) vector;
        raw[10] = 0;
        raw[20] = raw[21] = raw[22] = raw[23] = 0;
    }
}
