package vessel.devices.pci;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Masking holds messages as pending bits; unmasking sends them; routes follow the table. */
class MsiXTableTest {
    private final List<String> sent = new ArrayList<>();
    private final MsiXTable.MsiSink sink = new MsiXTable.MsiSink() {
        @Override
        public void route(int vector, long address, int data) {
            sent.add("route " + vector + " " + Long.toHexString(address) + " " + Integer.toHexString(data));
        }

        @Override
        public void signal(int vector) {
            sent.add("signal " + vector);
        }
    };
    private final PciConfigSpace config = new PciConfigSpace(1, 2, 0, 0, 0, 0);
    private final MsiXTable table = new MsiXTable(3, sink);

    MsiXTableTest() {
        table.addCapability(config, 0, 0x4000, 0x6000);
    }

    private void control(int value) {
        config.write(table.capabilityOffset() + 2, 2, value);
        table.controlWritten();
    }

    @Test
    void capabilityDescribesTableAndPba() {
        int cap = table.capabilityOffset();
        assertEquals(MsiXTable.CAPABILITY_ID, config.read(cap, 1));
        assertEquals(2, config.read(cap + 2, 2), "table size minus one");
        assertEquals(0x4000, config.read(cap + 4, 4));
        assertEquals(0x6000, config.read(cap + 8, 4));
        config.write(cap + 2, 2, 0xffff);
        assertEquals(0xc002, config.read(cap + 2, 2), "only enable and function mask are writable");
    }

    @Test
    void vectorsStartMaskedAndPendUntilUnmasked() {
        control(0x8000);
        assertTrue(table.enabled());
        table.signal(1);
        assertEquals(List.of(), sent);
        assertEquals(2L, table.readPba(0, 8));
        table.writeTable(16, 4, 0xfee0_0000L);
        table.writeTable(16 + 8, 4, 0x41);
        assertEquals(1L, table.readTable(16 + 12, 4), "still masked");
        table.writeTable(16 + 12, 4, 0);
        assertEquals(List.of("route 1 fee00000 41", "signal 1"), sent);
        assertEquals(0L, table.readPba(0, 8));
        table.signal(1);
        assertEquals("signal 1", sent.getLast());
    }

    @Test
    void functionMaskHoldsEveryVector() {
        table.writeTable(0, 4, 0xfee0_0000L);
        table.writeTable(8, 4, 0x30);
        table.writeTable(12, 4, 0);
        sent.clear();
        control(0x8000 | 0x4000);
        table.signal(0);
        assertFalse(sent.contains("signal 0"));
        control(0x8000);
        assertEquals("signal 0", sent.getLast());
    }

    @Test
    void outOfRangeVectorsAndTableEntriesAreIgnored() {
        control(0x8000);
        table.signal(7);
        table.writeTable(3 * 16, 4, 1);
        assertEquals(0L, table.readTable(3 * 16, 4));
        assertEquals(List.of(), sent);
    }
}
