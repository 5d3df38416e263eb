package vessel.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * Resident bytes of exactly one host mapping's range, from /proc/self/pagemap (bit 63 of each page's entry: present
 * in RAM; readable without privileges). /proc/self/smaps counts whole VMAs, and the kernel merges an anonymous
 * mapping with a neighbour of the same flags (the JVM's own reservations are MAP_NORESERVE too).
 */
public final class ResidentPages {
    private static final long PAGE = 4096;

    private ResidentPages() {}

    public static long bytes(MemorySegment range) {
        long first = range.address() / PAGE;
        long pages = (range.byteSize() + PAGE - 1) / PAGE;
        long present = 0;
        try (FileChannel map = FileChannel.open(Path.of("/proc/self/pagemap"))) {
            ByteBuffer buf = ByteBuffer.allocate(8 * 4096).order(ByteOrder.LITTLE_ENDIAN);
            for (long done = 0; done < pages; ) {
                int n = (int) Math.min(4096, pages - done);
                buf.clear().limit(8 * n);
                long at = 8 * (first + done);
                while (buf.hasRemaining()) {
                    if (map.read(buf, at + buf.position()) < 0) {
                        throw new IOException("short read of /proc/self/pagemap");
                    }
                }
                buf.flip();
                for (int i = 0; i < n; i++) {
                    if (buf.getLong() < 0) {
                        present++;
                    }
                }
                done += n;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return present * PAGE;
    }
}
