package vessel.vmm;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.util.List;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.devices.virtio.TestDriver;
import vessel.devices.virtio.TestDriver.Buf;
import vessel.devices.virtio.VirtQueue;
import vessel.devices.virtio.VirtioNet;
import vessel.memory.GuestMemory;
import vessel.sys.Tap;
import vessel.testkit.NetNamespace;
import vessel.testkit.SilentInterrupt;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-net moves frames between a real TAP and guest memory without allocating (issue 15): after the JIT
 * has compiled the path, the bytes the serving threads allocate over thousands of frames each way, counted
 * by the JVM's per-thread allocation counters around the device's own calls only (the test driver's ring
 * writes allocate and are left out). The TAP lives in a network namespace of the test's own; the kernel
 * there drops what the guest sends (an unknown EtherType) and sends it UDP datagrams (to a neighbour
 * entered by hand, so no ARP). Needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN); skipped otherwise.
 */
@Timeout(300)
class NetAllocationTest {
    private static final byte[] MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    private static final long RAM = 4 << 20;
    private static final int WARM_UP = 30_000;
    private static final int WINDOW = 10_000;

    private final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @Test
    void framesMoveBetweenTheTapAndGuestMemoryWithoutAllocating() throws Exception {
        NetNamespace ns = NetNamespace.withTap("vt0", "10.0.2.2/24");
        try {
            ns.tool("ip", "neigh", "add", "10.0.2.15", "lladdr", "52:54:00:12:34:56", "dev", "vt0");
        } catch (Exception | AssertionError e) {
            ns.close();
            Assumptions.abort("skipped: no network namespace with a TAP here: " + e.getMessage());
            return;
        }
        try (ns; Arena arena = Arena.ofShared()) {
            GuestMemory memory = TestMemory.of(arena, RAM);
            TestDriver rx = new TestDriver(memory, 0x1000, VirtioNet.QUEUE_SIZE, 0x100000, 0x200000);
            TestDriver tx = new TestDriver(memory, 0x8000, VirtioNet.QUEUE_SIZE, 0x200000, RAM);
            VirtQueue rq = rx.configure(new VirtQueue(VirtioNet.QUEUE_SIZE));
            VirtQueue tq = tx.configure(new VirtQueue(VirtioNet.QUEUE_SIZE));
            rq.activate(memory, false, false);
            tq.activate(memory, false, false);
            // Receive buffers, one page each as Linux's mergeable ones are at most; reposted as they come back.
            long[] rxBuffer = new long[VirtioNet.QUEUE_SIZE];
            for (int i = 0; i < rxBuffer.length; i++) {
                rxBuffer[i] = rx.alloc(4096);
            }
            // One frame to send, its header and its Ethernet frame in separate buffers as the driver may.
            long header = tx.buffer(new byte[VirtioNet.HDR]);
            byte[] ethernet = new byte[1014];
            java.util.Arrays.fill(ethernet, 0, 6, (byte) 0xff);
            System.arraycopy(MAC, 0, ethernet, 6, 6);
            ethernet[12] = (byte) 0x88; // IEEE local experimental EtherType: nothing in the kernel takes it
            ethernet[13] = (byte) 0xb5;
            long body = tx.buffer(ethernet);

            try (VirtioNet net = new VirtioNet(new TapBackend(ns.run(() -> Tap.open("vt0"))), MAC);
                 DatagramSocket udp = ns.run(DatagramSocket::new)) {
                synchronized (net) {
                    net.activate(memory, List.of(rq, tq), VirtioNet.F_MRG_RXBUF, SilentInterrupt.INSTANCE);
                }
                long rxThread = Thread.getAllStackTraces().keySet().stream()
                        .filter(t -> t.getName().equals("virtio-net")).findFirst().orElseThrow().threadId();

                long[] txAllocated = new long[1];
                Runnable send = () -> {
                    for (int i = 0; i < 128; i++) {
                        tx.post(Buf.in(header, VirtioNet.HDR), Buf.in(body, ethernet.length));
                    }
                    long before = threads.getCurrentThreadAllocatedBytes();
                    while (net.queueNotified(VirtioNet.TX)) {
                        // the device stopped at its budget: serve it again, as the event loop would
                    }
                    txAllocated[0] += threads.getCurrentThreadAllocatedBytes() - before;
                    assertEquals(128, tx.reap().size());
                };
                while (net.txFrames() < WARM_UP) {
                    send.run();
                }
                txAllocated[0] = 0;
                long txFrom = net.txFrames();
                while (net.txFrames() < txFrom + WINDOW) {
                    send.run();
                }
                long txFrames = net.txFrames() - txFrom;
                assertEquals(0, net.txDropped());

                long[] rxAllocated = new long[1];
                for (int i = 0; i < rxBuffer.length; i++) {
                    rx.post(Buf.out(rxBuffer[i], 4096));
                }
                net.queueNotified(VirtioNet.RX); // receive may have stalled without buffers (the kernel's own frames)
                byte[] payload = new byte[1000];
                DatagramPacket packet = new DatagramPacket(payload, payload.length, InetAddress.getByName("10.0.2.15"), 9);
                // Datagrams in bursts the TAP's queue (500 frames) holds; the buffers used go back to the ring.
                Runnable receive = () -> {
                    long target = net.rxFrames() + 64;
                    try {
                        for (int i = 0; i < 64; i++) {
                            udp.send(packet);
                        }
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                    long deadline = System.nanoTime() + 10_000_000_000L;
                    while (net.rxFrames() < target) {
                        assertTrue(System.nanoTime() < deadline, () -> "received " + net.rxFrames() + " of " + target
                                + " (dropped " + net.rxDropped() + ")");
                        Thread.onSpinWait();
                    }
                    for (TestDriver.Used u : rx.reap()) {
                        rx.post(Buf.out(rxBuffer[u.head() % rxBuffer.length], 4096)); // heads are reused in order
                    }
                    long before = threads.getCurrentThreadAllocatedBytes();
                    net.queueNotified(VirtioNet.RX);
                    rxAllocated[0] += threads.getCurrentThreadAllocatedBytes() - before;
                };
                // Sent from the namespace's thread, whose socket it is.
                ns.run(() -> {
                    while (net.rxFrames() < WARM_UP) {
                        receive.run();
                    }
                    return null;
                });
                rxAllocated[0] = 0;
                long rxFrom = net.rxFrames();
                long threadFrom = threads.getThreadAllocatedBytes(rxThread);
                ns.run(() -> {
                    while (net.rxFrames() < rxFrom + WINDOW) {
                        receive.run();
                    }
                    return null;
                });
                long rxBytes = threads.getThreadAllocatedBytes(rxThread) - threadFrom + rxAllocated[0];
                long rxFrames = net.rxFrames() - rxFrom;
                assertEquals(0, net.rxDropped());

                System.out.printf("virtio-net over a TAP: transmit %d bytes allocated over %d frames, receive %d bytes"
                        + " (%d on the device's thread) over %d frames%n", txAllocated[0], txFrames, rxBytes,
                        rxBytes - rxAllocated[0], rxFrames);
                // Under a byte per frame: an object per frame is 16 bytes or more; what is left is one-offs over
                // the window (a deoptimization's bookkeeping, a lock's queue node while the thread parks).
                assertTrue(txAllocated[0] < txFrames, txAllocated[0] + " bytes allocated sending " + txFrames + " frames");
                assertTrue(rxBytes < rxFrames, rxBytes + " bytes allocated receiving " + rxFrames + " frames");
            }
        }
    }
}
