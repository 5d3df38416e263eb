package vessel.vmm.snapshot;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.devices.legacy.I8042;
import vessel.kvm.VcpuStateBlob;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The state file's round trip, and a clean one-line refusal of each way a file can be wrong. */
class SnapshotFileTest {
    private static String refusal(byte[] file) {
        return assertThrows(SnapshotFormatException.class, () -> SnapshotFile.decode(file, "s")).getMessage();
    }

    @Test
    void aSnapshotComesBackAsItWasWritten(@TempDir Path dir) throws Exception {
        VmSnapshot s = Snapshots.sample(2, VmSnapshot.Type.DIFF);
        Path file = dir.resolve("vm.state");
        SnapshotFile.write(file, s);
        VmSnapshot back = SnapshotFile.read(file);
        assertEquals(s.machine(), back.machine());
        assertEquals(s.deviceNames(), back.deviceNames());
        assertArrayEquals(s.memory().dirtyPages(), back.memory().dirtyPages());
        for (VcpuStateBlob b : VcpuStateBlob.values()) {
            assertArrayEquals(s.vcpus().get(1).blob(b), back.vcpus().get(1).blob(b), b.name());
        }
        assertArrayEquals(s.vcpus().get(0).msrValues(), back.vcpus().get(0).msrValues());
        I8042.State kbd = RecordCodec.decode(back.devices().getFirst().state(), I8042.State.class);
        assertEquals(0xfa, kbd.output());
        assertArrayEquals(new int[] {0x1fa}, kbd.replies());
        assertEquals(-1, kbd.pendingCommand());
        assertEquals(1_000_000L, back.vm().clockNanos());
        // Nothing but the file is left behind (it is written beside itself and renamed).
        assertEquals(1, Files.list(dir).count());
    }

    @Test
    void everyWayAFileIsWrongIsOneLineNamingIt() {
        byte[] good = SnapshotFile.encode(Snapshots.sample(1, VmSnapshot.Type.FULL));
        assertEquals("snapshot file s is not a Vessel state file (no VESSELVM header)", refusal(new byte[0]));
        assertEquals("snapshot file s is not a Vessel state file (no VESSELVM header)",
                refusal("{\"snapshot\": 1}".getBytes()));
        assertEquals("snapshot file s is truncated: 20 bytes, shorter than its header", refusal(Arrays.copyOf(good, 20)));
        assertEquals("snapshot file s is truncated: " + (good.length - 49) + " of " + (good.length - 48) + " body bytes",
                refusal(Arrays.copyOf(good, good.length - 1)));

        byte[] version = good.clone();
        ByteBuffer.wrap(version).putInt(8, 1);
        assertEquals("snapshot file s has format version 1; this Vessel reads version " + SnapshotFile.VERSION, refusal(version));

        byte[] flipped = good.clone();
        flipped[good.length / 2] ^= 0x10;
        assertEquals("snapshot file s is corrupted: its checksum does not match", refusal(flipped));

        byte[] longer = Arrays.copyOf(good, good.length + 3);
        assertEquals("snapshot file s has 3 bytes after its body", refusal(longer));
    }

    @Test
    void aWellSummedBodyWithImpossibleStateIsRefusedByTheRecordThatHoldsIt() {
        VmSnapshot s = Snapshots.sample(1, VmSnapshot.Type.FULL);
        // One vCPU state where the machine says two: re-encode with the count changed.
        VmSnapshot.Machine two = new VmSnapshot.Machine(s.machine().memoryBytes(), 2, true, true,
                s.machine().devices());
        byte[] body = RecordCodec.encode(s);
        byte[] machine = RecordCodec.encode(s.machine());
        byte[] patched = RecordCodec.encode(two);
        System.arraycopy(patched, 0, body, 0, machine.length);
        String msg = refusal(withBody(body));
        assertEquals("snapshot file s does not decode: VmSnapshot: 1 vCPU states for 2 vCPUs", msg);
    }

    @Test
    void lengthsThatRunPastTheEndAllocateNothing() {
        // The machine (memory, cpus, two flags), then the first irqchip's byte[] length of 2^31-1.
        byte[] body = ByteBuffer.allocate(18).putLong(16L << 20).putInt(1).put((byte) 1).put((byte) 0)
                .putInt(Integer.MAX_VALUE).array();
        assertEquals("snapshot file s does not decode: a length of 2147483647 runs past the end of the state",
                refusal(withBody(body)));
        assertEquals("snapshot file s does not decode: state ends inside a long",
                refusal(withBody(new byte[3])));
    }

    static byte[] withBody(byte[] body) {
        return ByteBuffer.allocate(48 + body.length).put(SnapshotFile.MAGIC).putInt(SnapshotFile.VERSION)
                .putInt(body.length).put(SnapshotFile.sha256(body)).put(body).array();
    }
}
