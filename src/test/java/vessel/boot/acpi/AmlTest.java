package vessel.boot.acpi;

import java.util.Arrays;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Encoded bytes written out by hand from ACPI 6.5 section 20 (AML grammar). */
class AmlTest {
    static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    @Test
    void pkgLengthUsesOneByteUpToSixtyThreeIncludingItself() {
        assertArrayEquals(bytes(0x01), Aml.pkgLength(0));
        assertArrayEquals(bytes(0x0b), Aml.pkgLength(10));
        assertArrayEquals(bytes(0x3f), Aml.pkgLength(62));
    }

    @Test
    void pkgLengthPutsTheLowNibbleInTheLeadByteAndTheRestAfter() {
        // 63 + 2 = 65 = 0x041: lead 0x40 (one byte follows) | 0x1, then 0x04
        assertArrayEquals(bytes(0x41, 0x04), Aml.pkgLength(63));
        // 0xffd + 2 = 0xfff: the largest two-byte length
        assertArrayEquals(bytes(0x4f, 0xff), Aml.pkgLength(0xffd));
        // 0xffe + 3 = 0x1001: three bytes, lead 0x80 | 0x1, then 0x00, 0x01
        assertArrayEquals(bytes(0x81, 0x00, 0x01), Aml.pkgLength(0xffe));
        // 0xffffc + 3 = 0xfffff: the largest three-byte length
        assertArrayEquals(bytes(0x8f, 0xff, 0xff), Aml.pkgLength(0xffffc));
        // 0x100000 + 4 = 0x100004: four bytes, lead 0xc0 | 0x4
        assertArrayEquals(bytes(0xc4, 0x00, 0x00, 0x01), Aml.pkgLength(0x100000));
        assertArrayEquals(bytes(0xcf, 0xff, 0xff, 0xff), Aml.pkgLength(Aml.MAX_PACKAGE_LENGTH - 4));
        assertThrows(IllegalArgumentException.class, () -> Aml.pkgLength(Aml.MAX_PACKAGE_LENGTH - 3));
    }

    @Test
    void integersTakeTheShortestPrefix() {
        assertArrayEquals(bytes(0x00), Aml.integer(0));
        assertArrayEquals(bytes(0x01), Aml.integer(1));
        assertArrayEquals(bytes(0x0a, 0x2a), Aml.integer(0x2a));
        assertArrayEquals(bytes(0x0a, 0xff), Aml.integer(0xff));
        assertArrayEquals(bytes(0x0b, 0x34, 0x12), Aml.integer(0x1234));
        assertArrayEquals(bytes(0x0c, 0x78, 0x56, 0x34, 0x12), Aml.integer(0x12345678));
        assertArrayEquals(bytes(0x0e, 0, 0, 0, 0, 1, 0, 0, 0), Aml.integer(1L << 32));
    }

    @Test
    void namePathsUseRootParentDualAndMultiPrefixes() {
        assertArrayEquals(bytes('_', 'S', 'B', '_'), Aml.namePath("_SB"));
        assertArrayEquals(bytes('\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'), Aml.namePath("\\_SB.PCI0"));
        assertArrayEquals(bytes('^', '^', 'C', 'O', 'M', '1'), Aml.namePath("^^COM1"));
        assertArrayEquals(bytes(0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'S', '0', '8', '_'),
                Aml.namePath("_SB.PCI0.S08"));
        assertArrayEquals(bytes('\\', 0x00), Aml.namePath("\\"));
        assertThrows(IllegalArgumentException.class, () -> Aml.namePath("0BAD"));
        assertThrows(IllegalArgumentException.class, () -> Aml.namePath("TOOLONG"));
        assertThrows(IllegalArgumentException.class, () -> Aml.namePath("com1"));
    }

    @Test
    void nameWithEisaIdPacksThreeLettersAndFourDigits() {
        // Name (_HID, EisaId ("PNP0501")): 'P'=16, 'N'=14, 'P'=16 -> 0x41d0, then 0x0501, big-endian
        assertArrayEquals(bytes(0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01),
                Aml.name("_HID", Aml.eisaId("PNP0501")));
    }

    @Test
    void stringIsNulTerminated() {
        assertArrayEquals(bytes(0x0d, 'a', 'b', 0x00), Aml.string("ab"));
    }

    @Test
    void s5PackageCountsItsElements() {
        // Name (_S5, Package () {5, 0, 0, 0}): PkgLength 7 = itself + count + 0A 05 + three Zeros
        assertArrayEquals(bytes(0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0a, 0x05, 0x00, 0x00, 0x00),
                Aml.name("_S5", Aml.packageOf(Aml.integer(5), Aml.integer(0), Aml.integer(0), Aml.integer(0))));
    }

    @Test
    void bufferStartsWithItsSize() {
        assertArrayEquals(bytes(0x11, 0x05, 0x0a, 0x02, 0xaa, 0xbb), Aml.buffer(bytes(0xaa, 0xbb)));
    }

    @Test
    void methodReturningAConstant() {
        // Method (_STA, 0, NotSerialized) { Return (0x0F) }
        assertArrayEquals(bytes(0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f),
                Aml.method("_STA", 0, false, Aml.returnValue(Aml.integer(0x0f))));
        // Serialized with two arguments: flags 0x0a
        assertEquals(0x0a, Aml.method("FOO", 2, true)[6]);
    }

    @Test
    void deviceInsideScope() {
        // Scope (\_SB) { Device (COM1) { Name (_UID, Zero) } }
        byte[] expected = bytes(
                0x10, 0x13, '\\', '_', 'S', 'B', '_',
                0x5b, 0x82, 0x0b, 'C', 'O', 'M', '1',
                0x08, '_', 'U', 'I', 'D', 0x00);
        assertArrayEquals(expected, Aml.scope("\\_SB", Aml.device("COM1", Aml.name("_UID", Aml.integer(0)))));
    }

    @Test
    void aLargeDeviceTakesATwoBytePackageLength() {
        byte[] device = Aml.device("BIG0", Aml.name("BUF0", Aml.buffer(new byte[100])));
        // body: name 4 + Name op 1 + BUF0 4 + buffer (0x11, PkgLength 2, 0A 64, 100 bytes = 105) = 114
        // PkgLength = 114 + 2 = 116 = 0x74 -> 0x44, 0x07
        assertArrayEquals(bytes(0x5b, 0x82, 0x44, 0x07, 'B', 'I', 'G', '0'), Arrays.copyOf(device, 8));
        assertEquals(2 + 116, device.length);
    }
}
