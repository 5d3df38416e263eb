package vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A TAP network interface opened through {@code /dev/net/tun} (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, vnet
 * header size 12, non-blocking): each read or write is one Ethernet frame preceded by a virtio_net_hdr.
 * Layouts and request numbers are pinned against {@code linux/if.h} and {@code linux/if_tun.h} by
 * {@code TapLayoutTest}.
 */
public final class Tap implements AutoCloseable {
    /** {@code struct ifreq}: the name, then a 24-byte union whose first member here is ifr_flags. */
    public static final StructLayout IFREQ = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(16, JAVA_BYTE).withName("ifr_name"),
            JAVA_SHORT.withName("ifr_flags"),
            MemoryLayout.paddingLayout(22)).withName("ifreq");
    public static final int IFNAMSIZ = 16;
    public static final long TUNSETIFF = Ioctl.iow('T', 202, 4);
    public static final long TUNGETFEATURES = Ioctl.ior('T', 207, 4);
    public static final long TUNSETOFFLOAD = Ioctl.iow('T', 208, 4);
    public static final long TUNSETVNETHDRSZ = Ioctl.iow('T', 216, 4);
    public static final int IFF_TAP = 0x0002;
    public static final int IFF_NO_PI = 0x1000;
    public static final int IFF_VNET_HDR = 0x4000;
    public static final int TUN_F_CSUM = 0x01;
    public static final int TUN_F_TSO4 = 0x02;
    public static final int TUN_F_TSO6 = 0x04;
    public static final int TUN_F_TSO_ECN = 0x08;
    public static final int VNET_HDR_SIZE = 12;

    private final int fd;
    private final String name;

    private Tap(int fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /**
     * Attaches to the TAP interface {@code name} (creating it needs CAP_NET_ADMIN; attaching to one made
     * with {@code ip tuntap add NAME mode tap user U} needs only to be user U).
     */
    public static Tap open(String name) throws SysException {
        byte[] n = name.getBytes(StandardCharsets.US_ASCII);
        if (n.length == 0 || n.length >= IFNAMSIZ) {
            throw new IllegalArgumentException("interface name '" + name + "' is not 1 to 15 characters");
        }
        int fd = Libc.open("/dev/net/tun", Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ifr = a.allocate(IFREQ);
            MemorySegment.copy(n, 0, ifr, JAVA_BYTE, 0, n.length);
            ifr.set(JAVA_SHORT, 16, (short) (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR));
            check(Libc.ioctlRaw(fd, TUNSETIFF, ifr), "ioctl(TUNSETIFF, " + name + ")");
            MemorySegment size = a.allocate(4);
            size.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, VNET_HDR_SIZE);
            check(Libc.ioctlRaw(fd, TUNSETVNETHDRSZ, size), "ioctl(TUNSETVNETHDRSZ)");
            return new Tap(fd, name);
        } catch (SysException | RuntimeException e) {
            Libc.close(fd);
            throw e;
        }
    }

    private static void check(int r, String call) throws SysException {
        if (r < 0) {
            throw new SysException(call, -r);
        }
    }

    public int fd() {
        return fd;
    }

    public String name() {
        return name;
    }

    /** TUNSETOFFLOAD: which offloaded frames (TUN_F_*) the kernel may hand us. */
    public void setOffload(int flags) throws SysException {
        check(Libc.ioctlRaw(fd, TUNSETOFFLOAD, flags), "ioctl(TUNSETOFFLOAD)");
    }

    /** One frame into {@code buf}: its length, 0 when none waits, or throws. */
    public int read(MemorySegment buf) throws SysException {
        long r = Libc.readRaw(fd, buf, buf.byteSize());
        if (r == -Errno.EAGAIN) {
            return 0;
        }
        if (r < 0) {
            throw new SysException("read(" + name + ")", (int) -r);
        }
        return (int) r;
    }

    /** Sends one frame; returns false when the kernel would block (the frame is not sent). */
    public boolean write(MemorySegment frame) throws SysException {
        long r = Libc.writeRaw(fd, frame, frame.byteSize());
        if (r == -Errno.EAGAIN) {
            return false;
        }
        if (r < 0) {
            throw new SysException("write(" + name + ")", (int) -r);
        }
        return true;
    }

    /**
     * One frame into the buffers of {@code iov}'s first {@code count} entries, in order: its length, 0
     * when none waits, or throws. A frame longer than the buffers is cut short by the kernel.
     */
    public int readv(IoVec iov, int count) throws SysException {
        long r = Libc.readvRaw(fd, iov, count);
        if (r == -Errno.EAGAIN) {
            return 0;
        }
        if (r < 0) {
            throw new SysException("readv(" + name + ")", (int) -r);
        }
        return (int) r;
    }

    /** Sends one frame gathered from {@code iov}'s first {@code count} entries; false when the kernel would block. */
    public boolean writev(IoVec iov, int count) throws SysException {
        long r = Libc.writevRaw(fd, iov, count);
        if (r == -Errno.EAGAIN) {
            return false;
        }
        if (r < 0) {
            throw new SysException("writev(" + name + ")", (int) -r);
        }
        return true;
    }

    @Override
    public void close() {
        Libc.close(fd);
    }
}
