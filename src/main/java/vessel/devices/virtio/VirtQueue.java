package vessel.devices.virtio;

import vessel.memory.GuestMemory;

/** Placeholder until the split-virtqueue implementation lands (branch wt-virtio): registers only. */
public final class VirtQueue {
    private final int maxSize;
    private int size;
    private long descTable;
    private long availRing;
    private long usedRing;
    private boolean ready;

    public VirtQueue(int maxSize) {
        this.maxSize = maxSize;
        this.size = maxSize;
    }

    public int maxSize() { return maxSize; }
    public int size() { return size; }
    public void size(int size) { this.size = size; }
    public long descTable() { return descTable; }
    public void descTable(long a) { descTable = a; }
    public long availRing() { return availRing; }
    public void availRing(long a) { availRing = a; }
    public long usedRing() { return usedRing; }
    public void usedRing(long a) { usedRing = a; }
    public boolean ready() { return ready; }
    public void ready(boolean r) { ready = r; }

    public void reset() {
        size = maxSize;
        descTable = availRing = usedRing = 0;
        ready = false;
    }

    public void activate(GuestMemory memory, boolean eventIdx, boolean indirect) throws VirtQueueException {
        throw new VirtQueueException("not implemented");
    }

    public boolean needsNotification() {
        return true;
    }
}
