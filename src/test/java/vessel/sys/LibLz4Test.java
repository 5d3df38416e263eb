package vessel.sys;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** liblz4's safe decoder through FFM: output in place, capacity honoured, bad input refused. */
class LibLz4Test {
    /** One LZ4 block of ten literals: token 0xA0 (10 literals, no match), then the bytes. */
    private static final byte[] TEN_LITERALS = {(byte) 0xa0, 'v', 'e', 's', 's', 'e', 'l', '-', 'l', 'z', '4'};

    @BeforeEach
    void library() {
        Assumptions.assumeTrue(LibLz4.available(), "skipped: liblz4.so.1 is not installed (apt-get install liblz4-1)");
    }

    @Test
    void decodesIntoTheGivenOffset() {
        byte[] out = new byte[16];
        assertEquals(10, LibLz4.decompressBlock(TEN_LITERALS, 0, TEN_LITERALS.length, out, 3, 13));
        assertArrayEquals("vessel-lz4".getBytes(), java.util.Arrays.copyOfRange(out, 3, 13));
    }

    @Test
    void neverWritesPastTheCapacityAndRefusesMalformedBlocks() {
        byte[] out = new byte[16];
        assertEquals(-1, LibLz4.decompressBlock(TEN_LITERALS, 0, TEN_LITERALS.length, out, 0, 5));
        assertArrayEquals(new byte[16], out, "nothing written for a block that does not fit");
        assertEquals(-1, LibLz4.decompressBlock(new byte[] {(byte) 0xf0, 1, 2}, 0, 3, out, 0, 16));
        assertThrows(IndexOutOfBoundsException.class, () -> LibLz4.decompressBlock(TEN_LITERALS, 5, 10, out, 0, 16));
    }
}
