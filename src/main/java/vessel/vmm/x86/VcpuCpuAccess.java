package vessel.vmm.x86;

import vessel.kvm.DebugRegs;
import vessel.kvm.Regs;
import vessel.kvm.Sregs;
import vessel.kvm.Translation;
import vessel.kvm.VcpuEvents;
import vessel.kvm.VcpuFd;
import vessel.memory.GuestMemory;
import vessel.memory.GuestMemoryException;

/** {@link CpuAccess} over a stopped vCPU's KVM state and guest memory, translating through KVM_TRANSLATE. */
public final class VcpuCpuAccess implements CpuAccess {
    private final VcpuFd vcpu;
    private final GuestMemory memory;
    private Sregs sregs;

    public VcpuCpuAccess(VcpuFd vcpu, GuestMemory memory) {
        this.vcpu = vcpu;
        this.memory = memory;
    }

    @Override
    public Regs regs() throws Exception {
        return vcpu.getRegs();
    }

    @Override
    public void setRegs(Regs regs) throws Exception {
        vcpu.setRegs(regs);
    }

    @Override
    public Sregs sregs() throws Exception {
        if (sregs == null) {
            sregs = vcpu.getSregs();
        }
        return sregs;
    }

    /*
     * MXCSR goes through the XSAVE area: x86 KVM_GET_FPU leaves kvm_fpu.mxcsr zero and KVM_SET_FPU
     * ignores it (found by guests/assists.S, whose ldmxcsr had no effect and whose stmxcsr stored 0).
     */
    @Override
    public int mxcsr() throws Exception {
        byte[] xsave = vcpu.getXsave();
        return (int) Assists.fromLe(java.util.Arrays.copyOfRange(xsave, XSAVE_MXCSR, XSAVE_MXCSR + 4));
    }

    @Override
    public void setMxcsr(int mxcsr) throws Exception {
        byte[] xsave = vcpu.getXsave();
        System.arraycopy(Assists.le(mxcsr & 0xffff_ffffL, 4), 0, xsave, XSAVE_MXCSR, 4);
        // KVM takes MXCSR from the area only when XSTATE_BV says SSE (or AVX) state is in use. Marking
        // SSE in use changes nothing else: with the bit clear the area already holds the XMM registers'
        // initial (zero) values, which is what they are.
        xsave[XSAVE_XSTATE_BV] |= XSTATE_SSE;
        vcpu.setXsave(xsave);
    }

    @Override
    public int mxcsrMask() throws Exception {
        byte[] xsave = vcpu.getXsave();
        return (int) Assists.fromLe(java.util.Arrays.copyOfRange(xsave, XSAVE_MXCSR_MASK, XSAVE_MXCSR_MASK + 4));
    }

    private static final int XSAVE_MXCSR = 24;
    private static final int XSAVE_MXCSR_MASK = 28;
    private static final int XSAVE_XSTATE_BV = 512;
    private static final byte XSTATE_SSE = 1 << 1;

    /** Guest-physical address of a linear one, page by page; throws when unmapped. */
    private long physical(long linear) throws Exception {
        if ((sregs().cr0 & Sregs.CR0_PG) == 0) {
            return linear;
        }
        Translation t = vcpu.translate(linear);
        if (!t.valid()) {
            throw new GuestMemoryException(linear, 1);
        }
        return t.physicalAddress();
    }

    @Override
    public byte[] readLinear(long address, int len) throws Exception {
        byte[] out = new byte[len];
        int done = 0;
        while (done < len) {
            long la = address + done;
            int chunk = (int) Math.min(len - done, 4096 - (la & 4095));
            memory.read(physical(la), out, done, chunk);
            done += chunk;
        }
        return out;
    }

    @Override
    public void writeLinear(long address, byte[] data) throws Exception {
        int done = 0;
        while (done < data.length) {
            long la = address + done;
            int chunk = (int) Math.min(data.length - done, 4096 - (la & 4095));
            memory.write(physical(la), data, done, chunk);
            done += chunk;
        }
    }

    @Override
    public void injectException(int vector, Integer errorCode) throws Exception {
        VcpuEvents events = vcpu.getVcpuEvents();
        events.injectException(vector, errorCode);
        vcpu.setVcpuEvents(events);
    }

    @Override
    public void raiseSingleStep() throws Exception {
        // Without KVM_CAP_EXCEPTION_PAYLOAD in use, KVM delivers an injected #DB with DR6 as it stands.
        DebugRegs dr = vcpu.getDebugRegs();
        vcpu.setDebugRegs(dr.withDr6(dr.dr6() | DebugRegs.DR6_BS));
        injectException(Assists.VECTOR_DB, null);
    }

    @Override
    public void injectInterrupt(int vector) throws Exception {
        VcpuEvents events = vcpu.getVcpuEvents();
        events.injectInterrupt(vector);
        vcpu.setVcpuEvents(events);
    }
}
