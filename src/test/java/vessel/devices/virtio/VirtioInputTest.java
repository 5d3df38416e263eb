package vessel.devices.virtio;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vessel.devices.input.LinuxKeys;
import vessel.devices.virtio.TestDriver.Buf;
import vessel.devices.virtio.TestDriver.Used;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VirtioInputTest {
    static final long RAM = 1 << 20;

    private final Arena arena = Arena.ofConfined();
    private final GuestMemory memory = TestMemory.of(arena, RAM);
    private final TestDriver eventq = new TestDriver(memory, 0x1000, VirtioInput.QUEUE_SIZE, 0x10000, 0x80000);
    private final TestDriver statusq = new TestDriver(memory, 0x4000, VirtioInput.QUEUE_SIZE, 0x80000, RAM);
    private final RecordingInterrupt irq = new RecordingInterrupt();
    private final AtomicInteger wakes = new AtomicInteger();

    @AfterEach
    void close() {
        arena.close();
    }

    private VirtioInput start(VirtioInput.Kind kind) throws VirtQueueException {
        VirtioInput dev = new VirtioInput(kind, "serial-1");
        dev.queueTimer((queue, nanos) -> {
            assertEquals(VirtioInput.EVENT_QUEUE, queue);
            wakes.incrementAndGet();
        });
        return activate(dev);
    }

    private VirtioInput activate(VirtioInput dev) throws VirtQueueException {
        VirtQueue e = eventq.configure(new VirtQueue(VirtioInput.QUEUE_SIZE));
        e.activate(memory, false, false);
        VirtQueue s = statusq.configure(new VirtQueue(VirtioInput.QUEUE_SIZE));
        s.activate(memory, false, false);
        dev.activate(memory, List.of(e, s), 0, irq);
        return dev;
    }

    /** The driver's question: select and subsel written, size and the answer read back. */
    private static byte[] ask(VirtioInput dev, int select, int subsel) {
        dev.writeConfig(0, 1, select);
        dev.writeConfig(1, 1, subsel);
        int size = (int) dev.readConfig(2, 1);
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) dev.readConfig(VirtioInput.CONFIG_DATA + i, 1);
        }
        return b;
    }

    private static boolean bit(byte[] bits, int n) {
        return n / 8 < bits.length && (bits[n / 8] & (1 << (n % 8))) != 0;
    }

    private List<Long> postBuffers(int n) {
        List<Long> addrs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long a = eventq.alloc(8);
            addrs.add(a);
            eventq.post(Buf.out(a, 8));
        }
        return addrs;
    }

    /** (type, code, value) of each event in the buffers the device used, in order. */
    private List<List<Integer>> events(List<Used> used, List<Long> addrs) {
        List<List<Integer>> out = new ArrayList<>();
        for (Used u : used) {
            assertEquals(8, u.length());
            ByteBuffer b = ByteBuffer.wrap(memory.read(addrs.get(u.head()), 8)).order(ByteOrder.LITTLE_ENDIAN);
            out.add(List.of(b.getShort() & 0xffff, b.getShort() & 0xffff, b.getInt()));
        }
        return out;
    }

    @Test
    void keyboardDescribesItselfInConfigSpace() throws VirtQueueException {
        VirtioInput kbd = start(VirtioInput.Kind.KEYBOARD);
        assertEquals(18, kbd.deviceType());
        assertEquals(2, kbd.queueCount());
        assertEquals("Vessel virtio keyboard", new String(ask(kbd, 1, 0), StandardCharsets.US_ASCII));
        assertEquals("serial-1", new String(ask(kbd, 2, 0), StandardCharsets.US_ASCII));
        assertArrayEquals(new byte[] {6, 0, (byte) 0xf4, 0x1a, 1, 0, 1, 0}, ask(kbd, 3, 0), "BUS_VIRTUAL devids");
        byte[] keys = ask(kbd, VirtioInput.CFG_EV_BITS, VirtioInput.EV_KEY);
        assertTrue(bit(keys, LinuxKeys.KEY_A) && bit(keys, LinuxKeys.KEY_ESC) && bit(keys, LinuxKeys.KEY_COMPOSE));
        assertTrue(bit(ask(kbd, VirtioInput.CFG_EV_BITS, VirtioInput.EV_LED), 1), "caps lock LED");
        assertEquals(1, ask(kbd, VirtioInput.CFG_EV_BITS, VirtioInput.EV_REP).length);
        assertEquals(0, ask(kbd, VirtioInput.CFG_EV_BITS, VirtioInput.EV_ABS).length);
        assertEquals(0, ask(kbd, VirtioInput.CFG_ABS_INFO, 0).length);
        assertEquals(0, ask(kbd, 0x7f, 0).length, "an unknown select has no answer");
        assertEquals(0, kbd.readConfig(200, 4), "past the config space reads zero");
    }

    @Test
    void tabletDescribesItsAxesAndButtons() throws VirtQueueException {
        VirtioInput tablet = start(VirtioInput.Kind.TABLET);
        byte[] abs = ask(tablet, VirtioInput.CFG_EV_BITS, VirtioInput.EV_ABS);
        assertTrue(bit(abs, 0) && bit(abs, 1));
        byte[] info = ask(tablet, VirtioInput.CFG_ABS_INFO, VirtioInput.ABS_Y);
        ByteBuffer b = ByteBuffer.wrap(info).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(20, info.length);
        assertEquals(0, b.getInt());
        assertEquals(32767, b.getInt());
        byte[] btn = ask(tablet, VirtioInput.CFG_EV_BITS, VirtioInput.EV_KEY);
        assertTrue(bit(btn, LinuxKeys.BTN_LEFT) && bit(btn, LinuxKeys.BTN_RIGHT) && bit(btn, LinuxKeys.BTN_MIDDLE));
        assertTrue(bit(ask(tablet, VirtioInput.CFG_EV_BITS, VirtioInput.EV_REL), VirtioInput.REL_WHEEL));
        assertEquals(0, ask(tablet, VirtioInput.CFG_ABS_INFO, 5).length);
    }

    @Test
    void keysReachTheEventQueueAsKeyAndSyn() throws VirtQueueException {
        VirtioInput kbd = start(VirtioInput.Kind.KEYBOARD);
        List<Long> addrs = postBuffers(8);
        kbd.key('a', true);
        kbd.key(0xff0d, false); // Return up
        kbd.key(0x12345, true); // no key types it: nothing
        assertEquals(2, wakes.get(), "each event group asks the event loop to deliver");
        kbd.queueNotified(VirtioInput.EVENT_QUEUE);
        assertEquals(List.of(List.of(1, 30, 1), List.of(0, 0, 0), List.of(1, 28, 0), List.of(0, 0, 0)),
                events(eventq.reap(), addrs));
        assertEquals(List.of(0), irq.queues);
        assertEquals(4, kbd.delivered());
    }

    @Test
    void tabletScalesToItsRangeAndReportsButtonChangesAndTheWheel() throws VirtQueueException {
        VirtioInput tablet = start(VirtioInput.Kind.TABLET);
        List<Long> addrs = postBuffers(16);
        tablet.pointer(639, 240, 1, 640, 480);
        tablet.pointer(2000, -5, 1 | 8, 640, 480); // off screen: clamped; wheel up pressed
        tablet.queueNotified(VirtioInput.EVENT_QUEUE);
        assertEquals(List.of(
                List.of(3, 0, 32767), List.of(3, 1, 240 * 32767 / 479), List.of(1, LinuxKeys.BTN_LEFT, 1), List.of(0, 0, 0),
                List.of(3, 0, 32767), List.of(3, 1, 0), List.of(2, VirtioInput.REL_WHEEL, 1), List.of(0, 0, 0)),
                events(eventq.reap(), addrs));
    }

    @Test
    void eventsWaitForBuffersAndAreBoundedWhileTheyWait() throws VirtQueueException {
        VirtioInput kbd = start(VirtioInput.Kind.KEYBOARD);
        for (int i = 0; i < 1000; i++) {
            kbd.key('a', (i & 1) == 0);
        }
        kbd.queueNotified(VirtioInput.EVENT_QUEUE);
        assertEquals(List.of(), eventq.reap(), "no buffers: nothing used");
        assertEquals(2000 - VirtioInput.MAX_PENDING, kbd.dropped());
        List<Long> addrs = postBuffers(4);
        kbd.queueNotified(VirtioInput.EVENT_QUEUE);
        assertEquals(List.of(List.of(1, 30, 1), List.of(0, 0, 0), List.of(1, 30, 0), List.of(0, 0, 0)),
                events(eventq.reap(), addrs), "the oldest first");
    }

    @Test
    void aBufferTooShortForAnEventGoesBackEmptyAndTheEventWaits() throws VirtQueueException {
        VirtioInput kbd = start(VirtioInput.Kind.KEYBOARD);
        int shortHead = eventq.post(Buf.out(eventq.alloc(4), 4));
        kbd.key('b', true);
        kbd.queueNotified(VirtioInput.EVENT_QUEUE);
        assertEquals(List.of(new Used(shortHead, 0)), eventq.reap());
        assertEquals(0, kbd.delivered());
    }

    @Test
    void statusEventsAreConsumed() throws VirtQueueException {
        VirtioInput kbd = start(VirtioInput.Kind.KEYBOARD);
        long a = statusq.buffer(new byte[] {0x11, 0, 1, 0, 1, 0, 0, 0}); // LED_CAPSL on
        int head = statusq.post(Buf.in(a, 8));
        kbd.queueNotified(VirtioInput.STATUS_QUEUE);
        assertEquals(List.of(new Used(head, 0)), statusq.reap());
    }

    @Test
    void resetDropsPendingEvents() throws VirtQueueException {
        VirtioInput kbd = start(VirtioInput.Kind.KEYBOARD);
        kbd.key('a', true);
        kbd.reset();
        activate(kbd);
        postBuffers(2);
        kbd.queueNotified(VirtioInput.EVENT_QUEUE);
        assertEquals(List.of(), eventq.reap());
    }
}
