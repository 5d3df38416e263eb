package vessel.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import vessel.sys.Errno;
import vessel.sys.Libc;
import vessel.sys.SysException;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/** The {@code /dev/kvm} system fd: version and capability checks, supported CPUID, VM creation. */
public final class Kvm implements AutoCloseable {
    public static final String DEVICE = "/dev/kvm";
    public static final int API_VERSION = 12;

    private final int fd;
    private final int vcpuMmapSize;

    private Kvm(int fd) throws KvmException {
        this.fd = fd;
        this.vcpuMmapSize = check(KvmIoctl.GET_VCPU_MMAP_SIZE, Libc.ioctlRaw(fd, KvmIoctl.GET_VCPU_MMAP_SIZE.request(), 0L));
    }

    /** Opens /dev/kvm and checks the API version, turning the usual failures into one readable line. */
    public static Kvm open() throws KvmUnavailableException, KvmException {
        return open(DEVICE);
    }

    public static Kvm open(String device) throws KvmUnavailableException, KvmException {
        int fd;
        try {
            fd = Libc.open(device, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        } catch (SysException e) {
            throw new KvmUnavailableException(switch (e.errno()) {
                case Errno.ENOENT -> device + " does not exist: this host offers no KVM (load the kvm module, "
                        + "or enable virtualization for this machine)";
                case Errno.EACCES, Errno.EPERM -> "no permission to open " + device
                        + " (run as root or add the user to the 'kvm' group)";
                case Errno.ENODEV, Errno.ENXIO -> device + " exists but no KVM driver is bound to it on this host";
                default -> "cannot open " + device + ": " + Errno.describe(e.errno());
            });
        }
        int version = Libc.ioctlRaw(fd, KvmIoctl.GET_API_VERSION.request(), 0L);
        if (version < 0) {
            Libc.close(fd);
            throw new KvmUnavailableException(device + " is not a KVM device (KVM_GET_API_VERSION: "
                    + Errno.describe(-version) + ")");
        }
        if (version != API_VERSION) {
            Libc.close(fd);
            throw new KvmUnavailableException(device + " speaks KVM API version " + version + ", Vessel needs " + API_VERSION);
        }
        try {
            return new Kvm(fd);
        } catch (KvmException e) {
            Libc.close(fd);
            throw e;
        }
    }

    /** True when a usable KVM is present; the reason otherwise, for skipping tests with a message. */
    public static String unavailableReason() {
        try (Kvm kvm = open()) {
            return null;
        } catch (KvmUnavailableException | KvmException e) {
            return e.getMessage();
        }
    }

    static int check(KvmIoctl ioctl, int result) throws KvmException {
        if (result < 0) {
            throw new KvmException(ioctl, -result);
        }
        return result;
    }

    /** KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific positive value. */
    public int checkExtension(Cap cap) {
        int r = Libc.ioctlRaw(fd, KvmIoctl.CHECK_EXTENSION.request(), cap.number());
        return Math.max(r, 0);
    }

    /** KVM_CHECK_EXTENSION by number, for capabilities a user names (a CPU template's kvm_capabilities). */
    public int checkExtension(int number) {
        int r = Libc.ioctlRaw(fd, KvmIoctl.CHECK_EXTENSION.request(), number);
        return Math.max(r, 0);
    }

    public int vcpuMmapSize() {
        return vcpuMmapSize;
    }

    /** KVM_GET_SUPPORTED_CPUID: what KVM can present to a guest, before Vessel adjusts it. */
    public List<CpuidEntry> supportedCpuid() throws KvmException {
        for (int capacity = 128; ; capacity *= 2) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(CpuidEntry.HEADER_BYTES + capacity * CpuidEntry.LAYOUT.byteSize(), 8);
                buf.set(JAVA_INT, 0, capacity);
                int r = Libc.ioctlRaw(fd, KvmIoctl.GET_SUPPORTED_CPUID.request(), buf);
                if (r == -Errno.E2BIG && capacity < 4096) {
                    continue;
                }
                check(KvmIoctl.GET_SUPPORTED_CPUID, r);
                int n = buf.get(JAVA_INT, 0);
                List<CpuidEntry> entries = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    entries.add(CpuidEntry.read(buf.asSlice(CpuidEntry.HEADER_BYTES + i * CpuidEntry.LAYOUT.byteSize())));
                }
                return entries;
            }
        }
    }

    /** KVM_GET_MSR_INDEX_LIST: every MSR KVM saves and restores for a vCPU (what a snapshot carries). */
    public List<Integer> msrIndexList() throws KvmException {
        for (int capacity = 256; ; capacity *= 2) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(4 + 4L * capacity, 4);
                buf.set(JAVA_INT, 0, capacity);
                int r = Libc.ioctlRaw(fd, KvmIoctl.GET_MSR_INDEX_LIST.request(), buf);
                if (r == -Errno.E2BIG && capacity < 16384) {
                    continue;
                }
                check(KvmIoctl.GET_MSR_INDEX_LIST, r);
                int n = Math.min(buf.get(JAVA_INT, 0), capacity);
                List<Integer> indices = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    indices.add(buf.get(JAVA_INT, 4 + 4L * i));
                }
                return indices;
            }
        }
    }

    public VmFd createVm() throws KvmException {
        // KVM_CREATE_VM can take long enough (a kvm_pvm host) for a signal to interrupt it: a profiler's
        // SIGPROF did. Nothing was created then; ask again, a bounded number of times.
        int r = Libc.ioctlRaw(fd, KvmIoctl.CREATE_VM.request(), 0L);
        for (int tries = 1; r == -vessel.sys.Errno.EINTR && tries < 100; tries++) {
            r = Libc.ioctlRaw(fd, KvmIoctl.CREATE_VM.request(), 0L);
        }
        int vmFd = check(KvmIoctl.CREATE_VM, r);
        return new VmFd(vmFd, vcpuMmapSize);
    }

    @Override
    public void close() {
        Libc.close(fd);
    }
}
