package vessel.devices.virtio;

import java.util.ArrayList;
import java.util.List;

import vessel.memory.GuestMemory;

/**
 * The driver's side of a split virtqueue, for tests: lays out the descriptor table and rings in real
 * guest memory, writes descriptors (well-formed or not), publishes heads and reaps used entries. It
 * speaks only the ring format of virtio 1.x section 2.7, never VirtQueue's internals.
 */
public final class TestDriver {
    static final int NEXT = VirtQueue.DESC_F_NEXT;
    static final int WRITE = VirtQueue.DESC_F_WRITE;
    static final int INDIRECT = VirtQueue.DESC_F_INDIRECT;

    /** One buffer of a chain the test posts. */
    public record Buf(long address, long length, boolean writable) {
        public static Buf in(long address, long length) {
            return new Buf(address, length, false);
        }

        public static Buf out(long address, long length) {
            return new Buf(address, length, true);
        }
    }

    /** One used-ring entry. */
    public record Used(int head, int length) {}

    final GuestMemory memory;
    final int size;
    final long desc;
    final long avail;
    final long used;
    private final long ringEnd;
    private final long dataStart;
    private final long dataEnd;
    private long dataNext;
    private int nextDesc;
    private int availIdx;
    private int usedSeen;

    /** Rings for a queue of {@code size} at {@code ringBase}; buffers come from {@code [dataStart, dataEnd)}. */
    public TestDriver(GuestMemory memory, long ringBase, int size, long dataStart, long dataEnd) {
        this.memory = memory;
        this.size = size;
        this.desc = ringBase;
        this.avail = desc + 16L * size;
        this.used = (avail + 6 + 2L * size + 3) & ~3L;
        this.ringEnd = used + 6 + 8L * size;
        this.dataStart = dataStart;
        this.dataEnd = dataEnd;
        reset();
    }

    /** The driver's reset: rings zeroed, indices and buffer space back to the start. */
    void reset() {
        memory.fill(desc, ringEnd - desc, (byte) 0);
        dataNext = dataStart;
        nextDesc = 0;
        availIdx = 0;
        usedSeen = 0;
    }

    /** Writes this driver's queue registers into {@code queue}, as the transport would. */
    public VirtQueue configure(VirtQueue queue) {
        queue.size(size);
        queue.descTable(desc);
        queue.availRing(avail);
        queue.usedRing(used);
        queue.ready(true);
        return queue;
    }

    /** {@code len} bytes of buffer space, 16-byte aligned. */
    public long alloc(long len) {
        long at = dataNext;
        dataNext = (dataNext + len + 15) & ~15L;
        if (dataNext > dataEnd) {
            throw new IllegalStateException("test driver out of buffer space");
        }
        return at;
    }

    public long buffer(byte[] content) {
        long at = alloc(content.length);
        memory.write(at, content);
        return at;
    }

    /** Writes descriptor {@code index} of the table at {@code table}. */
    void writeDesc(long table, int index, long address, long length, int flags, int next) {
        long at = table + 16L * index;
        memory.writeLong(at, address);
        memory.writeInt(at + 8, (int) length);
        memory.writeShort(at + 12, (short) flags);
        memory.writeShort(at + 14, (short) next);
    }

    /** Takes the next descriptor index, round-robin (tests reap before the table wraps onto live chains). */
    int takeDesc() {
        int i = nextDesc;
        nextDesc = (nextDesc + 1) % size;
        return i;
    }

    /** Writes {@code bufs} as a chain of direct descriptors; returns the head, not yet published. */
    int chain(Buf... bufs) {
        int[] idx = new int[bufs.length];
        for (int i = 0; i < bufs.length; i++) {
            idx[i] = takeDesc();
        }
        for (int i = 0; i < bufs.length; i++) {
            boolean last = i == bufs.length - 1;
            writeDesc(desc, idx[i], bufs[i].address(), bufs[i].length(),
                    (bufs[i].writable() ? WRITE : 0) | (last ? 0 : NEXT), last ? 0 : idx[i + 1]);
        }
        return idx[0];
    }

    /** Writes {@code bufs} into an indirect table and one direct descriptor pointing at it; returns the head. */
    int indirectChain(Buf... bufs) {
        long table = indirectTable(bufs);
        int head = takeDesc();
        writeDesc(desc, head, table, 16L * bufs.length, INDIRECT, 0);
        return head;
    }

    /** An indirect table holding {@code bufs} chained in order; returns its address. */
    long indirectTable(Buf... bufs) {
        long table = alloc(16L * bufs.length);
        for (int i = 0; i < bufs.length; i++) {
            boolean last = i == bufs.length - 1;
            writeDesc(table, i, bufs[i].address(), bufs[i].length(),
                    (bufs[i].writable() ? WRITE : 0) | (last ? 0 : NEXT), last ? 0 : i + 1);
        }
        return table;
    }

    /** Makes the chain at {@code head} available: ring entry, then idx. */
    void publish(int head) {
        memory.writeShort(avail + 4 + 2L * (availIdx % size), (short) head);
        availIdx = (availIdx + 1) & 0xFFFF;
        memory.writeShort(avail + 2, (short) availIdx);
    }

    public int post(Buf... bufs) {
        int head = chain(bufs);
        publish(head);
        return head;
    }

    /** Writes avail idx directly, lying about how many entries there are. */
    void availIdx(int idx) {
        memory.writeShort(avail + 2, (short) idx);
    }

    void availFlags(int flags) {
        memory.writeShort(avail, (short) flags);
    }

    void usedEvent(int index) {
        memory.writeShort(avail + 4 + 2L * size, (short) index);
    }

    int availEvent() {
        return memory.readShort(used + 4 + 8L * size) & 0xFFFF;
    }

    public int usedIdx() {
        return memory.readShort(used + 2) & 0xFFFF;
    }

    /** The used entries added since the last reap. */
    public List<Used> reap() {
        List<Used> out = new ArrayList<>();
        int idx = usedIdx();
        while (usedSeen != idx) {
            long at = used + 4 + 8L * (usedSeen % size);
            out.add(new Used(memory.readInt(at), memory.readInt(at + 4)));
            usedSeen = (usedSeen + 1) & 0xFFFF;
        }
        return out;
    }
}
