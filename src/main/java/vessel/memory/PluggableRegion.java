package vessel.memory;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLongArray;

import vessel.sys.Libc;
import vessel.sys.SysException;

/**
 * Hot-pluggable guest memory (a virtio-mem device's region): one host mapping, made once and lazily committed,
 * cut into equal blocks that are each plugged or not. Only plugged blocks are guest RAM as far as the VMM's
 * devices go ({@link GuestMemory} refuses an access that touches an unplugged block); unplugging a block gives its
 * host pages back ({@code madvise(MADV_DONTNEED)}), so it costs nothing until plugged and touched again.
 *
 * <p>Which blocks are plugged is a bitmap of atomics: one writer (the virtio-mem device, under its transport lock)
 * and any number of readers (other devices' threads checking an address). A reader racing an unplug sees the
 * block either way; the mapping itself stays until the VM ends, so the race costs at most a zero page.
 */
public final class PluggableRegion implements AutoCloseable {
    private final long guestBase;
    private final MemorySegment host;
    private final long blockSize;
    private final int blockShift;
    private final long blocks;
    private final AtomicLongArray plugged;
    private final boolean owned;
    private boolean closed;

    private PluggableRegion(long guestBase, MemorySegment host, long blockSize, boolean owned) {
        if (blockSize < GuestMemory.PAGE_SIZE || Long.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be a power of two of at least 4 KiB, not " + blockSize);
        }
        long size = host.byteSize();
        if (size <= 0 || size % blockSize != 0 || guestBase < 0 || guestBase % blockSize != 0
                || guestBase + size < guestBase) {
            throw new IllegalArgumentException("pluggable region 0x" + Long.toHexString(guestBase) + " + " + size
                    + " is not a whole number of " + blockSize + "-byte blocks on a block boundary");
        }
        if (size / blockSize > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("pluggable region has too many blocks: " + size / blockSize);
        }
        this.guestBase = guestBase;
        this.host = host;
        this.blockSize = blockSize;
        this.blockShift = Long.numberOfTrailingZeros(blockSize);
        this.blocks = size / blockSize;
        this.plugged = new AtomicLongArray((int) ((blocks + 63) / 64));
        this.owned = owned;
    }

    /** Maps {@code size} bytes (anonymous, MAP_NORESERVE: nothing is committed until touched), all unplugged. */
    public static PluggableRegion allocate(long guestBase, long size, long blockSize) throws SysException {
        if (size <= 0 || size % GuestMemory.PAGE_SIZE != 0) {
            throw new IllegalArgumentException("pluggable region size must be whole pages, not " + size);
        }
        MemorySegment host = Libc.mmap(size, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
        try {
            return new PluggableRegion(guestBase, host, blockSize, true);
        } catch (RuntimeException e) {
            Libc.munmap(host);
            throw e;
        }
    }

    /** Wraps memory the caller owns (tests' arenas). */
    public static PluggableRegion wrap(long guestBase, MemorySegment host, long blockSize) {
        return new PluggableRegion(guestBase, host, blockSize, false);
    }

    public long guestBase() {
        return guestBase;
    }

    public long size() {
        return host.byteSize();
    }

    public long guestEnd() {
        return guestBase + host.byteSize();
    }

    public long blockSize() {
        return blockSize;
    }

    public long blockCount() {
        return blocks;
    }

    /** The host mapping, for the VMM to hand to KVM as one memory slot; devices never see it. */
    public MemorySegment host() {
        return host;
    }

    /** How many of blocks {@code [first, first+count)} are plugged; the range must lie inside the region. */
    public long pluggedIn(long first, long count) {
        checkBlocks(first, count);
        long n = 0;
        for (long b = first; b < first + count; b++) {
            if ((plugged.get((int) (b >>> 6)) & (1L << (b & 63))) != 0) {
                n++;
            }
        }
        return n;
    }

    /** Plugged blocks in the whole region. */
    public long pluggedBlocks() {
        long n = 0;
        for (int i = 0; i < plugged.length(); i++) {
            n += Long.bitCount(plugged.get(i));
        }
        return n;
    }

    /** Marks blocks {@code [first, first+count)} plugged: the guest may use them, and devices may reach them. */
    public void plug(long first, long count) {
        checkBlocks(first, count);
        for (long b = first; b < first + count; b++) {
            long bit = 1L << (b & 63);
            plugged.getAndUpdate((int) (b >>> 6), w -> w | bit);
        }
    }

    /**
     * Marks blocks {@code [first, first+count)} unplugged, then gives their host pages back: a later plug finds
     * them zeroed. Returns false when the host refused to drop the pages (they are unplugged all the same).
     */
    public boolean unplug(long first, long count) {
        checkBlocks(first, count);
        for (long b = first; b < first + count; b++) {
            long bit = 1L << (b & 63);
            plugged.getAndUpdate((int) (b >>> 6), w -> w & ~bit);
        }
        MemorySegment pages = host.asSlice(first << blockShift, count << blockShift);
        if (pages.address() % GuestMemory.PAGE_SIZE != 0) {
            pages.fill((byte) 0); // wrapped test memory need not be page-aligned on the host
            return true;
        }
        try {
            Libc.madvise(pages, Libc.MADV_DONTNEED);
            return true;
        } catch (SysException e) {
            return false;
        }
    }

    /**
     * True when {@code [offset, offset+len)} (from the region's start, inside it: the caller checked) touches only
     * plugged blocks. A zero-length range counts as inside the block at {@code offset}.
     */
    boolean accessible(long offset, long len) {
        long first = offset >>> blockShift;
        long last = (offset + Math.max(len, 1) - 1) >>> blockShift;
        for (long b = first; b <= last; b++) {
            if ((plugged.get((int) (b >>> 6)) & (1L << (b & 63))) == 0) {
                return false;
            }
        }
        return true;
    }

    private void checkBlocks(long first, long count) {
        if (first < 0 || count < 0 || first > blocks - count) {
            throw new IndexOutOfBoundsException("blocks " + first + " + " + count + " of " + blocks);
        }
    }

    /** Unmaps an owned region; a second call does nothing (the VMM's unwinding and GuestMemory may both close it). */
    @Override
    public synchronized void close() {
        if (owned && !closed) {
            closed = true;
            Libc.munmap(host);
        }
    }
}
