package vessel.kvm;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class SegmentTest {
    @Test
    void flatSegmentsEncodeToTheWellKnownGdtDescriptors() {
        assertEquals(0x00af9b000000ffffL, Segment.flat(0x08, true, true).descriptor(), "64-bit code");
        assertEquals(0x00cf9b000000ffffL, Segment.flat(0x08, true, false).descriptor(), "32-bit code");
        assertEquals(0x00cf93000000ffffL, Segment.flat(0x10, false, false).descriptor(), "data");
    }

    @Test
    void realModeSegmentBaseIsSelectorTimesSixteen() {
        Segment s = Segment.realMode(0x1000, true);
        assertEquals(0x10000, s.base());
        assertEquals(0xffff, s.limit());
    }
}
