package vessel.vmm;

import java.lang.foreign.Arena;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.devices.virtio.RecordingInterrupt;
import vessel.devices.virtio.TestDriver;
import vessel.devices.virtio.TestDriver.Buf;
import vessel.devices.virtio.TestDriver.Used;
import vessel.devices.virtio.VirtQueue;
import vessel.devices.virtio.VirtioVsock;
import vessel.memory.GuestMemory;
import vessel.sys.Seccomp;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A guest's first connect to a host port, as LinuxBootTest's guest makes it ({@code vsock-echo connect 2
 * 6000}), in a child JVM under the kill-level seccomp filters, with the threads Vessel has: the device made
 * under the process filter, the guest's notifications served on a thread under the vCPU table, the device's
 * own thread under the device table. A call the tables refuse kills the child (SIGSYS).
 *
 * <p>Linux gives a vsock connect 2 seconds for the RESPONSE. The first run of a downcall (FFM) or of a string
 * concatenation generates code: tens of milliseconds on an idle host, seconds in the nested-KVM VM, where
 * the guest's connect timed out when that happened between its REQUEST and the RESPONSE. So the child logs
 * class loading, and between its REQUEST and the RESPONSE no class may have been generated (hidden classes:
 * lambda forms, downcall stubs, concatenations); then bytes go both ways.
 */
class VsockFirstConnectTest {
    @Test
    void theGuestsFirstConnectIsAnsweredWithoutGeneratingCodeUnderTheFilters(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("classes.log");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                // as the nested VM runs its JVMs, and with what each class came from
                "-XX:TieredStopAtLevel=1", "-Xlog:class+load=info:file=" + log,
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Child.class.getName(), dir.toString()));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), "child (159 = SIGSYS: a call the filter refused):\n" + out);
        assertTrue(out.contains("response op 2 from port 6000"), out);
        assertTrue(out.contains("reply host-echo:guest-hello"), out);

        List<String> lines = Files.readAllLines(log);
        int start = indexOf(lines, Child.RequestSent.class.getName());
        int end = indexOf(lines, Child.ResponseSeen.class.getName());
        assertTrue(start >= 0 && end > start, "markers missing from the class-load log");
        // "[1.040s][info][class,load] jdk.internal.foreign.abi.DowncallStub/0x... source: __JVM_LookupDefineClass__"
        List<String> generated = lines.subList(start, end).stream()
                .filter(l -> l.contains("/0x") && !l.contains("shared objects file"))
                .map(l -> l.replaceAll("^\\S*\\s+(\\S+).*", "$1")).toList();
        assertEquals(List.of(), generated, generated.size() + " classes generated between the guest's REQUEST and"
                + " the RESPONSE (child: " + out.lines().filter(l -> l.startsWith("response")).findFirst().orElse("") + ")");
    }

    private static int indexOf(List<String> lines, String className) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).contains(" " + className + " ")) {
                return i;
            }
        }
        return -1;
    }

    /** The child: filters, the device, then the guest's side on vCPU-kind threads and the host's on main. */
    static final class Child {
        static final int HDR = 44;
        static final long GUEST_CID = 3;
        /** Linux picks a random ephemeral port above 1023: often above 2^31, negative as an int. */
        static final int GUEST_PORT = 0xB3F2_A1C4;

        /** Loaded right before the REQUEST and right after the RESPONSE: markers in the class-load log. */
        static final class RequestSent { }

        static final class ResponseSeen { }

        public static void main(String[] args) throws Exception {
            SeccompPolicy.install(Seccomp.Level.KILL); // as `vessel run` does
            Path uds = Path.of(args[0], "v.sock");
            GuestMemory memory = TestMemory.of(Arena.ofShared(), 1 << 20);
            TestDriver rx = new TestDriver(memory, 0x1000, 64, 0x20000, 0x90000);
            TestDriver tx = new TestDriver(memory, 0x4000, 64, 0x90000, 1 << 20);
            ServerSocketChannel host = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            host.bind(UnixDomainSocketAddress.of(Path.of(uds + "_6000")));
            // Made where VMs are assembled; activated by the guest's driver, on a vCPU.
            VirtioVsock vsock = new VirtioVsock(GUEST_CID, uds);
            vsock.onThreadStart(() -> Seccomp.enterThread(Seccomp.ThreadKind.DEVICE));
            Map<Integer, Long> rxBuffers = new HashMap<>();
            onVcpu(() -> {
                VirtQueue rq = rx.configure(new VirtQueue(VirtioVsock.QUEUE_SIZE));
                VirtQueue tq = tx.configure(new VirtQueue(VirtioVsock.QUEUE_SIZE));
                rq.activate(memory, false, false);
                tq.activate(memory, false, false);
                vsock.activate(memory, Arrays.asList(rq, tq, null), 0, new RecordingInterrupt());
                for (int i = 0; i < 16; i++) {
                    long a = rx.alloc(4096 + HDR);
                    rxBuffers.put(rx.post(Buf.out(a, 4096 + HDR)), a);
                }
                vsock.queueNotified(VirtioVsock.RX);
            });
            Thread.sleep(200); // the device's thread settles in its wait
            onVcpu(() -> {
                new RequestSent();
                long t0 = System.nanoTime();
                send(tx, vsock, 1, 0, new byte[0]); // REQUEST to host port 6000
                List<Used> used = rx.reap();
                long t1 = System.nanoTime();
                new ResponseSeen();
                ByteBuffer h = ByteBuffer.wrap(memory.read(rxBuffers.get(used.getFirst().head()), HDR))
                        .order(ByteOrder.LITTLE_ENDIAN);
                System.out.printf("response op %d from port %d to %d after %.1f ms%n", h.getShort(30), h.getInt(16),
                        Integer.toUnsignedLong(h.getInt(20)), (t1 - t0) / 1e6);
            });
            try (SocketChannel c = host.accept()) {
                onVcpu(() -> {
                    send(tx, vsock, 5, 0, "guest-hello".getBytes(StandardCharsets.US_ASCII)); // RW
                    send(tx, vsock, 4, 2, new byte[0]); // SHUTDOWN: the guest sends no more
                });
                ByteBuffer got = ByteBuffer.allocate(256);
                while (c.read(got) >= 0) {
                    // until the guest's SHUTDOWN reaches the host as end of stream
                }
                c.write(ByteBuffer.wrap("host-echo:".getBytes(StandardCharsets.US_ASCII)));
                c.write(got.flip());
            }
            StringBuilder reply = new StringBuilder();
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (!reply.toString().contains("guest-hello") && System.nanoTime() < deadline) {
                for (Used u : rx.reap()) {
                    long a = rxBuffers.get(u.head());
                    int len = ByteBuffer.wrap(memory.read(a, HDR)).order(ByteOrder.LITTLE_ENDIAN).getInt(24);
                    reply.append(new String(memory.read(a + HDR, len), StandardCharsets.US_ASCII));
                }
                Thread.sleep(5);
            }
            System.out.println("reply " + reply);
            vsock.close();
        }

        /** Runs {@code r} on a new thread under the vCPU table, as a guest's notification is served. */
        private static void onVcpu(ThrowingRunnable r) throws Exception {
            Exception[] failed = new Exception[1];
            Thread t = Thread.ofPlatform().name("vcpu").start(() -> {
                Seccomp.enterThread(Seccomp.ThreadKind.VCPU);
                try {
                    r.run();
                } catch (Exception e) {
                    failed[0] = e;
                }
            });
            t.join();
            if (failed[0] != null) {
                throw failed[0];
            }
        }

        interface ThrowingRunnable {
            void run() throws Exception;
        }

        /** A packet from the guest to host port 6000: header and payload in separate descriptors, as Linux sends. */
        private static void send(TestDriver tx, VirtioVsock vsock, int op, int flags, byte[] data) {
            ByteBuffer b = ByteBuffer.allocate(HDR).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(GUEST_CID).putLong(VirtioVsock.HOST_CID).putInt(GUEST_PORT).putInt(6000).putInt(data.length)
                    .putShort((short) 1).putShort((short) op).putInt(flags).putInt(256 * 1024).putInt(0);
            long header = tx.buffer(b.array());
            if (data.length == 0) {
                tx.post(Buf.in(header, HDR));
            } else {
                tx.post(Buf.in(header, HDR), Buf.in(tx.buffer(data), data.length));
            }
            vsock.queueNotified(VirtioVsock.TX);
        }
    }
}
