package vessel.devices.virtio;

import java.util.HexFormat;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The vsock packet header as bytes on the wire (virtio 1.x 5.10.6): little-endian, 44 bytes. */
class VsockHeaderTest {
    /** src_cid 3, dst_cid 2, src_port 1234, dst_port 0x40000000, len 5, type STREAM, op RW, flags 0, buf_alloc 262144, fwd_cnt 7. */
    private static final String WIRE = "0300000000000000" + "0200000000000000" + "d2040000" + "00000040"
            + "05000000" + "0100" + "0500" + "00000000" + "00000400" + "07000000";

    @Test
    void decodesTheSpecLayoutLittleEndian() {
        VsockHeader h = VsockHeader.decode(HexFormat.of().parseHex(WIRE));
        assertEquals(new VsockHeader(3, 2, 1234, 0x4000_0000, 5, VsockHeader.TYPE_STREAM, VsockHeader.OP_RW, 0,
                256 * 1024, 7), h);
    }

    @Test
    void encodingIsDecodingsInverse() {
        byte[] wire = HexFormat.of().parseHex(WIRE);
        byte[] out = new byte[VsockHeader.SIZE];
        VsockHeader.decode(wire).encode(out);
        assertArrayEquals(wire, out);
    }

    @Test
    void unsignedFieldsStayUnsigned() {
        byte[] bytes = new byte[VsockHeader.SIZE];
        java.util.Arrays.fill(bytes, (byte) 0xff);
        VsockHeader h = VsockHeader.decode(bytes);
        assertEquals(0xFFFF_FFFFL, h.len());
        assertEquals(0xFFFF, h.type());
        assertEquals(0xFFFF, h.op());
        assertEquals(-1, h.srcPort()); // a port is 32 bits; callers print it unsigned
        byte[] out = new byte[VsockHeader.SIZE];
        h.encode(out);
        assertArrayEquals(bytes, out);
    }

    @Test
    void aLengthBeyond32BitsIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new VsockHeader(3, 2, 0, 0, 1L << 32, 1, 5, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new VsockHeader(3, 2, 0, 0, -1, 1, 5, 0, 0, 0));
    }
}
