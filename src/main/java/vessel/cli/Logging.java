package vessel.cli;

import java.util.Locale;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** Routes {@code System.Logger} (Vessel's one logging facade) to stderr, one line per record. */
final class Logging {
    private Logging() {}

    static void configure(String level) throws UsageException {
        Level l = switch (level.toLowerCase(Locale.ROOT)) {
            case "error" -> Level.SEVERE;
            case "warning", "warn" -> Level.WARNING;
            case "info" -> Level.INFO;
            case "debug" -> Level.FINE;
            case "trace" -> Level.FINEST;
            default -> throw new UsageException("unknown log level '" + level + "' (use error, warning, info or debug)");
        };
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h);
        }
        ConsoleHandler handler = new ConsoleHandler();
        handler.setLevel(l);
        handler.setFormatter(new Formatter() {
            @Override
            public String format(LogRecord r) {
                String msg = formatMessage(r);
                String thrown = r.getThrown() == null || l.intValue() > Level.FINE.intValue()
                        ? "" : " (" + r.getThrown() + ")";
                return "vessel: " + r.getLevel().getName().toLowerCase(Locale.ROOT) + ": " + msg + thrown + "\n";
            }
        });
        root.addHandler(handler);
        root.setLevel(l);
    }
}
