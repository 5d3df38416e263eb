package vessel.memory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import vessel.sys.IoVec;
import vessel.sys.Libc;
import vessel.sys.SysException;

/**
 * Guest physical memory made of non-overlapping regions, kept sorted so a lookup is a binary search.
 * An access must lie wholly inside one region (guest RAM ranges are not contiguous across the MMIO hole,
 * and a device buffer that straddles regions is refused like any other bad address).
 *
 * <p>Besides the RAM the guest boots with ({@link #regions()}, what E820 describes), there may be one
 * {@link PluggableRegion} above it (a virtio-mem device's): it is looked up like any region, but an access is
 * allowed only where every block it touches is plugged, so every device reaches hot-plugged memory, and only
 * that, through the same checks.
 */
public final class GuestMemory implements AutoCloseable {
    public static final long PAGE_SIZE = 4096;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemoryRegion[] regions;
    private final long[] starts;
    private final boolean owned;
    /** The hot-pluggable region, the last of {@link #regions} when there is one; else null. */
    private final PluggableRegion pluggable;
    /** How many of {@link #regions} are boot RAM: all but the pluggable one. */
    private final int ramCount;
    /** Pages the VMM itself wrote (devices, assists), per region; null until tracking is on. KVM logs the guest's. */
    private volatile java.util.concurrent.atomic.AtomicLongArray[] vmmDirty;

    private GuestMemory(List<MemoryRegion> regions, boolean owned) {
        this(regions, owned, null);
    }

    private GuestMemory(List<MemoryRegion> ram, boolean owned, PluggableRegion pluggable) {
        List<MemoryRegion> regions = new ArrayList<>(ram);
        if (pluggable != null) {
            long ramEnd = ram.stream().mapToLong(MemoryRegion::guestEnd).max().orElse(0);
            if (pluggable.guestBase() < ramEnd) {
                throw new IllegalArgumentException("the pluggable region must lie above RAM (which ends at 0x"
                        + Long.toHexString(ramEnd) + ")");
            }
            regions.add(new MemoryRegion(ram.size(), pluggable.guestBase(), pluggable.host()));
        }
        this.pluggable = pluggable;
        this.ramCount = ram.size();
        List<MemoryRegion> sorted = new ArrayList<>(regions);
        sorted.sort(Comparator.comparingLong(MemoryRegion::guestBase));
        if (sorted.isEmpty()) {
            throw new IllegalArgumentException("guest memory needs at least one region");
        }
        for (int i = 0; i < sorted.size(); i++) {
            MemoryRegion r = sorted.get(i);
            if (r.size() == 0 || r.guestBase() < 0 || r.guestEnd() < r.guestBase()) {
                throw new IllegalArgumentException("bad region at 0x" + Long.toHexString(r.guestBase()));
            }
            if (i > 0 && sorted.get(i - 1).guestEnd() > r.guestBase()) {
                throw new IllegalArgumentException("regions overlap at 0x" + Long.toHexString(r.guestBase()));
            }
        }
        this.regions = sorted.toArray(MemoryRegion[]::new);
        this.starts = sorted.stream().mapToLong(MemoryRegion::guestBase).toArray();
        this.owned = owned;
    }

    /** A guest physical range to back with anonymous host memory. */
    public record Range(long guestBase, long size) {
        public Range {
            if (size <= 0 || size % PAGE_SIZE != 0 || guestBase % PAGE_SIZE != 0) {
                throw new IllegalArgumentException("region must be page-aligned and non-empty: 0x"
                        + Long.toHexString(guestBase) + " + " + size);
            }
        }
    }

    /**
     * Maps anonymous, lazily committed memory for each range (MAP_NORESERVE: the host commits pages as the
     * guest touches them, so a large guest costs only what it uses).
     */
    public static GuestMemory allocate(List<Range> ranges) throws SysException {
        return allocate(ranges, MemoryBacking.DEFAULT, null);
    }

    /**
     * As {@link #allocate(List)}, with {@code pluggable} (null: none) above the RAM; this memory owns it from
     * now on and unmaps it on {@link #close()}.
     */
    public static GuestMemory allocate(List<Range> ranges, PluggableRegion pluggable) throws SysException {
        return allocate(ranges, MemoryBacking.DEFAULT, pluggable);
    }

    /**
     * As {@link #allocate(List, PluggableRegion)}, RAM backed as {@code backing} says. hugetlbfs pages are
     * reserved by the mmap (no MAP_NORESERVE: a guest must not meet SIGBUS at its first touch of a page the
     * pool ran out of), so it fails with ENOMEM when the host's pool has too few; each range must be a
     * multiple of 2 MiB then.
     */
    public static GuestMemory allocate(List<Range> ranges, MemoryBacking backing, PluggableRegion pluggable)
            throws SysException {
        List<MemoryRegion> regions = new ArrayList<>();
        boolean hugetlb = backing.hugePages() == MemoryBacking.HugePages.HUGETLB_2M;
        int flags = Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS
                | (hugetlb ? Libc.MAP_HUGETLB | Libc.MAP_HUGE_2MB : Libc.MAP_NORESERVE);
        try {
            for (Range range : ranges) {
                if (hugetlb && range.size() % (2L << 20) != 0) {
                    throw new IllegalArgumentException("a range of " + range.size() + " bytes is not whole 2 MiB pages");
                }
                MemorySegment host = Libc.mmap(range.size(), Libc.PROT_READ | Libc.PROT_WRITE, flags, -1, 0);
                regions.add(new MemoryRegion(regions.size(), range.guestBase(), host));
                if (backing.hugePages() == MemoryBacking.HugePages.TRANSPARENT) {
                    Libc.madvise(host, Libc.MADV_HUGEPAGE);
                }
                if (backing.mergeable()) {
                    Libc.madvise(host, Libc.MADV_MERGEABLE);
                }
            }
            return new GuestMemory(regions, true, pluggable);
        } catch (SysException | RuntimeException e) {
            regions.forEach(r -> Libc.munmap(r.host()));
            throw e;
        }
    }

    /**
     * Maps guest RAM from a memory file, copy-on-write (MAP_PRIVATE): the ranges lie one after another in
     * the file, pages are read as the guest touches them, and the guest's writes never reach the file. The
     * caller has checked that the file is exactly the ranges' total size, and may close {@code fd} after.
     */
    public static GuestMemory mapPrivate(List<Range> ranges, int fd) throws SysException {
        List<MemoryRegion> regions = new ArrayList<>();
        long fileOffset = 0;
        try {
            for (Range range : ranges) {
                MemorySegment host = Libc.mmap(range.size(), Libc.PROT_READ | Libc.PROT_WRITE,
                        Libc.MAP_PRIVATE | Libc.MAP_NORESERVE, fd, fileOffset);
                regions.add(new MemoryRegion(regions.size(), range.guestBase(), host));
                fileOffset += range.size();
            }
            return new GuestMemory(regions, true);
        } catch (SysException | RuntimeException e) {
            regions.forEach(r -> Libc.munmap(r.host()));
            throw e;
        }
    }

    /** Wraps existing segments (tests use heap-free native arenas); the caller keeps ownership. */
    public static GuestMemory wrap(List<MemoryRegion> regions) {
        return new GuestMemory(regions, false);
    }

    /** As {@link #wrap(List)}, with a pluggable region above the RAM (its slot is the RAM's count). */
    public static GuestMemory wrap(List<MemoryRegion> ram, PluggableRegion pluggable) {
        return new GuestMemory(ram, false, pluggable);
    }

    /**
     * From now on, records the pages the VMM writes (through this class: the write methods, fill, and every
     * slice handed out, since a slice may be written). KVM's dirty log misses those writes; a diff
     * snapshot needs both. A slice that is only read is counted too: a diff errs towards more pages.
     */
    public void trackVmmWrites() {
        if (vmmDirty == null) {
            java.util.concurrent.atomic.AtomicLongArray[] bits = new java.util.concurrent.atomic.AtomicLongArray[regions.length];
            for (int i = 0; i < regions.length; i++) {
                bits[i] = new java.util.concurrent.atomic.AtomicLongArray((int) ((regions[i].size() / PAGE_SIZE + 63) / 64));
            }
            vmmDirty = bits;
        }
    }

    /** The pages of region {@code index} the VMM wrote since the last call, one bit each; clears them. */
    public long[] takeVmmWrites(int index) {
        java.util.concurrent.atomic.AtomicLongArray bits = vmmDirty[index];
        long[] out = new long[bits.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = bits.getAndSet(i, 0);
        }
        return out;
    }

    private void dirty(int region, long gpa, long len) {
        java.util.concurrent.atomic.AtomicLongArray[] bits = vmmDirty;
        if (bits == null || len == 0) {
            return;
        }
        long offset = gpa - starts[region];
        for (long page = offset / PAGE_SIZE; page <= (offset + len - 1) / PAGE_SIZE; page++) {
            long bit = 1L << (page & 63);
            int word = (int) (page >>> 6);
            if ((bits[region].get(word) & bit) == 0) {
                bits[region].getAndUpdate(word, w -> w | bit);
            }
        }
    }

    /** The RAM the guest boots with (what E820 describes), without the pluggable region. */
    public List<MemoryRegion> regions() {
        return List.of(regions).subList(0, ramCount);
    }

    /** The hot-pluggable region above RAM, or null when there is none. */
    public PluggableRegion pluggable() {
        return pluggable;
    }

    /** The pluggable region as a region of this memory (its slot, base and host mapping), or null. */
    public MemoryRegion pluggableRegion() {
        return pluggable == null ? null : regions[ramCount];
    }

    /** Bytes of boot RAM (the pluggable region not counted). */
    public long totalSize() {
        long total = 0;
        for (int i = 0; i < ramCount; i++) {
            total += regions[i].size();
        }
        return total;
    }

    /** The highest guest physical address + 1 that is RAM, or that hot-plugged RAM could be. */
    public long end() {
        return regions[regions.length - 1].guestEnd();
    }

    /** True when {@code [gpa, gpa+len)} lies wholly inside one region. */
    public boolean contains(long gpa, long len) {
        return find(gpa, len) >= 0;
    }

    private int find(long gpa, long len) {
        if (gpa < 0 || len < 0) {
            return -1;
        }
        int lo = 0;
        int hi = starts.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (starts[mid] <= gpa) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        if (hi < 0) {
            return -1;
        }
        MemoryRegion r = regions[hi];
        long offset = gpa - r.guestBase();
        // offset >= 0 here; compare lengths without forming gpa + len, which could overflow
        if (len > r.size() - offset) {
            return -1;
        }
        return hi == ramCount && !pluggable.accessible(offset, len) ? -1 : hi;
    }

    /**
     * The bounded host view of {@code [gpa, gpa+len)}. Any access through it is confined to that range;
     * the range itself is checked here.
     */
    public MemorySegment slice(long gpa, long len) {
        int i = index(gpa, len);
        dirty(i, gpa, len);
        return regions[i].host().asSlice(gpa - regions[i].guestBase(), len);
    }

    /** The index of the region holding {@code [gpa, gpa+len)}; throws when there is none. */
    private int index(long gpa, long len) {
        int i = find(gpa, len);
        if (i < 0) {
            throw new GuestMemoryException(gpa, len);
        }
        return i;
    }

    public byte readByte(long gpa) {
        int i = index(gpa, 1);
        return regions[i].host().get(ValueLayout.JAVA_BYTE, gpa - starts[i]);
    }

    public short readShort(long gpa) {
        int i = index(gpa, 2);
        return regions[i].host().get(U16, gpa - starts[i]);
    }

    public int readInt(long gpa) {
        int i = index(gpa, 4);
        return regions[i].host().get(U32, gpa - starts[i]);
    }

    public long readLong(long gpa) {
        int i = index(gpa, 8);
        return regions[i].host().get(U64, gpa - starts[i]);
    }

    public void writeByte(long gpa, byte v) {
        int i = index(gpa, 1);
        dirty(i, gpa, 1);
        regions[i].host().set(ValueLayout.JAVA_BYTE, gpa - starts[i], v);
    }

    public void writeShort(long gpa, short v) {
        int i = index(gpa, 2);
        dirty(i, gpa, 2);
        regions[i].host().set(U16, gpa - starts[i], v);
    }

    public void writeInt(long gpa, int v) {
        int i = index(gpa, 4);
        dirty(i, gpa, 4);
        regions[i].host().set(U32, gpa - starts[i], v);
    }

    public void writeLong(long gpa, long v) {
        int i = index(gpa, 8);
        dirty(i, gpa, 8);
        regions[i].host().set(U64, gpa - starts[i], v);
    }

    public void read(long gpa, byte[] dst, int off, int len) {
        java.util.Objects.checkFromIndexSize(off, len, dst.length);
        int i = index(gpa, len); // not slice(): a read dirties nothing
        MemorySegment.copy(regions[i].host(), ValueLayout.JAVA_BYTE, gpa - starts[i], dst, off, len);
    }

    public byte[] read(long gpa, int len) {
        byte[] b = new byte[len];
        read(gpa, b, 0, len);
        return b;
    }

    public void write(long gpa, byte[] src, int off, int len) {
        java.util.Objects.checkFromIndexSize(off, len, src.length);
        int i = index(gpa, len); // not slice(): a slice is an object per call where the JIT keeps it
        dirty(i, gpa, len);
        MemorySegment.copy(src, off, regions[i].host(), ValueLayout.JAVA_BYTE, gpa - starts[i], len);
    }

    /** Copies {@code len} bytes of {@code src} from {@code srcOffset} to {@code [gpa, gpa+len)}; allocates nothing. */
    public void write(long gpa, MemorySegment src, long srcOffset, long len) {
        int i = index(gpa, len);
        dirty(i, gpa, len);
        MemorySegment.copy(src, srcOffset, regions[i].host(), gpa - starts[i], len);
    }

    /** Copies {@code [gpa, gpa+len)} into {@code dst} from {@code dstOffset}; allocates nothing. */
    public void read(long gpa, MemorySegment dst, long dstOffset, long len) {
        int i = index(gpa, len);
        MemorySegment.copy(regions[i].host(), gpa - starts[i], dst, dstOffset, len);
    }

    /**
     * Makes entry {@code index} of {@code iov} describe {@code [gpa, gpa+len)}, checked like any access, for
     * a readv or writev straight between a descriptor and guest memory; {@code written} when the call will
     * write it (counted as the VMM's write for a diff snapshot). Allocates nothing.
     */
    public void describe(IoVec iov, int index, long gpa, long len, boolean written) {
        int i = index(gpa, len);
        if (written) {
            dirty(i, gpa, len);
        }
        iov.set(index, regions[i].host(), gpa - starts[i], len);
    }

    public void write(long gpa, byte[] src) {
        write(gpa, src, 0, src.length);
    }

    /** Zeroes {@code [gpa, gpa+len)}. */
    public void fill(long gpa, long len, byte value) {
        slice(gpa, len).fill(value);
    }

    /**
     * Gives the host pages behind {@code [gpa, gpa+len)} back (a balloon's inflated or reported pages):
     * the range must be page-aligned and inside one region; the guest reads zeros there afterwards, and
     * the host commits fresh pages only when the guest touches them again. Returns false for a range
     * that is not guest RAM or not page-aligned (nothing is done), and when the host refuses.
     */
    public boolean discard(long gpa, long len) {
        if (len <= 0 || gpa % PAGE_SIZE != 0 || len % PAGE_SIZE != 0) {
            return false;
        }
        int i = find(gpa, len);
        if (i < 0) {
            return false;
        }
        MemorySegment host = regions[i].host().asSlice(gpa - starts[i], len);
        if (host.address() % PAGE_SIZE != 0) {
            // A wrapped region (tests' arena memory) need not be page-aligned on the host: zero it instead.
            host.fill((byte) 0);
            return true;
        }
        try {
            Libc.madvise(host, Libc.MADV_DONTNEED);
            return true;
        } catch (SysException e) {
            return false;
        }
    }

    @Override
    public void close() {
        if (owned) {
            for (int i = 0; i < ramCount; i++) {
                Libc.munmap(regions[i].host());
            }
            if (pluggable != null) {
                pluggable.close();
            }
        }
    }
}
