package vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.Objects;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A preallocated array of {@code struct iovec} for {@link Libc#readvRaw}/{@link Libc#writevRaw}: made
 * once (per queue), refilled per call, so scatter-gather I/O between a descriptor and guest memory
 * allocates nothing. An entry can only describe bytes inside a segment the caller holds
 * ({@link #set}), never a raw address. Layout pinned against {@code sys/uio.h} by {@code IoVecLayoutTest}.
 */
public final class IoVec {
    /** {@code struct iovec { void *iov_base; size_t iov_len; }}. */
    public static final StructLayout IOVEC = MemoryLayout.structLayout(
            ADDRESS.withName("iov_base"), JAVA_LONG.withName("iov_len")).withName("iovec");
    /** The most entries one readv/writev takes (Linux's UIO_MAXIOV). */
    public static final int IOV_MAX = 1024;

    private static final long ENTRY = IOVEC.byteSize();
    /** All of the address space, for {@link #gather} and {@link #scatter} (tests' and slow paths' copies). */
    private static final MemorySegment EVERYTHING = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private final MemorySegment entries;
    private final int capacity;

    public IoVec(int capacity) {
        if (capacity < 1 || capacity > IOV_MAX) {
            throw new IllegalArgumentException("an iovec array of " + capacity + " entries (1 to " + IOV_MAX + ")");
        }
        this.capacity = capacity;
        // Freed with this object: a device thread may still be in a call while the device closes.
        this.entries = Arena.ofAuto().allocate(IOVEC, capacity);
    }

    public int capacity() {
        return capacity;
    }

    /** Entry {@code index} describes {@code [offset, offset + length)} of {@code base}, a native segment. */
    public void set(int index, MemorySegment base, long offset, long length) {
        Objects.checkIndex(index, capacity);
        Objects.checkFromIndexSize(offset, length, base.byteSize());
        if (!base.isNative()) {
            throw new IllegalArgumentException("a heap segment cannot be handed to the kernel");
        }
        entries.set(JAVA_LONG, index * ENTRY, base.address() + offset);
        entries.set(JAVA_LONG, index * ENTRY + 8, length);
    }

    /** The length entry {@code index} describes. */
    public long length(int index) {
        Objects.checkIndex(index, capacity);
        return entries.get(JAVA_LONG, index * ENTRY + 8);
    }

    /** The native array, for the downcalls. */
    MemorySegment entries() {
        return entries;
    }

    /**
     * Copies up to {@code len} bytes from the buffers of the first {@code count} entries, in order, into
     * {@code dst}; returns how many. For paths that must look at the bytes (tests, the MMDS), not the
     * per-frame one.
     */
    public int gather(int count, byte[] dst, int len) {
        Objects.checkFromIndexSize(0, count, capacity);
        Objects.checkFromIndexSize(0, len, dst.length);
        int done = 0;
        for (int i = 0; i < count && done < len; i++) {
            int n = (int) Math.min(length(i), len - done);
            MemorySegment.copy(EVERYTHING, JAVA_BYTE, entries.get(JAVA_LONG, i * ENTRY), dst, done, n);
            done += n;
        }
        return done;
    }

    /** Copies {@code src[0, len)} into the buffers of the first {@code count} entries, in order; returns how many fit. */
    public int scatter(byte[] src, int len, int count) {
        Objects.checkFromIndexSize(0, count, capacity);
        Objects.checkFromIndexSize(0, len, src.length);
        int done = 0;
        for (int i = 0; i < count && done < len; i++) {
            int n = (int) Math.min(length(i), len - done);
            MemorySegment.copy(src, done, EVERYTHING, JAVA_BYTE, entries.get(JAVA_LONG, i * ENTRY), n);
            done += n;
        }
        return done;
    }
}
