package vessel.devices.mmds;

import java.nio.ByteBuffer;


import static org.junit.jupiter.api.Assertions.assertEquals;

/** Frames as a guest sends them to the MMDS (virtio_net_hdr first, checksums right), for the MMDS tests. */
public final class GuestFrames {
    public static final byte[] GUEST_MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    public static final int GUEST_IP = 0xA9FE0002; // 169.254.0.2
    public static final int MMDS_IP = MmdsStore.DEFAULT_IPV4;

    public static final int FIN = MmdsStack.FIN;
    public static final int SYN = MmdsStack.SYN;
    public static final int RST = MmdsStack.RST;
    public static final int PSH = MmdsStack.PSH;
    public static final int ACK = MmdsStack.ACK;

    private GuestFrames() {}

    /** Asserts the IPv4 header and TCP checksums of a frame the stack made. */
    public static void assertValidChecksums(byte[] frame) {
        int ip = 12 + 14;
        assertEquals(0, MmdsStack.checksum(frame, ip, 20, 0), "IPv4 header checksum");
        int total = MmdsStack.u16(frame, ip + 2);
        int src = MmdsStack.i32(frame, ip + 12);
        int dst = MmdsStack.i32(frame, ip + 16);
        assertEquals(0, MmdsStack.checksum(frame, ip + 20, total - 20, MmdsStack.pseudoHeader(src, dst, total - 20)),
                "TCP checksum");
    }

    /** An ARP packet (op 1 request, 2 reply) from the guest about {@code target}. */
    public static byte[] arp(int op, int target) {
        ByteBuffer b = ByteBuffer.allocate(12 + 14 + 28);
        b.position(12);
        b.put(new byte[] {-1, -1, -1, -1, -1, -1}).put(GUEST_MAC).putShort((short) 0x0806);
        b.putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4).putShort((short) op);
        b.put(GUEST_MAC).putInt(GUEST_IP).put(new byte[6]).putInt(target);
        return b.array();
    }

    public static byte[] syn(int port, int seq) {
        return tcpWithMss(port, seq, 1460);
    }

    public static byte[] tcpWithMss(int port, int seq, int mss) {
        byte[] f = tcp(MMDS_IP, port, 80, seq, 0, MmdsStack.SYN, 64240, new byte[0], mss);
        return f;
    }

    public static byte[] tcp(int dst, int srcPort, int dstPort, int seq, int ack, int flags, int window, byte[] data) {
        return tcp(dst, srcPort, dstPort, seq, ack, flags, window, data, -1);
    }

    /** A guest TCP/IPv4 frame with correct checksums (an MSS option when {@code mss} >= 0). */
    public static byte[] tcp(int dst, int srcPort, int dstPort, int seq, int ack, int flags, int window, byte[] data,
                             int mss) {
        int opts = mss >= 0 ? 4 : 0;
        int tcpLen = 20 + opts + data.length;
        ByteBuffer b = ByteBuffer.allocate(12 + 14 + 20 + tcpLen);
        b.position(12);
        b.put(MmdsStack.MAC).put(GUEST_MAC).putShort((short) 0x0800);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + tcpLen)).putShort((short) 0).putShort((short) 0x4000)
                .put((byte) 64).put((byte) 6).putShort((short) 0).putInt(GUEST_IP).putInt(dst);
        b.putShort((short) srcPort).putShort((short) dstPort).putInt(seq).putInt(ack)
                .put((byte) (((20 + opts) / 4) << 4)).put((byte) flags).putShort((short) window).putInt(0);
        if (mss >= 0) {
            b.put((byte) 2).put((byte) 4).putShort((short) mss);
        }
        b.put(data);
        byte[] f = b.array();
        fixIpChecksum(f);
        MmdsStack.put16(f, 12 + 14 + 20 + 16, MmdsStack.checksum(f, 12 + 14 + 20, tcpLen,
                MmdsStack.pseudoHeader(GUEST_IP, dst, tcpLen)));
        return f;
    }

    public static void fixIpChecksum(byte[] f) {
        MmdsStack.put16(f, 12 + 14 + 10, 0);
        MmdsStack.put16(f, 12 + 14 + 10, MmdsStack.checksum(f, 12 + 14, 20, 0));
    }
}
