package vessel.devices.block;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** A raw image: the disk's bytes are the file's bytes, read and written in place. */
public final class RawImage implements DiskImage {
    private static final int ZERO_BUFFER_BYTES = 64 * 1024;

    private final FileChannel file;
    private final long size;
    private final boolean readOnly;
    private ByteBuffer zeros;

    private RawImage(FileChannel file, long size, boolean readOnly) {
        this.file = file;
        this.size = size;
        this.readOnly = readOnly;
    }

    /** Opens {@code image}, read-write unless {@code readOnly}; its size is the file's size now. */
    public static RawImage open(Path image, boolean readOnly) throws IOException {
        FileChannel f = readOnly ? FileChannel.open(image, StandardOpenOption.READ)
                : FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            return new RawImage(f, f.size(), readOnly);
        } catch (IOException e) {
            f.close();
            throw e;
        }
    }

    /** A raw view of an open channel (a qcow2 image's raw backing file), never written. */
    static RawImage readOnlyOf(FileChannel f) throws IOException {
        return new RawImage(f, f.size(), true);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public DiskFormat format() {
        return DiskFormat.RAW;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int start = dst.position();
        while (dst.hasRemaining()) {
            if (file.read(dst, offset + dst.position() - start) < 0) {
                throw new EOFException("image ends at " + (offset + dst.position() - start)
                        + " (shrunk since it was opened?)");
            }
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        checkWritable();
        int start = src.position();
        while (src.hasRemaining()) {
            file.write(src, offset + src.position() - start);
        }
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        checkWritable();
        if (zeros == null) {
            zeros = ByteBuffer.allocateDirect(ZERO_BUFFER_BYTES);
        }
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(length - done, ZERO_BUFFER_BYTES);
            zeros.clear().limit(n);
            write(offset + done, zeros);
            done += n;
        }
    }

    @Override
    public void flush() throws IOException {
        if (!readOnly) {
            file.force(true);
        }
    }

    private void checkWritable() throws IOException {
        if (readOnly) {
            throw new IOException("image is read-only");
        }
    }

    @Override
    public void close() throws IOException {
        file.close();
    }
}
