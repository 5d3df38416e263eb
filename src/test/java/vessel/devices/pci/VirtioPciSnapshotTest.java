package vessel.devices.pci;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vessel.devices.virtio.VirtioBlock;
import vessel.devices.virtio.VirtioRng;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;
import vessel.vmm.snapshot.RecordCodec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The virtio-pci transport saved mid-use and put back on a new function over the same guest memory (as a
 * restore maps the memory file): the driver's registers read back, MSI routes are set again, and the
 * queue goes on from its indices instead of starting over.
 */
class VirtioPciSnapshotTest {
    private static final long DESC = 0x10000;
    private static final long AVAIL = 0x11000;
    private static final long USED = 0x12000;
    private static final long BUFFERS = 0x20000;
    private static final int SIZE = 16;

    private final Arena arena = Arena.ofConfined();
    private final GuestMemory memory = TestMemory.of(arena, 1L << 20);

    @AfterEach
    void close() {
        arena.close();
    }

    /** A function and what its MSI sink was told. */
    private record Made(VirtioPciFunction f, List<String> sink) {
    }

    private Made rng() {
        List<String> sink = new ArrayList<>();
        VirtioRng device = new VirtioRng(dst -> java.util.Arrays.fill(dst, (byte) 0x5a));
        VirtioPciFunction f = new VirtioPciFunction("rng", device, memory, new MsiXTable.MsiSink() {
            @Override
            public void route(int vector, long address, int data) {
                sink.add("route " + vector + " " + Long.toHexString(address) + " " + Integer.toHexString(data));
            }

            @Override
            public void signal(int vector) {
                sink.add("msi " + vector);
            }
        }, asserted -> { });
        return new Made(f, sink);
    }

    /** What Linux does: BAR, memory decoding and bus mastering, MSI-X on, features, one queue, DRIVER_OK. */
    private static void bringUp(VirtioPciFunction f) {
        f.config().setBarAddress(VirtioPciFunction.BAR, 0x8000_0000L);
        f.config().write(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        for (int v = 0; v < 2; v++) {
            f.write(VirtioPciFunction.MSIX_TABLE + 16L * v, 4, 0xfee0_0000L);
            f.write(VirtioPciFunction.MSIX_TABLE + 16L * v + 8, 4, 0x40 + v);
            f.write(VirtioPciFunction.MSIX_TABLE + 16L * v + 12, 4, 0);
        }
        int control = f.config().read(0x40, 1) == MsiXTable.CAPABILITY_ID ? 0x42 : msixControl(f);
        f.config().write(control, 2, 0x8000);
        f.configWritten(control, 2);
        f.write(0x14, 1, 1);
        f.write(0x14, 1, 3);
        f.write(0x08, 4, 1);
        f.write(0x0c, 4, 1); // VERSION_1
        f.write(0x14, 1, 0xb);
        f.write(0x10, 2, 0);
        f.write(0x16, 2, 0);
        f.write(0x18, 2, SIZE);
        f.write(0x1a, 2, 1);
        f.write(0x20, 8, DESC);
        f.write(0x28, 8, AVAIL);
        f.write(0x30, 8, USED);
        f.write(0x1c, 2, 1);
        f.write(0x14, 1, 0xf);
    }

    private static int msixControl(VirtioPciFunction f) {
        PciConfigSpace c = f.config();
        for (int cap = c.read(PciConfigSpace.CAPABILITIES_POINTER, 1); cap != 0; cap = c.read(cap + 1, 1)) {
            if (c.read(cap, 1) == MsiXTable.CAPABILITY_ID) {
                return cap + 2;
            }
        }
        throw new AssertionError("no MSI-X capability");
    }

    /** Posts a 32-byte writable buffer as the next avail entry (descriptor {@code n}). */
    private void post(int n) {
        memory.writeLong(DESC + 16L * n, BUFFERS + 64L * n);
        memory.writeInt(DESC + 16L * n + 8, 32);
        memory.writeShort(DESC + 16L * n + 12, (short) 2); // WRITE
        int idx = memory.readShort(AVAIL + 2) & 0xffff;
        memory.writeShort(AVAIL + 4 + 2L * (idx % SIZE), (short) n);
        memory.writeShort(AVAIL + 2, (short) (idx + 1));
    }

    private int usedIdx() {
        return memory.readShort(USED + 2) & 0xffff;
    }

    @Test
    void aRestoredTransportGoesOnFromItsIndicesWithItsRoutesSetAgain() throws Exception {
        Made a = rng();
        bringUp(a.f());
        post(0);
        post(1);
        a.f().queueNotified(0);
        assertEquals(2, usedIdx());
        VirtioPciFunction.State saved = a.f().saveState();
        VirtioPciFunction.State decoded = RecordCodec.decode(RecordCodec.encode(saved), VirtioPciFunction.State.class);

        Made b = rng();
        b.f().restoreState(decoded);
        assertEquals(List.of("route 0 fee00000 40", "route 1 fee00000 41"), b.sink(), "MSI routes for the new VM's KVM");
        assertTrue(b.f().active());
        assertEquals(0x8000_0000L, b.f().config().barAddress(VirtioPciFunction.BAR));
        assertEquals(PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER,
                b.f().config().read(PciConfigSpace.COMMAND, 2));
        assertEquals(0xfL, b.f().read(0x14, 1), "device status");
        assertEquals((long) SIZE, b.f().read(0x18, 2));
        assertEquals(1L, b.f().read(0x1a, 2), "queue vector");
        assertEquals(USED, b.f().read(0x30, 4));
        assertEquals(1L, b.f().read(0x1c, 2), "queue enabled");

        memory.writeInt(BUFFERS + 64 * 2, 0);
        post(2);
        b.sink().clear();
        b.f().queueNotified(0);
        assertEquals(3, usedIdx(), "the third request is the third used entry, not the first again");
        assertEquals(2, memory.readInt(USED + 4 + 8L * 2), "head of used entry 2");
        assertEquals(0x5a5a5a5a, memory.readInt(BUFFERS + 64 * 2));
        assertEquals(List.of("msi 1"), b.sink());
    }

    @Test
    void anInactiveTransportStaysInactive() throws Exception {
        Made a = rng();
        VirtioPciFunction.State saved = a.f().saveState();
        Made b = rng();
        b.f().restoreState(RecordCodec.decode(RecordCodec.encode(saved), VirtioPciFunction.State.class));
        assertTrue(!b.f().active());
        assertEquals(List.of(), b.sink());
        assertEquals(0L, b.f().read(0x14, 1));
    }

    @Test
    void anotherDevicesStateIsRefusedInOneLine() throws Exception {
        Made a = rng();
        bringUp(a.f());
        VirtioPciFunction.State saved = a.f().saveState();
        java.nio.file.Path disk = java.nio.file.Files.createTempFile(java.nio.file.Path.of("target"), "snap", ".img");
        try (VirtioBlock block = new VirtioBlock(writeZeros(disk), false, "d")) {
            VirtioPciFunction f = new VirtioPciFunction("blk", block, memory, new MsiXTable.MsiSink() {
                @Override
                public void route(int vector, long address, int data) {
                }

                @Override
                public void signal(int vector) {
                }
            }, asserted -> { });
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> f.restoreState(saved));
            assertEquals("state of a virtio device of type 4, not 2", e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> block.restoreState(new VirtioBlock.State(99, false, 1)));
        } finally {
            java.nio.file.Files.deleteIfExists(disk);
        }
    }

    @Test
    void aRingOutsideGuestMemoryIsRefused() {
        Made a = rng();
        bringUp(a.f());
        VirtioPciFunction.State s = a.f().saveState();
        var q = s.queues().getFirst();
        var far = new vessel.devices.virtio.VirtQueue.State(q.size(), q.descTable(), q.availRing(), 1L << 40, q.ready(),
                q.active(), q.eventIdx(), q.indirect(), q.nextAvail(), q.nextUsed(), q.signalledUsed());
        List<vessel.devices.virtio.VirtQueue.State> queues = new ArrayList<>(s.queues());
        queues.set(0, far);
        VirtioPciFunction.State bad = new VirtioPciFunction.State(s.deviceType(), s.config(), s.msix(),
                s.deviceFeatureSelect(), s.driverFeatureSelect(), s.driverFeatures(), s.configVector(), s.status(),
                s.configGeneration(), s.queueSelect(), s.isr(), s.active(), s.queueVector(), queues);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> rng().f().restoreState(bad));
        assertTrue(e.getMessage().startsWith("queue 0: used ring at 0x10000000000"), e.getMessage());
    }

    @Test
    void configurationSpaceKeepsOnlyGuestWritableBits() {
        Made a = rng();
        byte[] saved = a.f().config().snapshot();
        saved[PciConfigSpace.VENDOR_ID] = 0x12;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> rng().f().config().restore(saved));
        assertEquals("configuration space differs from this function's at 0x000 (0x12, here 0xf4)", e.getMessage());
        assertArrayEquals(a.f().config().snapshot(), rng().f().config().snapshot());
    }

    private static java.nio.file.Path writeZeros(java.nio.file.Path p) throws java.io.IOException {
        java.nio.file.Files.write(p, new byte[1 << 16]);
        return p;
    }
}
