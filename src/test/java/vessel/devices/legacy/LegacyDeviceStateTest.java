package vessel.devices.legacy;

import java.io.ByteArrayOutputStream;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Each legacy device's state record: a device rebuilt from it answers the guest as the saved one did. */
class LegacyDeviceStateTest {
    @Test
    void aRestoredUartHasTheSavedRegistersAndReceiveFifoInOrder() {
        Uart16550 a = new Uart16550(() -> { }, new ByteArrayOutputStream(), Uart16550.Events.NONE);
        a.write(3, 1, 0x83); // DLAB on
        a.write(0, 1, 0x01); // divisor 1: 115200 baud
        a.write(3, 1, 0x03);
        a.write(1, 1, 0x01); // IER: receive interrupt
        a.write(7, 1, 0x5a); // scratch
        a.receive("xyz".getBytes(), 0, 3);
        a.read(0, 1); // the guest takes 'x': the FIFO's head is no longer at index 0
        Uart16550 b = new Uart16550(() -> { }, new ByteArrayOutputStream(), Uart16550.Events.NONE);
        b.restoreState(a.saveState());
        for (int reg = 1; reg < 8; reg++) {
            assertEquals(a.read(reg, 1), b.read(reg, 1), "register " + reg);
        }
        assertEquals('y', b.read(0, 1));
        assertEquals('z', b.read(0, 1));
        assertEquals(a.saveState().dll(), b.saveState().dll());
    }

    @Test
    void impossibleUartStateIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Uart16550.State(
                12, 0, 0, 3, 8, 0x60, 0xb0, 0, false, false, new byte[Uart16550.FIFO_SIZE + 1]));
        assertEquals("UART receive FIFO holds 65 bytes, more than 64", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Uart16550.State(
                0x100, 0, 0, 3, 8, 0x60, 0xb0, 0, false, false, new byte[0]));
    }

    @Test
    void aRestoredI8042HasItsQueueAndPendingCommand() {
        I8042 a = new I8042(() -> { }, () -> { });
        a.write(4, 1, I8042.CMD_SELF_TEST); // answers 0x55 into the output buffer
        a.write(4, 1, I8042.CMD_READ_CTR); // and the control byte queued after it
        a.write(4, 1, I8042.CMD_WRITE_CTR); // a command awaiting its data byte
        I8042.State saved = a.saveState();
        assertEquals(I8042.CMD_WRITE_CTR, saved.pendingCommand());
        assertEquals(0x55, saved.output());
        assertEquals(1, saved.replies().length);
        I8042 b = new I8042(() -> { }, () -> { });
        b.restoreState(saved);
        assertEquals(saved.pendingCommand(), b.saveState().pendingCommand());
        assertArrayEquals(saved.replies(), b.saveState().replies());
        assertEquals(a.read(4, 1), b.read(4, 1), "status");
        assertEquals(0x55, b.read(0, 1));
        assertEquals(a.read(0, 1), 0x55);
        assertEquals(a.read(0, 1), b.read(0, 1), "the control byte");
        assertThrows(IllegalArgumentException.class, () -> new I8042.State(0x45, 0x100, false, -1, false, new int[0]));
        assertThrows(IllegalArgumentException.class, () -> new I8042.State(0x45, -1, false, -1, false, new int[9]));
    }

    @Test
    void aRestoredRtcKeepsItsNvramIndexAndTheGuestsClockOffset() {
        Clock clock = Clock.fixed(Instant.parse("2026-12-03T10:00:00Z"), ZoneOffset.UTC);
        CmosRtc a = new CmosRtc(clock, 128L << 20, 0);
        a.write(0, 1, 0x0b);
        a.write(1, 1, 0x86); // SET, binary, 24 h: time fields are written next
        a.write(0, 1, 0x04);
        a.write(1, 1, 7); // hours = 7
        a.write(0, 1, 0x0b);
        a.write(1, 1, 0x06); // SET off: the guest's clock now runs 3 hours behind the host's
        a.write(0, 1, 0x38);
        a.write(1, 1, 0x42); // an NVRAM byte
        CmosRtc b = new CmosRtc(clock, 0, 0);
        b.restoreState(a.saveState());
        b.write(0, 1, 0x04);
        assertEquals(7, b.read(1, 1), "hours");
        b.write(0, 1, 0x38);
        assertEquals(0x42, b.read(1, 1));
        assertArrayEquals(a.saveState().nvram(), b.saveState().nvram());
        assertThrows(IllegalArgumentException.class, () -> new CmosRtc.State(new byte[127], 0, 0, false, 0));
        assertThrows(IllegalArgumentException.class, () -> new CmosRtc.State(new byte[128], 128, 0, false, 0));
    }
}
