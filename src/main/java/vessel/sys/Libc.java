package vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Downcalls into glibc. Each handle is built once; calls that can fail capture errno into a segment
 * owned by the calling thread (never one shared segment: several vCPU threads issue ioctls at once).
 * Checked wrappers throw {@link SysException}; the {@code raw} variants return {@code -errno} instead,
 * for hot paths such as KVM_RUN where EINTR is an ordinary answer and must not allocate.
 */
public final class Libc {
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_NONBLOCK = 04000;
    public static final int O_CLOEXEC = 02000000;

    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_HUGETLB = 0x40000;
    /** MAP_HUGETLB's page size, log2 in bits 26-31: 2 MiB. */
    public static final int MAP_HUGE_2MB = 21 << 26;
    /** madvise: offer the range's pages to KSM for merging with identical ones. */
    public static final int MADV_MERGEABLE = 12;
    /** madvise: back the range with transparent huge pages where possible. */
    public static final int MADV_HUGEPAGE = 14;

    /** madvise: the range's pages may be dropped; a private anonymous page reads back as zeros. */
    public static final int MADV_DONTNEED = 4;

    public static final int EFD_CLOEXEC = O_CLOEXEC;
    public static final int EFD_NONBLOCK = O_NONBLOCK;

    public static final int SIG_BLOCK = 0;
    public static final int SIG_UNBLOCK = 1;
    public static final int SIG_SETMASK = 2;
    /** glibc's sigset_t is 1024 bits; the kernel's is 64. */
    public static final long SIGSET_BYTES = 128;

    public static final int TCSANOW = 0;
    /** The terminal ioctl glibc's tcgetattr (and so isatty) makes. */
    private static final long TCGETS = 0x5401;
    /** openat's "relative to the working directory". */
    private static final long AT_FDCWD = -100;
    /** glibc's struct termios. */
    public static final long TERMIOS_BYTES = 60;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    /** errno in a capture segment; read only when a call failed, so made then (a layout path's var handle). */
    private static final class CapturedErrno {
        static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    }
    private static final ThreadLocal<MemorySegment> CAPTURE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    // Each downcall handle in a holder of its own, made on first use: making one generates code (about 10 ms
    // each on an idle host, many times that under load, and the JVM's AOT cache does not keep it), and a
    // process serving only the API, or a guest that never needs a terminal, uses a few of them.

    private static final class Close {
        static final MethodHandle HANDLE = errnoCall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }
    private static final class Read {
        static final MethodHandle HANDLE = errnoCall("read",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class Write {
        static final MethodHandle HANDLE = errnoCall("write",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class Readv {
        static final MethodHandle HANDLE = errnoCall("readv",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class Writev {
        static final MethodHandle HANDLE = errnoCall("writev",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class ErrnoLocation {
        static final MethodHandle HANDLE = call("__errno_location", FunctionDescriptor.of(ADDRESS));
    }
    /** This thread's errno, for a call that skips errno capture on its usual path (see {@link #readvRaw}). */
    private static final ThreadLocal<MemorySegment> ERRNO_LOCATION = ThreadLocal.withInitial(() -> {
        try {
            return ((MemorySegment) ErrnoLocation.HANDLE.invokeExact()).reinterpret(4);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    });
    private static final class ReadvNoErrno {
        static final MethodHandle HANDLE = call("readv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class WritevNoErrno {
        static final MethodHandle HANDLE = call("writev", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class IoctlLong {
        static final MethodHandle HANDLE = errnoCall("ioctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(2));
    }
    /** ioctl without errno capture: for KVM_RUN, whose usual failure says itself why (see VcpuFd.run). */
    private static final class IoctlLongNoErrno {
        static final MethodHandle HANDLE = call("ioctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(2));
    }
    private static final class IoctlPtr {
        static final MethodHandle HANDLE = errnoCall("ioctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
    }
    private static final class Munmap {
        static final MethodHandle HANDLE = errnoCall("munmap",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class Madvise {
        static final MethodHandle HANDLE = errnoCall("madvise",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    }
    private static final class EpollCtl {
        static final MethodHandle HANDLE = errnoCall("epoll_ctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    }
    private static final class EpollCtlNoErrno {
        static final MethodHandle HANDLE = call("epoll_ctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    }
    private static final class EpollWait {
        static final MethodHandle HANDLE = errnoCall("epoll_wait",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    }
    private static final class EpollWaitNoErrno {
        static final MethodHandle HANDLE = call("epoll_wait",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    }
    private static final class PthreadSelf {
        static final MethodHandle HANDLE = call("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    }
    // pthread_kill and pthread_sigmask return the error number instead of setting errno.
    private static final class PthreadKill {
        static final MethodHandle HANDLE = call("pthread_kill",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
    }
    private static final class PthreadSigmask {
        static final MethodHandle HANDLE = call("pthread_sigmask",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    }
    private static final class Sigtimedwait {
        static final MethodHandle HANDLE = errnoCall("sigtimedwait",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    }
    private static final class Sigrtmin {
        static final MethodHandle HANDLE = call("__libc_current_sigrtmin", FunctionDescriptor.of(JAVA_INT));
    }
    private static final class Strerror {
        static final MethodHandle HANDLE = call("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }
    private static final class Tcgetattr {
        static final MethodHandle HANDLE = errnoCall("tcgetattr",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    }
    private static final class Tcsetattr {
        static final MethodHandle HANDLE = errnoCall("tcsetattr",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    }
    private static final class Cfmakeraw {
        static final MethodHandle HANDLE = call("cfmakeraw", FunctionDescriptor.ofVoid(ADDRESS));
    }
    // prctl, seccomp, umask, the calls a VM's assembly makes a few times (open, mmap, eventfd, epoll_create1,
    // isatty) and the tests' calls by number all go through syscall(2), one handle: each handle is a stub
    // generated at run time (5 fewer on the way to a guest's first instruction), and a process makes these
    // on its way to the API socket. Calls made per exit or per request keep handles of their own.
    private static final class Syscall6 {
        static final MethodHandle HANDLE = errnoCall("syscall",
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
                Linker.Option.firstVariadicArg(1));
    }

    private Libc() {}

    private static MethodHandle call(String name, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("C library symbol not found: " + name));
        return LINKER.downcallHandle(symbol, fd, options);
    }

    private static MethodHandle errnoCall(String name, FunctionDescriptor fd, Linker.Option... options) {
        Linker.Option[] all = java.util.Arrays.copyOf(options, options.length + 1);
        all[options.length] = Linker.Option.captureCallState("errno");
        return call(name, fd, all);
    }

    private static int errno(MemorySegment capture) {
        return (int) CapturedErrno.ERRNO.get(capture, 0L);
    }

    /** What a downcall's {@code Throwable} becomes: runtime exceptions and errors as they are, else wrapped. */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    public static int open(String path, int flags, int mode) throws SysException {
        try (Arena arena = Arena.ofConfined()) {
            long fd = syscallRaw(Syscall.OPENAT.number(), AT_FDCWD, arena.allocateFrom(path).address(), flags, mode, 0, 0);
            if (fd < 0) {
                throw new SysException("open(" + path + ")", (int) -fd);
            }
            return (int) fd;
        }
    }

    public static void close(int fd) {
        try {
            int r = (int) Close.HANDLE.invokeExact(CAPTURE.get(), fd);
            assert r == 0 || r == -1;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** read(2); returns bytes read, or {@code -errno}. */
    public static long readRaw(int fd, MemorySegment buf, long len) {
        checkNative(buf, len);
        try {
            MemorySegment cap = CAPTURE.get();
            long n = (long) Read.HANDLE.invokeExact(cap, fd, buf, len);
            return n < 0 ? -errno(cap) : n;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** write(2); returns bytes written, or {@code -errno}. */
    public static long writeRaw(int fd, MemorySegment buf, long len) {
        checkNative(buf, len);
        try {
            MemorySegment cap = CAPTURE.get();
            long n = (long) Write.HANDLE.invokeExact(cap, fd, buf, len);
            return n < 0 ? -errno(cap) : n;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * readv(2) into the buffers of {@code iov}'s first {@code count} entries; returns bytes read, or
     * {@code -errno}. A frame's call: made without errno capture, which deep in a device's path allocates
     * a segment per call that the JIT does not remove (40 bytes, measured); only a failed call is made
     * once more with errno captured, and that call's answer is returned (EAGAIN again, or a frame that
     * arrived in between, or the lasting error).
     */
    public static long readvRaw(int fd, IoVec iov, int count) {
        java.util.Objects.checkFromIndexSize(0, count, iov.capacity());
        try {
            // Found before the call: its first time on a thread (making the thread-local) must not run
            // between the call and the read of errno.
            MemorySegment errno = ERRNO_LOCATION.get();
            long n = (long) ReadvNoErrno.HANDLE.invokeExact(fd, iov.entries(), count);
            if (n >= 0) {
                return n;
            }
            if (errno.get(JAVA_INT, 0) == Errno.EAGAIN) {
                // The usual end of a pass (nothing more waits). errno read after the call may have been
                // changed by the JVM on its way back (a safepoint); it would be to EAGAIN at worst, from
                // a lasting error, which the next readable event then finds again.
                return -Errno.EAGAIN;
            }
            MemorySegment cap = CAPTURE.get();
            n = (long) Readv.HANDLE.invokeExact(cap, fd, iov.entries(), count);
            return n < 0 ? -errno(cap) : n;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * writev(2) from the buffers of {@code iov}'s first {@code count} entries; returns bytes written, or
     * {@code -errno}. As {@link #readvRaw}, without errno capture first: for a descriptor whose failed
     * write wrote nothing (a TAP's frame goes whole or not at all), so that trying once more is safe.
     */
    public static long writevRaw(int fd, IoVec iov, int count) {
        java.util.Objects.checkFromIndexSize(0, count, iov.capacity());
        try {
            long n = (long) WritevNoErrno.HANDLE.invokeExact(fd, iov.entries(), count);
            if (n >= 0) {
                return n;
            }
            MemorySegment cap = CAPTURE.get();
            n = (long) Writev.HANDLE.invokeExact(cap, fd, iov.entries(), count);
            return n < 0 ? -errno(cap) : n;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** ioctl with an integer argument; returns the result or {@code -errno}. */
    public static int ioctlRaw(int fd, long request, long arg) {
        try {
            MemorySegment cap = CAPTURE.get();
            int r = (int) IoctlLong.HANDLE.invokeExact(cap, fd, request, arg);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * A segment for a downcall's errno, for a caller that makes one call very often from one thread at a
     * time (a vCPU's KVM_RUN): {@link #ioctlRaw(MemorySegment, int, long, long)} with it skips the
     * thread-local lookup of the other calls.
     */
    public static MemorySegment newCallState() {
        return Arena.ofAuto().allocate(CAPTURE_LAYOUT);
    }

    /** {@link #ioctlRaw(int, long, long)} with errno captured in {@code callState} (from {@link #newCallState}). */
    public static int ioctlRaw(MemorySegment callState, int fd, long request, long arg) {
        try {
            int r = (int) IoctlLong.HANDLE.invokeExact(callState, fd, request, arg);
            return r < 0 ? -errno(callState) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * ioctl with an integer argument, returning what the C function returns (-1 on any failure) without
     * capturing errno: the capture is a call into the JVM and, with C1 alone, a 40-byte allocation per
     * call. Only for a caller that can tell why the call failed by other means, or ask again with
     * {@link #ioctlRaw(MemorySegment, int, long, long)}.
     */
    public static int ioctlWithoutErrno(int fd, long request, long arg) {
        try {
            return (int) IoctlLongNoErrno.HANDLE.invokeExact(fd, request, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** ioctl with a pointer argument; returns the result or {@code -errno}. */
    public static int ioctlRaw(int fd, long request, MemorySegment arg) {
        try {
            MemorySegment cap = CAPTURE.get();
            int r = (int) IoctlPtr.HANDLE.invokeExact(cap, fd, request, arg);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Maps {@code len} bytes; the returned segment is bounded to them and unmapped by {@link #munmap}. */
    public static MemorySegment mmap(long len, int prot, int flags, int fd, long offset) throws SysException {
        long p = syscallRaw(Syscall.MMAP.number(), 0, len, prot, flags, fd, offset);
        if (p < 0) {
            throw new SysException("mmap(" + len + " bytes)", (int) -p);
        }
        return MemorySegment.ofAddress(p).reinterpret(len);
    }

    /**
     * Maps {@code len} bytes of {@code fd} exactly over the start of {@code at}, a mapping this process made
     * (MAP_FIXED replaces those pages); returns that part of {@code at}.
     */
    public static MemorySegment mmapOver(MemorySegment at, long len, int prot, int flags, int fd, long offset)
            throws SysException {
        if (len <= 0 || len > at.byteSize()) {
            throw new IllegalArgumentException("mapping " + len + " bytes over a " + at.byteSize() + "-byte mapping");
        }
        long p = syscallRaw(Syscall.MMAP.number(), at.address(), len, prot, flags | MAP_FIXED, fd, offset);
        if (p < 0) {
            throw new SysException("mmap(" + len + " bytes, fixed)", (int) -p);
        }
        return at.asSlice(0, len);
    }

    public static void munmap(MemorySegment mapping) {
        try {
            int r = (int) Munmap.HANDLE.invokeExact(CAPTURE.get(), mapping, mapping.byteSize());
            assert r == 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** madvise(2) over all of {@code range} (page-aligned, inside a mapping this process made). */
    public static void madvise(MemorySegment range, int advice) throws SysException {
        try {
            MemorySegment cap = CAPTURE.get();
            int r = (int) Madvise.HANDLE.invokeExact(cap, range, range.byteSize(), advice);
            if (r != 0) {
                throw new SysException("madvise(" + range.byteSize() + " bytes, " + advice + ")", errno(cap));
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int eventfd(int initial, int flags) throws SysException {
        long fd = syscallRaw(Syscall.EVENTFD2.number(), initial, flags, 0, 0, 0, 0);
        if (fd < 0) {
            throw new SysException("eventfd", (int) -fd);
        }
        return (int) fd;
    }

    public static int epollCreate1(int flags) throws SysException {
        long fd = syscallRaw(Syscall.EPOLL_CREATE1.number(), flags, 0, 0, 0, 0, 0);
        if (fd < 0) {
            throw new SysException("epoll_create1", (int) -fd);
        }
        return (int) fd;
    }

    public static void epollCtl(int epfd, int op, int fd, MemorySegment event) throws SysException {
        try {
            MemorySegment cap = CAPTURE.get();
            if ((int) EpollCtl.HANDLE.invokeExact(cap, epfd, op, fd, event) < 0) {
                throw new SysException("epoll_ctl", errno(cap));
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * epoll_ctl without errno capture (see {@link #readvRaw}), for a change of what a socket is watched
     * for on a device's path; only a failed call is made once more with errno captured, and that answers
     * (0 or {@code -errno}).
     */
    public static int epollCtlRaw(int epfd, int op, int fd, MemorySegment event) {
        try {
            int r = (int) EpollCtlNoErrno.HANDLE.invokeExact(epfd, op, fd, event);
            if (r >= 0) {
                return 0;
            }
            MemorySegment cap = CAPTURE.get();
            r = (int) EpollCtl.HANDLE.invokeExact(cap, epfd, op, fd, event);
            return r < 0 ? -errno(cap) : 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** epoll_wait; returns the number of events, or -errno (EINTR is normal). */
    public static int epollWaitRaw(int epfd, MemorySegment events, int maxEvents, int timeoutMillis) {
        try {
            // Without errno capture first (see readvRaw: deep in a device's loop it allocates per call);
            // a failure (EINTR, usually) is asked again without waiting, errno captured, and that answers.
            int n = (int) EpollWaitNoErrno.HANDLE.invokeExact(epfd, events, maxEvents, timeoutMillis);
            if (n >= 0) {
                return n;
            }
            MemorySegment cap = CAPTURE.get();
            n = (int) EpollWait.HANDLE.invokeExact(cap, epfd, events, maxEvents, 0);
            return n < 0 ? -errno(cap) : n;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long pthreadSelf() {
        try {
            return (long) PthreadSelf.HANDLE.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Sends {@code signal} to one thread; returns 0 or an error number. */
    public static int pthreadKill(long thread, int signal) {
        try {
            return (int) PthreadKill.HANDLE.invokeExact(thread, signal);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void pthreadSigmask(int how, MemorySegment set, MemorySegment old) throws SysException {
        try {
            int err = (int) PthreadSigmask.HANDLE.invokeExact(how, set, old);
            if (err != 0) {
                throw new SysException("pthread_sigmask", err);
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** sigtimedwait(2); returns the signal taken, or {@code -errno} (EAGAIN when none is pending). */
    public static int sigtimedwaitRaw(MemorySegment set, MemorySegment timespec) {
        try {
            MemorySegment cap = CAPTURE.get();
            int r = (int) Sigtimedwait.HANDLE.invokeExact(cap, set, MemorySegment.NULL, timespec);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int sigrtmin() {
        try {
            return (int) Sigrtmin.HANDLE.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) Strerror.HANDLE.invokeExact(errno);
            return s.reinterpret(1024).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static boolean isatty(int fd) {
        // As glibc's isatty: the terminal ioctl TCGETS succeeds on a terminal only.
        try (Arena arena = Arena.ofConfined()) {
            return syscallRaw(Syscall.IOCTL.number(), fd, TCGETS, arena.allocate(TERMIOS_BYTES).address(), 0, 0, 0) == 0;
        }
    }

    public static void tcgetattr(int fd, MemorySegment termios) throws SysException {
        checkNative(termios, TERMIOS_BYTES);
        try {
            MemorySegment cap = CAPTURE.get();
            if ((int) Tcgetattr.HANDLE.invokeExact(cap, fd, termios) != 0) {
                throw new SysException("tcgetattr", errno(cap));
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void tcsetattr(int fd, int action, MemorySegment termios) throws SysException {
        checkNative(termios, TERMIOS_BYTES);
        try {
            MemorySegment cap = CAPTURE.get();
            if ((int) Tcsetattr.HANDLE.invokeExact(cap, fd, action, termios) != 0) {
                throw new SysException("tcsetattr", errno(cap));
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void cfmakeraw(MemorySegment termios) {
        checkNative(termios, TERMIOS_BYTES);
        try {
            Cfmakeraw.HANDLE.invokeExact(termios);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** prctl(2) with one argument (the rest zero); returns the result or {@code -errno}. */
    public static int prctlRaw(int option, long arg) {
        return (int) syscallRaw(Syscall.PRCTL.number(), option, arg, 0, 0, 0, 0);
    }

    /** seccomp(2); returns the result (0, or a thread id that TSYNC could not synchronise) or {@code -errno}. */
    public static long seccompRaw(int operation, int flags, MemorySegment args) {
        checkNative(args, 1);
        return syscallRaw(Syscall.SECCOMP.number(), operation, flags, args.address(), 0, 0, 0);
    }

    /** umask(2): sets the file mode creation mask, returns the previous one (it cannot fail). */
    public static int umask(int mask) {
        return (int) syscallRaw(Syscall.UMASK.number(), mask, 0, 0, 0, 0, 0);
    }

    /** A system call by number with three arguments, for tests of what a filter lets through; returns it or {@code -errno}. */
    public static long syscallRaw(int number, long a0, long a1, long a2) {
        return syscallRaw(number, a0, a1, a2, 0, 0, 0);
    }

    /**
     * A system call by number, every argument given (syscall(2) passes all six to the kernel, and some
     * calls refuse a non-zero unused one); returns its result or {@code -errno}.
     */
    private static long syscallRaw(int number, long a0, long a1, long a2, long a3, long a4, long a5) {
        try {
            MemorySegment cap = CAPTURE.get();
            long r = (long) Syscall6.HANDLE.invokeExact(cap, (long) number, a0, a1, a2, a3, a4, a5);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A segment handed to the kernel must be native memory and at least as long as the kernel will touch. */
    private static void checkNative(MemorySegment seg, long len) {
        if (!seg.isNative() || len < 0 || len > seg.byteSize()) {
            throw new IllegalArgumentException("buffer of " + seg.byteSize() + " bytes cannot hold " + len);
        }
    }

    /** Little-endian int layout without alignment constraints, for packed kernel structs. */
    public static final ValueLayout.OfInt INT_UNALIGNED = JAVA_INT.withByteAlignment(1);
    public static final ValueLayout.OfLong LONG_UNALIGNED = JAVA_LONG.withByteAlignment(1);
}
