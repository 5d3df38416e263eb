package vessel.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * A line on stderr that says Vessel is alive while the guest has said nothing yet: elapsed time, how long
 * the console has been silent, KVM exits per second and the phase. It ends for good with the guest's first
 * console output: from then on a silent console is the guest's own business (a shell at its prompt), and
 * a line rewritten in place would wipe the prompt. Where KVM emulates guest code a stock
 * boot is silent for minutes (the default command line is {@code quiet}), and a person should not have
 * to guess whether anything is happening.
 *
 * <p>On a terminal it is one line rewritten in place and erased before the guest's next console byte,
 * so the console on stdout reads as if it had never been there; elsewhere (a log file) it is a plain
 * line every {@link #LOG_EVERY_SECONDS} seconds of silence. {@code vessel run --quiet} turns it off.
 */
final class BootProgress implements AutoCloseable {
    /** Silence shorter than this is a guest at work, not one to report on. */
    static final int SILENT_AFTER_SECONDS = 2;
    static final int LOG_EVERY_SECONDS = 10;

    /** What the process is doing, as far as the CLI can tell. */
    enum Phase {
        ASSEMBLING("assembling the VM"),
        RUNNING("guest running");

        final String text;

        Phase(String text) {
            this.text = text;
        }
    }

    private final PrintStream err;
    private final boolean terminal;
    private final LongSupplier clock;
    private final long startNanos;
    private final Thread ticker;
    private volatile Phase phase = Phase.ASSEMBLING;
    private volatile LongSupplier exits = () -> 0;
    private volatile long lastOutputNanos;
    /** The guest has written to its console: no more progress lines. */
    private volatile boolean guestSpoke;
    /** Guarded by this: whether a progress line stands on the terminal now. */
    private boolean shown;
    private long lastExits;
    private long lastTickNanos;
    private long lastLoggedSecond = -LOG_EVERY_SECONDS;

    /** Not started: {@link #tick} is called by hand (tests) or by {@link #start}'s thread; {@code clock} gives nanoseconds. */
    BootProgress(PrintStream err, boolean terminal, LongSupplier clock) {
        this.err = err;
        this.terminal = terminal;
        this.clock = clock;
        this.startNanos = clock.getAsLong();
        this.lastOutputNanos = startNanos;
        this.lastTickNanos = startNanos;
        this.ticker = Thread.ofPlatform().name("boot-progress").daemon(true).unstarted(this::tickEverySecond);
    }

    /** Starts reporting to {@code err} (a terminal or not, as {@code terminal} says). */
    static BootProgress start(PrintStream err, boolean terminal) {
        BootProgress p = new BootProgress(err, terminal, System::nanoTime);
        p.ticker.start();
        return p;
    }

    /** The guest's console, passed through, with the progress line erased before each write. */
    OutputStream console(OutputStream out) {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                guestSpoke();
                out.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                guestSpoke();
                out.write(b, off, len);
            }

            @Override
            public void flush() throws IOException {
                out.flush();
            }
        };
    }

    /** The guest runs now; {@code exitCount} is its KVM exits so far, summed over vCPUs. */
    void running(LongSupplier exitCount) {
        exits = exitCount;
        phase = Phase.RUNNING;
    }

    private void guestSpoke() {
        lastOutputNanos = clock.getAsLong();
        guestSpoke = true;
        synchronized (this) {
            if (shown) {
                err.print("\r\033[K");
                err.flush();
                shown = false;
            }
        }
    }

    private void tickEverySecond() {
        try {
            while (!Thread.currentThread().isInterrupted()) {
                Thread.sleep(1000);
                tick();
            }
        } catch (InterruptedException e) {
            // closed
        }
    }

    synchronized void tick() {
        long now = clock.getAsLong();
        long count = exits.getAsLong();
        double seconds = (now - lastTickNanos) / 1e9;
        long rate = seconds > 0 ? Math.round((count - lastExits) / seconds) : 0;
        lastExits = count;
        lastTickNanos = now;
        long silent = (now - lastOutputNanos) / 1_000_000_000L;
        if (guestSpoke || silent < SILENT_AFTER_SECONDS) {
            return;
        }
        long elapsed = (now - startNanos) / 1_000_000_000L;
        String line = line(elapsed, silent, phase, rate);
        if (terminal) {
            err.print("\r\033[K" + line);
            shown = true;
        } else if (elapsed - lastLoggedSecond >= LOG_EVERY_SECONDS) {
            err.println(line);
            lastLoggedSecond = elapsed;
        }
        err.flush();
    }

    static String line(long elapsedSeconds, long silentSeconds, Phase phase, long exitsPerSecond) {
        String what = phase == Phase.RUNNING
                ? "%s, console silent for %d s, %s KVM exits/s".formatted(phase.text, silentSeconds,
                        String.format(Locale.ROOT, "%,d", exitsPerSecond))
                : phase.text;
        return "vessel: %d s: %s (--quiet hides this)".formatted(elapsedSeconds, what);
    }

    @Override
    public synchronized void close() {
        ticker.interrupt();
        if (shown) {
            err.print("\r\033[K");
            err.flush();
            shown = false;
        }
    }
}
