package vessel.boot.linux;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import vessel.boot.ImageException;

/**
 * The growing output of one decompression, refusing to hold more than {@code limit} bytes: the guard
 * against a decompression bomb, a small payload that would expand to exhaust the heap. Decoders write
 * into {@link #array()} directly so the kernel's tens of megabytes are not copied chunk by chunk.
 */
final class BoundedOutput {
    private static final int MIN_CAPACITY = 64 * 1024;
    /** The largest array the JVM reliably allocates. */
    private static final int MAX_ARRAY = Integer.MAX_VALUE - 8;

    private final String name;
    private final CompressionFormat format;
    private final int limit;
    private byte[] buffer;
    private int size;

    /** {@code initialCapacity} is a guess (never trusted as a bound); it is kept within [64 KiB, limit]. */
    BoundedOutput(String name, CompressionFormat format, int limit, long initialCapacity) {
        this.name = name;
        this.format = format;
        this.limit = limit;
        this.buffer = new byte[(int) Math.min(limit, Math.max(MIN_CAPACITY, initialCapacity))];
    }

    byte[] array() {
        return buffer;
    }

    int size() {
        return size;
    }

    /**
     * Makes room to write {@code bytes} more at {@link #size()}, failing as a bomb if that would pass the
     * limit.
     */
    void makeRoom(long bytes) throws ImageException {
        if (bytes > limit - size) {
            throw tooLargeError();
        }
        if (size + bytes > buffer.length) {
            grow(size + bytes);
        }
    }

    /** Bytes that can be written at {@link #size()} without growing. */
    int room() {
        return buffer.length - size;
    }

    /** Appends {@code bytes[0, length)}. */
    void append(byte[] bytes, int length) throws ImageException {
        makeRoom(length);
        System.arraycopy(bytes, 0, buffer, size, length);
        advance(length);
    }

    /** Appends all of {@code chunk}. */
    void append(MemorySegment chunk) throws ImageException {
        int length = (int) chunk.byteSize();
        makeRoom(length);
        MemorySegment.copy(chunk, ValueLayout.JAVA_BYTE, 0, buffer, size, length);
        advance(length);
    }

    /** Records that {@code written} bytes were written at {@link #size()}. */
    void advance(int written) throws ImageException {
        size += written;
        if (size > limit) {
            throw tooLargeError();
        }
    }

    /** Appends everything {@code in} produces, failing as soon as it exceeds the limit. */
    void readFully(InputStream in) throws IOException, ImageException {
        while (true) {
            if (size == buffer.length) {
                // Full, perhaps exactly at the expected size: only grow (and copy) if data remains.
                int next = in.read();
                if (next < 0) {
                    return;
                }
                grow(size + 1L);
                buffer[size] = (byte) next;
                advance(1);
            }
            int n = in.read(buffer, size, buffer.length - size);
            if (n < 0) {
                return;
            }
            advance(n);
        }
    }

    /** The output; the working array itself when it is exactly full, which saves copying a whole kernel. */
    byte[] toByteArray() {
        return size == buffer.length ? buffer : Arrays.copyOf(buffer, size);
    }

    private void grow(long needed) {
        // One byte past the limit is room enough to notice a stream running over it.
        long capacity = Math.max(needed, Math.min((long) buffer.length * 2, limit + 1L));
        if (capacity > MAX_ARRAY) {
            capacity = MAX_ARRAY;
        }
        buffer = Arrays.copyOf(buffer, (int) capacity);
    }

    ImageException tooLargeError() {
        return tooLarge(name, format, limit);
    }

    static ImageException tooLarge(String name, CompressionFormat format, int limit) {
        return new ImageException(name + ": " + format.displayName() + " payload decompresses to more than "
                + KernelDecompressor.describeSize(limit) + ", the output limit (corrupt, or a decompression bomb)");
    }
}
