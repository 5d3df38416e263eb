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
}
