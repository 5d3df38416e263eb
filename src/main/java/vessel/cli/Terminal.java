package vessel.cli;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import vessel.sys.Libc;
import vessel.sys.SysException;

/** Puts an interactive terminal in raw mode for the guest console, and restores it however Vessel ends. */
final class Terminal implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final MemorySegment saved = arena.allocate(Libc.TERMIOS_BYTES, 8);
    private final Thread restoreHook = new Thread(this::restore, "terminal-restore");
    private volatile boolean raw;

    /** Raw mode on stdin if it is a terminal; otherwise does nothing. */
    static Terminal rawIfInteractive() {
        Terminal t = new Terminal();
        if (Libc.isatty(0)) {
            try {
                Libc.tcgetattr(0, t.saved);
                MemorySegment rawMode = t.arena.allocate(Libc.TERMIOS_BYTES, 8);
                rawMode.copyFrom(t.saved);
                Libc.cfmakeraw(rawMode);
                // Keep output post-processing so the guest's "\n" still returns the carriage.
                int oflag = rawMode.get(java.lang.foreign.ValueLayout.JAVA_INT, 4);
                rawMode.set(java.lang.foreign.ValueLayout.JAVA_INT, 4, oflag | 0x1 /* OPOST */ | 0x4 /* ONLCR */);
                Libc.tcsetattr(0, Libc.TCSANOW, rawMode);
                t.raw = true;
                Runtime.getRuntime().addShutdownHook(t.restoreHook);
            } catch (SysException e) {
                // not a usable terminal after all; run line-buffered
            }
        }
        return t;
    }

    boolean interactive() {
        return raw;
    }

    private synchronized void restore() {
        if (raw) {
            try {
                Libc.tcsetattr(0, Libc.TCSANOW, saved);
            } catch (SysException ignored) {
                // the terminal went away
            }
            raw = false;
        }
    }

    @Override
    public void close() {
        restore();
        try {
            Runtime.getRuntime().removeShutdownHook(restoreHook);
        } catch (IllegalStateException | IllegalArgumentException ignored) {
            // shutting down already, or never added
        }
    }
}
