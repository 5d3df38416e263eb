package vessel.kvm;

import static vessel.sys.Ioctl.io;
import static vessel.sys.Ioctl.ior;
import static vessel.sys.Ioctl.iow;
import static vessel.sys.Ioctl.iowr;

/** The KVM ioctls Vessel issues, encoded from {@code linux/kvm.h} with the sizes of the layouts they carry. */
public enum KvmIoctl {
    GET_API_VERSION(io(KVMIO.T, 0x00)),
    CREATE_VM(io(KVMIO.T, 0x01)),
    GET_MSR_INDEX_LIST(iowr(KVMIO.T, 0x02, 4)),
    CHECK_EXTENSION(io(KVMIO.T, 0x03)),
    GET_VCPU_MMAP_SIZE(io(KVMIO.T, 0x04)),
    GET_SUPPORTED_CPUID(iowr(KVMIO.T, 0x05, CpuidEntry.HEADER_BYTES)),
    CREATE_VCPU(io(KVMIO.T, 0x41)),
    GET_DIRTY_LOG(iow(KVMIO.T, 0x42, 16)),
    SET_USER_MEMORY_REGION(iow(KVMIO.T, 0x46, UserMemoryRegion.LAYOUT.byteSize())),
    SET_TSS_ADDR(io(KVMIO.T, 0x47)),
    SET_IDENTITY_MAP_ADDR(iow(KVMIO.T, 0x48, 8)),
    CREATE_IRQCHIP(io(KVMIO.T, 0x60)),
    IRQ_LINE(iow(KVMIO.T, 0x61, 8)),
    SET_GSI_ROUTING(iow(KVMIO.T, 0x6a, 8)),
    IRQFD(iow(KVMIO.T, 0x76, IrqFd.LAYOUT.byteSize())),
    CREATE_PIT2(iow(KVMIO.T, 0x77, 64)),
    IOEVENTFD(iow(KVMIO.T, 0x79, IoEventFd.LAYOUT.byteSize())),
    RUN(io(KVMIO.T, 0x80)),
    GET_REGS(ior(KVMIO.T, 0x81, Regs.LAYOUT.byteSize())),
    SET_REGS(iow(KVMIO.T, 0x82, Regs.LAYOUT.byteSize())),
    GET_SREGS(ior(KVMIO.T, 0x83, Sregs.LAYOUT.byteSize())),
    SET_SREGS(iow(KVMIO.T, 0x84, Sregs.LAYOUT.byteSize())),
    TRANSLATE(iowr(KVMIO.T, 0x85, Translation.LAYOUT.byteSize())),
    GET_MSRS(iowr(KVMIO.T, 0x88, MsrEntry.HEADER_BYTES)),
    SET_MSRS(iow(KVMIO.T, 0x89, MsrEntry.HEADER_BYTES)),
    SET_SIGNAL_MASK(iow(KVMIO.T, 0x8b, 4)),
    GET_FPU(ior(KVMIO.T, 0x8c, Fpu.LAYOUT.byteSize())),
    SET_FPU(iow(KVMIO.T, 0x8d, Fpu.LAYOUT.byteSize())),
    GET_LAPIC(ior(KVMIO.T, 0x8e, LapicState.BYTES)),
    SET_LAPIC(iow(KVMIO.T, 0x8f, LapicState.BYTES)),
    SET_CPUID2(iow(KVMIO.T, 0x90, CpuidEntry.HEADER_BYTES)),
    GET_CPUID2(iowr(KVMIO.T, 0x91, CpuidEntry.HEADER_BYTES)),
    GET_MP_STATE(ior(KVMIO.T, 0x98, 4)),
    SET_MP_STATE(iow(KVMIO.T, 0x99, 4)),
    SET_GUEST_DEBUG(iow(KVMIO.T, 0x9b, GuestDebug.LAYOUT.byteSize())),
    GET_VCPU_EVENTS(ior(KVMIO.T, 0x9f, VcpuEvents.LAYOUT.byteSize())),
    SET_VCPU_EVENTS(iow(KVMIO.T, 0xa0, VcpuEvents.LAYOUT.byteSize())),
    GET_DEBUGREGS(ior(KVMIO.T, 0xa1, DebugRegs.LAYOUT.byteSize())),
    SET_DEBUGREGS(iow(KVMIO.T, 0xa2, DebugRegs.LAYOUT.byteSize())),
    GET_XSAVE(ior(KVMIO.T, 0xa4, VcpuFd.XSAVE_BYTES)),
    SET_XSAVE(iow(KVMIO.T, 0xa5, VcpuFd.XSAVE_BYTES));

    /** The KVM ioctl type byte; a holder class because enum constants cannot see static fields of their enum. */
    private static final class KVMIO {
        static final int T = 0xAE;
    }

    private final long request;

    KvmIoctl(long request) {
        this.request = request;
    }

    public long request() {
        return request;
    }

    /** As the kernel headers spell it, e.g. {@code KVM_SET_USER_MEMORY_REGION}. */
    public String displayName() {
        return "KVM_" + name();
    }
}
