package vessel.devices.legacy;

import vessel.devices.BusDevice;
import vessel.devices.IrqLine;

/**
 * The i8042 keyboard controller, as much as a guest needs without a keyboard: the status and command
 * registers, the command byte, the self-tests Linux runs, the CPU reset line (command 0xFE), and a key
 * sequence for Ctrl-Alt-Del. Registered at port 0x60 with length 5 (offset 0 = data, 4 = status/command).
 */
public final class I8042 implements BusDevice, vessel.devices.Snapshottable<I8042.State> {
    public static final int BASE_PORT = 0x60;
    public static final int LENGTH = 5;
    public static final int KEYBOARD_IRQ = 1;

    static final int DATA = 0;
    static final int STATUS = 4;

    static final int STATUS_OUTPUT_FULL = 0x01;
    static final int STATUS_SYSTEM = 0x04;
    static final int STATUS_COMMAND = 0x08;

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
    static final int CMD_WRITE_AUX = 0xd4;
    static final int CMD_RESET_CPU = 0xfe;

    static final int CTR_KBD_INT = 0x01;

    /** Status and control bytes, a command awaiting its data byte (-1: none), and the output queue. */
    public record State(int status, int control, int pendingCommand, int[] output) {
        public State {
            if ((status & ~0xff) != 0 || (control & ~0xff) != 0 || pendingCommand < -1 || pendingCommand > 0xff) {
                throw new IllegalArgumentException("i8042 register out of range");
            }
            if (output.length > 16) {
                throw new IllegalArgumentException("i8042 output queue holds " + output.length + " bytes, more than 16");
            }
            for (int b : output) {
                if ((b & ~0xff) != 0) {
                    throw new IllegalArgumentException("i8042 output byte " + b + " is wider than 8 bits");
                }
            }
            output = output.clone();
        }
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public State saveState() {
        int[] queued = new int[outCount];
        for (int i = 0; i < outCount; i++) {
            queued[i] = output[(outHead + i) % output.length];
        }
        return new State(status, control, pendingCommand, queued);
    }

    @Override
    public void restoreState(State s) {
        status = s.status();
        control = s.control();
        pendingCommand = s.pendingCommand();
        int[] queued = s.output();
        System.arraycopy(queued, 0, output, 0, queued.length);
        outHead = 0;
        outCount = queued.length;
    }

    private final Runnable reset;
    private final IrqLine irq;
    private int status = STATUS_SYSTEM;
    private int control = CTR_KBD_INT | 0x04 /* system flag */;
    private int pendingCommand = -1;
    private final int[] output = new int[16];
    private int outHead;
    private int outCount;

    /** {@code reset} is called when the guest pulses the CPU reset line. */
    public I8042(Runnable reset, IrqLine irq) {
        this.reset = reset;
        this.irq = irq;
    }

    @Override
    public long read(long offset, int size) {
        if (offset == STATUS) {
            return status;
        }
        if (offset == DATA) {
            if (outCount == 0) {
                return 0;
            }
            int v = output[outHead];
            outHead = (outHead + 1) % output.length;
            outCount--;
            if (outCount == 0) {
                status &= ~STATUS_OUTPUT_FULL;
            }
            return v;
        }
        return 0xff;
    }

    @Override
    public void write(long offset, int size, long value) {
        int v = (int) value & 0xff;
        if (offset == STATUS) {
            status |= STATUS_COMMAND;
            command(v);
        } else if (offset == DATA) {
            status &= ~STATUS_COMMAND;
            data(v);
        }
    }

    private void command(int cmd) {
        switch (cmd) {
            case CMD_READ_CTR -> push(control);
            case CMD_WRITE_CTR, CMD_WRITE_OUTPUT_PORT, CMD_WRITE_AUX -> pendingCommand = cmd;
            case CMD_SELF_TEST -> push(0x55);
            case CMD_TEST_KBD -> push(0x00);
            case CMD_TEST_AUX -> push(0xff); // no mouse
            case CMD_READ_OUTPUT_PORT -> push(0x01); // reset line inactive (high), A20 off
            case CMD_RESET_CPU -> reset.run();
            default -> { } // enable/disable ports and the rest have no visible effect here
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
            case CMD_WRITE_AUX -> { } // no mouse behind the aux port
            default -> push(0xfa); // a command to the (absent) keyboard: acknowledge it
        }
    }

    private void push(int v) {
        if (outCount == output.length) {
            return;
        }
        output[(outHead + outCount) % output.length] = v;
        outCount++;
        status |= STATUS_OUTPUT_FULL;
        if ((control & CTR_KBD_INT) != 0) {
            irq.trigger();
        }
    }

    /** Set-1 scancodes for Ctrl, Alt, Delete pressed then released; Linux's keyboard driver reboots on it. */
    public void sendCtrlAltDel() {
        int[] seq = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
        for (int code : seq) {
            push(code);
        }
    }
}
