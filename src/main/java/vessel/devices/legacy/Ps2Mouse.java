package vessel.devices.legacy;

/**
 * A PS/2 mouse behind the i8042's aux port: the commands Linux's psmouse sends while it probes and sets
 * up (reset, get ID, sample rate, resolution, scaling, status request, stream/remote/wrap mode, enable
 * reporting) and movement as 3-byte packets, 4-byte with a wheel once the guest has switched it to
 * IntelliMouse mode (sample rates 200, 100, 80). Positions from the display server are absolute; the mouse
 * sends the difference from the last one, at most 255 counts per packet and a few packets per event.
 */
final class Ps2Mouse {
    static final int ACK = 0xfa;
    static final int RESEND = 0xfe;

    static final int CMD_SCALING_1_1 = 0xe6;
    static final int CMD_SCALING_2_1 = 0xe7;
    static final int CMD_RESOLUTION = 0xe8;
    static final int CMD_STATUS = 0xe9;
    static final int CMD_STREAM = 0xea;
    static final int CMD_READ_DATA = 0xeb;
    static final int CMD_RESET_WRAP = 0xec;
    static final int CMD_WRAP = 0xee;
    static final int CMD_REMOTE = 0xf0;
    static final int CMD_GET_ID = 0xf2;
    static final int CMD_SAMPLE_RATE = 0xf3;
    static final int CMD_ENABLE = 0xf4;
    static final int CMD_DISABLE = 0xf5;
    static final int CMD_DEFAULTS = 0xf6;
    static final int CMD_RESET = 0xff;

    static final int STATUS_REMOTE = 0x40;
    static final int STATUS_ENABLED = 0x20;
    static final int STATUS_SCALING_2_1 = 0x10;

    static final int ID_PS2 = 0;
    static final int ID_INTELLIMOUSE = 3;

    /** Room for 16 wheel packets; 4 bytes stay free for command replies. */
    static final int QUEUE_BYTES = 64;
    private static final int REPLY_RESERVE = 4;
    /** A big jump becomes at most this many packets; the rest of it is dropped. */
    static final int MAX_PACKETS_PER_EVENT = 4;
    private static final int MAX_DELTA = 255;

    /** What the mouse remembers between bytes (button bits in PS/2 order: left 1, right 2, middle 4). */
    record State(int status, int resolution, int sampleRate, int id, boolean wrap, int lastRates,
                 int pendingCommand, int buttons) {
        static final State POWER_ON = new State(0, 2, 100, ID_PS2, false, 0, -1, 0);

        State with(int newStatus, int pending) {
            return new State(newStatus, resolution, sampleRate, id, wrap, lastRates, pending, buttons);
        }
    }

    private final Ps2Queue out = new Ps2Queue(QUEUE_BYTES, REPLY_RESERVE);
    private State state = State.POWER_ON;
    private int lastX = -1;
    private int lastY = -1;
    private long dropped;

    Ps2Queue output() {
        return out;
    }

    State state() {
        return state;
    }

    long dropped() {
        return dropped;
    }

    /** A byte from the guest through the controller's "write to aux" (0xD4) command. */
    void write(int b) {
        State s = state;
        if (s.pendingCommand() != -1) {
            argument(s.pendingCommand(), b);
            return;
        }
        if (s.wrap() && b != CMD_RESET_WRAP && b != CMD_RESET) {
            out.offerReply(b); // wrap mode echoes
            return;
        }
        switch (b) {
            case CMD_RESET -> {
                out.clear();
                state = State.POWER_ON;
                out.offerReply(ACK, 0xaa, ID_PS2);
            }
            case CMD_DEFAULTS -> {
                state = new State(0, 2, 100, s.id(), false, 0, -1, s.buttons());
                out.offerReply(ACK);
            }
            case CMD_ENABLE -> {
                state = s.with(s.status() | STATUS_ENABLED, -1);
                out.offerReply(ACK);
            }
            case CMD_DISABLE -> {
                state = s.with(s.status() & ~STATUS_ENABLED, -1);
                out.offerReply(ACK);
            }
            case CMD_SCALING_1_1 -> reply(s.with(s.status() & ~STATUS_SCALING_2_1, -1));
            case CMD_SCALING_2_1 -> reply(s.with(s.status() | STATUS_SCALING_2_1, -1));
            case CMD_STREAM -> reply(s.with(s.status() & ~STATUS_REMOTE, -1));
            case CMD_REMOTE -> reply(s.with(s.status() | STATUS_REMOTE, -1));
            case CMD_RESET_WRAP -> reply(new State(s.status(), s.resolution(), s.sampleRate(), s.id(), false,
                    s.lastRates(), -1, s.buttons()));
            case CMD_WRAP -> reply(new State(s.status(), s.resolution(), s.sampleRate(), s.id(), true,
                    s.lastRates(), -1, s.buttons()));
            case CMD_RESOLUTION, CMD_SAMPLE_RATE -> reply(s.with(s.status(), b));
            case CMD_GET_ID -> out.offerReply(ACK, s.id());
            case CMD_STATUS -> out.offerReply(ACK, s.status() | (s.buttons() & 7), s.resolution(), s.sampleRate());
            case CMD_READ_DATA -> {
                out.offerReply(ACK);
                out.offerReply(ints(packet(s.buttons() & 7, 0, 0, 0, s.id())));
            }
            default -> out.offerReply(RESEND);
        }
    }

    private void reply(State next) {
        state = next;
        out.offerReply(ACK);
    }

    private void argument(int command, int b) {
        State s = state;
        if (command == CMD_SAMPLE_RATE) {
            int rates = ((s.lastRates() << 8) | b) & 0xffffff;
            // IntelliMouse's knock: rates 200, 100, 80 in a row switch on the wheel (and ID 3).
            int id = rates == 0xc86450 ? ID_INTELLIMOUSE : s.id();
            state = new State(s.status(), s.resolution(), b, id, s.wrap(), rates, -1, s.buttons());
        } else {
            state = new State(s.status(), b & 0x03, s.sampleRate(), s.id(), s.wrap(), s.lastRates(), -1, s.buttons());
        }
        out.offerReply(ACK);
    }

    /**
     * The pointer at ({@code x}, {@code y}) with RFB's button mask (bit 0 left, 1 middle, 2 right, 3 and 4
     * wheel up and down, counted when pressed). Sends packets while reporting is on in stream mode.
     */
    void pointer(int x, int y, int rfbButtons) {
        int dx = lastX < 0 ? 0 : x - lastX;
        int dy = lastY < 0 ? 0 : lastY - y; // PS/2's y grows upwards, the screen's downwards
        lastX = x;
        lastY = y;
        State s = state;
        int buttons = (rfbButtons & 1) | ((rfbButtons & 4) >> 1) | ((rfbButtons & 2) << 1);
        int wheel = 0;
        int previous = s.buttons() >> 3; // the wheel bits of the last mask, kept above the PS/2 ones
        if ((rfbButtons & 8) != 0 && (previous & 1) == 0) {
            wheel--;
        }
        if ((rfbButtons & 16) != 0 && (previous & 2) == 0) {
            wheel++;
        }
        boolean buttonsChanged = (s.buttons() & 7) != buttons;
        state = new State(s.status(), s.resolution(), s.sampleRate(), s.id(), s.wrap(), s.lastRates(),
                s.pendingCommand(), buttons | ((rfbButtons & 0x18)));
        if ((s.status() & (STATUS_ENABLED | STATUS_REMOTE)) != STATUS_ENABLED) {
            return;
        }
        if (s.id() != ID_INTELLIMOUSE) {
            wheel = 0;
        }
        if (dx == 0 && dy == 0 && wheel == 0 && !buttonsChanged) {
            return;
        }
        for (int n = 0; n < MAX_PACKETS_PER_EVENT; n++) {
            int px = Math.clamp(dx, -MAX_DELTA, MAX_DELTA);
            int py = Math.clamp(dy, -MAX_DELTA, MAX_DELTA);
            int pz = Math.clamp(wheel, -8, 7);
            if (!out.offerEvent(packet(buttons, px, py, pz, s.id()))) {
                dropped++;
                return;
            }
            dx -= px;
            dy -= py;
            wheel -= pz;
            if (dx == 0 && dy == 0 && wheel == 0) {
                return;
            }
        }
        dropped++; // the rest of a jump too big for the packets one event may take
    }

    /** A movement packet: buttons and signs, then the 9-bit deltas' low bytes, then the wheel if it has one. */
    private static byte[] packet(int buttons, int dx, int dy, int dz, int id) {
        int first = 0x08 | (buttons & 7) | (dx < 0 ? 0x10 : 0) | (dy < 0 ? 0x20 : 0);
        return id == ID_INTELLIMOUSE
                ? new byte[] {(byte) first, (byte) dx, (byte) dy, (byte) dz}
                : new byte[] {(byte) first, (byte) dx, (byte) dy};
    }

    private static int[] ints(byte[] b) {
        int[] r = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            r[i] = b[i] & 0xff;
        }
        return r;
    }
}
