package vessel.vmm.snapshot;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

import vessel.memory.GuestMemory;
import vessel.memory.MemoryRegion;

/**
 * The memory file: guest RAM's regions one after another, as the guest left them. A diff's file has the
 * full size but holds only the pages its state file lists (the rest are holes, which take no disk).
 */
public final class MemoryFile {
    private static final long PAGE = GuestMemory.PAGE_SIZE;

    private MemoryFile() {}

    /** Zero blocks are skipped in this size: the file keeps a hole there, which reads back as zeros. */
    private static final int BLOCK = 64 * 1024;

    /**
     * Writes all of guest memory: every block that is not all zeros (a guest's never-touched memory,
     * most of a fresh large guest), and holes for the rest, so the file has the guest's full size but
     * takes disk only for what the guest wrote. Returns the bytes written.
     */
    public static long writeFull(GuestMemory memory, Path path) throws IOException {
        MemorySegment zeros = MemorySegment.ofArray(new byte[BLOCK]);
        long written = 0;
        try (FileChannel out = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            long at = 0;
            for (MemoryRegion r : memory.regions()) {
                MemorySegment host = r.host();
                for (long off = 0; off < host.byteSize(); off += BLOCK) {
                    long n = Math.min(BLOCK, host.byteSize() - off);
                    MemorySegment block = host.asSlice(off, n);
                    if (block.mismatch(zeros.asSlice(0, n)) != -1) {
                        writeAll(out, block.asByteBuffer(), at + off);
                        written += n;
                    }
                }
                at += r.size();
            }
            if (out.size() < at) {
                out.write(ByteBuffer.allocate(1), at - 1); // the last block is zeros: this byte is one of them
            }
        }
        return written;
    }

    /**
     * Writes only the pages set in {@code dirty} (one bitmap per region, a bit per page) at their place in a
     * file of guest memory's full size. Returns the dirty list as (first page, count) runs over the file.
     */
    public static long[] writeDiff(GuestMemory memory, List<long[]> dirty, Path path) throws IOException {
        List<Long> runs = new ArrayList<>();
        try (FileChannel out = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            long filePage = 0;
            List<MemoryRegion> regions = memory.regions();
            for (int r = 0; r < regions.size(); r++) {
                MemorySegment host = regions.get(r).host();
                long pages = host.byteSize() / PAGE;
                long[] bits = dirty.get(r);
                long page = 0;
                while (page < pages) {
                    if (!isSet(bits, page)) {
                        page++;
                        continue;
                    }
                    long start = page;
                    while (page < pages && isSet(bits, page)) {
                        page++;
                    }
                    writeAll(out, host.asSlice(start * PAGE, (page - start) * PAGE).asByteBuffer(), (filePage + start) * PAGE);
                    runs.add(filePage + start);
                    runs.add(page - start);
                }
                filePage += pages;
            }
            // The file has the guest's full size, so a diff lines up page for page with its base (the byte
            // written lies in a page the run list does not name, so its value is never read).
            if (out.size() < filePage * PAGE) {
                out.write(ByteBuffer.allocate(1), filePage * PAGE - 1);
            }
        }
        return runs.stream().mapToLong(Long::longValue).toArray();
    }

    private static boolean isSet(long[] bits, long page) {
        int word = (int) (page >>> 6);
        return word < bits.length && (bits[word] & (1L << (page & 63))) != 0;
    }

    /**
     * Applies a diff onto its base's memory file, in place: copies the pages the diff's state file lists.
     * The diff's state file then restores with the base's memory file.
     */
    public static long merge(VmSnapshot diff, Path diffMemory, Path baseMemory) throws IOException, SnapshotFormatException {
        if (diff.memory().type() != VmSnapshot.Type.DIFF) {
            throw new SnapshotFormatException("the state file is of a full snapshot, not a diff: nothing to merge");
        }
        checkSize(diffMemory, diff.memory().bytes(), "diff memory file");
        checkSize(baseMemory, diff.memory().bytes(), "base memory file");
        long copied = 0;
        try (FileChannel in = FileChannel.open(diffMemory, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(baseMemory, StandardOpenOption.WRITE)) {
            long[] runs = diff.memory().dirtyPages();
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            for (int i = 0; i < runs.length; i += 2) {
                long at = runs[i] * PAGE;
                long left = runs[i + 1] * PAGE;
                while (left > 0) {
                    buf.clear().limit((int) Math.min(buf.capacity(), left));
                    while (buf.hasRemaining()) {
                        if (in.read(buf, at + buf.position()) < 0) {
                            throw new IOException("diff memory file ends early");
                        }
                    }
                    buf.flip();
                    writeAll(out, buf, at);
                    at += buf.limit();
                    left -= buf.limit();
                    copied += buf.limit();
                }
            }
            out.force(false);
        }
        return copied;
    }

    /** A memory file must be exactly the guest's RAM: anything else is another guest's, or cut short. */
    public static void checkSize(Path path, long bytes, String what) throws SnapshotFormatException {
        long size;
        try {
            size = Files.size(path);
        } catch (NoSuchFileException e) {
            throw new SnapshotFormatException(what + " " + path + " does not exist");
        } catch (IOException e) {
            throw new SnapshotFormatException(what + " " + path + " cannot be read: " + e.getMessage());
        }
        if (size != bytes) {
            throw new SnapshotFormatException(what + " " + path + " is " + size + " bytes; the snapshot's guest has "
                    + bytes + " bytes of memory");
        }
    }

    private static void writeAll(FileChannel out, ByteBuffer data, long position) throws IOException {
        while (data.hasRemaining()) {
            position += out.write(data, position);
        }
    }
}
