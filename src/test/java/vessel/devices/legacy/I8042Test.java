package vessel.devices.legacy;

import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class I8042Test {
    private final AtomicInteger resets = new AtomicInteger();
    private final AtomicInteger irqs = new AtomicInteger();
    private final I8042 kbc = new I8042(resets::incrementAndGet, irqs::incrementAndGet);

    @Test
    void resetCommandPullsTheResetLine() {
        kbc.write(I8042.STATUS, 1, 0xfe);
        assertEquals(1, resets.get());
    }

    @Test
    void outputPortWriteWithBitZeroClearResets() {
        kbc.write(I8042.STATUS, 1, 0xd1);
        kbc.write(I8042.DATA, 1, 0x01);
        assertEquals(0, resets.get());
        kbc.write(I8042.STATUS, 1, 0xd1);
        kbc.write(I8042.DATA, 1, 0x00);
        assertEquals(1, resets.get());
    }

    @Test
    void selfTestAndCommandByteAnswerThroughTheDataPort() {
        kbc.write(I8042.STATUS, 1, 0xaa);
        assertEquals(1, kbc.read(I8042.STATUS, 1) & 1, "output buffer full");
        assertEquals(0x55, kbc.read(I8042.DATA, 1));
        assertEquals(0, kbc.read(I8042.STATUS, 1) & 1);
        kbc.write(I8042.STATUS, 1, 0x60);
        kbc.write(I8042.DATA, 1, 0x47);
        kbc.write(I8042.STATUS, 1, 0x20);
        assertEquals(0x47, kbc.read(I8042.DATA, 1));
    }

    @Test
    void ctrlAltDelQueuesScancodesAndInterrupts() {
        kbc.sendCtrlAltDel();
        assertEquals(8, irqs.get());
        assertEquals(0x1d, kbc.read(I8042.DATA, 1));
        assertEquals(0x38, kbc.read(I8042.DATA, 1));
        assertEquals(0xe0, kbc.read(I8042.DATA, 1));
        assertEquals(0x53, kbc.read(I8042.DATA, 1));
    }
}
