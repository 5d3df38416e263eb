package vessel.devices;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An address space (port I/O or MMIO) mapping ranges to devices. An access is delivered only when it
 * lies wholly inside one range; anything else is unclaimed: a read answers all-ones, as an empty ISA
 * bus does, and a write is dropped. The map is an immutable sorted snapshot replaced on change, so the
 * vCPU path reads it without locking; each device is locked on its own while it runs.
 */
public final class Bus {
    /** A device's place on the bus. */
    public record Range(long base, long length, String name, BusDevice device) {
        public Range {
            if (length <= 0 || base < 0 || base + length < base) {
                throw new IllegalArgumentException("bad bus range for " + name + ": 0x"
                        + Long.toHexString(base) + " + " + length);
            }
        }

        long end() {
            return base + length;
        }
    }

    /** Addresses below this (the whole port space) are found by table: {@link Snapshot#pages}. */
    static final long TABLE_LIMIT = 0x1_0000;
    private static final int PAGE_BITS = 8;
    private static final int PAGE_SIZE = 1 << PAGE_BITS;

    /**
     * The ranges sorted by base, and their bases for binary search; replaced whole, never changed. For
     * addresses below {@link #TABLE_LIMIT} also a two-level table, 256 pages of 256 addresses, each null
     * where no device lies: a port access is two array loads instead of a search (the vCPU's exit path),
     * and a few KiB per bus.
     */
    private record Snapshot(Range[] ranges, long[] bases, Range[][] pages) {
        static Snapshot of(Range[] sorted) {
            Range[][] pages = new Range[(int) (TABLE_LIMIT >> PAGE_BITS)][];
            for (Range r : sorted) {
                long end = Math.min(r.end(), TABLE_LIMIT);
                for (long a = r.base(); a < end; a++) {
                    int page = (int) (a >>> PAGE_BITS);
                    if (pages[page] == null) {
                        pages[page] = new Range[PAGE_SIZE];
                    }
                    pages[page][(int) (a & (PAGE_SIZE - 1))] = r;
                }
            }
            return new Snapshot(sorted, Arrays.stream(sorted).mapToLong(Range::base).toArray(), pages);
        }
    }

    private final String name;
    private volatile Snapshot map = Snapshot.of(new Range[0]);
    private final AtomicLong unclaimed = new AtomicLong();

    public Bus(String name) {
        this.name = name;
    }

    /** Adds a device; throws if its range overlaps one already on the bus. */
    public synchronized void insert(long base, long length, String deviceName, BusDevice device) {
        Range added = new Range(base, length, deviceName, device);
        Range[] ranges = map.ranges();
        for (Range r : ranges) {
            if (added.base() < r.end() && r.base() < added.end()) {
                throw new IllegalArgumentException(name + " bus: " + deviceName + " at 0x" + Long.toHexString(base)
                        + " overlaps " + r.name() + " at 0x" + Long.toHexString(r.base()));
            }
        }
        Range[] next = Arrays.copyOf(ranges, ranges.length + 1);
        next[ranges.length] = added;
        Arrays.sort(next, (a, b) -> Long.compare(a.base(), b.base()));
        publish(next);
    }

    /** Removes the device registered at {@code base}, if any (a PCI BAR being moved, for instance). */
    public synchronized void remove(long base) {
        publish(Arrays.stream(map.ranges()).filter(r -> r.base() != base).toArray(Range[]::new));
    }

    private void publish(Range[] sorted) {
        map = Snapshot.of(sorted);
    }

    private Range find(long addr, int size) {
        Snapshot m = map;
        if (addr >= 0 && addr < TABLE_LIMIT) {
            Range[] page = m.pages()[(int) (addr >>> PAGE_BITS)];
            Range r = page == null ? null : page[(int) (addr & (PAGE_SIZE - 1))];
            return r != null && size <= r.end() - addr ? r : null;
        }
        Range[] rs = m.ranges();
        int i = Arrays.binarySearch(m.bases(), addr);
        if (i < 0) {
            i = -i - 2;
        }
        if (i < 0) {
            return null;
        }
        Range r = rs[i];
        long offset = addr - r.base();
        return size <= r.length() - offset ? r : null;
    }


    /** Reads from whatever device claims {@code [addr, addr+size)}; all-ones where none does. */
    public long read(long addr, int size) {
        Range r = find(addr, size);
        if (r == null) {
            unclaimed.incrementAndGet();
            return size >= 8 ? -1L : (1L << (size * 8)) - 1;
        }
        BusDevice d = r.device();
        synchronized (d) {
            return d.read(addr - r.base(), size);
        }
    }

    public void write(long addr, int size, long value) {
        Range r = find(addr, size);
        if (r == null) {
            unclaimed.incrementAndGet();
            return;
        }
        BusDevice d = r.device();
        synchronized (d) {
            d.write(addr - r.base(), size, value);
        }
    }

    /** Accesses no device claimed, since the bus was made. */
    public long unclaimedAccesses() {
        return unclaimed.get();
    }

    public String name() {
        return name;
    }
}
