package vessel.kvm;

import java.lang.foreign.MemoryLayout;

/**
 * A piece of vCPU state that a snapshot carries as the kernel's raw struct bytes, with the ioctl pair
 * that reads and writes it. {@link #ordinal()} order is restore order (Firecracker's): MP state first,
 * then registers, and the LAPIC after the special registers that set its base; events last.
 */
public enum VcpuStateBlob {
    MP_STATE(KvmIoctl.GET_MP_STATE, KvmIoctl.SET_MP_STATE, 4),
    REGS(KvmIoctl.GET_REGS, KvmIoctl.SET_REGS, Regs.LAYOUT.byteSize()),
    SREGS(KvmIoctl.GET_SREGS, KvmIoctl.SET_SREGS, Sregs.LAYOUT.byteSize()),
    XSAVE(KvmIoctl.GET_XSAVE, KvmIoctl.SET_XSAVE, VcpuFd.XSAVE_BYTES),
    XCRS(KvmIoctl.GET_XCRS, KvmIoctl.SET_XCRS, StateStructs.XCRS.byteSize()),
    DEBUGREGS(KvmIoctl.GET_DEBUGREGS, KvmIoctl.SET_DEBUGREGS, DebugRegs.LAYOUT.byteSize()),
    LAPIC(KvmIoctl.GET_LAPIC, KvmIoctl.SET_LAPIC, LapicState.BYTES),
    VCPU_EVENTS(KvmIoctl.GET_VCPU_EVENTS, KvmIoctl.SET_VCPU_EVENTS, VcpuEvents.LAYOUT.byteSize());

    final KvmIoctl get;
    final KvmIoctl set;
    private final int bytes;

    VcpuStateBlob(KvmIoctl get, KvmIoctl set, long bytes) {
        this.get = get;
        this.set = set;
        this.bytes = Math.toIntExact(bytes);
    }

    /** The struct's size: a blob of any other length is refused before it reaches the kernel. */
    public int bytes() {
        return bytes;
    }

    static final long EVENTS_FLAGS = VcpuEvents.LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement("flags"));
}
