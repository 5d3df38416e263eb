package vessel.devices.legacy;

import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class DebugExitTest {
    @Test
    void statusIsValueShiftedWithLowBitSetAsQemuDoes() {
        assertEquals(1, DebugExit.statusFor(0));
        assertEquals(33, DebugExit.statusFor(0x10));
        assertEquals(85, DebugExit.statusFor(0x2a));
        assertEquals(0xff, DebugExit.statusFor(0x7f));
    }

    @Test
    void aWriteOfAnySizeReportsTheTruncatedValue() {
        AtomicInteger status = new AtomicInteger(-1);
        DebugExit dev = new DebugExit(status::set);
        dev.write(0, 4, 0x12);
        assertEquals(37, status.get());
        dev.write(0, 1, 0x1ff); // only the low byte travels in a 1-byte write
        assertEquals(0xff, status.get());
    }
}
