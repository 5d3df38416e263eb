package vessel.memory;

import java.lang.foreign.Arena;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GuestMemoryTest {
    private GuestMemory memory;

    @BeforeEach
    void setUp() throws Exception {
        // Two regions with a hole between them, like RAM below and above the MMIO hole.
        memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, 0x10000), new GuestMemory.Range(0x100000, 0x2000)));
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    @Test
    void readsBackWhatWasWrittenLittleEndian() {
        memory.writeLong(0x100, 0x1122334455667788L);
        assertEquals(0x1122334455667788L, memory.readLong(0x100));
        assertEquals(0x55667788, memory.readInt(0x100));
        assertEquals((short) 0x7788, memory.readShort(0x100));
        assertEquals((byte) 0x88, memory.readByte(0x100));
        memory.writeInt(0x100fff, 0xcafebabe); // unaligned, inside the second region
        assertEquals(0xcafebabe, memory.readInt(0x100fff));
    }

    @Test
    void bulkCopiesRoundTrip() {
        byte[] data = {1, 2, 3, 4, 5};
        memory.write(0x101000, data);
        assertArrayEquals(data, memory.read(0x101000, 5));
    }

    @Test
    void accessesOutsideRamAreRefused() {
        assertThrows(GuestMemoryException.class, () -> memory.readByte(0x10000)); // first byte of the hole
        assertThrows(GuestMemoryException.class, () -> memory.readInt(0xfffe)); // straddles the end of region 0
        assertThrows(GuestMemoryException.class, () -> memory.readLong(0x101ffc)); // runs off the end of RAM
        assertThrows(GuestMemoryException.class, () -> memory.writeByte(-1, (byte) 0));
        assertThrows(GuestMemoryException.class, () -> memory.slice(0x100000, 0x2001));
        assertThrows(GuestMemoryException.class, () -> memory.read(0xf000, 0x2000));
    }

    @Test
    void hugeLengthsDoNotOverflowIntoAcceptance() {
        // gpa + len would wrap around: must still be refused, not wrapped into range.
        assertFalse(memory.contains(0x100, Long.MAX_VALUE));
        assertFalse(memory.contains(Long.MAX_VALUE - 1, 4));
        assertFalse(memory.contains(0x100, -1));
        assertThrows(GuestMemoryException.class, () -> memory.slice(0x1000, Long.MAX_VALUE));
    }

    @Test
    void containsIsExactAtTheEdges() {
        assertTrue(memory.contains(0, 0x10000));
        assertFalse(memory.contains(0, 0x10001));
        assertTrue(memory.contains(0x101fff, 1));
        assertTrue(memory.contains(0x102000, 0)); // an empty range at the end is harmless
        assertEquals(0x102000, memory.end());
        assertEquals(0x12000, memory.totalSize());
    }

    @Test
    void aSliceCannotReachBeyondItsRange() {
        var slice = memory.slice(0x200, 16);
        assertThrows(IndexOutOfBoundsException.class, () -> slice.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 16));
    }

    @Test
    void overlappingOrEmptyLayoutsAreRejected() {
        try (Arena arena = Arena.ofConfined()) {
            var a = new MemoryRegion(0, 0, arena.allocate(0x2000));
            var b = new MemoryRegion(1, 0x1000, arena.allocate(0x2000));
            assertThrows(IllegalArgumentException.class, () -> GuestMemory.wrap(List.of(a, b)));
            assertThrows(IllegalArgumentException.class, () -> GuestMemory.wrap(List.of()));
        }
        assertThrows(IllegalArgumentException.class, () -> new GuestMemory.Range(0, 100));
    }
}
