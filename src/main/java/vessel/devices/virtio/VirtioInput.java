package vessel.devices.virtio;

import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import vessel.devices.input.InputSink;
import vessel.devices.input.LinuxKeys;
import vessel.memory.GuestMemory;

/**
 * virtio-input (device type 18, virtio 1.x section 5.8): a keyboard or a tablet (an absolute pointer,
 * 0..32767 on both axes, three buttons and a wheel). The configuration space answers the driver's
 * select/subsel questions (name, serial, IDs, property and event bitmaps, axis ranges); events go to the
 * driver through the event queue as evdev triples ending in SYN_REPORT; the status queue (LEDs) is read
 * and dropped.
 *
 * <p>As an {@link InputSink} it is called from a display server's threads: an event group goes into a
 * bounded pending list (or is dropped whole if it does not fit) and the VMM's event loop is asked, through
 * the {@link QueueTimer}, to move pending events into the driver's buffers, under the transport lock and
 * the pause gate like any notification.
 */
public final class VirtioInput implements VirtioDevice, InputSink {
    private static final System.Logger LOG = System.getLogger("vessel.devices.virtio");

    public static final int DEVICE_TYPE = 18;
    public static final int QUEUE_SIZE = 64;
    static final int EVENT_QUEUE = 0;
    static final int STATUS_QUEUE = 1;

    static final int CFG_UNSET = 0x00;
    static final int CFG_ID_NAME = 0x01;
    static final int CFG_ID_SERIAL = 0x02;
    static final int CFG_ID_DEVIDS = 0x03;
    static final int CFG_PROP_BITS = 0x10;
    static final int CFG_EV_BITS = 0x11;
    static final int CFG_ABS_INFO = 0x12;
    /** select, subsel, size, 5 reserved bytes, then the 128-byte answer. */
    static final int CONFIG_SIZE = 136;
    static final int CONFIG_DATA = 8;
    static final int CONFIG_DATA_SIZE = 128;

    static final int EV_SYN = 0x00;
    static final int EV_KEY = 0x01;
    static final int EV_REL = 0x02;
    static final int EV_ABS = 0x03;
    static final int EV_LED = 0x11;
    static final int EV_REP = 0x14;
    static final int REL_WHEEL = 0x08;
    static final int ABS_X = 0x00;
    static final int ABS_Y = 0x01;
    static final int LED_NUML = 0;
    static final int LED_CAPSL = 1;
    static final int LED_SCROLLL = 2;
    static final int ABS_MAX = 32767;
    static final int BUS_VIRTUAL = 0x06;

    /** One virtio_input_event: le16 type, le16 code, le32 value. */
    static final int EVENT_BYTES = 8;
    /** Events waiting for the driver's buffers; a group that does not fit is dropped whole. */
    static final int MAX_PENDING = 256;

    /** What the device is to the guest. */
    public enum Kind {
        KEYBOARD("Vessel virtio keyboard", 1),
        TABLET("Vessel virtio tablet", 3);

        final String deviceName;
        final int product;

        Kind(String deviceName, int product) {
            this.deviceName = deviceName;
            this.product = product;
        }
    }

    private final Kind kind;
    private final String serial;
    private final QueueServer status;
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong statusEvents = new AtomicLong();

    /** The driver's current question and the answer it reads back (only vCPU threads touch these). */
    private int select;
    private int subsel;
    private byte[] answer = new byte[0];

    /** Pending events as (type << 48 | code << 32 | value), oldest first; guarded by {@code pending}. */
    private final long[] pending = new long[MAX_PENDING];
    private int pendingHead;
    private int pendingCount;

    /** Pointer state of the tablet, RFB button mask; guarded by {@code pending}. */
    private int lastButtons;

    private VirtQueue events;
    private VirtioInterrupt interrupt;
    private boolean eventsStopped;
    private volatile QueueTimer wake = QueueTimer.NONE;

    public VirtioInput(Kind kind, String serial) {
        this.kind = kind;
        this.serial = serial;
        this.status = new QueueServer("virtio-input status", STATUS_QUEUE, this::statusEvent);
    }

    public Kind kind() {
        return kind;
    }

    /** Events handed to the driver. */
    public long delivered() {
        return delivered.get();
    }

    /** Events dropped because the driver had not taken the ones before (or was not there). */
    public long dropped() {
        return dropped.get();
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures() {
        return 0;
    }

    @Override
    public int queueCount() {
        return 2;
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public synchronized byte[] configSpace() {
        byte[] space = new byte[CONFIG_SIZE];
        space[0] = (byte) select;
        space[1] = (byte) subsel;
        space[2] = (byte) answer.length;
        System.arraycopy(answer, 0, space, CONFIG_DATA, Math.min(answer.length, CONFIG_SIZE - CONFIG_DATA));
        return space;
    }

    @Override
    public synchronized void writeConfig(int offset, int size, long value) {
        for (int i = 0; i < size; i++) {
            int b = (int) (value >>> (8 * i)) & 0xff;
            if (offset + i == 0) {
                select = b;
            } else if (offset + i == 1) {
                subsel = b;
            }
        }
        answer = answer(select, subsel);
    }

    /** The configuration answer to (select, subsel); empty where the device has nothing to say. */
    byte[] answer(int sel, int sub) {
        return switch (sel) {
            case CFG_ID_NAME -> sub == 0 ? ascii(kind.deviceName) : new byte[0];
            case CFG_ID_SERIAL -> sub == 0 ? ascii(serial) : new byte[0];
            case CFG_ID_DEVIDS -> sub == 0 ? le16s(BUS_VIRTUAL, 0x1af4, kind.product, 1) : new byte[0];
            case CFG_PROP_BITS -> new byte[0];
            case CFG_EV_BITS -> eventBits(sub);
            case CFG_ABS_INFO -> kind == Kind.TABLET && (sub == ABS_X || sub == ABS_Y)
                    ? le32s(0, ABS_MAX, 0, 0, 0) : new byte[0];
            default -> new byte[0];
        };
    }

    private byte[] eventBits(int type) {
        if (kind == Kind.KEYBOARD) {
            return switch (type) {
                case EV_KEY -> {
                    byte[] bits = new byte[LinuxKeys.MAX_KEY / 8 + 1];
                    for (int code = 1; code <= LinuxKeys.MAX_KEY; code++) {
                        bits[code / 8] |= (byte) (1 << (code % 8));
                    }
                    yield bits;
                }
                case EV_LED -> new byte[] {(byte) ((1 << LED_NUML) | (1 << LED_CAPSL) | (1 << LED_SCROLLL))};
                case EV_REP -> new byte[1]; // present: the driver turns on the kernel's autorepeat
                default -> new byte[0];
            };
        }
        return switch (type) {
            case EV_KEY -> {
                byte[] bits = new byte[LinuxKeys.BTN_MIDDLE / 8 + 1];
                for (int code : new int[] {LinuxKeys.BTN_LEFT, LinuxKeys.BTN_RIGHT, LinuxKeys.BTN_MIDDLE}) {
                    bits[code / 8] |= (byte) (1 << (code % 8));
                }
                yield bits;
            }
            case EV_REL -> new byte[] {0, 1 << (REL_WHEEL - 8)};
            case EV_ABS -> new byte[] {(1 << ABS_X) | (1 << ABS_Y)};
            default -> new byte[0];
        };
    }

    private static byte[] ascii(String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        return b.length > CONFIG_DATA_SIZE ? java.util.Arrays.copyOf(b, CONFIG_DATA_SIZE) : b;
    }

    private static byte[] le16s(int... values) {
        byte[] b = new byte[values.length * 2];
        for (int i = 0; i < values.length; i++) {
            b[2 * i] = (byte) values[i];
            b[2 * i + 1] = (byte) (values[i] >> 8);
        }
        return b;
    }

    private static byte[] le32s(int... values) {
        byte[] b = new byte[values.length * 4];
        for (int i = 0; i < values.length; i++) {
            for (int j = 0; j < 4; j++) {
                b[4 * i + j] = (byte) (values[i] >> (8 * j));
            }
        }
        return b;
    }

    // ---- input from the display server

    @Override
    public void key(int keysym, boolean down) {
        if (kind != Kind.KEYBOARD) {
            return;
        }
        int code = LinuxKeys.fromKeysym(keysym);
        if (code != 0) {
            offer(event(EV_KEY, code, down ? 1 : 0), event(EV_SYN, 0, 0));
        }
    }

    @Override
    public void pointer(int x, int y, int buttons, int width, int height) {
        if (kind != Kind.TABLET) {
            return;
        }
        long[] group = new long[8];
        int n = 0;
        group[n++] = event(EV_ABS, ABS_X, scale(x, width));
        group[n++] = event(EV_ABS, ABS_Y, scale(y, height));
        synchronized (pending) {
            int changed = buttons ^ lastButtons;
            int[] codes = {LinuxKeys.BTN_LEFT, LinuxKeys.BTN_MIDDLE, LinuxKeys.BTN_RIGHT};
            for (int b = 0; b < 3; b++) {
                if ((changed & (1 << b)) != 0) {
                    group[n++] = event(EV_KEY, codes[b], (buttons >> b) & 1);
                }
            }
            if ((buttons & ~lastButtons & 8) != 0) {
                group[n++] = event(EV_REL, REL_WHEEL, 1); // wheel up: away from the user
            }
            if ((buttons & ~lastButtons & 16) != 0) {
                group[n++] = event(EV_REL, REL_WHEEL, -1);
            }
            lastButtons = buttons;
        }
        group[n++] = event(EV_SYN, 0, 0);
        offer(java.util.Arrays.copyOf(group, n));
    }

    /** {@code v} on a screen side of {@code size} pixels as 0..ABS_MAX, clamped to the screen. */
    static int scale(int v, int size) {
        if (size <= 1) {
            return 0;
        }
        long clamped = Math.clamp(v, 0, size - 1);
        return (int) (clamped * ABS_MAX / (size - 1));
    }

    static long event(int type, int code, int value) {
        return ((long) (type & 0xffff) << 48) | ((long) (code & 0xffff) << 32) | (value & 0xffffffffL);
    }

    private void offer(long... group) {
        synchronized (pending) {
            if (pendingCount + group.length > MAX_PENDING) {
                dropped.addAndGet(group.length);
                return;
            }
            for (long e : group) {
                pending[(pendingHead + pendingCount) % MAX_PENDING] = e;
                pendingCount++;
            }
        }
        wake.wakeAfter(EVENT_QUEUE, 0);
    }

    // ---- queues

    @Override
    public void queueTimer(QueueTimer timer) {
        this.wake = timer;
    }

    @Override
    public void activate(GuestMemory memory, List<VirtQueue> queues, long ackedFeatures, VirtioInterrupt irq) {
        this.events = queues.get(EVENT_QUEUE);
        this.interrupt = irq;
        this.eventsStopped = false;
        status.start(queues.size() > STATUS_QUEUE ? queues.get(STATUS_QUEUE) : null, irq);
        pump();
    }

    @Override
    public boolean queueNotified(int index) {
        if (index == STATUS_QUEUE) {
            return status.serve();
        }
        return index == EVENT_QUEUE && pump();
    }

    @Override
    public void reset() {
        events = null;
        interrupt = null;
        status.clear();
        synchronized (pending) {
            pendingHead = 0;
            pendingCount = 0;
            lastButtons = 0;
        }
    }

    /**
     * Moves pending events into the driver's event buffers, one per buffer, at most a pass's worth;
     * returns true when it stopped at that budget with events and buffers left.
     */
    private boolean pump() {
        VirtQueue q = events;
        if (q == null || eventsStopped) {
            return false;
        }
        boolean used = false;
        boolean more = false;
        try {
            for (int served = 0; ; served++) {
                long e;
                synchronized (pending) {
                    if (pendingCount == 0) {
                        break;
                    }
                    if (served == QueueServer.CHAINS_PER_PASS) {
                        more = true;
                        break;
                    }
                    e = pending[pendingHead];
                }
                DescriptorChain chain = q.pop();
                if (chain == null) {
                    break; // no buffer: the events wait for the driver's next notification
                }
                int written = 0;
                if (chain.writableLength() >= EVENT_BYTES) { // a shorter buffer goes back empty
                    chain.write(0, encode(e), 0, EVENT_BYTES);
                    written = EVENT_BYTES;
                    synchronized (pending) {
                        pendingHead = (pendingHead + 1) % MAX_PENDING;
                        pendingCount--; // only this pass removes, under the transport lock: still there
                    }
                    delivered.incrementAndGet();
                }
                q.addUsed(chain.head(), written);
                used = true;
            }
        } catch (VirtQueueException ex) {
            eventsStopped = true;
            String message = "virtio-input event queue: " + ex.getMessage();
            LOG.log(Level.WARNING, message + "; queue stopped until the driver resets the device");
            interrupt.needsReset(message);
            return false;
        }
        if (used && q.needsNotification()) {
            interrupt.queue(EVENT_QUEUE);
        }
        return more;
    }

    /** A pending event as the driver reads it: le16 type, le16 code, le32 value. */
    static byte[] encode(long event) {
        int type = (int) (event >>> 48) & 0xffff;
        int code = (int) (event >>> 32) & 0xffff;
        int value = (int) event;
        return new byte[] {(byte) type, (byte) (type >> 8), (byte) code, (byte) (code >> 8),
                (byte) value, (byte) (value >> 8), (byte) (value >> 16), (byte) (value >> 24)};
    }

    /** A status event (an LED the guest switched): read and dropped. */
    private int statusEvent(DescriptorChain chain) {
        statusEvents.incrementAndGet();
        if (LOG.isLoggable(Level.DEBUG) && chain.readableLength() >= EVENT_BYTES) {
            byte[] b = new byte[EVENT_BYTES];
            chain.read(0, b, 0, EVENT_BYTES);
            LOG.log(Level.DEBUG, "virtio-input: status event type " + (b[0] & 0xff) + " code " + (b[2] & 0xff)
                    + " value " + (b[4] & 0xff));
        }
        return 0;
    }
}
