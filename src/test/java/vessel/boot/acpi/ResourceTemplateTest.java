package vessel.boot.acpi;

import java.util.Arrays;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static vessel.boot.acpi.AmlTest.bytes;

/** Descriptor bytes written out by hand from ACPI 6.5 section 6.4 (resource data types). */
class ResourceTemplateTest {
    @Test
    void com1PortsAndIrqAsABufferWithTheEndTagChecksum() {
        // IO (Decode16, 0x3F8, 0x3F8, 0x00, 0x08), IRQNoFlags () {4}, EndTag; descriptors sum to 0x2f1
        // with the end tag's 0x79, so its checksum is 0x0f. Buffer: size 13, PkgLength 16.
        byte[] expected = bytes(0x11, 0x10, 0x0a, 0x0d,
                0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x00, 0x08,
                0x22, 0x10, 0x00,
                0x79, 0x0f);
        assertArrayEquals(expected, new ResourceTemplate()
                .io(ResourceTemplate.IoDecode.DECODE16, 0x3f8, 0x3f8, 0, 8)
                .irqNoFlags(4)
                .toAml());
    }

    @Test
    void irqWithFlagsAndFixedIo() {
        // IRQ (Level, ActiveLow, Shared) {5, 9}: mask 0x0220, flags 0x18; FixedIO (0x60, 1);
        // the bytes through the end tag sum to 0x182, so the checksum is 0x100 - 0x82 = 0x7e
        assertArrayEquals(bytes(0x23, 0x20, 0x02, 0x18, 0x4b, 0x60, 0x00, 0x01, 0x79, 0x7e),
                new ResourceTemplate()
                        .irq(ResourceTemplate.Trigger.LEVEL, ResourceTemplate.Polarity.ACTIVE_LOW, true, 5, 9)
                        .fixedIo(0x60, 1)
                        .descriptorBytes());
    }

    @Test
    void memory32Fixed() {
        // Memory32Fixed (ReadWrite, 0xFEC00000, 0x1000): tag 0x86, length 9
        byte[] b = new ResourceTemplate().memory32Fixed(true, 0xfec0_0000L, 0x1000).descriptorBytes();
        assertArrayEquals(bytes(0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0xc0, 0xfe, 0x00, 0x10, 0x00, 0x00),
                Arrays.copyOf(b, 12));
    }

    @Test
    void wordBusNumberForBuses0To255() {
        // WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100)
        byte[] b = new ResourceTemplate().wordBusNumber(0, 0xff).descriptorBytes();
        assertArrayEquals(bytes(0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00,
                0x00, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01), Arrays.copyOf(b, 16));
    }

    @Test
    void dwordMemoryWindow() {
        // DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
        //              0, 0xC0000000, 0xFEBFFFFF, 0, 0x3EC00000)
        byte[] b = new ResourceTemplate()
                .dwordMemory(ResourceTemplate.Cacheability.NON_CACHEABLE, 0xc000_0000L, 0xfebf_ffffL)
                .descriptorBytes();
        assertArrayEquals(bytes(0x87, 0x17, 0x00, 0x00, 0x0c, 0x01,
                0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0xc0,
                0xff, 0xff, 0xbf, 0xfe,
                0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0xc0, 0x3e), Arrays.copyOf(b, 26));
    }

    @Test
    void qwordMemoryWindowAboveFourGib() {
        // QWordMemory (..., Cacheable, ReadWrite, 0, 0x1_0000_0000, 0x1_FFFF_FFFF, 0, 0x1_0000_0000)
        byte[] b = new ResourceTemplate()
                .qwordMemory(ResourceTemplate.Cacheability.CACHEABLE, 1L << 32, (2L << 32) - 1)
                .descriptorBytes();
        assertArrayEquals(bytes(0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x03,
                0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 1, 0, 0, 0,
                0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 1, 0, 0, 0,
                0x79), Arrays.copyOf(b, 47));
    }

    @Test
    void outOfRangeValuesAreRefused() {
        ResourceTemplate t = new ResourceTemplate();
        assertThrows(IllegalArgumentException.class, () -> t.irqNoFlags(16));
        assertThrows(IllegalArgumentException.class, () -> t.fixedIo(0x400, 1));
        assertThrows(IllegalArgumentException.class, () -> t.dwordIo(0x10, 0x1_0000_0000L));
        assertThrows(IllegalArgumentException.class, () -> t.wordBusNumber(5, 4));
    }
}
