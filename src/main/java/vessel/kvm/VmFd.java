package vessel.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import vessel.sys.Libc;
import vessel.sys.SysException;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** A VM fd: memory slots, in-kernel interrupt controllers and PIT, irqfd/ioeventfd, vCPU creation. */
public final class VmFd implements AutoCloseable {
    private final int fd;
    private final int vcpuMmapSize;

    VmFd(int fd, int vcpuMmapSize) {
        this.fd = fd;
        this.vcpuMmapSize = vcpuMmapSize;
    }

    public int checkExtension(Cap cap) {
        return Math.max(Libc.ioctlRaw(fd, KvmIoctl.CHECK_EXTENSION.request(), cap.number()), 0);
    }

    /**
     * Maps {@code host} at guest physical {@code guestPhysAddr} in slot {@code slot}. The kernel keeps
     * using that host memory for as long as the slot exists, so only the owner of guest RAM's lifetime
     * (vessel.memory, through the VMM) calls this.
     */
    public void setUserMemoryRegion(int slot, long guestPhysAddr, MemorySegment host, int flags) throws KvmException {
        UserMemoryRegion region = new UserMemoryRegion(slot, flags, guestPhysAddr, host.byteSize(), host.address());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(UserMemoryRegion.LAYOUT);
            region.write(buf);
            Kvm.check(KvmIoctl.SET_USER_MEMORY_REGION, Libc.ioctlRaw(fd, KvmIoctl.SET_USER_MEMORY_REGION.request(), buf));
        }
    }

    /**
     * KVM_GET_DIRTY_LOG: copies slot {@code slot}'s dirty bitmap (a bit per 4 KiB page, set when the guest
     * wrote the page since the last call; the slot must have {@link UserMemoryRegion#LOG_DIRTY_PAGES}) into
     * {@code bitmap} and re-arms tracking. {@code bitmap} holds at least a bit per page of the slot, in
     * 64-bit words.
     */
    public void getDirtyLog(int slot, MemorySegment bitmap) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(16, 8);
            buf.set(JAVA_INT, 0, slot);
            buf.set(JAVA_LONG, 8, bitmap.address());
            Kvm.check(KvmIoctl.GET_DIRTY_LOG, Libc.ioctlRaw(fd, KvmIoctl.GET_DIRTY_LOG.request(), buf));
        }
    }

    /** Intel VMX needs three pages for the real-mode TSS; they must not overlap guest RAM in use. */
    public void setTssAddr(long addr) throws KvmException {
        Kvm.check(KvmIoctl.SET_TSS_ADDR, Libc.ioctlRaw(fd, KvmIoctl.SET_TSS_ADDR.request(), addr));
    }

    public void setIdentityMapAddr(long addr) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocateFrom(JAVA_LONG, addr);
            Kvm.check(KvmIoctl.SET_IDENTITY_MAP_ADDR, Libc.ioctlRaw(fd, KvmIoctl.SET_IDENTITY_MAP_ADDR.request(), buf));
        }
    }

    /** The in-kernel PIC pair, IOAPIC and per-vCPU local APICs. Must precede vCPU creation. */
    public void createIrqchip() throws KvmException {
        Kvm.check(KvmIoctl.CREATE_IRQCHIP, Libc.ioctlRaw(fd, KvmIoctl.CREATE_IRQCHIP.request(), 0L));
    }

    /** The in-kernel i8254 PIT; {@code flags} 1 (KVM_PIT_SPEAKER_DUMMY) makes port 0x61 answer too. */
    public void createPit2(int flags) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(64, 8);
            buf.set(JAVA_INT, 0, flags);
            Kvm.check(KvmIoctl.CREATE_PIT2, Libc.ioctlRaw(fd, KvmIoctl.CREATE_PIT2.request(), buf));
        }
    }

    public static final int PIT_SPEAKER_DUMMY = 1;

    /** Drives an interrupt line of the in-kernel irqchip high or low. */
    public void irqLine(int irq, boolean level) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(8, 4);
            buf.set(JAVA_INT, 0, irq);
            buf.set(JAVA_INT, 4, level ? 1 : 0);
            Kvm.check(KvmIoctl.IRQ_LINE, Libc.ioctlRaw(fd, KvmIoctl.IRQ_LINE.request(), buf));
        }
    }

    /** Replaces the whole GSI routing table (KVM_SET_GSI_ROUTING). */
    public void setGsiRouting(java.util.List<GsiRoute> routes) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            long entry = GsiRoute.LAYOUT.byteSize();
            MemorySegment buf = arena.allocate(GsiRoute.HEADER_BYTES + entry * routes.size(), 8);
            buf.set(JAVA_INT, 0, routes.size());
            for (int i = 0; i < routes.size(); i++) {
                routes.get(i).write(buf.asSlice(GsiRoute.HEADER_BYTES + entry * i, entry));
            }
            Kvm.check(KvmIoctl.SET_GSI_ROUTING, Libc.ioctlRaw(fd, KvmIoctl.SET_GSI_ROUTING.request(), buf));
        }
    }

    public void irqfd(IrqFd irqfd) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(IrqFd.LAYOUT);
            irqfd.write(buf);
            Kvm.check(KvmIoctl.IRQFD, Libc.ioctlRaw(fd, KvmIoctl.IRQFD.request(), buf));
        }
    }

    public void ioeventfd(IoEventFd ioeventfd) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(IoEventFd.LAYOUT);
            ioeventfd.write(buf);
            Kvm.check(KvmIoctl.IOEVENTFD, Libc.ioctlRaw(fd, KvmIoctl.IOEVENTFD.request(), buf));
        }
    }

    /** Creates vCPU {@code id} and maps its kvm_run page. */
    public VcpuFd createVcpu(int id) throws SysException {
        int vcpuFd = Kvm.check(KvmIoctl.CREATE_VCPU, Libc.ioctlRaw(fd, KvmIoctl.CREATE_VCPU.request(), id));
        try {
            return new VcpuFd(vcpuFd, id, vcpuMmapSize);
        } catch (SysException e) {
            Libc.close(vcpuFd);
            throw e;
        }
    }

    @Override
    public void close() {
        Libc.close(fd);
    }
}
