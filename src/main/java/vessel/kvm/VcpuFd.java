package vessel.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;

import vessel.sys.Libc;
import vessel.sys.SysException;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A vCPU fd and its mapped {@code kvm_run} page. Register access allocates scratch per call (those
 * calls are rare); {@link #run()} allocates nothing.
 */
public final class VcpuFd implements AutoCloseable {
    private final int fd;
    private final int id;
    private final MemorySegment runMapping;
    private final KvmRun run;
    /** KVM_RUN's errno. One thread runs a vCPU at a time (KVM serializes KVM_RUN on a vCPU anyway). */
    private final MemorySegment runCallState = Libc.newCallState();
    private final long runRequest = KvmIoctl.RUN.request();

    VcpuFd(int fd, int id, int mmapSize) throws SysException {
        this.fd = fd;
        this.id = id;
        this.runMapping = Libc.mmap(mmapSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
        this.run = new KvmRun(runMapping);
    }

    public int id() {
        return id;
    }

    public KvmRun kvmRun() {
        return run;
    }

    /**
     * KVM_RUN: 0 when the vCPU exited to user space (see {@link KvmRun#exitReason()}), else {@code -errno}.
     * Called by one thread at a time (KVM serializes KVM_RUN on a vCPU anyway); allocates nothing.
     */
    public int run() {
        // The exit path's call leaves errno alone (capturing it is most of an FFM downcall's own cost,
        // and allocates under C1). A signal (a kick) is KVM_RUN's one frequent failure and KVM reports it
        // in kvm_run too: -EINTR with exit reason INTR. The reason is cleared once read, so a stale one is
        // never taken for a fresh one. Any other failure (EAGAIN while an AP waits for INIT/SIPI, EINTR of
        // immediate_exit, which sets no reason, or a real error) is asked again with errno captured:
        // after a failed KVM_RUN a caller runs it again anyway, and it fails the same way.
        int r = Libc.ioctlWithoutErrno(fd, runRequest, 0L);
        if (r >= 0) {
            return r;
        }
        if (run.exitReason() == ExitReason.INTR) {
            run.clearExitReason();
            return -vessel.sys.Errno.EINTR;
        }
        return Libc.ioctlRaw(runCallState, fd, runRequest, 0L);
    }

    /** Runs a KVM_GET_* ioctl into a fresh buffer of {@code size} bytes and decodes it. */
    private <T> T get(KvmIoctl ioctl, long size, Function<MemorySegment, T> decode) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(size, 8);
            Kvm.check(ioctl, Libc.ioctlRaw(fd, ioctl.request(), buf));
            return decode.apply(buf);
        }
    }

    /** Encodes into a fresh buffer of {@code size} bytes and runs a KVM_SET_* ioctl with it. */
    private void set(KvmIoctl ioctl, long size, Consumer<MemorySegment> encode) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(size, 8);
            encode.accept(buf);
            Kvm.check(ioctl, Libc.ioctlRaw(fd, ioctl.request(), buf));
        }
    }

    public Regs getRegs() throws KvmException {
        return get(KvmIoctl.GET_REGS, Regs.LAYOUT.byteSize(), Regs::read);
    }

    public void setRegs(Regs regs) throws KvmException {
        set(KvmIoctl.SET_REGS, Regs.LAYOUT.byteSize(), regs::write);
    }

    public Sregs getSregs() throws KvmException {
        return get(KvmIoctl.GET_SREGS, Sregs.LAYOUT.byteSize(), Sregs::read);
    }

    public void setSregs(Sregs sregs) throws KvmException {
        set(KvmIoctl.SET_SREGS, Sregs.LAYOUT.byteSize(), sregs::write);
    }

    /** {@code sizeof(struct kvm_xsave)}: the XSAVE area of a vCPU without AMX. */
    public static final int XSAVE_BYTES = 4096;

    /**
     * KVM_GET_XSAVE: the vCPU's x87/SSE/AVX state in XSAVE layout; its first 512 bytes are the FXSAVE
     * layout (MXCSR at 24), the XSAVE header (XSTATE_BV at 512) follows. Unlike KVM_GET_FPU, it has MXCSR.
     */
    public byte[] getXsave() throws KvmException {
        return get(KvmIoctl.GET_XSAVE, XSAVE_BYTES, m -> m.toArray(JAVA_BYTE));
    }

    /** KVM_SET_XSAVE with an area from {@link #getXsave()}, changed. */
    public void setXsave(byte[] area) throws KvmException {
        set(KvmIoctl.SET_XSAVE, XSAVE_BYTES,
                m -> MemorySegment.copy(area, 0, m, JAVA_BYTE, 0, Math.min(area.length, XSAVE_BYTES)));
    }

    /** KVM_GET_FPU. On x86 the kernel never fills {@code mxcsr}: use {@link #getXsave()} for it. */
    public Fpu getFpu() throws KvmException {
        return get(KvmIoctl.GET_FPU, Fpu.LAYOUT.byteSize(), Fpu::read);
    }

    /** KVM_SET_FPU. On x86 the kernel ignores {@code mxcsr}: use {@link #setXsave} for it. */
    public void setFpu(Fpu fpu) throws KvmException {
        set(KvmIoctl.SET_FPU, Fpu.LAYOUT.byteSize(), fpu::write);
    }

    /** KVM_SET_MSRS; throws unless every entry was accepted (the ioctl returns how many were). */
    public void setMsrs(List<MsrEntry> entries) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = msrBuffer(arena, entries);
            int n = Kvm.check(KvmIoctl.SET_MSRS, Libc.ioctlRaw(fd, KvmIoctl.SET_MSRS.request(), buf));
            if (n != entries.size()) {
                throw new KvmException(KvmIoctl.SET_MSRS, vessel.sys.Errno.EINVAL,
                        "KVM_SET_MSRS rejected MSR 0x" + Integer.toHexString(entries.get(n).index()));
            }
        }
    }

    /** KVM_SET_MSRS: how many of {@code entries}, from the first, KVM accepted (it stops at one it refuses). */
    public int setMsrsPrefix(List<MsrEntry> entries) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            return Kvm.check(KvmIoctl.SET_MSRS, Libc.ioctlRaw(fd, KvmIoctl.SET_MSRS.request(), msrBuffer(arena, entries)));
        }
    }

    /** KVM_GET_MSRS for the given indices; an MSR KVM does not know ends the list early. */
    public List<MsrEntry> getMsrs(List<Integer> indices) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = msrBuffer(arena, indices.stream().map(i -> new MsrEntry(i, 0)).toList());
            int n = Kvm.check(KvmIoctl.GET_MSRS, Libc.ioctlRaw(fd, KvmIoctl.GET_MSRS.request(), buf));
            long entry = MsrEntry.LAYOUT.byteSize();
            return java.util.stream.IntStream.range(0, n)
                    .mapToObj(i -> new MsrEntry(buf.get(JAVA_INT, MsrEntry.HEADER_BYTES + i * entry),
                            buf.get(JAVA_LONG, MsrEntry.HEADER_BYTES + i * entry + 8)))
                    .toList();
        }
    }

    private static MemorySegment msrBuffer(Arena arena, List<MsrEntry> entries) {
        long entry = MsrEntry.LAYOUT.byteSize();
        MemorySegment buf = arena.allocate(MsrEntry.HEADER_BYTES + entries.size() * entry, 8);
        buf.set(JAVA_INT, 0, entries.size());
        for (int i = 0; i < entries.size(); i++) {
            buf.set(JAVA_INT, MsrEntry.HEADER_BYTES + i * entry, entries.get(i).index());
            buf.set(JAVA_LONG, MsrEntry.HEADER_BYTES + i * entry + 8, entries.get(i).data());
        }
        return buf;
    }

    public void setCpuid(List<CpuidEntry> entries) throws KvmException {
        long entry = CpuidEntry.LAYOUT.byteSize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(CpuidEntry.HEADER_BYTES + entries.size() * entry, 8);
            buf.set(JAVA_INT, 0, entries.size());
            for (int i = 0; i < entries.size(); i++) {
                entries.get(i).write(buf.asSlice(CpuidEntry.HEADER_BYTES + i * entry, entry));
            }
            Kvm.check(KvmIoctl.SET_CPUID2, Libc.ioctlRaw(fd, KvmIoctl.SET_CPUID2.request(), buf));
        }
    }

    public LapicState getLapic() throws KvmException {
        return get(KvmIoctl.GET_LAPIC, LapicState.BYTES, buf -> new LapicState(buf.toArray(JAVA_BYTE)));
    }

    public void setLapic(LapicState lapic) throws KvmException {
        set(KvmIoctl.SET_LAPIC, LapicState.BYTES, buf -> MemorySegment.copy(lapic.regs, 0, buf, JAVA_BYTE, 0, lapic.regs.length));
    }

    public VcpuEvents getVcpuEvents() throws KvmException {
        return get(KvmIoctl.GET_VCPU_EVENTS, VcpuEvents.LAYOUT.byteSize(), VcpuEvents::read);
    }

    public void setVcpuEvents(VcpuEvents events) throws KvmException {
        set(KvmIoctl.SET_VCPU_EVENTS, VcpuEvents.LAYOUT.byteSize(), events::write);
    }

    /** KVM_GET_DEBUGREGS: the guest's own debug registers. */
    public DebugRegs getDebugRegs() throws KvmException {
        return get(KvmIoctl.GET_DEBUGREGS, DebugRegs.LAYOUT.byteSize(), DebugRegs::read);
    }

    public void setDebugRegs(DebugRegs regs) throws KvmException {
        set(KvmIoctl.SET_DEBUGREGS, DebugRegs.LAYOUT.byteSize(), regs::write);
    }

    /** KVM_SET_GUEST_DEBUG: a host debugger's breakpoints and single-step ({@link GuestDebug#OFF} to stop). */
    public void setGuestDebug(GuestDebug debug) throws KvmException {
        set(KvmIoctl.SET_GUEST_DEBUG, GuestDebug.LAYOUT.byteSize(), debug::write);
    }

    public static final int MP_STATE_RUNNABLE = 0;
    public static final int MP_STATE_UNINITIALIZED = 1;
    public static final int MP_STATE_INIT_RECEIVED = 2;
    public static final int MP_STATE_HALTED = 3;
    public static final int MP_STATE_SIPI_RECEIVED = 4;

    public int getMpState() throws KvmException {
        return get(KvmIoctl.GET_MP_STATE, 4, buf -> buf.get(JAVA_INT, 0));
    }

    public void setMpState(int state) throws KvmException {
        set(KvmIoctl.SET_MP_STATE, 4, buf -> buf.set(JAVA_INT, 0, state));
    }

    /** Reads one piece of vCPU state as the kernel's struct bytes (a snapshot's save). */
    public byte[] getBlob(VcpuStateBlob blob) throws KvmException {
        return get(blob.get, blob.bytes(), m -> m.toArray(JAVA_BYTE));
    }

    /**
     * Writes one piece of vCPU state from bytes that {@link #getBlob} gave (a snapshot's restore). Pending
     * NMIs and the SIPI vector are applied too, which KVM_SET_VCPU_EVENTS does only when flagged.
     */
    public void setBlob(VcpuStateBlob blob, byte[] raw) throws KvmException {
        if (raw.length != blob.bytes()) {
            throw new IllegalArgumentException(blob + " state is " + raw.length + " bytes, not " + blob.bytes());
        }
        set(blob.set, blob.bytes(), m -> {
            MemorySegment.copy(raw, 0, m, JAVA_BYTE, 0, raw.length);
            if (blob == VcpuStateBlob.VCPU_EVENTS) {
                long at = VcpuStateBlob.EVENTS_FLAGS;
                m.set(JAVA_INT, at, m.get(JAVA_INT, at) | StateStructs.VCPUEVENT_VALID_NMI_PENDING
                        | StateStructs.VCPUEVENT_VALID_SIPI_VECTOR);
            }
        });
    }

    /** KVM_GET_CPUID2: the CPUID table this vCPU was given (at most {@code 256} entries, KVM's own cap). */
    public List<CpuidEntry> getCpuid() throws KvmException {
        int capacity = 256;
        long entry = CpuidEntry.LAYOUT.byteSize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(CpuidEntry.HEADER_BYTES + capacity * entry, 8);
            buf.set(JAVA_INT, 0, capacity);
            Kvm.check(KvmIoctl.GET_CPUID2, Libc.ioctlRaw(fd, KvmIoctl.GET_CPUID2.request(), buf));
            int n = Math.min(buf.get(JAVA_INT, 0), capacity);
            return java.util.stream.IntStream.range(0, n)
                    .mapToObj(i -> CpuidEntry.read(buf.asSlice(CpuidEntry.HEADER_BYTES + i * entry, entry))).toList();
        }
    }

    /** KVM_TRANSLATE: walks the guest's page tables for a linear address. */
    public Translation translate(long linearAddress) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Translation.LAYOUT);
            buf.set(JAVA_LONG, 0, linearAddress);
            Kvm.check(KvmIoctl.TRANSLATE, Libc.ioctlRaw(fd, KvmIoctl.TRANSLATE.request(), buf));
            return Translation.read(buf);
        }
    }

    /**
     * KVM_SET_SIGNAL_MASK: the signal mask in force while this vCPU is inside KVM_RUN. {@code mask} holds
     * the kernel's 64-bit sigset (bit n-1 for signal n).
     */
    public void setSignalMask(long mask) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(12, 4);
            buf.set(JAVA_INT, 0, 8);
            buf.set(JAVA_INT, 4, (int) mask);
            buf.set(JAVA_INT, 8, (int) (mask >>> 32));
            Kvm.check(KvmIoctl.SET_SIGNAL_MASK, Libc.ioctlRaw(fd, KvmIoctl.SET_SIGNAL_MASK.request(), buf));
        }
    }

    @Override
    public void close() {
        Libc.munmap(runMapping);
        Libc.close(fd);
    }
}
