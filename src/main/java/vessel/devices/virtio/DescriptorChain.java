package vessel.devices.virtio;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

import vessel.memory.GuestMemory;

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
    private final int head;
    private final long[] addresses;
    private final int[] lengths;
    private final int readableCount;
    private final long readableLength;
    private final long writableLength;

    DescriptorChain(GuestMemory memory, int head, long[] addresses, int[] lengths, int readableCount) {
        this.memory = memory;
        this.head = head;
        this.addresses = addresses;
        this.lengths = lengths;
        this.readableCount = readableCount;
        long readable = 0;
        long writable = 0;
        for (int i = 0; i < lengths.length; i++) {
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
        return addresses.length;
    }

    /** Segments {@code [0, readableCount())} are device-readable, the rest device-writable. */
    public int readableCount() {
        return readableCount;
    }

    public long address(int segment) {
        return addresses[segment];
    }

    public long length(int segment) {
        return Integer.toUnsignedLong(lengths[segment]);
    }

    public boolean writable(int segment) {
        Objects.checkIndex(segment, addresses.length);
        return segment >= readableCount;
    }

    /** Guest memory behind a segment, for I/O straight into or out of it (e.g. {@code asByteBuffer()}). */
    public MemorySegment segment(int segment) {
        return memory.slice(addresses[segment], length(segment));
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

    private static void checkRange(long offset, int len, long available) {
        if (offset < 0 || offset > available - len) {
            throw new IndexOutOfBoundsException("bytes " + offset + " + " + len + " of a " + available + "-byte part");
        }
    }

    @Override
    public String toString() {
        return "chain from head " + head + ": " + readableLength + " bytes readable in " + readableCount
                + " segments, " + writableLength + " writable in " + (addresses.length - readableCount);
    }
}
