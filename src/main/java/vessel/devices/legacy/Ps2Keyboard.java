package vessel.devices.legacy;

/**
 * A PS/2 (MF2) keyboard behind the i8042's first port: the commands Linux's atkbd sends (reset, get ID,
 * LEDs, scancode set, typematic rate, enable and disable scanning, echo), and key presses as set-1 or
 * set-2 scancodes. Replies and keys queue in its own bounded {@link Ps2Queue}; the controller drains it.
 */
final class Ps2Keyboard {
    static final int ACK = 0xfa;
    static final int RESEND = 0xfe;
    static final int BAT_OK = 0xaa;

    static final int CMD_SET_LEDS = 0xed;
    static final int CMD_ECHO = 0xee;
    static final int CMD_SCANCODE_SET = 0xf0;
    static final int CMD_GET_ID = 0xf2;
    static final int CMD_TYPEMATIC = 0xf3;
    static final int CMD_ENABLE = 0xf4;
    static final int CMD_DISABLE = 0xf5;
    static final int CMD_DEFAULTS = 0xf6;
    static final int CMD_RESET = 0xff;

    /** 16 bytes is what a PS/2 keyboard buffers; 4 of them stay free for command replies. */
    static final int QUEUE_BYTES = 16;
    private static final int REPLY_RESERVE = 4;
    private static final int DEFAULT_TYPEMATIC = 0x2b; // 10.9 characters a second after 500 ms

    /** What the keyboard remembers between bytes. */
    record State(boolean scanning, int scancodeSet, int leds, int typematic, int pendingCommand) {
        static final State POWER_ON = new State(true, 2, 0, DEFAULT_TYPEMATIC, -1);
    }

    private final Ps2Queue out = new Ps2Queue(QUEUE_BYTES, REPLY_RESERVE);
    private State state = State.POWER_ON;
    private long dropped;

    Ps2Queue output() {
        return out;
    }

    State state() {
        return state;
    }

    /** Key events that did not fit the queue, since power-on. */
    long dropped() {
        return dropped;
    }

    /**
     * A byte from the guest. {@code translated}: the controller translates this port's bytes to set 1,
     * which changes how the ID and the scancode set read back.
     */
    void write(int b, boolean translated) {
        int pending = state.pendingCommand();
        if (pending != -1) {
            argument(pending, b, translated);
            return;
        }
        switch (b) {
            case CMD_RESET -> {
                out.clear();
                state = State.POWER_ON;
                out.offerReply(ACK, BAT_OK);
            }
            case CMD_DISABLE -> { // also restores the defaults
                state = new State(false, state.scancodeSet(), 0, DEFAULT_TYPEMATIC, -1);
                out.offerReply(ACK);
            }
            case CMD_DEFAULTS -> {
                state = new State(true, state.scancodeSet(), 0, DEFAULT_TYPEMATIC, -1);
                out.offerReply(ACK);
            }
            case CMD_ENABLE -> {
                state = new State(true, state.scancodeSet(), state.leds(), state.typematic(), -1);
                out.offerReply(ACK);
            }
            case CMD_GET_ID -> out.offerReply(ACK, 0xab, translated ? 0x41 : 0x83);
            case CMD_ECHO -> out.offerReply(CMD_ECHO);
            case CMD_SET_LEDS, CMD_TYPEMATIC, CMD_SCANCODE_SET -> {
                state = new State(state.scanning(), state.scancodeSet(), state.leds(), state.typematic(), b);
                out.offerReply(ACK);
            }
            default -> out.offerReply(RESEND); // set-3 key types, extended commands: not this keyboard
        }
    }

    private void argument(int command, int b, boolean translated) {
        State s = state;
        switch (command) {
            case CMD_SET_LEDS -> state = new State(s.scanning(), s.scancodeSet(), b & 0x07, s.typematic(), -1);
            case CMD_TYPEMATIC -> state = new State(s.scanning(), s.scancodeSet(), s.leds(), b & 0x7f, -1);
            case CMD_SCANCODE_SET -> {
                state = new State(s.scanning(), s.scancodeSet(), s.leds(), s.typematic(), -1);
                if (b == 0) {
                    int set = s.scancodeSet();
                    out.offerReply(ACK, translated ? (set == 1 ? 0x43 : 0x41) : set);
                    return;
                }
                if (b != 1 && b != 2) {
                    out.offerReply(RESEND); // set 3 is not offered
                    return;
                }
                state = new State(s.scanning(), b, s.leds(), s.typematic(), -1);
            }
            default -> state = new State(s.scanning(), s.scancodeSet(), s.leds(), s.typematic(), -1);
        }
        out.offerReply(ACK);
    }

    /**
     * A key (a Linux key code) going down or up, queued as the scancodes the guest expects: set 1 when
     * the controller translates a set-2 keyboard (or the keyboard speaks set 1), set 2 otherwise. Dropped
     * while scanning is off or the queue is full.
     */
    void key(int linuxKey, boolean down, boolean translated) {
        if (!state.scanning()) {
            return;
        }
        byte[] codes = translated || state.scancodeSet() == 1
                ? Scancodes.set1(linuxKey, down) : Scancodes.set2(linuxKey, down);
        if (codes.length > 0 && !out.offerEvent(codes)) {
            dropped++;
        }
    }
}
