package vessel.devices.legacy;

import java.io.IOException;
import java.io.OutputStream;

import vessel.devices.BusDevice;
import vessel.devices.IrqLine;

/**
 * A 16550A UART with the register model Linux's 8250 driver relies on: divisor latch (DLAB), IER, IIR
 * with FIFO bits, FCR, LCR, MCR with loopback, LSR, MSR and the scratch register. Transmission is
 * instantaneous (THR is always empty again after a write), so the driver never waits; the receive FIFO
 * holds 64 bytes and {@link #receive} refuses bytes beyond that, which is how input gets backpressure.
 */
public final class Uart16550 implements BusDevice, vessel.devices.Snapshottable<Uart16550.State> {
    public static final int COM1_PORT = 0x3f8;
    public static final int COM1_IRQ = 4;
    public static final int FIFO_SIZE = 64;

    // Register offsets.
    static final int DATA = 0;      // RBR (read), THR (write), DLL (DLAB=1)
    static final int IER = 1;       // DLM when DLAB=1
    static final int IIR_FCR = 2;
    static final int LCR = 3;
    static final int MCR = 4;
    static final int LSR = 5;
    static final int MSR = 6;
    static final int SCR = 7;

    static final int IER_RX_DATA = 0x01;
    static final int IER_THR_EMPTY = 0x02;
    static final int IER_LINE_STATUS = 0x04;
    static final int IER_MODEM_STATUS = 0x08;
    static final int IER_MASK = 0x0f;

    static final int IIR_NONE = 0x01;
    static final int IIR_THR_EMPTY = 0x02;
    static final int IIR_RX_DATA = 0x04;
    static final int IIR_FIFO_ENABLED = 0xc0;

    static final int FCR_ENABLE = 0x01;
    static final int FCR_CLEAR_RX = 0x02;

    static final int LCR_DLAB = 0x80;

    static final int MCR_DTR = 0x01;
    static final int MCR_RTS = 0x02;
    static final int MCR_OUT1 = 0x04;
    static final int MCR_OUT2 = 0x08;
    static final int MCR_LOOP = 0x10;
    static final int MCR_MASK = 0x1f;

    static final int LSR_DATA_READY = 0x01;
    static final int LSR_OVERRUN = 0x02;
    static final int LSR_THR_EMPTY = 0x20;
    static final int LSR_IDLE = 0x40;

    static final int MSR_CTS = 0x10;
    static final int MSR_DSR = 0x20;
    static final int MSR_RI = 0x40;
    static final int MSR_DCD = 0x80;

    /** What a host-side observer may want to know; all methods default to nothing. */
    public interface Events {
        default void outputFailed(IOException e) { }

        default void inputDropped(int bytes) { }

        Events NONE = new Events() { };
    }

    /** The registers and the receive FIFO (oldest byte first); the transmit side holds nothing. */
    public record State(int dll, int dlm, int ier, int lcr, int mcr, int lsr, int msr, int scr, boolean fifoEnabled,
                        boolean thrEmptyPending, byte[] rxFifo) {
        public State {
            for (int r : new int[] {dll, dlm, ier, lcr, mcr, lsr, msr, scr}) {
                if ((r & ~0xff) != 0) {
                    throw new IllegalArgumentException("UART register value " + r + " is wider than 8 bits");
                }
            }
            if (rxFifo.length > FIFO_SIZE) {
                throw new IllegalArgumentException("UART receive FIFO holds " + rxFifo.length + " bytes, more than " + FIFO_SIZE);
            }
            rxFifo = rxFifo.clone();
        }
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public State saveState() {
        byte[] fifo = new byte[rxCount];
        for (int i = 0; i < rxCount; i++) {
            fifo[i] = rx[(rxHead + i) % FIFO_SIZE];
        }
        return new State(dll, dlm, ier, lcr, mcr, lsr, msr, scr, fifoEnabled, thrEmptyPending, fifo);
    }

    @Override
    public void restoreState(State s) {
        dll = s.dll();
        dlm = s.dlm();
        ier = s.ier();
        lcr = s.lcr();
        mcr = s.mcr();
        lsr = s.lsr();
        msr = s.msr();
        scr = s.scr();
        fifoEnabled = s.fifoEnabled();
        thrEmptyPending = s.thrEmptyPending();
        byte[] fifo = s.rxFifo();
        System.arraycopy(fifo, 0, rx, 0, fifo.length);
        rxHead = 0;
        rxCount = fifo.length;
    }

    private final IrqLine irq;
    private final OutputStream out;
    private final Events events;

    private int dll = 0x0c; // 9600 baud at the 1.8432 MHz clock, a common reset value
    private int dlm;
    private int ier;
    private int lcr = 0x03; // 8N1
    private int mcr = MCR_OUT2;
    private int lsr = LSR_THR_EMPTY | LSR_IDLE;
    private int msr = MSR_DCD | MSR_DSR | MSR_CTS;
    private int scr;
    private boolean fifoEnabled;
    /** THR-empty interrupt armed: set when THR empties with ETBEI on, cleared by reading IIR or writing THR. */
    private boolean thrEmptyPending;
    private final byte[] rx = new byte[FIFO_SIZE];
    private int rxHead;
    private int rxCount;

    public Uart16550(IrqLine irq, OutputStream out, Events events) {
        this.irq = irq;
        this.out = out;
        this.events = events;
    }

    @Override
    public long read(long offset, int size) {
        if (size != 1) {
            return 0xff;
        }
        return switch ((int) offset) {
            case DATA -> (lcr & LCR_DLAB) != 0 ? dll : readRbr();
            case IER -> (lcr & LCR_DLAB) != 0 ? dlm : ier;
            case IIR_FCR -> readIir();
            case LCR -> lcr;
            case MCR -> mcr;
            case LSR -> readLsr();
            case MSR -> readMsr();
            case SCR -> scr;
            default -> 0xff;
        };
    }

    @Override
    public void write(long offset, int size, long value) {
        if (size != 1) {
            return;
        }
        int v = (int) value & 0xff;
        switch ((int) offset) {
            case DATA -> {
                if ((lcr & LCR_DLAB) != 0) {
                    dll = v;
                } else {
                    writeThr(v);
                }
            }
            case IER -> {
                if ((lcr & LCR_DLAB) != 0) {
                    dlm = v;
                } else {
                    int was = ier;
                    ier = v & IER_MASK;
                    // Enabling THRE interrupts while THR is already empty raises one at once; the 8250
                    // driver's start_tx depends on this.
                    if ((ier & IER_THR_EMPTY) != 0 && (was & IER_THR_EMPTY) == 0) {
                        thrEmptyPending = true;
                    }
                    raiseIfPending();
                }
            }
            case IIR_FCR -> {
                fifoEnabled = (v & FCR_ENABLE) != 0;
                if ((v & FCR_CLEAR_RX) != 0 || !fifoEnabled) {
                    rxHead = rxCount = 0;
                    lsr &= ~LSR_DATA_READY;
                }
            }
            case LCR -> lcr = v;
            case MCR -> mcr = v & MCR_MASK;
            case LSR, MSR -> { } // read-only in practice; writes are a factory-test feature
            case SCR -> scr = v;
            default -> { }
        }
    }

    private int readRbr() {
        if (rxCount == 0) {
            return 0;
        }
        int b = rx[rxHead] & 0xff;
        rxHead = (rxHead + 1) % FIFO_SIZE;
        rxCount--;
        if (rxCount == 0) {
            lsr &= ~LSR_DATA_READY;
        }
        return b;
    }

    private int readIir() {
        int fifo = fifoEnabled ? IIR_FIFO_ENABLED : 0;
        if ((ier & IER_RX_DATA) != 0 && rxCount > 0) {
            return IIR_RX_DATA | fifo;
        }
        if ((ier & IER_THR_EMPTY) != 0 && thrEmptyPending) {
            thrEmptyPending = false; // reading IIR with THRE as the source clears it
            return IIR_THR_EMPTY | fifo;
        }
        return IIR_NONE | fifo;
    }

    private int readLsr() {
        int v = lsr;
        lsr &= ~LSR_OVERRUN; // error bits clear on read
        return v;
    }

    private int readMsr() {
        if ((mcr & MCR_LOOP) != 0) {
            // Loopback wires the modem outputs to the inputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
            int v = 0;
            if ((mcr & MCR_RTS) != 0) v |= MSR_CTS;
            if ((mcr & MCR_DTR) != 0) v |= MSR_DSR;
            if ((mcr & MCR_OUT1) != 0) v |= MSR_RI;
            if ((mcr & MCR_OUT2) != 0) v |= MSR_DCD;
            return v;
        }
        return msr;
    }

    private void writeThr(int v) {
        if ((mcr & MCR_LOOP) != 0) {
            enqueue(new byte[] {(byte) v}, 0, 1);
        } else {
            try {
                out.write(v);
                if (v == '\n') {
                    out.flush();
                }
            } catch (IOException e) {
                // THR still empties: the guest must never block on a host-side failure.
                events.outputFailed(e);
            }
        }
        thrEmptyPending = true;
        raiseIfPending();
    }

    private void raiseIfPending() {
        if (((ier & IER_RX_DATA) != 0 && rxCount > 0) || ((ier & IER_THR_EMPTY) != 0 && thrEmptyPending)) {
            irq.trigger();
        }
    }

    private int enqueue(byte[] data, int off, int len) {
        int n = Math.min(len, FIFO_SIZE - rxCount);
        for (int i = 0; i < n; i++) {
            rx[(rxHead + rxCount) % FIFO_SIZE] = data[off + i];
            rxCount++;
        }
        if (n > 0) {
            lsr |= LSR_DATA_READY;
        }
        return n;
    }

    /**
     * Host input for the guest. Returns how many bytes fitted in the receive FIFO; the caller keeps the
     * rest and retries later, rather than losing them.
     */
    public int receive(byte[] data, int off, int len) {
        int n = enqueue(data, off, len);
        if (n > 0) {
            raiseIfPending();
        }
        return n;
    }

    /** Room left in the receive FIFO. */
    public int receiveSpace() {
        return FIFO_SIZE - rxCount;
    }

    public void flush() {
        try {
            out.flush();
        } catch (IOException e) {
            events.outputFailed(e);
        }
    }
}
