package vessel.devices.virtio;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/** The split virtqueue's walk of guest-written rings (virtio 1.x section 2.7). */
class VirtQueueFuzzTest {
    /**
     * Pops chains from a fuzzed ring until it is empty or broken: only a VirtQueueException may end the walk,
     * every segment it hands out lies in guest RAM with the readable ones first, no more chains come out
     * than the driver made available, and returning them writes only the used ring.
     */
    @FuzzTest(maxDuration = "5s")
    void popChains(FuzzedDataProvider data) throws VirtQueueException {
        FuzzedRing ring = new FuzzedRing();
        boolean eventIdx = data.consumeBoolean();
        boolean indirect = data.consumeBoolean();
        ring.build(data, 0, indirect);
        VirtQueue queue = ring.queue(0, VirtQueue.MAX_QUEUE_SIZE, eventIdx, indirect);
        ring.snapshot();
        int popped = 0;
        try {
            for (DescriptorChain chain; (chain = queue.pop()) != null; ) {
                if (++popped > FuzzedRing.SIZE) {
                    throw new AssertionError("popped " + popped + " chains from a ring of " + FuzzedRing.SIZE);
                }
                long readable = 0;
                for (int s = 0; s < chain.segmentCount(); s++) {
                    if (!ring.memory.contains(chain.address(s), chain.length(s))) {
                        throw new AssertionError("segment " + s + " of " + chain + " is outside guest RAM");
                    }
                    if (chain.writable(s) != (s >= chain.readableCount())) {
                        throw new AssertionError("segment order of " + chain);
                    }
                    readable += chain.writable(s) ? 0 : chain.length(s);
                }
                if (readable != chain.readableLength()) {
                    throw new AssertionError("readable length of " + chain);
                }
                queue.addUsed(chain.head(), (int) Math.min(chain.writableLength(), Integer.MAX_VALUE));
                queue.needsNotification();
            }
        } catch (VirtQueueException expected) {
            // a broken ring: the device stops using the queue
        }
        ring.checkDeviceWrites(1);
    }
}
