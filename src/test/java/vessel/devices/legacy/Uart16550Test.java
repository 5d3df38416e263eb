package vessel.devices.legacy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Drives the UART's registers the way Linux's 8250 driver does, with a recording interrupt line. */
class Uart16550Test {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final AtomicInteger irqs = new AtomicInteger();
    private Uart16550 uart;

    @BeforeEach
    void setUp() {
        uart = new Uart16550(irqs::incrementAndGet, out, Uart16550.Events.NONE);
    }

    private int in(int reg) {
        return (int) uart.read(reg, 1);
    }

    private void out(int reg, int v) {
        uart.write(reg, 1, v);
    }

    @Test
    void transmittedBytesReachTheSinkAndThrStaysEmpty() {
        for (char c : "hi\n".toCharArray()) {
            assertEquals(0x60, in(Uart16550.LSR) & 0x60, "THRE and TEMT before each byte");
            out(Uart16550.DATA, c);
        }
        assertEquals("hi\n", out.toString());
    }

    @Test
    void divisorLatchHidesDataAndIer() {
        out(Uart16550.LCR, 0x80);
        out(Uart16550.DATA, 0x01); // DLL
        out(Uart16550.IER, 0x00); // DLM
        assertEquals(0x01, in(Uart16550.DATA));
        out(Uart16550.LCR, 0x03);
        assertEquals("", out.toString(), "a divisor write is not output");
        assertEquals(0x03, in(Uart16550.LCR));
    }

    @Test
    void fifoEnableShowsInIir() {
        assertEquals(0x01, in(Uart16550.IIR_FCR));
        out(Uart16550.IIR_FCR, 0x01);
        assertEquals(0xc1, in(Uart16550.IIR_FCR), "16550A: FIFO bits set, no interrupt pending");
    }

    @Test
    void loopbackMapsModemLinesAndEchoesData() {
        // Linux's autoconfig: MCR = LOOP | OUT2 | RTS must read back MSR high nibble 0x90.
        out(Uart16550.MCR, 0x1a);
        assertEquals(0x90, in(Uart16550.MSR) & 0xf0);
        out(Uart16550.DATA, 'x');
        assertEquals(1, in(Uart16550.LSR) & 1, "looped byte is received");
        assertEquals('x', in(Uart16550.DATA));
        assertEquals("", out.toString(), "loopback output does not leave the UART");
        out(Uart16550.MCR, 0x0b);
        assertEquals(0xb0, in(Uart16550.MSR) & 0xf0, "carrier, DSR and CTS when not in loopback");
    }

    @Test
    void enablingThreInterruptRaisesOneAtOnceAndReadingIirClearsIt() {
        out(Uart16550.IER, 0x02);
        assertEquals(1, irqs.get());
        assertEquals(0x02, in(Uart16550.IIR_FCR) & 0x0f);
        assertEquals(0x01, in(Uart16550.IIR_FCR) & 0x0f, "cleared by the IIR read");
        out(Uart16550.DATA, 'a');
        assertEquals(2, irqs.get(), "each transmitted byte empties THR again");
        assertEquals(0x02, in(Uart16550.IIR_FCR) & 0x0f);
    }

    @Test
    void receivedDataRaisesRxInterruptWithPriorityOverThre() {
        out(Uart16550.IER, 0x03);
        int before = irqs.get();
        assertEquals(3, uart.receive("abc".getBytes(), 0, 3));
        assertEquals(before + 1, irqs.get());
        assertEquals(0x04, in(Uart16550.IIR_FCR) & 0x0f);
        assertEquals('a', in(Uart16550.DATA));
        assertEquals('b', in(Uart16550.DATA));
        assertEquals('c', in(Uart16550.DATA));
        assertEquals(0, in(Uart16550.LSR) & 1);
        assertEquals(0x02, in(Uart16550.IIR_FCR) & 0x0f, "THRE shows once RX is drained");
    }

    @Test
    void receiveFifoAppliesBackpressureInsteadOfDropping() {
        byte[] data = new byte[100];
        assertEquals(Uart16550.FIFO_SIZE, uart.receive(data, 0, data.length));
        assertEquals(0, uart.receive(data, 0, 1));
        assertEquals(0, uart.receiveSpace());
        in(Uart16550.DATA);
        assertEquals(1, uart.receiveSpace());
    }

    @Test
    void ierKeepsOnlyValidBitsAndScratchHoldsAByte() {
        out(Uart16550.IER, 0xff);
        assertEquals(0x0f, in(Uart16550.IER));
        out(Uart16550.SCR, 0xa5);
        assertEquals(0xa5, in(Uart16550.SCR));
    }

    @Test
    void aFailingSinkDoesNotBlockTheGuest() {
        AtomicInteger failures = new AtomicInteger();
        Uart16550 broken = new Uart16550(() -> { }, new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("disk full");
            }
        }, new Uart16550.Events() {
            @Override
            public void outputFailed(IOException e) {
                failures.incrementAndGet();
            }
        });
        broken.write(Uart16550.DATA, 1, 'x');
        assertEquals(1, failures.get());
        assertEquals(0x20, broken.read(Uart16550.LSR, 1) & 0x20, "THR empty despite the failure");
    }
}
