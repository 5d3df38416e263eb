package vessel.devices.block;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import vessel.sys.Errno;
import vessel.sys.FileIo;
import vessel.sys.Libc;
import vessel.sys.SysException;

/**
 * A raw image: the disk's bytes are the file's bytes, read and written in place with pread/pwrite on its
 * descriptor, straight between the file and guest memory. Positional calls only, so several threads may
 * read and write at once ({@link #concurrent()}). FLUSH is fdatasync; a discard punches a hole and a
 * write of zeros is a zero-range fallocate, with written zeros only where the file system has neither.
 */
public final class RawImage implements DiskImage {
    private static final int ZERO_BUFFER_BYTES = 64 * 1024;

    private final Path path;
    private final int fd;
    private final long size;
    private final boolean readOnly;
    /** Whether the file system punches holes in this file (probed at open). */
    private final boolean holes;
    /** Zeros for file systems without fallocate's zero range; made on first need, only read after. */
    private volatile MemorySegment zeros;
    private final Arena arena = Arena.ofShared();
    private boolean closed;

    private RawImage(Path path, int fd, long size, boolean readOnly) {
        this.path = path;
        this.fd = fd;
        this.size = size;
        this.readOnly = readOnly;
        // Punching past the end with KEEP_SIZE changes nothing but asks the file system whether it can.
        this.holes = !readOnly
                && FileIo.fallocate(fd, FileIo.FALLOC_FL_KEEP_SIZE | FileIo.FALLOC_FL_PUNCH_HOLE, size, 4096) == 0;
    }

    /** Opens {@code image}, read-write unless {@code readOnly}; its size is the file's size now. */
    public static RawImage open(Path image, boolean readOnly) throws IOException {
        if (Files.isDirectory(image)) {
            throw new IOException(image + " is a directory");
        }
        int fd;
        try {
            fd = Libc.open(image.toString(), (readOnly ? Libc.O_RDONLY : Libc.O_RDWR) | Libc.O_CLOEXEC, 0);
        } catch (SysException e) {
            throw switch (e.errno()) {
                case Errno.ENOENT -> new java.nio.file.NoSuchFileException(image.toString());
                case Errno.EACCES, Errno.EPERM -> new java.nio.file.AccessDeniedException(image.toString());
                default -> new java.nio.file.FileSystemException(image.toString(), null, Errno.describe(e.errno()));
            };
        }
        long end = FileIo.lseek(fd, 0, FileIo.SEEK_END);
        if (end < 0) {
            Libc.close(fd);
            throw new IOException(image + ": cannot find its size: " + Errno.describe((int) -end));
        }
        return new RawImage(image, fd, end, readOnly);
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
    public boolean concurrent() {
        return true;
    }

    @Override
    public int positionalFd() {
        return fd;
    }

    @Override
    public boolean punchesHoles() {
        return holes;
    }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        long done = 0;
        while (done < dst.byteSize()) {
            long n = FileIo.pread(fd, done == 0 ? dst : dst.asSlice(done), offset + done); // no slice per call
            if (n == -Errno.EINTR) {
                continue;
            }
            if (n < 0) {
                throw new IOException(path + ": read at " + (offset + done) + ": " + Errno.describe((int) -n));
            }
            if (n == 0) {
                throw new EOFException(path + ": image ends at " + (offset + done) + " (shrunk since it was opened?)");
            }
            done += n;
        }
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        checkWritable();
        long done = 0;
        while (done < src.byteSize()) {
            long n = FileIo.pwrite(fd, done == 0 ? src : src.asSlice(done), offset + done); // no slice per call
            if (n == -Errno.EINTR) {
                continue;
            }
            if (n < 0) {
                throw new IOException(path + ": write at " + (offset + done) + ": " + Errno.describe((int) -n));
            }
            done += n;
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int n = dst.remaining();
        if (dst.isDirect()) {
            read(offset, MemorySegment.ofBuffer(dst));
        } else {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment bounce = a.allocate(n);
                read(offset, bounce);
                dst.put(dst.position(), bounce.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            }
        }
        dst.position(dst.position() + n);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        int n = src.remaining();
        if (src.isDirect()) {
            write(offset, MemorySegment.ofBuffer(src));
        } else {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment bounce = a.allocate(n);
                MemorySegment.copy(MemorySegment.ofBuffer(src), 0, bounce, 0, n);
                write(offset, bounce);
            }
        }
        src.position(src.position() + n);
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        writeZeroes(offset, length, false);
    }

    /**
     * Zeros: a punched hole when {@code mayUnmap} (the blocks are freed), else a zero range that keeps them
     * allocated (a later write cannot then fail for space); written zeros where the file system has neither.
     */
    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        checkWritable();
        int mode = FileIo.FALLOC_FL_KEEP_SIZE | (mayUnmap ? FileIo.FALLOC_FL_PUNCH_HOLE : FileIo.FALLOC_FL_ZERO_RANGE);
        int r = length == 0 ? 0 : FileIo.fallocate(fd, mode, offset, length);
        if (r == -Errno.EOPNOTSUPP && !mayUnmap) {
            // tmpfs, for one, punches holes but has no zero range: a hole reads as zeros just the same.
            r = FileIo.fallocate(fd, FileIo.FALLOC_FL_KEEP_SIZE | FileIo.FALLOC_FL_PUNCH_HOLE, offset, length);
        }
        if (r == 0) {
            return;
        }
        if (r != -Errno.EOPNOTSUPP) {
            throw new IOException(path + ": zeroing " + length + " bytes at " + offset + ": " + Errno.describe(-r));
        }
        MemorySegment z = zeros;
        if (z == null) {
            zeros = z = arena.allocate(ZERO_BUFFER_BYTES);
        }
        for (long done = 0; done < length; ) {
            long n = Math.min(length - done, ZERO_BUFFER_BYTES);
            write(offset + done, z.asSlice(0, n));
            done += n;
        }
    }

    /**
     * Gives the range's blocks back to the file system (a hole; it reads as zeros). Where holes cannot be
     * punched it does nothing, which a discard allows: the guest said it no longer needs the data.
     */
    @Override
    public void discard(long offset, long length) throws IOException {
        checkWritable();
        int r = length == 0 ? 0
                : FileIo.fallocate(fd, FileIo.FALLOC_FL_KEEP_SIZE | FileIo.FALLOC_FL_PUNCH_HOLE, offset, length);
        if (r != 0 && r != -Errno.EOPNOTSUPP) {
            throw new IOException(path + ": discarding " + length + " bytes at " + offset + ": " + Errno.describe(-r));
        }
    }

    /** fdatasync: the data and what is needed to read it back (the size), not the timestamps. */
    @Override
    public void flush() throws IOException {
        if (readOnly) {
            return;
        }
        int r;
        do {
            r = FileIo.fdatasync(fd);
        } while (r == -Errno.EINTR);
        if (r != 0) {
            throw new IOException(path + ": fdatasync: " + Errno.describe(-r));
        }
    }

    private void checkWritable() throws IOException {
        if (readOnly) {
            throw new IOException("image is read-only");
        }
    }

    @Override
    public synchronized void close() throws IOException {
        if (!closed) {
            closed = true;
            Libc.close(fd);
            arena.close();
        }
    }
}
