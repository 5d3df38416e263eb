package vessel.devices.block;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * A disk as the guest sees it: {@link #size()} bytes, read and written at byte offsets, whatever the
 * file's format. Offsets and lengths are the caller's to check against {@link #size()}; an image
 * checks them again only where a bad one could touch the wrong part of its file. Not thread-safe: the
 * block device serves one request at a time.
 */
public sealed interface DiskImage extends AutoCloseable permits RawImage, Qcow2Image {
    /** The guest-visible size in bytes. */
    long size();

    /** Fills {@code dst} from its position to its limit with the disk's bytes from {@code offset} on. */
    void read(long offset, ByteBuffer dst) throws IOException;

    /** Writes {@code src} from its position to its limit at {@code offset}. */
    void write(long offset, ByteBuffer src) throws IOException;

    /** Makes {@code length} bytes from {@code offset} read as zeros. */
    void writeZeroes(long offset, long length) throws IOException;

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
