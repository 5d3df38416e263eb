package vessel.vmm.x86;

import vessel.kvm.DebugRegs;
import vessel.kvm.Regs;
import vessel.kvm.Sregs;
import vessel.kvm.VcpuEvents;
import vessel.kvm.VcpuFd;
import vessel.memory.GuestMemory;

/** {@link CpuAccess} over a stopped vCPU's KVM state and guest memory, translating through KVM_TRANSLATE. */
public final class VcpuCpuAccess implements CpuAccess {
    private final VcpuFd vcpu;
    private final GuestMemory memory;
    private Sregs sregs;
    private byte[] xsave;
    private Long rflags;

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
     * MXCSR and the XMM registers go through the XSAVE area: x86 KVM_GET_FPU leaves kvm_fpu.mxcsr zero
     * and KVM_SET_FPU ignores it (found by guests/assists.S, whose ldmxcsr had no effect and whose
     * stmxcsr stored 0). KVM_SET_FPU does write the XMM registers into the legacy area, but leaves the
     * header's XSTATE_BV alone; with the SSE bit clear there, the next XRSTOR puts the XMM registers
     * back to their initial zeros. Setting the area through KVM_SET_XSAVE with the bit set avoids that.
     * The area is read once per stopped instruction and written back on every change.
     */
    private byte[] xsave() throws Exception {
        if (xsave == null) {
            xsave = vcpu.getXsave();
        }
        return xsave;
    }

    private void storeXsave() throws Exception {
        // KVM takes MXCSR and the XMM registers from the area only when XSTATE_BV says SSE state is in
        // use. With the bit clear the area already holds their initial values (zeros, and the MXCSR
        // KVM reports), which is what they are, so marking SSE in use changes nothing else.
        xsave[XSAVE_XSTATE_BV] |= XSTATE_SSE;
        vcpu.setXsave(xsave);
    }

    @Override
    public int mxcsr() throws Exception {
        return (int) Assists.fromLe(java.util.Arrays.copyOfRange(xsave(), XSAVE_MXCSR, XSAVE_MXCSR + 4));
    }

    @Override
    public void setMxcsr(int mxcsr) throws Exception {
        System.arraycopy(Assists.le(mxcsr & 0xffff_ffffL, 4), 0, xsave(), XSAVE_MXCSR, 4);
        storeXsave();
    }

    @Override
    public int mxcsrMask() throws Exception {
        return (int) Assists.fromLe(java.util.Arrays.copyOfRange(xsave(), XSAVE_MXCSR_MASK, XSAVE_MXCSR_MASK + 4));
    }

    @Override
    public Xmm xmm(int n) throws Exception {
        return Xmm.fromBytes(xsave(), xmmOffset(n));
    }

    @Override
    public void setXmm(int n, Xmm value) throws Exception {
        value.toBytes(xsave(), xmmOffset(n));
        storeXsave();
    }

    private static int xmmOffset(int n) {
        java.util.Objects.checkIndex(n, 16);
        return XSAVE_XMM0 + 16 * n;
    }

    private static final int XSAVE_MXCSR = 24;
    private static final int XSAVE_MXCSR_MASK = 28;
    /** XMM0-15 in the FXSAVE layout, 16 bytes each. */
    static final int XSAVE_XMM0 = 160;
    private static final int XSAVE_XSTATE_BV = 512;
    private static final byte XSTATE_SSE = 1 << 1;

    /** Guest-physical address of a linear one for {@code access}, or the page fault the CPU would raise. */
    private long physical(long linear, PageWalker.Access access) throws Exception {
        if (rflags == null) {
            rflags = vcpu.getRegs().rflags; // for CPL (VM flag) and SMAP (AC); no assist changes them first
        }
        Sregs s = sregs();
        return PageWalker.translate(linear, access, s, rflags, Assists.cpl(s, rflags), pageTables);
    }

    private final PageWalker.PhysicalMemory pageTables = new PageWalker.PhysicalMemory() {
        @Override
        public long readLong(long address) {
            return memory.readLong(address);
        }

        @Override
        public int readInt(long address) {
            return memory.readInt(address);
        }
    };

    private byte[] read(long address, int len, PageWalker.Access access) throws Exception {
        byte[] out = new byte[len];
        int done = 0;
        while (done < len) {
            long la = address + done;
            int chunk = (int) Math.min(len - done, 4096 - (la & 4095));
            memory.read(physical(la, access), out, done, chunk);
            done += chunk;
        }
        return out;
    }

    @Override
    public byte[] readLinear(long address, int len) throws Exception {
        return read(address, len, PageWalker.Access.READ);
    }

    @Override
    public byte[] readSystem(long address, int len) throws Exception {
        return read(address, len, PageWalker.Access.IMPLICIT_READ);
    }

    @Override
    public void writeLinear(long address, byte[] data) throws Exception {
        // Every page is translated (and may fault) before any byte is written, as on the CPU.
        int pages = (int) (((address + Math.max(data.length, 1) - 1) >>> 12) - (address >>> 12) + 1);
        long[] physical = new long[pages];
        for (int i = 0; i < pages; i++) {
            long la = i == 0 ? address : ((address >>> 12) + i) << 12;
            physical[i] = physical(la, PageWalker.Access.WRITE);
        }
        int done = 0;
        for (int i = 0; done < data.length; i++) {
            long la = address + done;
            int chunk = (int) Math.min(data.length - done, 4096 - (la & 4095));
            memory.write(physical[i], data, done, chunk);
            done += chunk;
        }
    }

    @Override
    public void injectPageFault(long address, int errorCode) throws Exception {
        Sregs s = vcpu.getSregs();
        s.cr2 = address;
        vcpu.setSregs(s);
        sregs = s;
        injectException(Assists.VECTOR_PF, errorCode);
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
