package vessel.devices.virtio;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;

import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

/**
 * A split virtqueue whose descriptor table, available ring and buffer contents come from the fuzzer, laid
 * out in real guest memory (64 KiB, its rings at fixed places so the fuzzer spends its bytes on what the
 * device parses). Before the device runs it snapshots memory; afterwards {@link #checkDeviceWrites} holds the
 * device to the rules a guest relies on: it wrote only into device-writable buffers and the used ring, it
 * used no more chains than the driver made available, and every used entry names a head the driver gave.
 */
final class FuzzedRing {
    static final long RAM = 64 * 1024;
    static final int SIZE = 8;
    static final long DESC = 0x0;
    static final long AVAIL = DESC + 16L * SIZE;
    static final long USED = 0x200;
    static final long USED_END = USED + 6 + 8L * SIZE;
    /** Buffers the fuzzer fills; descriptors may point anywhere, this is just where the content goes. */
    static final long DATA = 0x1000;

    // Freed by the GC, not closed: a device thread (net, vsock) may still look at it after a reset.
    final GuestMemory memory = TestMemory.of(Arena.ofAuto(), RAM);
    private byte[] before;

    /** Fills the rings and buffers for queue {@code q} from {@code data}; each queue gets its own area. */
    static long base(int q) {
        return (long) q * 0x400;
    }

    void build(FuzzedDataProvider data, int q, boolean indirect) {
        long b = base(q);
        int descriptors = data.consumeInt(1, SIZE);
        for (int i = 0; i < descriptors; i++) {
            long at = b + DESC + 16L * i;
            memory.writeLong(at, address(data));
            memory.writeInt(at + 8, length(data));
            int flags = data.consumeInt(0, indirect ? 7 : 3);
            memory.writeShort(at + 12, (short) flags);
            memory.writeShort(at + 14, (short) data.consumeInt(0, SIZE));
            if ((flags & VirtQueue.DESC_F_INDIRECT) != 0 && data.consumeBoolean()) {
                // an indirect table in the data area, entries again fuzzed
                long table = DATA + 0x100L * data.consumeInt(0, 15);
                int entries = data.consumeInt(1, 4);
                memory.writeLong(at, table);
                memory.writeInt(at + 8, 16 * entries);
                for (int e = 0; e < entries; e++) {
                    long d = table + 16L * e;
                    memory.writeLong(d, address(data));
                    memory.writeInt(d + 8, length(data));
                    memory.writeShort(d + 12, (short) data.consumeInt(0, 7));
                    memory.writeShort(d + 14, (short) data.consumeInt(0, entries));
                }
            }
        }
        int entries = data.consumeInt(0, SIZE);
        for (int i = 0; i < entries; i++) {
            memory.writeShort(b + AVAIL + 4 + 2L * i, (short) data.consumeInt(0, SIZE));
        }
        int idx = data.consumeBoolean() ? entries : data.consumeInt(0, 0xFFFF);
        memory.writeShort(b + AVAIL + 2, (short) idx);
    }

    /** Buffer bytes: what the device will parse as its request headers and payloads. */
    void fillData(FuzzedDataProvider data) {
        byte[] content = data.consumeBytes(8192);
        memory.write(DATA, content);
    }

    private static long address(FuzzedDataProvider data) {
        return switch (data.consumeInt(0, 3)) {
            case 0 -> data.consumeLong();
            case 1 -> DATA + 0x10L * data.consumeInt(0, 0x3ff);
            default -> data.consumeLong(0, RAM + 16);
        };
    }

    private static int length(FuzzedDataProvider data) {
        return data.consumeBoolean() ? data.consumeInt() : data.consumeInt(0, 0x2000);
    }

    /** The queue registers the transport would set for queue {@code q}, activated. */
    VirtQueue queue(int q, int maxSize, boolean eventIdx, boolean indirect) throws VirtQueueException {
        VirtQueue queue = new VirtQueue(maxSize);
        queue.size(SIZE);
        queue.descTable(base(q) + DESC);
        queue.availRing(base(q) + AVAIL);
        queue.usedRing(base(q) + USED);
        queue.ready(true);
        queue.activate(memory, eventIdx, indirect);
        return queue;
    }

    void snapshot() {
        before = memory.read(0, (int) RAM);
    }

    /**
     * Every byte that changed lies in a used ring of one of {@code queues} or in a buffer some descriptor
     * (direct or in an indirect table) marks device-writable; each used ring holds at most SIZE new entries,
     * each naming a head below SIZE.
     */
    void checkDeviceWrites(int queues) {
        byte[] after = memory.read(0, (int) RAM);
        List<long[]> buffers = new ArrayList<>();
        List<long[]> tables = new ArrayList<>();
        for (int q = 0; q < queues; q++) {
            tables.add(new long[] {base(q) + DESC, base(q) + DESC + 16L * SIZE});
            for (int i = 0; i < SIZE; i++) {
                addWritable(buffers, tables, base(q) + DESC + 16L * i, true);
            }
        }
        List<long[]> writable = new ArrayList<>(buffers);
        for (int q = 0; q < queues; q++) {
            long b = base(q);
            long[] usedRing = {b + USED, b + USED_END};
            writable.add(usedRing);
            // A driver may hand the device a buffer over its own used ring; what lands there is then its doing.
            if (buffers.stream().anyMatch(r -> overlaps(r, usedRing))) {
                continue;
            }
            int used = memory.readShort(b + USED + 2) & 0xFFFF;
            int avail = (int) readBytes(b + AVAIL + 2, 2);
            if (used > Math.min(avail, SIZE)) {
                throw new AssertionError("queue " + q + ": used idx " + used + " beyond the available idx "
                        + avail + " or the queue size " + SIZE);
            }
            for (int u = 0; u < used; u++) {
                int head = memory.readInt(b + USED + 4 + 8L * u);
                if (head < 0 || head >= SIZE) {
                    throw new AssertionError("queue " + q + ": used entry " + u + " names head " + head);
                }
            }
        }
        // A driver may also hand the device a buffer over a descriptor table: what the device writes there
        // (as told) rewrites descriptors it then follows, so the snapshot's descriptors no longer say what
        // is writable. The pmem finding: a status word written over descriptor 0's address made it point
        // at 0x1, then 0x101, each write as the descriptor said at the time. Only the used-ring checks hold.
        for (long[] buffer : buffers) {
            for (long[] table : tables) {
                if (overlaps(buffer, table)) {
                    return;
                }
            }
        }
        // Arrays.mismatch skips equal runs outside the instrumented code: a byte loop here cost 20x in exec/s.
        for (int i = 0; i < after.length; i++) {
            int d = Arrays.mismatch(before, i, before.length, after, i, after.length);
            if (d < 0) {
                break;
            }
            i += d;
            if (!inside(writable, i)) {
                throw new AssertionError("device wrote guest byte 0x" + Integer.toHexString(i)
                        + " outside every device-writable buffer and used ring");
            }
        }
    }

    private void addWritable(List<long[]> writable, List<long[]> tables, long desc, boolean followIndirect) {
        long address = readBytes(desc, 8);
        long length = readBytes(desc + 8, 4);
        long flags = readBytes(desc + 12, 2);
        if ((flags & VirtQueue.DESC_F_INDIRECT) != 0 && followIndirect) {
            tables.add(new long[] {address, address + Math.min(length, 16L * 4096)});
            for (long e = 0; e < length / 16 && e < 4096; e++) {
                long d = address + 16 * e;
                if (d >= 0 && d + 16 <= RAM) {
                    addWritable(writable, tables, d, false);
                }
            }
        } else if ((flags & VirtQueue.DESC_F_WRITE) != 0) {
            writable.add(new long[] {address, address + length});
        }
    }

    private static boolean overlaps(long[] a, long[] b) {
        return Long.compareUnsigned(a[0], b[1]) < 0 && Long.compareUnsigned(b[0], a[1]) < 0;
    }

    private static boolean inside(List<long[]> ranges, long at) {
        for (long[] r : ranges) {
            if (Long.compareUnsigned(at, r[0]) >= 0 && Long.compareUnsigned(at, r[1]) < 0) {
                return true;
            }
        }
        return false;
    }

    /** A little-endian field of the snapshot, as the driver had written it. */
    private long readBytes(long at, int n) {
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            v = (v << 8) | (before[(int) at + i] & 0xFF);
        }
        return v;
    }
}
