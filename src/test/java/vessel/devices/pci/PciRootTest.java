package vessel.devices.pci;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import vessel.devices.Bus;
import vessel.devices.BusDevice;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Configuration cycles through both access mechanisms, BAR sizing, and BARs following the guest. */
class PciRootTest {
    private final Bus mmio = new Bus("MMIO");
    private final Bus pio = new Bus("PIO");
    private final List<String> moves = new ArrayList<>();
    private final PciRoot root = new PciRoot(mmio, pio, (f, bar, from, to) ->
            moves.add(f.name() + " BAR" + bar + " " + Long.toHexString(from) + "->" + Long.toHexString(to)));
    private final PciConfigIo cf8 = new PciConfigIo(root);
    private final PciEcam ecam = new PciEcam(root);

    /** A function with one 64-bit 16 KiB BAR whose device answers its offset. */
    private static final class TestFunction implements PciFunction {
        final PciConfigSpace config = new PciConfigSpace(0x1af4, 0x1042, 0x018000, 1, 0x1af4, 0x1100);

        TestFunction() {
            config.addBar(new PciConfigSpace.Bar(0, PciConfigSpace.BarKind.MEMORY64, 0x4000, false));
        }

        @Override
        public String name() {
            return "test";
        }

        @Override
        public PciConfigSpace config() {
            return config;
        }

        @Override
        public BusDevice barDevice(int index) {
            return new BusDevice() {
                @Override
                public long read(long offset, int size) {
                    return offset;
                }

                @Override
                public void write(long offset, int size, long value) {
                }
            };
        }
    }

    private long cf8Read(int dev, int reg, int size) {
        cf8.write(0, 4, 0x8000_0000L | dev << 11 | (reg & 0xfc));
        return cf8.read(4 + (reg & 3), size);
    }

    private void cf8Write(int dev, int reg, int size, long value) {
        cf8.write(0, 4, 0x8000_0000L | dev << 11 | (reg & 0xfc));
        cf8.write(4 + (reg & 3), size, value);
    }

    @Test
    void hostBridgeAndDevicesAnswerAndEmptySlotsReadAllOnes() {
        root.add(1, new TestFunction());
        assertEquals(0x0d578086L, cf8Read(0, 0, 4));
        assertEquals(0x10421af4L, cf8Read(1, 0, 4));
        assertEquals(0x1042L, cf8Read(1, 2, 2));
        assertEquals(0xffffffffL, cf8Read(2, 0, 4));
        assertEquals(0x10421af4L, ecam.read(1L << 15, 4));
        assertEquals(0xffffL, ecam.read(2L << 15, 2));
        // Class code 01/80/00, as lspci shows "Mass storage controller".
        assertEquals(0x01800001L, ecam.read((1L << 15) + 8, 4));
        // Address register reads back; without the enable bit the data port reads all-ones.
        cf8.write(0, 4, 0x0000_0800L);
        assertEquals(0x800L, cf8.read(0, 4));
        assertEquals(0xffffffffL, cf8.read(4, 4));
    }

    @Test
    void barSizingReadsTheSizeMaskAndTheBarFollowsTheGuest() {
        TestFunction f = new TestFunction();
        f.config.setBarAddress(0, 0x1_0000_0000L);
        f.config.write(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY);
        root.add(1, f);
        assertEquals(List.of("test BAR0 ffffffffffffffff->100000000"), moves);
        assertEquals(0x10L, mmio.read(0x1_0000_0010L, 4));

        // Linux: decoding off, all-ones, read the mask, restore, decoding on.
        ecam.write((1L << 15) + PciConfigSpace.COMMAND, 2, 0);
        ecam.write((1L << 15) + 0x10, 4, 0xffffffffL);
        ecam.write((1L << 15) + 0x14, 4, 0xffffffffL);
        assertEquals(0xffffc004L, ecam.read((1L << 15) + 0x10, 4), "low dword: size mask and 64-bit type");
        assertEquals(0xffffffffL, ecam.read((1L << 15) + 0x14, 4));
        assertEquals(0xffffffffL, mmio.read(0x1_0000_0010L, 4), "unmapped while decoding is off");
        ecam.write((1L << 15) + 0x10, 4, 0x2000_0000L);
        ecam.write((1L << 15) + 0x14, 4, 0);
        ecam.write((1L << 15) + PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY);
        assertEquals(0x10L, mmio.read(0x2000_0010L, 4));
        assertEquals(List.of("test BAR0 ffffffffffffffff->100000000", "test BAR0 100000000->ffffffffffffffff",
                "test BAR0 ffffffffffffffff->20000000"), moves);
    }

    @Test
    void readOnlyRegistersIgnoreWrites() {
        root.add(1, new TestFunction());
        cf8Write(1, 0, 4, 0x12345678);
        assertEquals(0x10421af4L, cf8Read(1, 0, 4));
        cf8Write(1, PciConfigSpace.INTERRUPT_LINE, 1, 0x0b);
        assertEquals(0x0bL, cf8Read(1, PciConfigSpace.INTERRUPT_LINE, 1));
    }

    @Test
    void capabilitiesFormAList() {
        TestFunction f = new TestFunction();
        int first = f.config.addCapability(0x09, new byte[14], null);
        int second = f.config.addCapability(0x11, new byte[10], null);
        assertEquals(0x40, first);
        assertEquals(0x10, f.config.read(PciConfigSpace.STATUS, 2) & 0x10);
        assertEquals(first, f.config.read(PciConfigSpace.CAPABILITIES_POINTER, 1));
        assertEquals(second, f.config.read(first + 1, 1));
        assertEquals(0, f.config.read(second + 1, 1));
    }
}
