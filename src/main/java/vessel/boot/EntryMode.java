package vessel.boot;

import java.util.Locale;

/** The CPU mode a guest is entered in. */
public enum EntryMode {
    /** 16-bit real mode, as after reset (but without a BIOS). */
    REAL,
    /** 32-bit protected mode with flat segments, paging off. */
    PROTECTED,
    /** 64-bit long mode with the first 4 GiB identity-mapped. */
    LONG;

    public static EntryMode parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "real" -> REAL;
            case "protected" -> PROTECTED;
            case "long" -> LONG;
            default -> throw new IllegalArgumentException("unknown entry mode '" + s + "' (use real, protected or long)");
        };
    }
}
