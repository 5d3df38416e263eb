package vessel.devices.virtio;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

import vessel.memory.GuestMemory;
import vessel.sys.IoVec;

/**
 * One request from the driver: the head index to return with {@link VirtQueue#addUsed}, and its buffers
 * (segments) in guest memory, device-readable ones first, then device-writable ones. Every segment was
 * checked against guest RAM when the chain was popped and is kept as a copy, so the driver cannot move it
 * afterwards.
 *
 * <p>Offsets in {@link #read} and {@link #write} count from the start of the readable part and the
 * writable part respectively, across segment boundaries: a device parses a request without caring how
 * the driver split it (virtio 1.x, Message Framing).
 */
public final class DescriptorChain {
    private final GuestMemory memory;
    // Final but for refill: a device may have VirtQueue.pop refill a chain it is done with.
    private int head;
    private long[] addresses;
    private int[] lengths;
    private int count;
    private int readableCount;
    private long readableLength;
    private long writableLength;

    DescriptorChain(GuestMemory memory, int head, long[] addresses, int[] lengths, int readableCount) {
        this.memory = memory;
        this.addresses = addresses;
        this.lengths = lengths;
        set(head, lengths.length, readableCount);
    }

    /**
     * An empty chain for {@link VirtQueue#pop(DescriptorChain)} to fill, again and again: a device that
     * keeps one per request slot pops without allocating.
     */
    public static DescriptorChain recyclable(GuestMemory memory) {
        return new DescriptorChain(memory, 0, new long[4], new int[4], 0);
    }

    /** Refills this chain with the first {@code count} entries of {@code addresses} and {@code lengths}. */
    void refill(int head, long[] addresses, int[] lengths, int count, int readableCount) {
        if (this.addresses.length < count) {
            this.addresses = new long[Math.max(count, 2 * this.addresses.length)];
            this.lengths = new int[this.addresses.length];
        }
        System.arraycopy(addresses, 0, this.addresses, 0, count);
        System.arraycopy(lengths, 0, this.lengths, 0, count);
        set(head, count, readableCount);
    }

    /** The memory the chain's segments are in (a recycled chain is refilled only from a queue in it). */
    GuestMemory memory() {
        return memory;
    }

    private void set(int head, int count, int readableCount) {
        this.head = head;
        this.count = count;
        this.readableCount = readableCount;
        long readable = 0;
        long writable = 0;
        for (int i = 0; i < count; i++) {
            if (i < readableCount) {
                readable += Integer.toUnsignedLong(lengths[i]);
            } else {
                writable += Integer.toUnsignedLong(lengths[i]);
            }
        }
        this.readableLength = readable;
        this.writableLength = writable;
    }

    /** The descriptor index the chain starts at: what {@link VirtQueue#addUsed} returns to the driver. */
    public int head() {
        return head;
    }

    public int segmentCount() {
        return count;
    }

    /** Segments {@code [0, readableCount())} are device-readable, the rest device-writable. */
    public int readableCount() {
        return readableCount;
    }

    public long address(int segment) {
        Objects.checkIndex(segment, count);
        return addresses[segment];
    }

    public long length(int segment) {
        Objects.checkIndex(segment, count);
        return Integer.toUnsignedLong(lengths[segment]);
    }

    public boolean writable(int segment) {
        Objects.checkIndex(segment, count);
        return segment >= readableCount;
    }

    /** Guest memory behind a segment, for I/O straight into or out of it (e.g. {@code asByteBuffer()}). */
    public MemorySegment segment(int segment) {
        return memory.slice(address(segment), length(segment));
    }

    /** {@code length} bytes of a segment from {@code offset} on: one slice, where {@code segment(i).asSlice} makes two. */
    public MemorySegment segment(int segment, long offset, long length) {
        Objects.checkFromIndexSize(offset, length, length(segment));
        return memory.slice(addresses[segment] + offset, length);
    }

    /** Total bytes the device may read. */
    public long readableLength() {
        return readableLength;
    }

    /** Total bytes the device may write. */
    public long writableLength() {
        return writableLength;
    }

    /*
     * read and write keep a loop each on purpose: one shared walk with a direction flag grew past what
     * the JIT inlines into the device's request path, and guest-memory slices it used to scalar-replace
     * were allocated again (bench/blk: 120 -> 176-280 bytes per 4 KiB request, batch 32).
     */

    /** Copies {@code len} bytes from offset {@code offset} of the readable part into {@code dst}. */
    public void read(long offset, byte[] dst, int off, int len) {
        Objects.checkFromIndexSize(off, len, dst.length);
        checkRange(offset, len, readableLength);
        int i = 0;
        while (len > 0) {
            long segLen = length(i);
            if (offset >= segLen) {
                offset -= segLen;
                i++;
                continue;
            }
            int n = (int) Math.min(len, segLen - offset);
            memory.read(addresses[i] + offset, dst, off, n);
            off += n;
            len -= n;
            offset = 0;
            i++;
        }
    }

    /** Copies {@code len} bytes of {@code src} to offset {@code offset} of the writable part. */
    public void write(long offset, byte[] src, int off, int len) {
        Objects.checkFromIndexSize(off, len, src.length);
        checkRange(offset, len, writableLength);
        int i = readableCount;
        while (len > 0) {
            long segLen = length(i);
            if (offset >= segLen) {
                offset -= segLen;
                i++;
                continue;
            }
            int n = (int) Math.min(len, segLen - offset);
            memory.write(addresses[i] + offset, src, off, n);
            off += n;
            len -= n;
            offset = 0;
            i++;
        }
    }

    /**
     * Copies {@code len} bytes of native {@code src} from {@code srcOffset} to offset {@code offset} of the
     * writable part; allocates nothing.
     */
    public void write(long offset, MemorySegment src, long srcOffset, int len) {
        Objects.checkFromIndexSize(srcOffset, len, src.byteSize());
        checkRange(offset, len, writableLength);
        int i = readableCount;
        while (len > 0) {
            long segLen = length(i);
            if (offset >= segLen) {
                offset -= segLen;
                i++;
                continue;
            }
            int n = (int) Math.min(len, segLen - offset);
            memory.write(addresses[i] + offset, src, srcOffset, n);
            srcOffset += n;
            len -= n;
            offset = 0;
            i++;
        }
    }

    /** Copies {@code len} bytes from offset {@code offset} of the readable part into native {@code dst}; allocates nothing. */
    public void read(long offset, MemorySegment dst, long dstOffset, int len) {
        Objects.checkFromIndexSize(dstOffset, len, dst.byteSize());
        checkRange(offset, len, readableLength);
        int i = 0;
        while (len > 0) {
            long segLen = length(i);
            if (offset >= segLen) {
                offset -= segLen;
                i++;
                continue;
            }
            int n = (int) Math.min(len, segLen - offset);
            memory.read(addresses[i] + offset, dst, dstOffset, n);
            dstOffset += n;
            len -= n;
            offset = 0;
            i++;
        }
    }

    /**
     * Describes {@code limit} bytes of the readable part from offset {@code offset} (what there is, if
     * less), in order, in {@code iov}'s entries from 0, for a writev of a packet's payload straight from
     * guest memory; returns how many entries, or -1 when {@code iov} has too few.
     */
    public int readableIoVecAt(IoVec iov, long offset, long limit) {
        return ioVec(iov, 0, readableCount, offset, limit, false);
    }

    /**
     * Describes {@code limit} bytes of the writable part from offset {@code offset} (what there is, if
     * less), in order, in {@code iov}'s entries from 0, for a readv straight into guest memory after a
     * header; returns how many entries, or -1 when {@code iov} has too few.
     */
    public int writableIoVecAt(IoVec iov, long offset, long limit) {
        return ioVec(iov, readableCount, count, offset, limit, true);
    }

    private int ioVec(IoVec iov, int from, int to, long offset, long limit, boolean written) {
        int n = 0;
        for (int i = from; i < to && limit > 0; i++) {
            long segLen = Integer.toUnsignedLong(lengths[i]);
            if (offset >= segLen) {
                offset -= segLen;
                continue;
            }
            long len = Math.min(segLen - offset, limit);
            if (n == iov.capacity()) {
                return -1;
            }
            memory.describe(iov, n++, addresses[i] + offset, len, written);
            limit -= len;
            offset = 0;
        }
        return n;
    }

    /**
     * Describes the readable part, in order, in {@code iov}'s entries from 0 (empty segments left out), for
     * a writev straight from guest memory; returns how many entries, or -1 when {@code iov} has too few.
     */
    public int readableIoVec(IoVec iov) {
        int n = 0;
        for (int i = 0; i < readableCount; i++) {
            if (lengths[i] == 0) {
                continue;
            }
            if (n == iov.capacity()) {
                return -1;
            }
            memory.describe(iov, n++, addresses[i], Integer.toUnsignedLong(lengths[i]), false);
        }
        return n;
    }

    /**
     * Describes the first {@code limit} bytes of the writable part (all of it if shorter), in order, in
     * {@code iov}'s entries from 0, for a readv straight into guest memory; returns how many entries, or
     * -1 when {@code iov} has fewer than that plus {@code spare}.
     */
    public int writableIoVec(IoVec iov, long limit, int spare) {
        int n = 0;
        for (int i = readableCount; i < count && limit > 0; i++) {
            long len = Math.min(Integer.toUnsignedLong(lengths[i]), limit);
            if (len == 0) {
                continue;
            }
            if (n + spare >= iov.capacity()) {
                return -1;
            }
            memory.describe(iov, n++, addresses[i], len, true);
            limit -= len;
        }
        return n;
    }

    private static void checkRange(long offset, int len, long available) {
        if (offset < 0 || offset > available - len) {
            throw new IndexOutOfBoundsException("bytes " + offset + " + " + len + " of a " + available + "-byte part");
        }
    }

    @Override
    public String toString() {
        return "chain from head " + head + ": " + readableLength + " bytes readable in " + readableCount
                + " segments, " + writableLength + " writable in " + (count - readableCount);
    }
}
