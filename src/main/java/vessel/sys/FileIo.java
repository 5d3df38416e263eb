package vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Positional file I/O on a raw descriptor: pread/pwrite straight between a file and native memory (guest
 * RAM), fdatasync, fallocate (punch hole, zero range) and lseek's SEEK_DATA/SEEK_HOLE, none of which
 * {@code FileChannel} offers without a copy or at all. Every call returns its result or {@code -errno}
 * and allocates nothing: these are the block device's per-request calls. errno is captured per thread.
 */
public final class FileIo {
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;
    public static final int SEEK_END = 2;
    public static final int SEEK_DATA = 3;
    public static final int SEEK_HOLE = 4;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ThreadLocal<MemorySegment> CAPTURE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    private static final MethodHandle PREAD = call("pread64",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITE = call("pwrite64",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle FDATASYNC = call("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FALLOCATE = call("fallocate64",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle LSEEK = call("lseek64",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));

    private FileIo() {}

    private static MethodHandle call(String name, FunctionDescriptor fd) {
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("C library symbol not found: " + name));
        return LINKER.downcallHandle(symbol, fd, Linker.Option.captureCallState("errno"));
    }

    private static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** pread(2) of {@code buf}'s whole length at {@code offset}: bytes read (0 at end of file) or {@code -errno}. */
    public static long pread(int fd, MemorySegment buf, long offset) {
        checkNative(buf);
        try {
            MemorySegment cap = CAPTURE.get();
            long n = (long) PREAD.invokeExact(cap, fd, buf, buf.byteSize(), offset);
            return n < 0 ? -errno(cap) : n;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    /** pwrite(2) of {@code buf}'s whole length at {@code offset}: bytes written or {@code -errno}. */
    public static long pwrite(int fd, MemorySegment buf, long offset) {
        checkNative(buf);
        try {
            MemorySegment cap = CAPTURE.get();
            long n = (long) PWRITE.invokeExact(cap, fd, buf, buf.byteSize(), offset);
            return n < 0 ? -errno(cap) : n;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    /** fdatasync(2): 0 or {@code -errno}. */
    public static int fdatasync(int fd) {
        try {
            MemorySegment cap = CAPTURE.get();
            int r = (int) FDATASYNC.invokeExact(cap, fd);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    /** fallocate(2): 0 or {@code -errno} (EOPNOTSUPP where the file system lacks {@code mode}). */
    public static int fallocate(int fd, int mode, long offset, long length) {
        try {
            MemorySegment cap = CAPTURE.get();
            int r = (int) FALLOCATE.invokeExact(cap, fd, mode, offset, length);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    /** lseek(2): the new offset or {@code -errno} (ENXIO: no data, or no hole, at or after {@code offset}). */
    public static long lseek(int fd, long offset, int whence) {
        try {
            MemorySegment cap = CAPTURE.get();
            long r = (long) LSEEK.invokeExact(cap, fd, offset, whence);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    private static void checkNative(MemorySegment seg) {
        if (!seg.isNative()) {
            throw new IllegalArgumentException("a heap segment cannot be handed to the kernel");
        }
    }
}
