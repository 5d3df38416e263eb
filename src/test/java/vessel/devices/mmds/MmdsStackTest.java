package vessel.devices.mmds;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import vessel.json.JsonValue;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static vessel.devices.mmds.GuestFrames.arp;
import static vessel.devices.mmds.GuestFrames.assertValidChecksums;
import static vessel.devices.mmds.GuestFrames.fixIpChecksum;
import static vessel.devices.mmds.GuestFrames.syn;
import static vessel.devices.mmds.GuestFrames.tcp;
import static vessel.devices.mmds.GuestFrames.tcpWithMss;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The MMDS stack fed Ethernet frames as the guest sends them; the frames it answers with are compared byte
 * for byte, checksums included, with frames computed by a separate script (Python's struct and the RFC 1071
 * sum, not this code).
 */
class MmdsStackTest {
    static final int MMDS_IP = MmdsStore.DEFAULT_IPV4;
    static final int ISN = 0x01020304;
    static final HexFormat HEX = HexFormat.of();

    final AtomicLong clock = new AtomicLong(1_000_000_000L);
    MmdsStore store;
    MmdsStack stack;
    final byte[] out = new byte[MmdsStack.MAX_FRAME_OUT];

    @BeforeEach
    void setUp() throws Exception {
        store = new MmdsStore(MmdsStore.DEFAULT_SIZE_LIMIT, clock::get);
        store.put(JsonValue.parse("{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-12345678\"}}}"));
        stack = new MmdsStack(store, MMDS_IP, clock::get, () -> ISN);
    }

    @Test
    void arpRequestForTheMmdsAddressGetsItsMac() {
        byte[] request = arp(1, MMDS_IP);
        assertTrue(stack.isForMmds(request, request.length));
        stack.receive(request, request.length);
        assertArrayEquals(HEX.parseHex("000000000000000000000000525400123456060123456701080600010800060400020601234567"
                + "01a9fea9fe525400123456a9fe0002"), next());
        assertEquals(0, stack.nextFrame(out));
        assertFalse(stack.hasFrames());
    }

    @Test
    void arpForOtherAddressesAndOtherTrafficGoesToTheTap() {
        byte[] other = arp(1, 0xA9FE0001);
        assertFalse(stack.isForMmds(other, other.length));
        byte[] elsewhere = tcp(0x0A000001, 40000, 80, 1, 0, MmdsStack.SYN, 100, new byte[0]);
        assertFalse(stack.isForMmds(elsewhere, elsewhere.length));
        assertFalse(stack.isForMmds(elsewhere, 20), "a runt is never the MMDS's");
        byte[] reply = arp(2, MMDS_IP);
        assertTrue(stack.isForMmds(reply, reply.length));
        stack.receive(reply, reply.length); // a reply to our address is taken and answers nothing
        assertEquals(0, stack.nextFrame(out));
    }

    @Test
    void guestFrameBuilderMatchesTheScript() {
        assertEquals("00000000000000000000000006012345670152540012345608004500002c0000400040063ccfa9fe0002a9fea9fe"
                + "9c400050000003e8000000006002faf0febf0000020405b4", HEX.formatHex(syn(40000, 1000)));
    }

    /** SYN, SYN/ACK, ACK with a GET, the answer, FIN both ways: the whole of one wget. */
    @Test
    void httpGetOverTcpAnswersTheStoreByteForByte() {
        stack.receive(syn(40000, 1000), syn(40000, 1000).length);
        assertArrayEquals(HEX.parseHex("00000000000000000000000052540012345606012345670108004500002c0000400040063ccf"
                + "a9fea9fea9fe000200509c4001020304000003e960121000e5990000020405b4"), next());
        assertEquals(0, stack.nextFrame(out));

        byte[] get = "GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n"
                .getBytes(StandardCharsets.US_ASCII);
        assertEquals(83, get.length);
        byte[] ack = tcp(MMDS_IP, 40000, 80, 1001, ISN + 1, MmdsStack.ACK, 64240, new byte[0]);
        stack.receive(ack, ack.length);
        assertEquals(0, stack.nextFrame(out), "a bare ACK is not answered");
        byte[] request = tcp(MMDS_IP, 40000, 80, 1001, ISN + 1, MmdsStack.PSH | MmdsStack.ACK, 64240, get);
        stack.receive(request, request.length);
        assertTrue(stack.hasFrames());
        byte[] data = next();
        assertArrayEquals(HEX.parseHex("0000000000000000000000005254001234560601234567010800450000a10001400040063c59"
                + "a9fea9fea9fe000200509c40010203050000043c50181000a1dc0000485454502f312e3120323030204f4b0d0a536572"
                + "7665723a2046697265637261636b6572204150490d0a436f6e6e656374696f6e3a20636c6f73650d0a436f6e74656e74"
                + "2d547970653a20746578742f706c61696e0d0a436f6e74656e742d4c656e6774683a2031320d0a0d0a616d692d313233"
                + "3435363738"), data);
        assertArrayEquals(HEX.parseHex("0000000000000000000000005254001234560601234567010800450000280002400040063cd1"
                + "a9fea9fea9fe000200509c400102037e0000043c50111000fc890000"), next(), "FIN after the answer");
        assertEquals(0, stack.nextFrame(out));

        // The guest acknowledges everything and closes its side.
        byte[] fin = tcp(MMDS_IP, 40000, 80, 1084, ISN + 1 + 121 + 1, MmdsStack.FIN | MmdsStack.ACK, 64240,
                new byte[0]);
        stack.receive(fin, fin.length);
        assertArrayEquals(HEX.parseHex("0000000000000000000000005254001234560601234567010800450000280003400040063cd0"
                + "a9fea9fea9fe000200509c400102037f0000043d50101000fc880000"), next(), "the last ACK");
        assertEquals(0, stack.nextFrame(out));
        assertEquals(0, stack.connectionCount(), "closed both ways: forgotten");
    }

    @Test
    void answerLargerThanTheGuestWindowWaitsForAcks() throws Exception {
        StringBuilder big = new StringBuilder();
        for (int i = 0; i < 3000; i++) {
            big.append((char) ('a' + i % 26));
        }
        store.put(JsonValue.parse("{\"big\":\"" + big + "\"}"));
        open(40001, 1000, 536);
        byte[] get = "GET /big HTTP/1.1\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        byte[] request = tcp(MMDS_IP, 40001, 80, 1001, ISN + 1, MmdsStack.ACK, 1000, get);
        stack.receive(request, request.length);
        // MSS 536, window 1000: one full segment and 464 bytes, then nothing until the guest acknowledges.
        ByteBuffer received = ByteBuffer.allocate(8192);
        byte[] first = payload(next());
        byte[] second = payload(next());
        assertEquals(536, first.length);
        assertEquals(464, second.length);
        // The FIN waits for the rest of the answer, which waits for the window: nothing to send, and the
        // receive path must not be told otherwise (it would poll in a loop).
        assertFalse(stack.hasFrames());
        assertEquals(0, stack.nextFrame(out));
        received.put(first).put(second);
        int acked = ISN + 1 + 1000;
        List<Integer> sizes = new ArrayList<>();
        for (int round = 0; round < 20; round++) {
            byte[] a = tcp(MMDS_IP, 40001, 80, 1001 + get.length, acked, MmdsStack.ACK, 1000, new byte[0]);
            stack.receive(a, a.length);
            int n = 0;
            for (int len; (len = stack.nextFrame(out)) > 0; ) {
                byte[] p = payload(java.util.Arrays.copyOf(out, len));
                received.put(p);
                n += p.length;
                sizes.add(p.length);
            }
            if (n == 0) {
                break;
            }
            acked += n;
        }
        String text = new String(received.array(), 0, received.position(), StandardCharsets.US_ASCII);
        assertTrue(sizes.stream().allMatch(s -> s <= 536), sizes.toString());
        assertTrue(text.startsWith("HTTP/1.1 200 OK\r\n"), text);
        assertTrue(text.endsWith("\r\n\r\n" + big), "the whole answer arrived in order");
    }

    @Test
    void segmentsToOtherPortsAndUnknownConnectionsAreReset() {
        byte[] syn = tcp(MMDS_IP, 40002, 8080, 500, 0, MmdsStack.SYN, 1000, new byte[0]);
        stack.receive(syn, syn.length);
        byte[] rst = next();
        assertEquals(MmdsStack.RST | MmdsStack.ACK, rst[12 + 14 + 20 + 13]);
        assertEquals(501, MmdsStack.i32(rst, 12 + 14 + 20 + 8), "ACK covers the SYN");
        assertValidChecksums(rst);
        byte[] stray = tcp(MMDS_IP, 40003, 80, 7, 12345, MmdsStack.ACK, 1000, new byte[0]);
        stack.receive(stray, stray.length);
        byte[] rst2 = next();
        assertEquals(MmdsStack.RST, rst2[12 + 14 + 20 + 13]);
        assertEquals(12345, MmdsStack.i32(rst2, 12 + 14 + 20 + 4), "sequence number taken from the ACK");
        assertEquals(0, stack.connectionCount());
    }

    @Test
    void badChecksumsAndBrokenHeadersAreDroppedAndCounted() {
        byte[] syn = syn(40004, 1);
        syn[syn.length - 1] ^= 1; // the MSS option, under the TCP checksum
        stack.receive(syn, syn.length);
        assertEquals(1, stack.drops(MmdsStack.Drop.BAD_CHECKSUM));
        byte[] ipBad = syn(40004, 1);
        ipBad[12 + 14 + 8] = 1; // TTL, under the IPv4 header checksum
        stack.receive(ipBad, ipBad.length);
        assertEquals(2, stack.drops(MmdsStack.Drop.BAD_CHECKSUM));
        byte[] tooLong = syn(40004, 1);
        MmdsStack.put16(tooLong, 12 + 14 + 2, 2000); // total length beyond the frame
        stack.receive(tooLong, tooLong.length);
        assertEquals(1, stack.drops(MmdsStack.Drop.MALFORMED));
        byte[] udp = syn(40004, 1);
        udp[12 + 14 + 9] = 17;
        fixIpChecksum(udp);
        stack.receive(udp, udp.length);
        assertEquals(1, stack.drops(MmdsStack.Drop.NOT_TCP));
        assertEquals(0, stack.nextFrame(out));
        assertEquals(0, stack.connectionCount());
    }

    @Test
    void needsCsumFramesSkipTheTcpChecksum() {
        byte[] syn = syn(40005, 1);
        syn[0] = 1; // VIRTIO_NET_HDR_F_NEEDS_CSUM: the guest left the TCP checksum partial
        MmdsStack.put16(syn, 12 + 14 + 20 + 16, 0x1234);
        stack.receive(syn, syn.length);
        assertEquals(1, stack.connectionCount());
        assertValidChecksums(next());
    }

    @Test
    void connectionsAreBoundedAndIdleOnesExpire() {
        for (int i = 0; i < MmdsStack.MAX_CONNECTIONS; i++) {
            byte[] s = syn(41000 + i, 1);
            stack.receive(s, s.length);
        }
        assertEquals(MmdsStack.MAX_CONNECTIONS, stack.connectionCount());
        byte[] one = syn(42000, 1);
        stack.receive(one, one.length);
        assertEquals(MmdsStack.MAX_CONNECTIONS, stack.connectionCount());
        assertEquals(1, stack.drops(MmdsStack.Drop.NO_ROOM));
        clock.addAndGet(MmdsStack.IDLE_TIMEOUT_NANOS + 1);
        stack.receive(one, one.length);
        assertEquals(1, stack.connectionCount(), "the idle ones made room");
    }

    @Test
    void tooLargeRequestGets400AndClose() {
        open(40006, 1000, 1460);
        byte[] junk = new byte[MmdsStack.RECEIVE_BUFFER];
        java.util.Arrays.fill(junk, (byte) 'a');
        byte[] seg = tcp(MMDS_IP, 40006, 80, 1001, ISN + 1, MmdsStack.ACK, 64000, junk);
        stack.receive(seg, seg.length);
        String answer = new String(payload(next()), StandardCharsets.US_ASCII);
        assertTrue(answer.startsWith("HTTP/1.1 400 Bad Request\r\n"), answer);
        assertTrue(answer.endsWith("Request too large."), answer);
    }

    // ---- helpers ----

    private void open(int port, int seq, int mss) {
        byte[] s = tcpWithMss(port, seq, mss);
        stack.receive(s, s.length);
        next();
        byte[] ack = tcp(MMDS_IP, port, 80, seq + 1, ISN + 1, MmdsStack.ACK, 64000, new byte[0]);
        stack.receive(ack, ack.length);
    }

    private byte[] next() {
        int n = stack.nextFrame(out);
        assertTrue(n > 0, "a frame was expected");
        return java.util.Arrays.copyOf(out, n);
    }

    private static byte[] payload(byte[] frame) {
        int ip = 12 + 14;
        int total = MmdsStack.u16(frame, ip + 2);
        int t = ip + 20;
        int off = ((frame[t + 12] & 0xFF) >>> 4) * 4;
        return java.util.Arrays.copyOfRange(frame, t + off, ip + total);
    }
}
