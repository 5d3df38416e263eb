package vessel.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Locale;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.StreamHandler;

/**
 * Routes {@code System.Logger} (Vessel's one logging facade) to stderr, one line per record, or, when the
 * API's logger settings name a file or FIFO, there with a timestamp on each line.
 */
final class Logging {
    private Logging() {}

    static void configure(String level) throws UsageException {
        Level l = level(level);
        ConsoleHandler handler = new ConsoleHandler();
        handler.setFormatter(new Formatter() {
            @Override
            public String format(LogRecord r) {
                String msg = formatMessage(r);
                String thrown = r.getThrown() == null || l.intValue() > Level.FINE.intValue()
                        ? "" : " (" + r.getThrown() + ")";
                return "vessel: " + r.getLevel().getName().toLowerCase(Locale.ROOT) + ": " + msg + thrown + "\n";
            }
        });
        install(handler, l);
    }

    /**
     * Firecracker's logger settings: {@code file} (a regular file, appended to and created if missing, or
     * a FIFO) or null for stderr; each line shows the level and the logger's name when asked to.
     */
    static void configure(String level, Path file, boolean showLevel, boolean showOrigin) throws UsageException, IOException {
        if (file == null) {
            configure(level);
            return;
        }
        Level l = level(level);
        // A FIFO opened for writing alone blocks until a reader comes; opened read-write it does not.
        FileChannel channel = Files.exists(file) && !Files.isRegularFile(file)
                ? FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        OutputStream out = Channels.newOutputStream(channel);
        StreamHandler handler = new StreamHandler(out, new Formatter() {
            @Override
            public String format(LogRecord r) {
                StringBuilder tag = new StringBuilder("vessel:").append(Thread.currentThread().getName());
                if (showLevel) {
                    tag.append(':').append(r.getLevel().getName());
                }
                if (showOrigin) {
                    tag.append(':').append(r.getLoggerName());
                }
                String thrown = r.getThrown() == null ? "" : " (" + r.getThrown() + ")";
                return Instant.ofEpochMilli(r.getMillis()) + " [" + tag + "] " + formatMessage(r) + thrown + "\n";
            }
        }) {
            @Override
            public synchronized void publish(LogRecord record) {
                super.publish(record);
                flush(); // a log line must be there when the process dies, or when a reader looks
            }
        };
        install(handler, l);
    }

    private static Level level(String level) throws UsageException {
        return switch (level.toLowerCase(Locale.ROOT)) {
            case "off" -> Level.OFF;
            case "error" -> Level.SEVERE;
            case "warning", "warn" -> Level.WARNING;
            case "info" -> Level.INFO;
            case "debug" -> Level.FINE;
            case "trace" -> Level.FINEST;
            default -> throw new UsageException("unknown log level '" + level + "' (use error, warning, info, debug, trace or off)");
        };
    }

    private static void install(Handler handler, Level l) {
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h);
            if (!(h instanceof ConsoleHandler)) {
                h.close();
            }
        }
        handler.setLevel(l);
        root.addHandler(handler);
        root.setLevel(l);
    }
}
