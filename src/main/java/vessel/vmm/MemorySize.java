package vessel.vmm;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses sizes as QEMU's {@code -m} does: a plain number is MiB; K, M, G, T suffixes (optionally "iB"). */
public final class MemorySize {
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([KMGT]?)(I?B)?", Pattern.CASE_INSENSITIVE);

    private MemorySize() {}

    public static long parse(String text) throws ConfigException {
        Matcher m = SIZE.matcher(text.trim());
        if (!m.matches()) {
            throw new ConfigException("memory size '" + text + "' is not a size (examples: 256M, 1G, 512)");
        }
        int shift = switch (m.group(2).toUpperCase(Locale.ROOT)) {
            case "K" -> 10;
            case "", "M" -> 20;
            case "G" -> 30;
            case "T" -> 40;
            default -> throw new AssertionError();
        };
        long n;
        try {
            n = Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            throw new ConfigException("memory size '" + text + "' is too large");
        }
        if (n > (Long.MAX_VALUE >> shift)) {
            throw new ConfigException("memory size '" + text + "' is too large");
        }
        return n << shift;
    }

    /** "256 MiB", "1.5 GiB": for messages. */
    public static String format(long bytes) {
        if (bytes >= 1L << 30 && bytes % (1L << 30) == 0) return (bytes >> 30) + " GiB";
        if (bytes >= 1L << 20 && bytes % (1L << 20) == 0) return (bytes >> 20) + " MiB";
        if (bytes >= 1L << 30) return String.format(java.util.Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
        if (bytes >= 1L << 20) return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
        if (bytes >= 1L << 10 && bytes % (1L << 10) == 0) return (bytes >> 10) + " KiB";
        return bytes + " bytes";
    }
}
