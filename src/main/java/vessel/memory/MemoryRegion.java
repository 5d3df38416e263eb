package vessel.memory;

import java.lang.foreign.MemorySegment;

/**
 * One contiguous range of guest RAM: guest physical base and the host mapping behind it. The host
 * segment is exposed for the VMM to register with KVM (and later to snapshot); devices never see it.
 */
public record MemoryRegion(int slot, long guestBase, MemorySegment host) {
    public long size() {
        return host.byteSize();
    }

    public long guestEnd() {
        return guestBase + host.byteSize();
    }
}
