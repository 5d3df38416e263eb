package vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * An io_uring instance for positional I/O on one file: {@code io_uring_setup}, the submission and
 * completion rings and the SQE array mapped into this process, {@code io_uring_enter} to submit. Made
 * <em>restricted</em> ({@code IORING_SETUP_R_DISABLED}, then {@code IORING_REGISTER_RESTRICTIONS}): the
 * only file it can reach is the one registered at {@link #open} (every SQE must say
 * {@code IOSQE_FIXED_FILE}, index 0), the only operations are NOP, READV, WRITEV, FSYNC and FALLOCATE, and
 * no register operation is allowed once it runs, so a thread that may call {@code io_uring_enter} gains no
 * more than positional I/O on that file (seccomp cannot see into SQEs). Buffers are given as an
 * {@link IoVec}, whose entries can only describe segments the caller holds.
 *
 * <p>Completions are posted to the eventfd given at {@link #open} ({@code IORING_REGISTER_EVENTFD}) and
 * read with {@link #reap}. Not thread-safe: the caller serializes submission ({@code prep*},
 * {@link #submit}) and, separately, {@link #reap}. Struct layouts are written once here and pinned against
 * {@code <linux/io_uring.h>} by {@code IoUringLayoutTest}.
 */
public final class IoUring implements AutoCloseable {
    public static final int IORING_OP_NOP = 0;
    public static final int IORING_OP_READV = 1;
    public static final int IORING_OP_WRITEV = 2;
    public static final int IORING_OP_FSYNC = 3;
    public static final int IORING_OP_FALLOCATE = 17;
    public static final int IORING_FSYNC_DATASYNC = 1;
    static final int IOSQE_FIXED_FILE = 1;
    static final int IORING_SETUP_CQSIZE = 1 << 3;
    static final int IORING_SETUP_R_DISABLED = 1 << 6;
    static final int IORING_SETUP_SUBMIT_ALL = 1 << 7;
    static final int IORING_FEAT_SINGLE_MMAP = 1;
    static final int IORING_FEAT_NODROP = 1 << 1;
    static final int IORING_ENTER_GETEVENTS = 1;
    static final long IORING_OFF_SQ_RING = 0;
    static final long IORING_OFF_SQES = 0x10000000L;
    static final int IORING_REGISTER_FILES = 2;
    static final int IORING_REGISTER_EVENTFD = 4;
    static final int IORING_REGISTER_RESTRICTIONS = 11;
    static final int IORING_REGISTER_ENABLE_RINGS = 12;
    static final int IORING_RESTRICTION_SQE_OP = 1;
    static final int IORING_RESTRICTION_SQE_FLAGS_REQUIRED = 3;
    private static final int SYS_IO_URING_SETUP = Syscall.IO_URING_SETUP.number();
    private static final int SYS_IO_URING_ENTER = Syscall.IO_URING_ENTER.number();
    private static final int SYS_IO_URING_REGISTER = Syscall.IO_URING_REGISTER.number();

    /** struct io_sqring_offsets. */
    static final StructLayout SQRING_OFFSETS = MemoryLayout.structLayout(JAVA_INT.withName("head"),
            JAVA_INT.withName("tail"), JAVA_INT.withName("ring_mask"), JAVA_INT.withName("ring_entries"),
            JAVA_INT.withName("flags"), JAVA_INT.withName("dropped"), JAVA_INT.withName("array"),
            JAVA_INT.withName("resv1"), JAVA_LONG.withName("user_addr")).withName("io_sqring_offsets");
    /** struct io_cqring_offsets. */
    static final StructLayout CQRING_OFFSETS = MemoryLayout.structLayout(JAVA_INT.withName("head"),
            JAVA_INT.withName("tail"), JAVA_INT.withName("ring_mask"), JAVA_INT.withName("ring_entries"),
            JAVA_INT.withName("overflow"), JAVA_INT.withName("cqes"), JAVA_INT.withName("flags"),
            JAVA_INT.withName("resv1"), JAVA_LONG.withName("user_addr")).withName("io_cqring_offsets");
    /** struct io_uring_params. */
    static final StructLayout PARAMS = MemoryLayout.structLayout(JAVA_INT.withName("sq_entries"),
            JAVA_INT.withName("cq_entries"), JAVA_INT.withName("flags"), JAVA_INT.withName("sq_thread_cpu"),
            JAVA_INT.withName("sq_thread_idle"), JAVA_INT.withName("features"), JAVA_INT.withName("wq_fd"),
            MemoryLayout.sequenceLayout(3, JAVA_INT).withName("resv"), SQRING_OFFSETS.withName("sq_off"),
            CQRING_OFFSETS.withName("cq_off")).withName("io_uring_params");
    /** struct io_uring_sqe, the fields used here (the unions by their first member). */
    static final StructLayout SQE = MemoryLayout.structLayout(JAVA_BYTE.withName("opcode"),
            JAVA_BYTE.withName("flags"), JAVA_SHORT.withName("ioprio"), JAVA_INT.withName("fd"),
            JAVA_LONG.withName("off"), JAVA_LONG.withName("addr"), JAVA_INT.withName("len"),
            JAVA_INT.withName("rw_flags"), JAVA_LONG.withName("user_data"), JAVA_SHORT.withName("buf_index"),
            JAVA_SHORT.withName("personality"), JAVA_INT.withName("splice_fd_in"), JAVA_LONG.withName("addr3"),
            JAVA_LONG.withName("__pad2")).withName("io_uring_sqe");
    /** struct io_uring_cqe (without IORING_SETUP_CQE32). */
    static final StructLayout CQE = MemoryLayout.structLayout(JAVA_LONG.withName("user_data"),
            JAVA_INT.withName("res"), JAVA_INT.withName("flags")).withName("io_uring_cqe");
    /** struct io_uring_restriction: u16 opcode, u8 register_op/sqe_op/sqe_flags, u8 resv, u32 resv2[3]. */
    static final StructLayout RESTRICTION = MemoryLayout.structLayout(JAVA_SHORT.withName("opcode"),
            JAVA_BYTE.withName("arg"), JAVA_BYTE.withName("resv"),
            MemoryLayout.sequenceLayout(3, JAVA_INT).withName("resv2")).withName("io_uring_restriction");

    private static final long SQE_BYTES = SQE.byteSize();
    private static final long CQE_BYTES = CQE.byteSize();
    private static final long SQE_OPCODE = off(SQE, "opcode");
    private static final long SQE_FLAGS = off(SQE, "flags");
    private static final long SQE_FD = off(SQE, "fd");
    private static final long SQE_OFF = off(SQE, "off");
    private static final long SQE_ADDR = off(SQE, "addr");
    private static final long SQE_LEN = off(SQE, "len");
    private static final long SQE_RW_FLAGS = off(SQE, "rw_flags");
    private static final long SQE_USER_DATA = off(SQE, "user_data");
    private static final VarHandle INT = JAVA_INT.varHandle();
    /** The operations a ring is restricted to. */
    private static final int[] ALLOWED_OPS = {IORING_OP_NOP, IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
            IORING_OP_FALLOCATE};

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(groupElement("errno"));
    private static final ThreadLocal<MemorySegment> CAPTURE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));
    /** syscall(2) with six long arguments (variadic from the second; longs fill whole registers). */
    private static final MethodHandle SYSCALL6 = LINKER.downcallHandle(
            LINKER.defaultLookup().find("syscall").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1), Linker.Option.captureCallState("errno"));

    private final int ringFd;
    private final MemorySegment rings;
    private final MemorySegment sqes;
    private final int sqEntries;
    private final int sqMask;
    private final long sqHead;
    private final long sqTail;
    private final int cqMask;
    private final long cqHead;
    private final long cqTail;
    private final long cqes;
    /** The SQ tail as this side has filled it (published at {@link #submit}). */
    private int sqLocalTail;
    /** SQEs filled and not yet handed to the kernel. */
    private int unsubmitted;
    private boolean closed;

    private static long off(StructLayout l, String field) {
        return l.byteOffset(groupElement(field));
    }

    private IoUring(int ringFd, MemorySegment params) throws SysException {
        this.ringFd = ringFd;
        long sq = off(PARAMS, "sq_off");
        long cq = off(PARAMS, "cq_off");
        this.sqEntries = params.get(JAVA_INT, off(PARAMS, "sq_entries"));
        int cqEntries = params.get(JAVA_INT, off(PARAMS, "cq_entries"));
        int features = params.get(JAVA_INT, off(PARAMS, "features"));
        if ((features & IORING_FEAT_SINGLE_MMAP) == 0 || (features & IORING_FEAT_NODROP) == 0) {
            throw new SysException("io_uring without SINGLE_MMAP and NODROP (kernel before 5.5)", Errno.ENOSYS);
        }
        int sqArray = params.get(JAVA_INT, sq + off(SQRING_OFFSETS, "array"));
        this.cqes = params.get(JAVA_INT, cq + off(CQRING_OFFSETS, "cqes"));
        long ringBytes = Math.max(sqArray + 4L * sqEntries, cqes + CQE_BYTES * cqEntries);
        this.rings = Libc.mmap(ringBytes, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | 0x8000 /* MAP_POPULATE */,
                ringFd, IORING_OFF_SQ_RING);
        try {
            this.sqes = Libc.mmap(SQE_BYTES * sqEntries, Libc.PROT_READ | Libc.PROT_WRITE,
                    Libc.MAP_SHARED | 0x8000, ringFd, IORING_OFF_SQES);
        } catch (SysException e) {
            Libc.munmap(rings);
            throw e;
        }
        this.sqHead = params.get(JAVA_INT, sq + off(SQRING_OFFSETS, "head"));
        this.sqTail = params.get(JAVA_INT, sq + off(SQRING_OFFSETS, "tail"));
        this.sqMask = rings.get(JAVA_INT, params.get(JAVA_INT, sq + off(SQRING_OFFSETS, "ring_mask")));
        this.cqHead = params.get(JAVA_INT, cq + off(CQRING_OFFSETS, "head"));
        this.cqTail = params.get(JAVA_INT, cq + off(CQRING_OFFSETS, "tail"));
        this.cqMask = rings.get(JAVA_INT, params.get(JAVA_INT, cq + off(CQRING_OFFSETS, "ring_mask")));
        // SQ slot i always names SQE i: SQEs are filled in ring order.
        for (int i = 0; i < sqEntries; i++) {
            rings.set(JAVA_INT, sqArray + 4L * i, i);
        }
        this.sqLocalTail = (int) INT.getAcquire(rings, sqTail);
    }

    /**
     * A ring of at least {@code entries} submission entries (a power of two up to 4096) and twice as many
     * completion entries, restricted to positional I/O on {@code fileFd}, posting completions to
     * {@code eventFd}. Throws with the kernel's errno where io_uring is missing (ENOSYS), refused (EPERM:
     * seccomp, {@code kernel.io_uring_disabled}) or too old.
     */
    public static IoUring open(int entries, int fileFd, int eventFd) throws SysException {
        if (entries < 1 || entries > 4096 || Integer.bitCount(entries) != 1) {
            throw new IllegalArgumentException("io_uring entries " + entries + " (a power of two, 1 to 4096)");
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment params = a.allocate(PARAMS);
            params.set(JAVA_INT, off(PARAMS, "flags"), IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE
                    | IORING_SETUP_SUBMIT_ALL); // one refused SQE does not hold back the ones after it
            params.set(JAVA_INT, off(PARAMS, "cq_entries"), 2 * entries);
            long fd = syscall(SYS_IO_URING_SETUP, entries, params.address(), 0, 0, 0, 0);
            if (fd < 0) {
                throw new SysException("io_uring_setup", (int) -fd);
            }
            IoUring ring;
            try {
                ring = new IoUring((int) fd, params);
            } catch (SysException | RuntimeException e) {
                Libc.close((int) fd);
                throw e;
            }
            try {
                MemorySegment files = a.allocateFrom(JAVA_INT, fileFd);
                ring.register(IORING_REGISTER_FILES, files, 1, "IORING_REGISTER_FILES");
                ring.register(IORING_REGISTER_EVENTFD, a.allocateFrom(JAVA_INT, eventFd), 1, "IORING_REGISTER_EVENTFD");
                MemorySegment rules = a.allocate(RESTRICTION, ALLOWED_OPS.length + 1);
                for (int i = 0; i < ALLOWED_OPS.length; i++) {
                    rules.set(JAVA_SHORT, i * RESTRICTION.byteSize(), (short) IORING_RESTRICTION_SQE_OP);
                    rules.set(JAVA_BYTE, i * RESTRICTION.byteSize() + 2, (byte) ALLOWED_OPS[i]);
                }
                long last = ALLOWED_OPS.length * RESTRICTION.byteSize();
                rules.set(JAVA_SHORT, last, (short) IORING_RESTRICTION_SQE_FLAGS_REQUIRED);
                rules.set(JAVA_BYTE, last + 2, (byte) IOSQE_FIXED_FILE);
                ring.register(IORING_REGISTER_RESTRICTIONS, rules, ALLOWED_OPS.length + 1, "IORING_REGISTER_RESTRICTIONS");
                ring.register(IORING_REGISTER_ENABLE_RINGS, MemorySegment.NULL, 0, "IORING_REGISTER_ENABLE_RINGS");
            } catch (SysException | RuntimeException e) {
                ring.close();
                throw e;
            }
            return ring;
        }
    }

    private void register(int opcode, MemorySegment arg, int count, String what) throws SysException {
        long r = syscall(SYS_IO_URING_REGISTER, ringFd, opcode, arg.address(), count, 0, 0);
        if (r < 0) {
            throw new SysException(what, (int) -r);
        }
    }

    private static long syscall(int nr, long a0, long a1, long a2, long a3, long a4, long a5) {
        try {
            MemorySegment cap = CAPTURE.get();
            long r = (long) SYSCALL6.invokeExact(cap, (long) nr, a0, a1, a2, a3, a4, a5);
            return r < 0 ? -(int) ERRNO.get(cap, 0L) : r;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    /** Submission entries this ring has. */
    public int entries() {
        return sqEntries;
    }

    /** SQEs free to fill before a {@link #submit}. */
    public int free() {
        return sqEntries - (sqLocalTail - (int) INT.getAcquire(rings, sqHead));
    }

    /** Where the next SQE starts in {@code sqes}, zeroed, or -1 if the ring is full (submit first). No slice: nothing allocated per request. */
    private long next() {
        if (closed) {
            throw new IllegalStateException("io_uring closed");
        }
        if (free() == 0) {
            return -1;
        }
        long at = (sqLocalTail & sqMask) * SQE_BYTES;
        for (long i = 0; i < SQE_BYTES; i += 8) {
            sqes.set(JAVA_LONG, at + i, 0L);
        }
        return at;
    }

    private void queued() {
        sqLocalTail++;
        unsubmitted++;
    }

    /** Queues a readv ({@code intoGuest}) or writev of {@code iov}'s first {@code count} entries at {@code offset}; false if full. */
    public boolean prepReadWrite(boolean read, IoVec iov, int count, long offset, long userData) {
        java.util.Objects.checkFromIndexSize(0, count, iov.capacity());
        long sqe = next();
        if (sqe < 0) {
            return false;
        }
        fill(sqe, read ? IORING_OP_READV : IORING_OP_WRITEV, offset, iov.entries().address(), count, 0, userData);
        queued();
        return true;
    }

    /** Queues an fdatasync ({@code datasync}) or fsync of the file; false if full. */
    public boolean prepFsync(boolean datasync, long userData) {
        long sqe = next();
        if (sqe < 0) {
            return false;
        }
        fill(sqe, IORING_OP_FSYNC, 0, 0, 0, datasync ? IORING_FSYNC_DATASYNC : 0, userData);
        queued();
        return true;
    }

    /** Queues fallocate(fd, mode, offset, length); false if full. */
    public boolean prepFallocate(int mode, long offset, long length, long userData) {
        long sqe = next();
        if (sqe < 0) {
            return false;
        }
        fill(sqe, IORING_OP_FALLOCATE, offset, length, mode, 0, userData);
        queued();
        return true;
    }

    /** Queues a no-op (its completion wakes whoever waits on the eventfd); false if full. */
    public boolean prepNop(long userData) {
        long sqe = next();
        if (sqe < 0) {
            return false;
        }
        fill(sqe, IORING_OP_NOP, 0, 0, 0, 0, userData);
        queued();
        return true;
    }

    /** For tests of the restrictions: an SQE of any operation and flags on {@code fd}. */
    boolean prepRaw(int op, int flags, int fd, long userData) {
        long sqe = next();
        if (sqe < 0) {
            return false;
        }
        fill(sqe, op, 0, 0, 0, 0, userData);
        sqes.set(JAVA_BYTE, sqe + SQE_FLAGS, (byte) flags);
        sqes.set(JAVA_INT, sqe + SQE_FD, fd);
        queued();
        return true;
    }

    private void fill(long sqe, int op, long off, long addr, int len, int opFlags, long userData) {
        sqes.set(JAVA_BYTE, sqe + SQE_OPCODE, (byte) op);
        sqes.set(JAVA_BYTE, sqe + SQE_FLAGS, (byte) IOSQE_FIXED_FILE);
        sqes.set(JAVA_INT, sqe + SQE_FD, 0); // registered file 0
        sqes.set(JAVA_LONG, sqe + SQE_OFF, off);
        sqes.set(JAVA_LONG, sqe + SQE_ADDR, addr);
        sqes.set(JAVA_INT, sqe + SQE_LEN, len);
        sqes.set(JAVA_INT, sqe + SQE_RW_FLAGS, opFlags);
        sqes.set(JAVA_LONG, sqe + SQE_USER_DATA, userData);
    }

    /**
     * Hands the queued SQEs to the kernel (one io_uring_enter); returns how many it took or {@code -errno}.
     * A read from the page cache usually completes within this call, its CQE ready for {@link #reap}.
     */
    public int submit() {
        if (unsubmitted == 0) {
            return 0;
        }
        INT.setRelease(rings, sqTail, sqLocalTail);
        int taken = 0;
        while (unsubmitted > 0) {
            long r = syscall(SYS_IO_URING_ENTER, ringFd, unsubmitted, 0, 0, 0, 0);
            if (r == -Errno.EINTR) {
                continue;
            }
            if (r <= 0) {
                return taken > 0 ? taken : (int) r; // EAGAIN/EBUSY: the rest stay queued for the next submit
            }
            unsubmitted -= (int) r;
            taken += (int) r;
        }
        return taken;
    }

    /** What a completion is handed to. */
    @FunctionalInterface
    public interface Completion {
        void complete(long userData, int result);
    }

    /** Hands every completion posted so far to {@code sink}, in order; returns how many. */
    public int reap(Completion sink) {
        int head = (int) INT.getAcquire(rings, cqHead);
        int tail = (int) INT.getAcquire(rings, cqTail);
        int n = 0;
        while (head != tail) {
            long at = cqes + (head & cqMask) * CQE_BYTES;
            long userData = rings.get(JAVA_LONG, at);
            int res = rings.get(JAVA_INT, at + 8);
            head++;
            INT.setRelease(rings, cqHead, head); // the slot is free again before the callback runs
            sink.complete(userData, res);
            n++;
            if (head == tail) {
                tail = (int) INT.getAcquire(rings, cqTail);
            }
        }
        return n;
    }

    /** Whether a ring can be made here (a tiny one, closed again): false where io_uring is missing or refused. */
    public static String probe() {
        try (EventFd e = new EventFd(Libc.EFD_CLOEXEC)) {
            int fd = Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            try (IoUring r = open(1, fd, e.fd())) {
                return null;
            } finally {
                Libc.close(fd);
            }
        } catch (SysException e) {
            return e.getMessage();
        }
    }

    /** Unmaps the rings and closes the ring's fd (the kernel cancels or finishes what is in flight). */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        Libc.munmap(sqes);
        Libc.munmap(rings);
        Libc.close(ringFd);
    }
}
