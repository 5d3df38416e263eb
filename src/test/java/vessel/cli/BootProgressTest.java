package vessel.cli;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BootProgressTest {
    private static final long S = 1_000_000_000L;

    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    private final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);

    private long now;

    private BootProgress progress(boolean terminal) {
        return new BootProgress(err, terminal, () -> now);
    }

    private void tickAt(BootProgress p, long nanos) {
        now = nanos;
        p.tick();
    }

    private String err() {
        return errBytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void inALogALineComesAfterTwoSilentSecondsThenEveryTenWithExitsPerSecond() {
        BootProgress p = progress(false);
        tickAt(p, 1 * S);
        assertEquals("", err(), "one second of silence is a guest at work");
        tickAt(p, 2 * S);
        assertEquals("vessel: 2 s: assembling the VM (--quiet hides this)\n", err());
        long[] exits = {0};
        p.running(() -> exits[0]);
        exits[0] = 5000;
        tickAt(p, 3 * S);
        tickAt(p, 11 * S);
        assertEquals(1, err().lines().count(), "a log gets a line every 10 s, not every second");
        exits[0] = 7000;
        tickAt(p, 12 * S);
        assertEquals("vessel: 12 s: guest running, console silent for 12 s, 2,000 KVM exits/s (--quiet hides this)",
                err().lines().toList().get(1));
    }

    @Test
    void onATerminalTheLineIsRewrittenInPlaceAndErasedBeforeTheGuestsNextByte() throws Exception {
        BootProgress p = progress(true);
        ByteArrayOutputStream consoleBytes = new ByteArrayOutputStream();
        OutputStream console = p.console(consoleBytes);
        tickAt(p, 2 * S);
        tickAt(p, 3 * S);
        assertEquals("\r\033[Kvessel: 2 s: assembling the VM (--quiet hides this)"
                + "\r\033[Kvessel: 3 s: assembling the VM (--quiet hides this)", err());
        console.write("login: ".getBytes(StandardCharsets.US_ASCII));
        assertTrue(err().endsWith("(--quiet hides this)\r\033[K"), "erased before the console wrote");
        assertEquals("login: ", consoleBytes.toString(StandardCharsets.US_ASCII));
        int before = err().length();
        console.write('x');
        assertEquals(before, err().length(), "nothing to erase twice");
        tickAt(p, 30 * S);
        assertEquals(before, err().length(), "once the guest has spoken (a shell at its prompt), no more lines");
        p.close();
    }

    @Test
    void aGuestThatKeepsTalkingGetsNoLine() throws Exception {
        BootProgress p = progress(false);
        OutputStream console = p.console(OutputStream.nullOutputStream());
        for (int second = 1; second < 30; second++) {
            now = second * S - S / 2;
            console.write('.');
            tickAt(p, second * S);
        }
        assertEquals("", err());
    }
}
