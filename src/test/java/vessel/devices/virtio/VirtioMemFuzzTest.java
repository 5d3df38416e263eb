package vessel.devices.virtio;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import vessel.memory.PluggableRegion;

/**
 * virtio-mem's request parser and state machine on fuzzed requests (any type, address and block count, with the
 * host's requested size changing in between), then on fuzzed rings. Whatever the driver sends, the device must not
 * throw, must answer ACK, NACK or ERROR (with a STATE value only for STATE), and its plugged size must always be the
 * region's bitmap times the block size, never more than the region, and grow by a PLUG only up to the request.
 */
class VirtioMemFuzzTest {
    static final long BASE = 1L << 32;
    static final long BLOCK = 4096;
    static final int BLOCKS = 64;
    /** One small region for every execution (wrapped arena memory: an unplug zeroes it instead of madvise). */
    private static final PluggableRegion REGION = PluggableRegion.wrap(BASE,
            Arena.global().allocate(BLOCK * BLOCKS, BLOCK), BLOCK);

    private static long anAddress(FuzzedDataProvider data) {
        return switch (data.consumeInt(0, 3)) {
            case 0 -> data.consumeLong();
            case 1 -> BASE + data.consumeLong(-4, BLOCKS + 4) * BLOCK;
            case 2 -> BASE + data.consumeLong(-BLOCK, BLOCKS * BLOCK + BLOCK);
            default -> -data.consumeLong(0, 4) * BLOCK;
        };
    }

    @FuzzTest(maxDuration = "5s")
    void requests(FuzzedDataProvider data) {
        VirtioMem mem = new VirtioMem(REGION, 128L << 20);
        mem.handle(new VirtioMem.Request(VirtioMem.REQ_UNPLUG_ALL, 0, 0));
        check(mem);
        for (int i = data.consumeInt(1, 64); i > 0 && data.remainingBytes() > 0; i--) {
            if (data.consumeInt(0, 7) == 0) {
                mem.setRequestedSize(data.consumeInt(0, BLOCKS) * BLOCK);
            }
            byte[] raw = new byte[VirtioMem.REQUEST_SIZE];
            if (data.consumeBoolean()) {
                byte[] fuzzed = data.consumeBytes(VirtioMem.REQUEST_SIZE);
                System.arraycopy(fuzzed, 0, raw, 0, fuzzed.length);
            } else {
                int type = data.consumeInt(0, 4);
                long addr = anAddress(data);
                int blocks = data.consumeInt(0, 0xffff) >> data.consumeInt(0, 16);
                raw[0] = (byte) type;
                for (int b = 0; b < 8; b++) {
                    raw[8 + b] = (byte) (addr >>> (8 * b));
                }
                raw[16] = (byte) blocks;
                raw[17] = (byte) (blocks >>> 8);
            }
            VirtioMem.Request r = VirtioMem.Request.parse(raw);
            long pluggedBefore = mem.status().pluggedSize();
            VirtioMem.Response resp = mem.handle(r);
            if (resp.type() != VirtioMem.RESP_ACK && resp.type() != VirtioMem.RESP_NACK
                    && resp.type() != VirtioMem.RESP_ERROR) {
                throw new AssertionError("answer " + resp + " to " + r);
            }
            if (resp.state() != 0 && (r.type() != VirtioMem.REQ_STATE || resp.state() > VirtioMem.STATE_MIXED)) {
                throw new AssertionError("state " + resp + " to " + r);
            }
            if (resp.type() != VirtioMem.RESP_ACK && mem.status().pluggedSize() != pluggedBefore) {
                throw new AssertionError("a refused " + r + " changed the plugged size");
            }
            if (r.type() == VirtioMem.REQ_PLUG && resp.type() == VirtioMem.RESP_ACK
                    && mem.status().pluggedSize() > mem.status().requestedSize()) {
                throw new AssertionError("plugged past the request: " + mem.status());
            }
            check(mem);
        }
    }

    private static void check(VirtioMem mem) {
        VirtioMem.Status s = mem.status();
        if (s.pluggedSize() != REGION.pluggedBlocks() * BLOCK || s.pluggedSize() < 0 || s.pluggedSize() > s.regionSize()) {
            throw new AssertionError("plugged size " + s.pluggedSize() + " but " + REGION.pluggedBlocks() + " blocks");
        }
        if (mem.readConfig(40, 8) != s.pluggedSize()) {
            throw new AssertionError("config space plugged_size disagrees");
        }
    }

    /** The device on a fuzzed ring: it writes only into device-writable buffers and its used ring. */
    @FuzzTest(maxDuration = "5s")
    void ring(FuzzedDataProvider data) throws VirtQueueException {
        VirtioMem mem = new VirtioMem(REGION, 128L << 20);
        mem.setRequestedSize(data.consumeInt(0, BLOCKS) * BLOCK);
        FuzzedRing ring = new FuzzedRing();
        ring.build(data, 0, true);
        List<VirtQueue> queues = new ArrayList<>();
        queues.add(ring.queue(0, mem.queueMaxSize(), data.consumeBoolean(), true));
        ring.fillData(data);
        ring.snapshot();
        mem.activate(ring.memory, queues, mem.deviceFeatures(), new RecordingInterrupt());
        try {
            for (int i = data.consumeInt(1, 3); i > 0; i--) {
                mem.queueNotified(0);
            }
        } finally {
            mem.reset();
        }
        ring.checkDeviceWrites(1);
        check(mem);
    }
}
