package vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;

import org.junit.jupiter.api.Test;

import vessel.testkit.NetNamespace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real TAP, in a network namespace of the test's own (nothing reaches the host's network): the
 * kernel's ARP request arrives through {@link Tap#read} behind the 12-byte virtio-net header, and an
 * ARP reply written with {@link Tap#write} lands in the namespace's neighbour table. Needs root (or
 * CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2; skipped with the reason otherwise.
 */
class TapNamespaceTest {
    private static final byte[] GUEST_MAC = {0x52, 0x54, 0x00, (byte) 0xaa, (byte) 0xbb, (byte) 0xcc};

    @Test
    void framesCrossARealTapBothWays() throws Exception {
        NetNamespace ns = NetNamespace.withTap("vt0", "10.0.2.2/24");
        try (ns; Tap tap = ns.run(() -> Tap.open("vt0")); Arena arena = Arena.ofConfined()) {
            // Anything sent to 10.0.2.99 makes the kernel ask, on the TAP, who has it.
            ns.run(() -> {
                try (DatagramSocket s = new DatagramSocket()) {
                    s.send(new DatagramPacket(new byte[1], 1, InetAddress.getByName("10.0.2.99"), 9));
                }
                return null;
            });
            MemorySegment buf = arena.allocate(2048);
            byte[] arp = null;
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (arp == null && System.nanoTime() < deadline) {
                int n = tap.read(buf);
                byte[] frame = buf.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                if (n > Tap.VNET_HDR_SIZE + 14 && frame[Tap.VNET_HDR_SIZE + 12] == 0x08
                        && frame[Tap.VNET_HDR_SIZE + 13] == 0x06) {
                    arp = java.util.Arrays.copyOfRange(frame, Tap.VNET_HDR_SIZE, n);
                } else if (n == 0) {
                    Thread.sleep(20);
                }
            }
            assertTrue(arp != null, "no ARP request came out of the TAP");
            assertEquals(-1, arp[0], "broadcast destination");
            byte[] senderMac = java.util.Arrays.copyOfRange(arp, 6, 12);

            // The answer: 10.0.2.99 is at GUEST_MAC, behind a zeroed virtio-net header.
            byte[] reply = new byte[Tap.VNET_HDR_SIZE + 42];
            int e = Tap.VNET_HDR_SIZE;
            System.arraycopy(senderMac, 0, reply, e, 6);
            System.arraycopy(GUEST_MAC, 0, reply, e + 6, 6);
            reply[e + 12] = 0x08;
            reply[e + 13] = 0x06;
            byte[] arpHeader = {0, 1, 8, 0, 6, 4, 0, 2};
            System.arraycopy(arpHeader, 0, reply, e + 14, 8);
            System.arraycopy(GUEST_MAC, 0, reply, e + 22, 6);
            System.arraycopy(new byte[] {10, 0, 2, 99}, 0, reply, e + 28, 4);
            System.arraycopy(senderMac, 0, reply, e + 32, 6);
            System.arraycopy(new byte[] {10, 0, 2, 2}, 0, reply, e + 38, 4);
            MemorySegment out = arena.allocate(reply.length);
            out.copyFrom(MemorySegment.ofArray(reply));
            assertTrue(tap.write(out));
            String neighbours = "";
            for (int i = 0; i < 100 && !neighbours.contains("52:54:00:aa:bb:cc"); i++) {
                Thread.sleep(50);
                neighbours = ns.tool("ip", "neigh", "show", "10.0.2.99");
            }
            assertTrue(neighbours.contains("52:54:00:aa:bb:cc"), "the written reply was not taken: " + neighbours);
        }
    }
}
