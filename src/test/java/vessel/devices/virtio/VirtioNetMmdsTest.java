package vessel.devices.virtio;

import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vessel.json.JsonValue;

import vessel.devices.mmds.GuestFrames;
import vessel.devices.mmds.MmdsNetBackend;
import vessel.devices.mmds.MmdsStack;
import vessel.devices.mmds.MmdsStore;
import vessel.devices.virtio.TestDriver.Buf;
import vessel.devices.virtio.TestDriver.Used;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-net with the MMDS in front of its backend, on hand-built rings: frames to the MMDS are answered
 * through the receive queue and never reach the backend; every other frame reaches it unchanged.
 */
class VirtioNetMmdsTest {
    private final Arena arena = Arena.ofShared();
    private final GuestMemory memory = TestMemory.of(arena, 1 << 20);
    private final TestDriver rx = new TestDriver(memory, 0x1000, 64, 0x20000, 0x90000);
    private final TestDriver tx = new TestDriver(memory, 0x4000, 64, 0x90000, 1 << 20);
    private final RecordingInterrupt irq = new RecordingInterrupt();
    private final Map<Integer, Long> rxBuffers = new HashMap<>();
    private VirtioNetTest.MemoryBackend tap;
    private VirtioNet net;

    @AfterEach
    void close() {
        if (net != null) {
            net.close();
        }
        arena.close();
    }

    private void start() throws Exception {
        MmdsStore store = new MmdsStore(MmdsStore.DEFAULT_SIZE_LIMIT);
        store.put(JsonValue.parse("{\"latest\":{\"user-data\":\"hello guest\"}}"));
        tap = new VirtioNetTest.MemoryBackend(false);
        net = new VirtioNet(new MmdsNetBackend(tap, new MmdsStack(store, MmdsStore.DEFAULT_IPV4)), VirtioNetTest.MAC);
        VirtQueue rq = rx.configure(new VirtQueue(VirtioNet.QUEUE_SIZE));
        VirtQueue tq = tx.configure(new VirtQueue(VirtioNet.QUEUE_SIZE));
        rq.activate(memory, false, false);
        tq.activate(memory, false, false);
        net.activate(memory, List.of(rq, tq), VirtioNet.F_MRG_RXBUF, irq);
        for (int i = 0; i < 16; i++) {
            long a = rx.alloc(2048);
            rxBuffers.put(rx.post(Buf.out(a, 2048)), a);
        }
        net.queueNotified(VirtioNet.RX);
    }

    private void send(byte[] frame) {
        long a = tx.buffer(frame);
        tx.post(Buf.in(a, frame.length));
        net.queueNotified(VirtioNet.TX);
    }

    /** The next frame the guest receives, virtio_net_hdr included. */
    private byte[] receive() throws InterruptedException {
        List<Used>[] got = new List[1];
        await(() -> !(got[0] = rx.reap()).isEmpty(), "a received frame");
        assertEquals(1, got[0].size());
        Used u = got[0].getFirst();
        return memory.read(rxBuffers.get(u.head()), u.length());
    }

    private static void await(BooleanSupplier done, String what) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
            Thread.sleep(5);
        }
    }

    @Test
    void arpAndTcpToTheMmdsAreAnsweredAndOtherFramesReachTheTap() throws Exception {
        start();
        byte[] ordinary = GuestFrames.tcp(0x0A000001, 50000, 80, 1, 0, GuestFrames.SYN, 1000, new byte[0]);
        send(ordinary);
        assertEquals(1, tap.sent.size());
        assertArrayEquals(ordinary, tap.sent.getFirst(), "unchanged");

        send(GuestFrames.arp(1, MmdsStore.DEFAULT_IPV4));
        byte[] arp = receive();
        assertEquals(1, arp[10], "num_buffers");
        assertArrayEquals(MmdsStack.MAC, Arrays.copyOfRange(arp, 12 + 14 + 8, 12 + 14 + 14), "sender MAC: the MMDS's");

        send(GuestFrames.syn(40000, 100));
        byte[] synAck = receive();
        GuestFrames.assertValidChecksums(synAck);
        assertEquals(GuestFrames.SYN | GuestFrames.ACK, synAck[12 + 14 + 20 + 13]);
        int isn = java.nio.ByteBuffer.wrap(synAck, 12 + 14 + 20 + 4, 4).getInt();
        byte[] get = "GET /latest/user-data HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        send(GuestFrames.tcp(MmdsStore.DEFAULT_IPV4, 40000, 80, 101, isn + 1, GuestFrames.PSH | GuestFrames.ACK, 64000,
                get));
        byte[] answer = receive();
        GuestFrames.assertValidChecksums(answer);
        String text = new String(answer, 12 + 14 + 20 + 20, answer.length - 66, StandardCharsets.US_ASCII);
        assertTrue(text.startsWith("HTTP/1.1 200 OK\r\n") && text.endsWith("\r\n\r\nhello guest"), text);
        assertEquals(1, tap.sent.size(), "nothing of the MMDS's reached the TAP");
    }
}
