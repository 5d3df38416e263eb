package vessel.devices.block;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

/**
 * A disk as the guest sees it: {@link #size()} bytes, read and written at byte offsets, whatever the
 * file's format. Offsets and lengths are the caller's to check against {@link #size()}; an image
 * checks them again only where a bad one could touch the wrong part of its file. Not thread-safe unless
 * {@link #concurrent()} says so: the block device serializes requests to any other image.
 */
public interface DiskImage extends AutoCloseable {
    /** The guest-visible size in bytes. */
    long size();

    /** Fills {@code dst} from its position to its limit with the disk's bytes from {@code offset} on. */
    void read(long offset, ByteBuffer dst) throws IOException;

    /** Writes {@code src} from its position to its limit at {@code offset}. */
    void write(long offset, ByteBuffer src) throws IOException;

    /** Fills {@code dst} with the disk's bytes from {@code offset} on (guest memory, without a copy where it can). */
    default void read(long offset, MemorySegment dst) throws IOException {
        read(offset, dst.asByteBuffer());
    }

    /** Writes {@code src} at {@code offset}. */
    default void write(long offset, MemorySegment src) throws IOException {
        write(offset, src.asByteBuffer());
    }

    /**
     * Writes {@code parts} one after the other from {@code offset} on: one request's scattered buffers
     * (a guest's pages). An image that allocates in clusters takes them together, so that a request
     * covering whole clusters is not seen as page-sized pieces of each, whose first would copy the
     * cluster's old contents.
     */
    default void write(long offset, List<MemorySegment> parts) throws IOException {
        long at = offset;
        for (MemorySegment part : parts) {
            write(at, part);
            at += part.byteSize();
        }
    }

    /** Makes {@code length} bytes from {@code offset} read as zeros. */
    void writeZeroes(long offset, long length) throws IOException;

    /** As above; {@code mayUnmap}: the blocks may be freed too (virtio's WRITE_ZEROES with UNMAP). */
    default void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        writeZeroes(offset, length);
    }

    /**
     * The guest no longer needs {@code length} bytes at {@code offset}: free them if the image can. What
     * they read as afterwards is unspecified (virtio-blk DISCARD); doing nothing is a valid answer.
     */
    default void discard(long offset, long length) throws IOException {
    }

    /** Whether discards and zeroes free blocks in the host file (raw images on most file systems). */
    default boolean punchesHoles() {
        return false;
    }

    /** Whether requests may run on several threads at once (positional I/O and no shared state). */
    default boolean concurrent() {
        return false;
    }

    /**
     * A descriptor whose byte at offset i is the disk's byte i (a raw image's file), for I/O the block
     * device submits to the kernel itself (io_uring); -1 where the image translates offsets (qcow2).
     */
    default int positionalFd() {
        return -1;
    }

    /** Makes every completed write durable (the guest's FLUSH). */
    void flush() throws IOException;

    DiskFormat format();

    @Override
    void close() throws IOException;

    /**
     * Opens {@code file} as {@code format}, or as what its first bytes say when {@code format} is null
     * (logged, so the choice is visible). Read-only images refuse writes. A probed qcow2 image may not name
     * a backing file: a guest that wrote a qcow2 header into its raw disk would otherwise choose a host
     * file to read through it on the next boot (QEMU warns of the same; Firecracker has only raw).
     */
    static DiskImage open(Path file, DiskFormat format, boolean readOnly) throws IOException {
        DiskFormat f = format;
        if (f == null) {
            f = DiskFormat.probe(file);
            System.getLogger("vessel.devices.block").log(Level.INFO,
                    file + ": format " + f.qemuName() + " (probed; name it with format= to skip probing)");
        }
        return switch (f) {
            case RAW -> RawImage.open(file, readOnly);
            case QCOW2 -> Qcow2Image.open(file, readOnly, format != null);
        };
    }
}
