package vessel.json;

import java.math.BigDecimal;
import java.util.Objects;

/**
 * A number, kept as its exact text (RFC 8259 grammar, checked): 10, 1.50 and 1e3 are written back as they
 * came, and no precision is lost on the way through. Readers ask for the type they need and get a
 * range-checked value or an exception.
 */
public record JsonNumber(String text) implements JsonValue {
    public JsonNumber {
        Objects.requireNonNull(text, "text");
        if (!valid(text)) {
            throw new IllegalArgumentException("not a JSON number: " + text);
        }
    }

    public static JsonNumber of(long value) {
        return new JsonNumber(Long.toString(value));
    }

    /** A finite double, in Java's shortest text for it (1.5, 1.0E20). */
    public static JsonNumber of(double value) {
        if (!Double.isFinite(value)) {
            throw new IllegalArgumentException("JSON has no " + value);
        }
        return new JsonNumber(Double.toString(value));
    }

    @Override
    public String kind() {
        return "number";
    }

    @Override
    public String toString() {
        return text;
    }

    /** Written without a fraction or an exponent (what serde takes for an integer type). */
    public boolean isIntegral() {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '.' || c == 'e' || c == 'E') {
                return false;
            }
        }
        return true;
    }

    /** Integral and within a Java long (i64). */
    public boolean fitsLong() {
        if (!isIntegral() || text.length() > 20) {
            return false;
        }
        try {
            Long.parseLong(text);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** The value as a long, or ArithmeticException when it is not integral or not within i64. */
    public long longValue() {
        if (!fitsLong()) {
            throw new ArithmeticException("`" + text + "` is not an integer within i64");
        }
        return Long.parseLong(text);
    }

    /** Integral, not negative and within u64 (Long.parseUnsignedLong's range). */
    public boolean fitsUnsignedLong() {
        if (!isIntegral() || text.startsWith("-") || text.length() > 20) {
            return false;
        }
        try {
            Long.parseUnsignedLong(text);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** The value as a double (the nearest; infinite when beyond double's range). */
    public double doubleValue() {
        return Double.parseDouble(text);
    }

    /** The exact value, or ArithmeticException when its exponent is beyond BigDecimal's (int) scale. */
    public BigDecimal bigDecimal() {
        try {
            return new BigDecimal(text);
        } catch (NumberFormatException e) {
            throw new ArithmeticException("`" + abbreviated() + "` is beyond the range of an exact decimal");
        }
    }

    /** The text, cut to 40 characters for messages. */
    public String abbreviated() {
        return text.length() <= 40 ? text : text.substring(0, 37) + "...";
    }

    /** RFC 8259: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
    static boolean valid(CharSequence s) {
        int n = s.length();
        int i = 0;
        if (i < n && s.charAt(i) == '-') {
            i++;
        }
        if (i >= n) {
            return false;
        }
        if (s.charAt(i) == '0') {
            i++;
        } else if (s.charAt(i) >= '1' && s.charAt(i) <= '9') {
            while (i < n && isDigit(s.charAt(i))) {
                i++;
            }
        } else {
            return false;
        }
        if (i < n && s.charAt(i) == '.') {
            i++;
            int start = i;
            while (i < n && isDigit(s.charAt(i))) {
                i++;
            }
            if (i == start) {
                return false;
            }
        }
        if (i < n && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            i++;
            if (i < n && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
                i++;
            }
            int start = i;
            while (i < n && isDigit(s.charAt(i))) {
                i++;
            }
            if (i == start) {
                return false;
            }
        }
        return i == n;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }
}
