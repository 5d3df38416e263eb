package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** {@code struct kvm_msr_entry}; a list of them follows the 8-byte {@code struct kvm_msrs} header. */
public record MsrEntry(int index, long data) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("index"), JAVA_INT.withName("reserved"), JAVA_LONG.withName("data"))
            .withName("kvm_msr_entry");
    /** {@code struct kvm_msrs}: u32 nmsrs, u32 pad. */
    public static final long HEADER_BYTES = 8;

    public static final int IA32_SYSENTER_CS = 0x174;
    public static final int IA32_SYSENTER_ESP = 0x175;
    public static final int IA32_SYSENTER_EIP = 0x176;
    public static final int IA32_TSC = 0x10;
    /** The local APIC timer's deadline in TSC-deadline mode: an absolute guest TSC value, 0 when disarmed. */
    public static final int IA32_TSC_DEADLINE = 0x6e0;
    public static final int IA32_MISC_ENABLE = 0x1a0;
    public static final int IA32_MTRR_DEF_TYPE = 0x2ff;
    public static final int STAR = 0xc0000081;
    public static final int LSTAR = 0xc0000082;
    public static final int CSTAR = 0xc0000083;
    public static final int SYSCALL_MASK = 0xc0000084;
    public static final int KERNEL_GS_BASE = 0xc0000102;
}
