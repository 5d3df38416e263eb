package vessel.vmm.x86;

import vessel.kvm.Regs;
import vessel.kvm.Sregs;

/**
 * What an assist may read and change of a stopped vCPU. The VMM implements it over KVM ioctls and
 * guest memory; tests implement it in memory.
 */
public interface CpuAccess {
    Regs regs() throws Exception;

    void setRegs(Regs regs) throws Exception;

    Sregs sregs() throws Exception;

    int mxcsr() throws Exception;

    void setMxcsr(int mxcsr) throws Exception;

    /**
     * The MXCSR bits this CPU implements (FXSAVE's MXCSR_MASK); setting any other bit with ldmxcsr is a
     * #GP. A CPU that stores 0 there implements {@link Assists#MXCSR_DEFAULT_MASK}.
     */
    int mxcsrMask() throws Exception;

    /** XMM register {@code n} (0-15). */
    Xmm xmm(int n) throws Exception;

    /**
     * Sets XMM register {@code n} (0-15) as a legacy-SSE instruction writes it: bits 255-128 of the
     * YMM register, where there is one, keep their value.
     */
    void setXmm(int n, Xmm value) throws Exception;

    /**
     * Reads {@code len} bytes at a linear (guest-virtual) address as an instruction's data operand at
     * the current CPL; throws {@link PageFault} where the CPU would have faulted.
     */
    byte[] readLinear(long address, int len) throws Exception;

    /** Writes an instruction's data operand; checks every page before writing any byte. */
    void writeLinear(long address, byte[] data) throws Exception;

    /** Reads as the CPU does for itself (the IDT): a supervisor access whatever the CPL. */
    byte[] readSystem(long address, int len) throws Exception;

    /** Delivers #PF on the next entry: CR2 = {@code address}, the error code pushed. */
    void injectPageFault(long address, int errorCode) throws Exception;

    /** Delivers exception {@code vector} on the next entry ({@code errorCode} null for none). */
    void injectException(int vector, Integer errorCode) throws Exception;

    /**
     * Delivers the single-step trap that RFLAGS.TF asks for after an instruction: #DB with DR6.BS set, as
     * the CPU records it.
     */
    void raiseSingleStep() throws Exception;

    /** Delivers {@code vector} like an external interrupt: what {@code int n} does once RIP is past it. */
    void injectInterrupt(int vector) throws Exception;
}
