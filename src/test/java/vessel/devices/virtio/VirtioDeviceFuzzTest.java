package vessel.devices.virtio;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Each virtio device's request path on fuzzed rings in real guest memory: the driver's descriptors, ring
 * indices and request bytes all come from the fuzzer. Whatever the guest wrote, the device must not throw
 * at the vCPU (a broken ring goes to needsReset), must write guest memory only inside device-writable
 * buffers and its used rings, and must use no more chains than were made available ({@link FuzzedRing}).
 */
class VirtioDeviceFuzzTest {
    private static final byte[] MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    /** Devices live across executions, as in a VM whose driver resets them: activate, serve, reset. */
    private static VirtioBlock blk;
    private static VirtioNetTest.MemoryBackend netBackend;
    private static VirtioNet net;
    private static VirtioVsock vsock;

    private static Path scratch() throws IOException {
        Path dir = Path.of(System.getProperty("vessel.fuzz.scratch", "target/fuzz-scratch"));
        Files.createDirectories(dir);
        return dir;
    }

    @FuzzTest(maxDuration = "5s")
    void rng(FuzzedDataProvider data) throws VirtQueueException {
        VirtioRng rng = new VirtioRng(dst -> Arrays.fill(dst, (byte) 0x5a));
        serve(data, rng, 1, 0L);
    }

    /**
     * virtio-pmem: fuzzed flush requests (any lengths, any type, any layout) with a backing file that fails
     * at random: only the status word of a writable buffer is ever written.
     */
    @FuzzTest(maxDuration = "5s")
    void pmem(FuzzedDataProvider data) throws VirtQueueException {
        boolean fail = data.consumeBoolean();
        VirtioPmem pmem = new VirtioPmem(new VirtioPmem.Region(0x1_0000_0000L, VirtioPmem.ALIGNMENT), () -> {
            if (fail) {
                throw new IOException("fuzzed failure");
            }
        });
        serve(data, pmem, 1, 0L);
    }

    /**
     * virtio-input: fuzzed config-space questions (any offset, size, select and subsel) must answer within
     * the 128-byte window, and fuzzed input events go into fuzzed event buffers.
     */
    @FuzzTest(maxDuration = "5s")
    void input(FuzzedDataProvider data) throws VirtQueueException {
        VirtioInput dev = new VirtioInput(data.consumeBoolean() ? VirtioInput.Kind.KEYBOARD : VirtioInput.Kind.TABLET,
                "fuzz");
        for (int i = data.consumeInt(0, 8); i > 0; i--) {
            int size = 1 << data.consumeInt(0, 3);
            int offset = data.consumeInt(0, VirtioInput.CONFIG_SIZE + 8);
            dev.writeConfig(offset, size, data.consumeLong());
            if (dev.readConfig(2, 1) > VirtioInput.CONFIG_DATA_SIZE) {
                throw new AssertionError("config answer longer than its 128-byte window");
            }
            dev.readConfig(data.consumeInt(0, VirtioInput.CONFIG_SIZE + 8), size);
        }
        for (int i = data.consumeInt(0, 40); i > 0; i--) {
            if (data.consumeBoolean()) {
                dev.key(data.consumeInt(), data.consumeBoolean());
            } else {
                dev.pointer(data.consumeInt(), data.consumeInt(), data.consumeInt(0, 31), data.consumeInt(),
                        data.consumeInt());
            }
        }
        serve(data, dev, 2, 0L);
    }

    @FuzzTest(maxDuration = "5s")
    void block(FuzzedDataProvider data) throws VirtQueueException, IOException {
        if (blk == null) {
            Path image = scratch().resolve("blk-fuzz.img");
            Files.write(image, new byte[64 * 512]);
            blk = new VirtioBlock(image, false, "fuzz");
        }
        serve(data, blk, 1, data.consumeLong() & blk.deviceFeatures());
    }

    @FuzzTest(maxDuration = "5s")
    void net(FuzzedDataProvider data) throws VirtQueueException {
        if (net == null) {
            netBackend = new VirtioNetTest.MemoryBackend(true);
            net = new VirtioNet(netBackend, MAC);
        }
        // Frames waiting on the host side, as the TAP would hand them over (virtio_net_hdr first).
        for (int frames = data.consumeInt(0, 3); frames > 0; frames--) {
            netBackend.deliver(data.consumeBytes(data.consumeInt(12, 2048)));
        }
        serve(data, net, 2, data.consumeLong() & net.deviceFeatures());
        netBackend.drain();
    }

    @FuzzTest(maxDuration = "5s")
    void vsock(FuzzedDataProvider data) throws VirtQueueException, IOException {
        if (vsock == null) {
            Path uds = scratch().resolve("vsock-fuzz.sock");
            Files.deleteIfExists(uds);
            vsock = new VirtioVsock(3, uds);
        }
        serve(data, vsock, 2, data.consumeLong() & vsock.deviceFeatures());
    }

    /**
     * The balloon on five fuzzed rings (inflate, deflate, statistics, hinting, reporting). It may zero any
     * RAM page the driver names (that is inflating), so the check is that it stays in RAM and in bounds,
     * not that it writes only into writable buffers.
     */
    @FuzzTest(maxDuration = "5s")
    void balloon(FuzzedDataProvider data) throws VirtQueueException {
        VirtioBalloon balloon = new VirtioBalloon(data.consumeInt(0, 1 << 16),
                new VirtioBalloon.Features(true, true, true, true), 1);
        if (data.consumeBoolean()) {
            balloon.startHinting(data.consumeBoolean());
        }
        serve(data, balloon, 5, data.consumeLong() & balloon.deviceFeatures(), false);
        balloon.stats();
    }

    private static void serve(FuzzedDataProvider data, VirtioDevice device, int queues, long features)
            throws VirtQueueException {
        serve(data, device, queues, features, true);
    }

    /**
     * Activates {@code device} on {@code queues} fuzzed rings (an event queue, if it has one, stays off),
     * notifies queues in a fuzzed order, resets it (which waits out its own threads' work on the rings) and
     * checks what it wrote.
     */
    private static void serve(FuzzedDataProvider data, VirtioDevice device, int queues, long features,
                              boolean onlyWritableBuffers) throws VirtQueueException {
        FuzzedRing ring = new FuzzedRing();
        List<VirtQueue> active = new ArrayList<>();
        for (int q = 0; q < queues; q++) {
            ring.build(data, q, true);
        }
        for (int q = 0; q < queues; q++) {
            active.add(ring.queue(q, device.queueMaxSize(), data.consumeBoolean(), true));
        }
        List<VirtQueue> all = new ArrayList<>(active);
        while (all.size() < device.queueCount()) {
            all.add(null);
        }
        int notifies = data.consumeInt(1, 4);
        int[] order = new int[notifies];
        for (int i = 0; i < notifies; i++) {
            order[i] = data.consumeInt(0, queues - 1);
        }
        ring.fillData(data);
        ring.snapshot();
        RecordingInterrupt irq = new RecordingInterrupt();
        device.activate(ring.memory, all, features, irq);
        try {
            for (int q : order) {
                device.queueNotified(q);
            }
        } catch (UncheckedIOException e) {
            throw new AssertionError("host I/O error thrown at the vCPU", e);
        } finally {
            device.reset();
        }
        if (onlyWritableBuffers) {
            ring.checkDeviceWrites(queues);
        }
    }
}
