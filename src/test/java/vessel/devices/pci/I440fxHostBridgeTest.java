package vessel.devices.pci;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class I440fxHostBridgeTest {
    @Test
    void identifiesAsQemusI440fxAndReportsPamWrites() {
        List<int[]> seen = new ArrayList<>();
        I440fxHostBridge bridge = new I440fxHostBridge(seen::add);
        PciConfigSpace c = bridge.config();
        assertEquals(0x12378086, c.read(0, 4));
        assertEquals(0x11001af4, c.read(PciConfigSpace.SUBSYSTEM_VENDOR_ID, 4), "SeaBIOS's test for QEMU");
        // SeaBIOS writes PAM0-PAM6 as two dwords at 0x58 and 0x5c.
        c.write(0x58, 4, 0x33333000 | 0xff);
        bridge.configWritten(0x58, 4);
        c.write(0x5c, 4, 0x33333333);
        bridge.configWritten(0x5c, 4);
        assertEquals(2, seen.size());
        int[] pam = seen.getLast();
        assertEquals(0x30, pam[0], "PAM0's low nibble is reserved");
        assertEquals(0, c.read(0x58, 1), "0x58 is not a PAM register");
        assertEquals(3, I440fxHostBridge.pamBits(pam, 0xf0000));
        assertEquals(3, I440fxHostBridge.pamBits(pam, 0xec000));
        c.write(0x5f, 1, 0x10);
        bridge.configWritten(0x5f, 1);
        assertEquals(0, I440fxHostBridge.pamBits(seen.getLast(), 0xe8000), "PAM6 low nibble");
        assertEquals(1, I440fxHostBridge.pamBits(seen.getLast(), 0xec000), "PAM6 high nibble");
        bridge.configWritten(0x10, 4);
        assertEquals(3, seen.size(), "writes elsewhere are not PAM changes");
    }
}
