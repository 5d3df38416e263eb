package vessel.devices;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BusTest {
    /** Records accesses; reads answer base-relative offset + 0x100. */
    static final class Recorder implements BusDevice {
        final List<String> log = new ArrayList<>();

        @Override
        public long read(long offset, int size) {
            log.add("r" + offset + "/" + size);
            return offset + 0x100;
        }

        @Override
        public void write(long offset, int size, long value) {
            log.add("w" + offset + "/" + size + "=" + value);
        }
    }

    @Test
    void dispatchesByRangeWithDeviceRelativeOffsets() {
        Bus bus = new Bus("test");
        Recorder a = new Recorder();
        Recorder b = new Recorder();
        bus.insert(0x3f8, 8, "a", a);
        bus.insert(0x60, 5, "b", b);
        assertEquals(0x105, bus.read(0x3fd, 1));
        bus.write(0x64, 1, 0xfe);
        assertEquals(List.of("r5/1"), a.log);
        assertEquals(List.of("w4/1=254"), b.log);
    }

    @Test
    void accessesThatLeaveARangeAreUnclaimed() {
        Bus bus = new Bus("test");
        Recorder a = new Recorder();
        bus.insert(0x100, 4, "a", a);
        assertEquals(0xffff, bus.read(0x103, 2)); // runs one byte past the end
        bus.write(0xff, 2, 1); // starts one byte before
        assertEquals(0xff, bus.read(0x104, 1));
        assertEquals(0xffff_ffffL, bus.read(0x50, 4));
        assertEquals(-1L, bus.read(0x50, 8));
        assertEquals(List.of(), a.log);
        assertEquals(5, bus.unclaimedAccesses());
    }

    @Test
    void overlappingInsertsAreRefused() {
        Bus bus = new Bus("test");
        bus.insert(0x100, 0x10, "a", new Recorder());
        assertThrows(IllegalArgumentException.class, () -> bus.insert(0x10f, 1, "b", new Recorder()));
        assertThrows(IllegalArgumentException.class, () -> bus.insert(0xf0, 0x11, "c", new Recorder()));
        assertThrows(IllegalArgumentException.class, () -> bus.insert(0x200, 0, "d", new Recorder()));
        bus.insert(0x110, 1, "e", new Recorder()); // adjacent is fine
    }

    @Test
    void removedDevicesStopReceiving() {
        Bus bus = new Bus("test");
        Recorder a = new Recorder();
        bus.insert(0x1000, 0x100, "a", a);
        bus.remove(0x1000);
        assertEquals(0xff, bus.read(0x1000, 1));
        assertEquals(List.of(), a.log);
    }

    @Test
    void portTableAndSearchAgreeWithTheRangesAcrossTheTableLimit() {
        Bus bus = new Bus("test");
        Recorder low = new Recorder();
        Recorder straddling = new Recorder();
        Recorder high = new Recorder();
        bus.insert(0xfe, 4, "low", low); // across a table page boundary
        bus.insert(Bus.TABLE_LIMIT - 2, 4, "straddling", straddling);
        bus.insert(Bus.TABLE_LIMIT + 0x100, 8, "high", high);
        assertEquals(0x102, bus.read(0x100, 2));
        assertEquals(0xffff, bus.read(0x101, 2)); // one byte past low's end
        assertEquals(0x101, bus.read(Bus.TABLE_LIMIT - 1, 1)); // table side of straddling
        assertEquals(0x103, bus.read(Bus.TABLE_LIMIT + 1, 1)); // search side of straddling
        assertEquals(0x100 + 6, bus.read(Bus.TABLE_LIMIT + 0x106, 2));
        assertEquals(0xffff, bus.read(Bus.TABLE_LIMIT + 0x107, 2));
        assertEquals(List.of("r2/2"), low.log);
        assertEquals(List.of("r1/1", "r3/1"), straddling.log);
        assertEquals(List.of("r6/2"), high.log);
    }

    /** Random ranges and accesses, against a plain scan of the ranges: table, search and removal agree. */
    @Test
    void lookupMatchesAScanOfTheRanges() {
        java.util.Random random = new java.util.Random(15);
        Bus bus = new Bus("test");
        List<long[]> ranges = new ArrayList<>(); // base, length, id
        for (int i = 0; i < 40; i++) {
            long base = random.nextInt((int) Bus.TABLE_LIMIT * 2);
            long length = 1 + random.nextInt(random.nextBoolean() ? 8 : 0x400);
            long id = i;
            if (ranges.stream().noneMatch(r -> base < r[0] + r[1] && r[0] < base + length)) {
                bus.insert(base, length, "d" + i, new BusDevice() {
                    @Override
                    public long read(long offset, int size) {
                        return id << 32 | offset;
                    }

                    @Override
                    public void write(long offset, int size, long value) {}
                });
                ranges.add(new long[] {base, length, id});
            }
        }
        for (int round = 0; round < 2; round++) {
            for (int i = 0; i < 20_000; i++) {
                long addr = random.nextInt((int) Bus.TABLE_LIMIT * 2 + 0x1000);
                int size = 1 << random.nextInt(3);
                long expected = size == 1 ? 0xff : size == 2 ? 0xffff : 0xffff_ffffL;
                for (long[] r : ranges) {
                    if (addr >= r[0] && addr + size <= r[0] + r[1]) {
                        expected = r[2] << 32 | (addr - r[0]);
                    }
                }
                assertEquals(expected, bus.read(addr, size), "read 0x" + Long.toHexString(addr) + "/" + size);
            }
            for (int i = 0; i < ranges.size() / 2; i++) {
                bus.remove(ranges.remove(random.nextInt(ranges.size()))[0]);
            }
        }
    }
}
