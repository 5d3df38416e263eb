package vessel.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.List;

import org.junit.jupiter.api.Test;

import vessel.boot.GuestLayout;

/**
 * The pluggable region inside {@link GuestMemory}: found like any region, reachable only where plugged, kept out
 * of what the guest boots with (E820, totals), and placed above RAM and the 32-bit hole.
 */
class PluggableRegionTest {
    static final long BLOCK = 64 * 1024;

    @Test
    void onlyPluggedBlocksAreGuestMemory() {
        try (Arena arena = Arena.ofConfined()) {
            PluggableRegion region = PluggableRegion.wrap(1L << 32, arena.allocate(8 * BLOCK, 4096), BLOCK);
            GuestMemory memory = GuestMemory.wrap(List.of(new MemoryRegion(0, 0, arena.allocate(1 << 20, 4096))), region);
            assertFalse(memory.contains(1L << 32, 1));
            region.plug(2, 3);
            assertTrue(memory.contains((1L << 32) + 2 * BLOCK, 3 * BLOCK));
            assertFalse(memory.contains((1L << 32) + 2 * BLOCK - 1, 2), "starting in an unplugged block");
            assertFalse(memory.contains((1L << 32) + 5 * BLOCK - 1, 2), "running into an unplugged block");
            memory.writeLong((1L << 32) + 4 * BLOCK, 42);
            assertEquals(42, memory.readLong((1L << 32) + 4 * BLOCK));
            assertThrows(GuestMemoryException.class, () -> memory.readLong((1L << 32) + 5 * BLOCK));
            assertEquals(3, region.pluggedIn(0, 8));
            assertEquals(1, region.pluggedIn(4, 4));
            assertTrue(region.unplug(4, 1));
            assertFalse(memory.contains((1L << 32) + 4 * BLOCK, 8));
            assertEquals(2, region.pluggedBlocks());
            assertThrows(IndexOutOfBoundsException.class, () -> region.plug(7, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> region.pluggedIn(-1, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> region.unplug(Long.MAX_VALUE, 2));

            assertEquals(1, memory.regions().size(), "boot RAM only");
            assertEquals(1 << 20, memory.totalSize());
            assertEquals((1L << 32) + 8 * BLOCK, memory.end(), "the 64-bit BAR window goes above the region");
            assertEquals(1, memory.pluggableRegion().slot());
            assertEquals(0, GuestLayout.memoryMap(memory).stream().filter(e -> e.base() + e.length() > 1L << 32).count(),
                    "E820 leaves the region out");
        }
    }

    @Test
    void aRegionMustBeWholeBlocksAboveRam() {
        try (Arena arena = Arena.ofConfined()) {
            assertThrows(IllegalArgumentException.class, () -> PluggableRegion.wrap(1L << 32, arena.allocate(BLOCK + 4096), BLOCK));
            assertThrows(IllegalArgumentException.class, () -> PluggableRegion.wrap((1L << 32) + 4096, arena.allocate(BLOCK), BLOCK));
            assertThrows(IllegalArgumentException.class, () -> PluggableRegion.wrap(1L << 32, arena.allocate(3 * 4096), 3 * 4096));
            PluggableRegion low = PluggableRegion.wrap(0, arena.allocate(BLOCK), BLOCK);
            assertThrows(IllegalArgumentException.class,
                    () -> GuestMemory.wrap(List.of(new MemoryRegion(0, 0, arena.allocate(1 << 20))), low));
        }
        assertNull(GuestMemory.wrap(List.of(new MemoryRegion(0, 0, Arena.ofAuto().allocate(4096)))).pluggable());
    }

    @Test
    void theRegionGoesAboveRamAndTheHoleOnATwoGibBoundary() {
        assertEquals(4L << 30, GuestLayout.hotplugBase(256L << 20));
        assertEquals(4L << 30, GuestLayout.hotplugBase(3L << 30), "RAM up to the hole");
        assertEquals(6L << 30, GuestLayout.hotplugBase((3L << 30) + 1), "RAM continued at 4 GiB");
        assertEquals(8L << 30, GuestLayout.hotplugBase(6L << 30)); // 3 GiB low + 3 GiB from 4 GiB: ends at 7 GiB
    }
}
