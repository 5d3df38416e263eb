package vessel.vmm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.devices.virtio.VirtQueue;
import vessel.devices.virtio.VirtioBlock;
import vessel.devices.virtio.VirtioInterrupt;
import vessel.memory.GuestMemory;
import vessel.sys.Seccomp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The io_uring engine under Vessel's seccomp filters, for real: a child JVM installs the process filter
 * at the kill level with io_uring allowed (as {@code vessel run} would with URING drives), makes a drive on io_uring, and serves a read and a flush
 * from a thread under the event loop's table, the completion thread under the device table. A call the
 * tables refuse would kill the child with SIGSYS. In the test JVM no filter can be installed (it is for
 * the whole process), hence the child.
 */
class SeccompUringTest {
    @Test
    void aDriveOnIoUringServesUnderTheKillLevelFilters(@TempDir Path dir) throws Exception {
        Path image = dir.resolve("disk.img");
        byte[] content = new byte[64 * 1024];
        for (int i = 0; i < content.length; i++) {
            content[i] = (byte) (i * 13 + 5);
        }
        Files.write(image, content);
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Child.class.getName(), image.toString()));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), "child (159 = SIGSYS: a call the filter refused):\n" + out);
        assertTrue(out.contains("engine URING status 0 0 byte " + content[4096]), out);
    }

    /** The child: filters first, then a drive, then one notification served as the event loop serves it. */
    static final class Child {
        static final long DESC = 0x1000;
        static final long AVAIL = 0x2000;
        static final long USED = 0x3000;
        static final long HEADERS = 0x10000;
        static final long STATUS = 0x11000;
        static final long DATA = 0x20000;

        public static void main(String[] args) throws Exception {
            SeccompPolicy.install(Seccomp.Level.KILL, true);
            GuestMemory memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, 1 << 20)));
            // Request 0: read 4 KiB at sector 8. Request 1: flush.
            descriptor(memory, 0, HEADERS, 16, 1, 1);
            descriptor(memory, 1, DATA, 4096, 1 | 2, 2);
            descriptor(memory, 2, STATUS, 1, 2, 0);
            descriptor(memory, 3, HEADERS + 16, 16, 1, 4);
            descriptor(memory, 4, STATUS + 1, 1, 2, 0);
            memory.writeInt(HEADERS, 0); // T_IN
            memory.writeLong(HEADERS + 8, 8);
            memory.writeInt(HEADERS + 16, 4); // T_FLUSH
            memory.writeByte(STATUS, (byte) 0xff);
            memory.writeByte(STATUS + 1, (byte) 0xff);
            VirtQueue queue = new VirtQueue(VirtioBlock.QUEUE_SIZE);
            queue.size(VirtioBlock.QUEUE_SIZE);
            queue.descTable(DESC);
            queue.availRing(AVAIL);
            queue.usedRing(USED);
            queue.ready(true);
            queue.activate(memory, false, false);
            VirtioBlock blk = new VirtioBlock(Path.of(args[0]), null, false, "seccomp", 1, VirtioBlock.Engine.URING);
            blk.onThreadStart(() -> Seccomp.enterThread(Seccomp.ThreadKind.DEVICE));
            blk.activate(memory, List.of(queue), 0, new VirtioInterrupt() {
                @Override
                public void queue(int index) {
                }

                @Override
                public void config() {
                }

                @Override
                public void needsReset(String why) {
                    System.out.println("needs reset: " + why);
                }
            });
            memory.writeShort(AVAIL + 4, (short) 0);
            memory.writeShort(AVAIL + 6, (short) 3);
            memory.writeShort(AVAIL + 2, (short) 2);
            Thread loop = Thread.ofPlatform().name("event-loop").start(() -> {
                Seccomp.enterThread(Seccomp.ThreadKind.EVENT_LOOP);
                blk.queueNotifiedThenServe(0);
                blk.servePopped();
            });
            loop.join();
            blk.awaitIdle();
            System.out.println("engine " + blk.engine() + " status " + memory.readByte(STATUS) + " "
                    + memory.readByte(STATUS + 1) + " byte " + memory.readByte(DATA));
            blk.close();
        }

        private static void descriptor(GuestMemory memory, int index, long address, int length, int flags, int next) {
            long at = DESC + 16L * index;
            memory.writeLong(at, address);
            memory.writeInt(at + 8, length);
            memory.writeShort(at + 12, (short) flags);
            memory.writeShort(at + 14, (short) next);
        }
    }
}
