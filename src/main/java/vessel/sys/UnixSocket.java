package vessel.sys;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Non-blocking {@code AF_UNIX} stream sockets as bare descriptors, for a device that moves bytes between
 * them and guest memory with {@link Libc#readvRaw}/{@link Libc#writevRaw} (an NIO channel hides its
 * descriptor, and its selector allocates per ready key). Setting a socket up goes through
 * {@link Libc#syscallRaw} and may allocate; only the data calls are meant for a hot path.
 */
public final class UnixSocket {
    private static final int AF_UNIX = 1;
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_NONBLOCK = Libc.O_NONBLOCK;
    private static final int SOCK_CLOEXEC = Libc.O_CLOEXEC;
    private static final int SHUT_WR = 1;
    private static final int F_SETFD = 2;
    private static final int F_SETFL = 4;
    private static final int FD_CLOEXEC = 1;
    /** {@code struct sockaddr_un}: a 2-byte family and 108 bytes of path, NUL-terminated. */
    private static final int SUN_PATH = 108;

    private UnixSocket() {}

    /** A listening socket bound at {@code path}. */
    public static int listen(Path path, int backlog) throws IOException {
        int fd = socket();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = address(arena, path);
            check(Libc.syscallRaw(Syscall.BIND.number(), fd, addr.address(), addr.byteSize()), "bind", path);
            check(Libc.syscallRaw(Syscall.LISTEN.number(), fd, backlog, 0), "listen", path);
            return fd;
        } catch (IOException | RuntimeException e) {
            Libc.close(fd);
            throw e;
        }
    }

    /**
     * A connection waiting on {@code listener}, non-blocking; or {@code -errno} ({@code -EAGAIN}: none waits).
     */
    public static int accept(int listener) {
        long fd = Libc.syscallRaw(Syscall.ACCEPT.number(), listener, 0, 0);
        if (fd < 0) {
            return (int) fd;
        }
        Libc.syscallRaw(Syscall.FCNTL.number(), fd, F_SETFD, FD_CLOEXEC);
        Libc.syscallRaw(Syscall.FCNTL.number(), fd, F_SETFL, Libc.O_NONBLOCK);
        return (int) fd;
    }

    /**
     * A non-blocking socket connected to the listener at {@code path}. A Unix stream connect completes at
     * once or not at all: a listener whose backlog is full ({@code EAGAIN}) is as good as none.
     */
    public static int connect(Path path) throws IOException {
        int fd = socket();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = address(arena, path);
            check(Libc.syscallRaw(Syscall.CONNECT.number(), fd, addr.address(), addr.byteSize()), "connect", path);
            return fd;
        } catch (IOException | RuntimeException e) {
            Libc.close(fd);
            throw e;
        }
    }

    /** The peer's reads end ({@code shutdown(SHUT_WR)}); a peer already gone changes nothing. */
    public static void shutdownOutput(int fd) {
        Libc.syscallRaw(Syscall.SHUTDOWN.number(), fd, SHUT_WR, 0);
    }

    private static int socket() throws IOException {
        long fd = Libc.syscallRaw(Syscall.SOCKET.number(), AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            throw new IOException("socket(AF_UNIX): " + Libc.strerror((int) -fd));
        }
        return (int) fd;
    }

    private static MemorySegment address(Arena arena, Path path) throws IOException {
        byte[] name = path.toString().getBytes(StandardCharsets.UTF_8);
        if (name.length >= SUN_PATH) {
            throw new IOException(path + ": a Unix socket path is at most " + (SUN_PATH - 1) + " bytes");
        }
        MemorySegment addr = arena.allocate(2 + name.length + 1L);
        addr.set(JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(name, 0, addr, JAVA_BYTE, 2, name.length);
        return addr;
    }

    private static void check(long r, String call, Path path) throws IOException {
        if (r < 0) {
            throw new IOException(call + " " + path + ": " + Libc.strerror((int) -r));
        }
    }
}
