package vessel.devices.legacy;

import vessel.devices.BusDevice;
import vessel.devices.IrqLine;
import vessel.devices.input.InputSink;
import vessel.devices.input.LinuxKeys;

/**
 * The i8042 keyboard controller with a PS/2 keyboard on its first port and a PS/2 mouse on its aux port:
 * the status and command registers, the command byte (interrupt enables, port disables, set-1
 * translation), the self-tests and aux loopback Linux's i8042 driver runs, and the CPU reset line
 * (command 0xFE). Registered at port 0x60 with length 5 (offset 0 = data, 4 = status/command).
 *
 * <p>One byte at a time sits in the output buffer, tagged keyboard or aux; the next is taken from the
 * controller's replies, then the keyboard, then the mouse, when the guest reads the last one, and each
 * raises its port's interrupt (IRQ 1 or 12), so a driver that reads one byte per interrupt sees all.
 *
 * <p>It is also the {@link InputSink} for those devices: a display server's calls lock the controller as
 * the bus does, and an event the device's queue cannot take is dropped.
 */
public final class I8042 implements BusDevice, InputSink, vessel.devices.Snapshottable<I8042.State> {
    public static final int BASE_PORT = 0x60;
    public static final int LENGTH = 5;
    public static final int KEYBOARD_IRQ = 1;
    public static final int AUX_IRQ = 12;

    static final int DATA = 0;
    static final int STATUS = 4;

    static final int STATUS_OUTPUT_FULL = 0x01;
    static final int STATUS_SYSTEM = 0x04;
    static final int STATUS_COMMAND = 0x08;
    static final int STATUS_UNLOCKED = 0x10;
    static final int STATUS_AUX_DATA = 0x20;

    static final int CMD_READ_CTR = 0x20;
    static final int CMD_WRITE_CTR = 0x60;
    static final int CMD_DISABLE_AUX = 0xa7;
    static final int CMD_ENABLE_AUX = 0xa8;
    static final int CMD_TEST_AUX = 0xa9;
    static final int CMD_SELF_TEST = 0xaa;
    static final int CMD_TEST_KBD = 0xab;
    static final int CMD_DISABLE_KBD = 0xad;
    static final int CMD_ENABLE_KBD = 0xae;
    static final int CMD_READ_OUTPUT_PORT = 0xd0;
    static final int CMD_WRITE_OUTPUT_PORT = 0xd1;
    static final int CMD_WRITE_KBD_OUTPUT = 0xd2;
    static final int CMD_WRITE_AUX_OUTPUT = 0xd3;
    static final int CMD_WRITE_AUX = 0xd4;
    static final int CMD_RESET_CPU = 0xfe;

    static final int CTR_KBD_INT = 0x01;
    static final int CTR_AUX_INT = 0x02;
    static final int CTR_SYSTEM = 0x04;
    static final int CTR_KBD_DISABLED = 0x10;
    static final int CTR_AUX_DISABLED = 0x20;
    static final int CTR_TRANSLATE = 0x40;

    /** Where the byte in the output buffer came from: it decides the interrupt and the aux-data bit. */
    private enum Source { KEYBOARD, AUX }

    /**
     * The controller's own state: its command byte, a command awaiting its data byte (-1: none), whether
     * the last write was a command, the byte in its output buffer (-1: empty) and its port, and its own
     * replies still queued (bit 8 set: for the aux port). The PS/2 devices behind it restart from their
     * power-on state (scanning on, set 2, queues empty): the guest's driver sees a keyboard and mouse that
     * lost their settings, as after a replug.
     */
    public record State(int control, int pendingCommand, boolean commandLast, int output, boolean outputAux,
                        int[] replies) {
        public State {
            if ((control & ~0xff) != 0 || pendingCommand < -1 || pendingCommand > 0xff || output < -1 || output > 0xff) {
                throw new IllegalArgumentException("i8042 register out of range");
            }
            if (replies.length > REPLY_QUEUE) {
                throw new IllegalArgumentException("i8042 reply queue holds " + replies.length + " bytes, more than "
                        + REPLY_QUEUE);
            }
            for (int b : replies) {
                if ((b & ~0x1ff) != 0) {
                    throw new IllegalArgumentException("i8042 reply " + b + " is wider than a byte and its port bit");
                }
            }
            replies = replies.clone();
        }
    }

    private static final int REPLY_QUEUE = 8;

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public synchronized State saveState() {
        int[] bytes = replies.toArray();
        int[] sources = replySources.toArray();
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] |= sources[i] == Source.AUX.ordinal() ? 0x100 : 0;
        }
        return new State(control, pendingCommand, commandLast, output, outputSource == Source.AUX, bytes);
    }

    @Override
    public synchronized void restoreState(State s) {
        control = s.control();
        pendingCommand = s.pendingCommand();
        commandLast = s.commandLast();
        output = s.output();
        outputSource = s.outputAux() ? Source.AUX : Source.KEYBOARD;
        replies.clear();
        replySources.clear();
        for (int b : s.replies()) {
            reply(b & 0xff, (b & 0x100) != 0 ? Source.AUX : Source.KEYBOARD);
        }
    }

    private final Runnable reset;
    private final IrqLine keyboardIrq;
    private final IrqLine auxIrq;
    private final Ps2Keyboard keyboard = new Ps2Keyboard();
    private final Ps2Mouse mouse = new Ps2Mouse();
    /** Replies of the controller itself (and the 0xD2/0xD3 loopbacks), ahead of either device. */
    private final Ps2Queue replies = new Ps2Queue(REPLY_QUEUE, 0);
    private final Ps2Queue replySources = new Ps2Queue(REPLY_QUEUE, 0);
    /** What a BIOS leaves: both interrupts on, system flag, translation to set 1. */
    private int control = CTR_KBD_INT | CTR_AUX_INT | CTR_SYSTEM | CTR_TRANSLATE;
    private int pendingCommand = -1;
    private boolean commandLast;
    private int output = -1;
    private Source outputSource = Source.KEYBOARD;

    /** {@code reset} is called when the guest pulses the CPU reset line; a controller without a mouse IRQ. */
    public I8042(Runnable reset, IrqLine keyboardIrq) {
        this(reset, keyboardIrq, IrqLine.NONE);
    }

    public I8042(Runnable reset, IrqLine keyboardIrq, IrqLine auxIrq) {
        this.reset = reset;
        this.keyboardIrq = keyboardIrq;
        this.auxIrq = auxIrq;
    }

    @Override
    public long read(long offset, int size) {
        if (offset == STATUS) {
            return status();
        }
        if (offset == DATA) {
            if (output < 0) {
                return 0;
            }
            int v = output;
            output = -1;
            refill();
            return v;
        }
        return 0xff;
    }

    private int status() {
        int s = STATUS_UNLOCKED | ((control & CTR_SYSTEM) != 0 ? STATUS_SYSTEM : 0) | (commandLast ? STATUS_COMMAND : 0);
        if (output >= 0) {
            s |= STATUS_OUTPUT_FULL | (outputSource == Source.AUX ? STATUS_AUX_DATA : 0);
        }
        return s;
    }

    @Override
    public void write(long offset, int size, long value) {
        int v = (int) value & 0xff;
        if (offset == STATUS) {
            commandLast = true;
            command(v);
        } else if (offset == DATA) {
            commandLast = false;
            data(v);
        }
        refill();
    }

    private void command(int cmd) {
        pendingCommand = -1;
        switch (cmd) {
            case CMD_READ_CTR -> reply(control);
            case CMD_WRITE_CTR, CMD_WRITE_OUTPUT_PORT, CMD_WRITE_AUX, CMD_WRITE_KBD_OUTPUT, CMD_WRITE_AUX_OUTPUT ->
                    pendingCommand = cmd;
            case CMD_DISABLE_AUX -> control |= CTR_AUX_DISABLED;
            case CMD_ENABLE_AUX -> control &= ~CTR_AUX_DISABLED;
            case CMD_DISABLE_KBD -> control |= CTR_KBD_DISABLED;
            case CMD_ENABLE_KBD -> control &= ~CTR_KBD_DISABLED;
            case CMD_SELF_TEST -> reply(0x55);
            case CMD_TEST_KBD, CMD_TEST_AUX -> reply(0x00); // both lines fine
            case CMD_READ_OUTPUT_PORT -> reply(0x01); // reset line inactive (high), A20 off
            case CMD_RESET_CPU -> reset.run();
            default -> { } // controller RAM and the other output-line pulses: nothing to see
        }
    }

    private void data(int v) {
        int cmd = pendingCommand;
        pendingCommand = -1;
        switch (cmd) {
            case CMD_WRITE_CTR -> control = v;
            case CMD_WRITE_OUTPUT_PORT -> {
                if ((v & 0x01) == 0) {
                    reset.run(); // bit 0 is the CPU reset line, active low
                }
            }
            case CMD_WRITE_AUX -> mouse.write(v);
            case CMD_WRITE_KBD_OUTPUT -> reply(v, Source.KEYBOARD);
            case CMD_WRITE_AUX_OUTPUT -> reply(v, Source.AUX);
            default -> keyboard.write(v, translating());
        }
    }

    private boolean translating() {
        return (control & CTR_TRANSLATE) != 0;
    }

    private void reply(int v) {
        reply(v, Source.KEYBOARD);
    }

    private void reply(int v, Source source) {
        if (replies.offerReply(v)) {
            replySources.offerReply(source.ordinal());
        }
    }

    /** Moves the next byte into an empty output buffer and raises its port's interrupt. */
    private void refill() {
        if (output >= 0) {
            return;
        }
        if (!replies.isEmpty()) {
            output = replies.poll();
            outputSource = Source.values()[replySources.poll()];
        } else if ((control & CTR_KBD_DISABLED) == 0 && !keyboard.output().isEmpty()) {
            output = keyboard.output().poll();
            outputSource = Source.KEYBOARD;
        } else if ((control & CTR_AUX_DISABLED) == 0 && !mouse.output().isEmpty()) {
            output = mouse.output().poll();
            outputSource = Source.AUX;
        } else {
            return;
        }
        if (outputSource == Source.AUX) {
            if ((control & CTR_AUX_INT) != 0) {
                auxIrq.trigger();
            }
        } else if ((control & CTR_KBD_INT) != 0) {
            keyboardIrq.trigger();
        }
    }

    /** A key by X11 keysym; keysyms no PC key types are ignored. Locks the controller as the bus does. */
    @Override
    public synchronized void key(int keysym, boolean down) {
        int code = LinuxKeys.fromKeysym(keysym);
        if (code != 0) {
            keyboard.key(code, down, translating());
            refill();
        }
    }

    /** The pointer, as relative PS/2 mouse movement; the screen size does not matter to a relative device. */
    @Override
    public synchronized void pointer(int x, int y, int buttons, int width, int height) {
        mouse.pointer(x, y, buttons);
        refill();
    }

    /** Ctrl, Alt, Delete pressed then released on the keyboard; Linux's keyboard driver reboots on it. */
    public synchronized void sendCtrlAltDel() {
        int[] keys = {LinuxKeys.KEY_LEFTCTRL, LinuxKeys.KEY_LEFTALT, LinuxKeys.KEY_DELETE};
        for (int k : keys) {
            keyboard.key(k, true, translating());
        }
        for (int i = keys.length - 1; i >= 0; i--) {
            keyboard.key(keys[i], false, translating());
        }
        refill();
    }

    /** Key and mouse events dropped because the guest had not read the ones before them. */
    public synchronized long droppedEvents() {
        return keyboard.dropped() + mouse.dropped();
    }
}
