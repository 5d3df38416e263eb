package vessel.devices.legacy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class I8042Test {
    private final AtomicInteger resets = new AtomicInteger();
    private final AtomicInteger irqs = new AtomicInteger();
    private final AtomicInteger auxIrqs = new AtomicInteger();
    private final I8042 kbc = new I8042(resets::incrementAndGet, irqs::incrementAndGet, auxIrqs::incrementAndGet);

    private void command(int cmd) {
        kbc.write(I8042.STATUS, 1, cmd);
    }

    private void data(int v) {
        kbc.write(I8042.DATA, 1, v);
    }

    /** Everything in the output buffer, read as a driver does: status first, then data while it is full. */
    private List<Integer> drain() {
        List<Integer> bytes = new ArrayList<>();
        for (int i = 0; i < 200 && (kbc.read(I8042.STATUS, 1) & I8042.STATUS_OUTPUT_FULL) != 0; i++) {
            bytes.add((int) kbc.read(I8042.DATA, 1));
        }
        return bytes;
    }

    private void toKeyboard(int... bytes) {
        for (int b : bytes) {
            data(b);
        }
    }

    private void toMouse(int... bytes) {
        for (int b : bytes) {
            command(I8042.CMD_WRITE_AUX);
            data(b);
        }
    }

    @Test
    void resetCommandPullsTheResetLine() {
        command(0xfe);
        assertEquals(1, resets.get());
    }

    @Test
    void outputPortWriteWithBitZeroClearResets() {
        command(0xd1);
        data(0x01);
        assertEquals(0, resets.get());
        command(0xd1);
        data(0x00);
        assertEquals(1, resets.get());
    }

    @Test
    void selfTestAndCommandByteAnswerThroughTheDataPort() {
        command(0xaa);
        assertEquals(1, kbc.read(I8042.STATUS, 1) & 1, "output buffer full");
        assertEquals(0x55, kbc.read(I8042.DATA, 1));
        assertEquals(0, kbc.read(I8042.STATUS, 1) & 1);
        command(0x60);
        data(0x47);
        command(0x20);
        assertEquals(0x47, kbc.read(I8042.DATA, 1));
    }

    @Test
    void ctrlAltDelQueuesSetOneScancodesOneInterruptPerByte() {
        kbc.sendCtrlAltDel();
        assertEquals(1, irqs.get(), "one byte in the buffer, one interrupt");
        assertEquals(List.of(0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d), drain());
        assertEquals(8, irqs.get(), "each byte loaded raised IRQ 1");
        assertEquals(0, auxIrqs.get());
    }

    @Test
    void keyboardAnswersAtkbdsProbe() {
        toKeyboard(0xff);
        assertEquals(List.of(0xfa, 0xaa), drain());
        toKeyboard(0xf2);
        assertEquals(List.of(0xfa, 0xab, 0x41), drain(), "translated MF2 ID");
        toKeyboard(0xf5, 0xed, 0x07, 0xf3, 0x20, 0xf4);
        assertEquals(List.of(0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa), drain());
        toKeyboard(0xee);
        assertEquals(List.of(0xee), drain());
        toKeyboard(0xab);
        assertEquals(List.of(0xfe), drain(), "an unknown command asks for a resend");
    }

    @Test
    void keysAreSetOneWhenTranslatedAndSetTwoWhenNot() {
        kbc.key('a', true);
        kbc.key('a', false);
        kbc.key(0xff52, true); // Up
        kbc.key(0xff52, false);
        assertEquals(List.of(0x1e, 0x9e, 0xe0, 0x48, 0xe0, 0xc8), drain());
        command(0x60);
        data(0x03); // interrupts on, no translation
        kbc.key('A', true);
        kbc.key('A', false);
        kbc.key(0xff52, true);
        kbc.key(0xff52, false);
        assertEquals(List.of(0x1c, 0xf0, 0x1c, 0xe0, 0x75, 0xe0, 0xf0, 0x75), drain());
        toKeyboard(0xf2);
        assertEquals(List.of(0xfa, 0xab, 0x83), drain());
        toKeyboard(0xf0, 0x01);
        assertEquals(List.of(0xfa, 0xfa), drain());
        toKeyboard(0xf0, 0x00);
        assertEquals(List.of(0xfa, 0xfa, 0x01), drain());
        kbc.key(0xff0d, true);
        assertEquals(List.of(0x1c), drain(), "Return in set 1");
        toKeyboard(0xf0, 0x03);
        assertEquals(List.of(0xfa, 0xfe), drain(), "set 3 is refused");
    }

    @Test
    void keysAreDroppedWhileScanningIsOffOrTheQueueIsFull() {
        toKeyboard(0xf5);
        drain();
        kbc.key('a', true);
        assertEquals(List.of(), drain());
        toKeyboard(0xf4);
        drain();
        command(I8042.CMD_DISABLE_KBD); // the guest reads nothing: the keyboard's queue fills
        for (int i = 0; i < 100; i++) {
            kbc.key('a', (i & 1) == 0);
        }
        command(I8042.CMD_ENABLE_KBD);
        List<Integer> got = drain();
        assertEquals(Ps2Keyboard.QUEUE_BYTES - 4, got.size(), "bounded, with room kept for replies");
        assertTrue(kbc.droppedEvents() > 0);
    }

    @Test
    void auxLoopbackRaisesIrq12WithTheAuxDataBit() {
        command(I8042.CMD_WRITE_AUX_OUTPUT);
        data(0xa5);
        int status = (int) kbc.read(I8042.STATUS, 1);
        assertEquals(I8042.STATUS_OUTPUT_FULL | I8042.STATUS_AUX_DATA, status & 0x21);
        assertEquals(0xa5, kbc.read(I8042.DATA, 1));
        assertEquals(1, auxIrqs.get());
        assertEquals(0, irqs.get());
    }

    @Test
    void commandByteBitsReadBackAsWritten() {
        command(I8042.CMD_DISABLE_AUX);
        command(I8042.CMD_READ_CTR);
        assertEquals(0x20, drain().getFirst() & 0x20);
        command(I8042.CMD_ENABLE_AUX);
        command(I8042.CMD_READ_CTR);
        assertEquals(0, drain().getFirst() & 0x20);
    }

    @Test
    void mouseAnswersPsmouseAndSendsPackets() {
        toMouse(0xff);
        assertEquals(List.of(0xfa, 0xaa, 0x00), drain());
        assertEquals(3, auxIrqs.get());
        toMouse(0xf2);
        assertEquals(List.of(0xfa, 0x00), drain());
        toMouse(0xe9);
        assertEquals(List.of(0xfa, 0x00, 0x02, 100), drain());
        kbc.pointer(100, 100, 0, 640, 480);
        assertEquals(List.of(), drain(), "no reports before 0xF4");
        toMouse(0xf4);
        drain();
        kbc.pointer(110, 90, 1, 640, 480); // right 10, up 10, left button
        assertEquals(List.of(0x09, 10, 10), drain());
        kbc.pointer(100, 95, 4, 640, 480); // left 10, down 5, right button
        assertEquals(List.of(0x08 | 0x02 | 0x10 | 0x20, 0xf6, 0xfb), drain());
        kbc.pointer(700, 95, 0, 640, 480); // 600 to the right: three packets, none over 255
        assertEquals(List.of(0x08, 255, 0, 0x08, 255, 0, 0x08, 90, 0), drain());
    }

    @Test
    void intelliMouseKnockTurnsOnTheWheel() {
        toMouse(0xf3, 200, 0xf3, 100, 0xf3, 80, 0xf2);
        assertEquals(List.of(0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0x03), drain());
        toMouse(0xf4);
        drain();
        kbc.pointer(0, 0, 0, 640, 480);
        kbc.pointer(0, 0, 8, 640, 480); // wheel up pressed
        kbc.pointer(0, 0, 0, 640, 480); // released: nothing to send
        assertEquals(List.of(0x08, 0, 0, 0xff), drain());
    }

    @Test
    void mousePacketsAreBoundedWhenTheGuestDoesNotRead() {
        toMouse(0xf4);
        drain();
        command(I8042.CMD_DISABLE_AUX);
        for (int i = 0; i < 1000; i++) {
            kbc.pointer(i % 2 == 0 ? 0 : 5, 0, 0, 640, 480);
        }
        command(I8042.CMD_ENABLE_AUX);
        List<Integer> got = drain();
        assertTrue(got.size() <= Ps2Mouse.QUEUE_BYTES && got.size() % 3 == 0, got.size() + " bytes");
        assertTrue(kbc.droppedEvents() > 0);
    }
}
