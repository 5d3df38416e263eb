package vessel.json;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict RFC 8259 parser over UTF-8 bytes, for text from API clients, config files and MMDS documents.
 *
 * <p>Refused: anything but one value and whitespace (trailing data, comments, a byte-order mark, NaN,
 * single quotes, trailing commas, leading zeros, control characters in strings, unknown escapes), bytes
 * that are not well-formed UTF-8 (overlong forms, encoded surrogates, beyond U+10FFFF), and an escaped
 * lone surrogate (a \\ud800 escape, as serde_json refuses it: it is no Unicode text). Duplicate keys
 * are refused or the last one wins, as the caller asks ({@link Duplicates}): Firecracker's structs refuse
 * them, its free-form MMDS document (serde_json's Value) keeps the last.
 *
 * <p>Limits ({@link Limits}): document size, nesting depth (the recursion is bounded by it), the length
 * of one string and of one number. Every loop advances through the input, so the work is linear in it.
 */
public final class JsonParser {
    /** What a repeated key in one object does. */
    public enum Duplicates { REJECT, LAST_WINS }

    /**
     * @param maxBytes        the longest document
     * @param maxDepth        the deepest nesting of arrays and objects (serde_json's default is 128)
     * @param maxStringBytes  the longest string, in UTF-8 bytes as written (escapes count as written)
     * @param maxNumberChars  the longest number token
     */
    public record Limits(int maxBytes, int maxDepth, int maxStringBytes, int maxNumberChars) {
        public static final Limits DEFAULT = new Limits(8 << 20, 128, 1 << 20, 256);

        public Limits {
            if (maxBytes < 0 || maxDepth < 1 || maxDepth > 10_000 || maxStringBytes < 0 || maxNumberChars < 1) {
                throw new IllegalArgumentException("bad JSON limits");
            }
        }
    }

    private final byte[] in;
    private final Limits limits;
    private final Duplicates duplicates;
    private int pos;
    private int line = 1;
    private int lineStart;

    private JsonParser(byte[] in, Limits limits, Duplicates duplicates) {
        this.in = in;
        this.limits = limits;
        this.duplicates = duplicates;
    }

    /** One value, default limits, duplicate keys refused. */
    public static JsonValue parse(byte[] utf8) throws JsonException {
        return parse(utf8, Limits.DEFAULT, Duplicates.REJECT);
    }

    public static JsonValue parse(byte[] utf8, Limits limits, Duplicates duplicates) throws JsonException {
        JsonParser p = new JsonParser(utf8, limits, duplicates);
        if (utf8.length > limits.maxBytes()) {
            throw new JsonException("document larger than " + limits.maxBytes() + " bytes", 1, 1);
        }
        p.skipWhitespace();
        JsonValue v = p.value(0);
        p.skipWhitespace();
        if (p.pos < utf8.length) {
            throw p.error("trailing characters");
        }
        return v;
    }

    private JsonException error(String what) {
        return new JsonException(what, line, pos - lineStart + 1);
    }

    private JsonException eof(String what) {
        return new JsonException("EOF while parsing " + what, line, pos - lineStart);
    }

    private void skipWhitespace() {
        while (pos < in.length) {
            byte b = in[pos];
            if (b == '\n') {
                line++;
                lineStart = pos + 1;
            } else if (b != ' ' && b != '\t' && b != '\r') {
                return;
            }
            pos++;
        }
    }

    private JsonValue value(int depth) throws JsonException {
        if (pos >= in.length) {
            throw eof("a value");
        }
        return switch (in[pos]) {
            case '{' -> object(depth + 1);
            case '[' -> array(depth + 1);
            case '"' -> new JsonString(string());
            case 't' -> literal("true", JsonBoolean.TRUE);
            case 'f' -> literal("false", JsonBoolean.FALSE);
            case 'n' -> literal("null", JsonNull.INSTANCE);
            default -> {
                byte b = in[pos];
                if (b == '-' || (b >= '0' && b <= '9')) {
                    yield number();
                }
                throw error("expected value");
            }
        };
    }

    private JsonValue literal(String word, JsonValue value) throws JsonException {
        for (int i = 0; i < word.length(); i++) {
            if (pos >= in.length) {
                throw eof("a value");
            }
            if (in[pos] != word.charAt(i)) {
                throw error("expected ident");
            }
            pos++;
        }
        return value;
    }

    private JsonNumber number() throws JsonException {
        int start = pos;
        if (in[pos] == '-') {
            pos++;
        }
        if (pos >= in.length) {
            throw eof("a number");
        }
        if (in[pos] == '0') {
            pos++;
            if (pos < in.length && isDigit(in[pos])) {
                throw error("invalid number");
            }
        } else if (isDigit(in[pos])) {
            digits();
        } else {
            throw error("invalid number");
        }
        if (pos < in.length && in[pos] == '.') {
            pos++;
            if (pos >= in.length) {
                throw eof("a number");
            }
            if (!isDigit(in[pos])) {
                throw error("invalid number");
            }
            digits();
        }
        if (pos < in.length && (in[pos] == 'e' || in[pos] == 'E')) {
            pos++;
            if (pos < in.length && (in[pos] == '+' || in[pos] == '-')) {
                pos++;
            }
            if (pos >= in.length) {
                throw eof("a number");
            }
            if (!isDigit(in[pos])) {
                throw error("invalid number");
            }
            digits();
        }
        if (pos - start > limits.maxNumberChars()) {
            pos = start;
            throw error("number longer than " + limits.maxNumberChars() + " characters");
        }
        return new JsonNumber(new String(in, start, pos - start, java.nio.charset.StandardCharsets.US_ASCII));
    }

    private void digits() {
        while (pos < in.length && isDigit(in[pos])) {
            pos++;
        }
    }

    private static boolean isDigit(byte b) {
        return b >= '0' && b <= '9';
    }

    private JsonArray array(int depth) throws JsonException {
        if (depth > limits.maxDepth()) {
            throw error("recursion limit exceeded");
        }
        pos++; // [
        List<JsonValue> elements = new ArrayList<>();
        skipWhitespace();
        if (pos >= in.length) {
            throw eof("a list");
        }
        if (in[pos] == ']') {
            pos++;
            return new JsonArray(elements);
        }
        while (true) {
            elements.add(value(depth));
            skipWhitespace();
            if (pos >= in.length) {
                throw eof("a list");
            }
            if (in[pos] == ']') {
                pos++;
                return new JsonArray(elements);
            }
            if (in[pos] != ',') {
                throw error("expected `,` or `]`");
            }
            pos++;
            skipWhitespace();
            if (pos < in.length && in[pos] == ']') {
                throw error("trailing comma");
            }
        }
    }

    private JsonObject object(int depth) throws JsonException {
        if (depth > limits.maxDepth()) {
            throw error("recursion limit exceeded");
        }
        pos++; // {
        Map<String, JsonValue> members = new LinkedHashMap<>();
        skipWhitespace();
        if (pos >= in.length) {
            throw eof("an object");
        }
        if (in[pos] == '}') {
            pos++;
            return new JsonObject(members);
        }
        while (true) {
            if (pos >= in.length) {
                throw eof("an object");
            }
            if (in[pos] != '"') {
                throw error(in[pos] == '}' ? "trailing comma" : "key must be a string");
            }
            int keyLine = line;
            int keyColumn = pos - lineStart + 1;
            String key = string();
            skipWhitespace();
            if (pos >= in.length) {
                throw eof("an object");
            }
            if (in[pos] != ':') {
                throw error("expected `:`");
            }
            pos++;
            skipWhitespace();
            JsonValue v = value(depth);
            if (members.put(key, v) != null && duplicates == Duplicates.REJECT) {
                throw new JsonException("duplicate field `" + printable(key) + "`", keyLine, keyColumn);
            }
            skipWhitespace();
            if (pos >= in.length) {
                throw eof("an object");
            }
            if (in[pos] == '}') {
                pos++;
                return new JsonObject(members);
            }
            if (in[pos] != ',') {
                throw error("expected `,` or `}`");
            }
            pos++;
            skipWhitespace();
        }
    }

    /** A key for a one-line message: control characters as ?, at most 40 characters. */
    private static String printable(String key) {
        String s = key.replaceAll("\\p{Cntrl}", "?");
        return s.length() <= 40 ? s : s.substring(0, 37) + "...";
    }

    /** A string from its opening quote; pos ends after the closing one. */
    private String string() throws JsonException {
        int start = ++pos;
        StringBuilder sb = null;
        while (true) {
            if (pos - start > limits.maxStringBytes()) {
                throw error("string longer than " + limits.maxStringBytes() + " bytes");
            }
            if (pos >= in.length) {
                throw eof("a string");
            }
            int b = in[pos] & 0xFF;
            if (b == '"') {
                String s = sb == null ? new String(in, start, pos - start, java.nio.charset.StandardCharsets.US_ASCII)
                        : sb.toString();
                pos++;
                return s;
            }
            if (b < 0x20) {
                throw error("control character (\\u0000-\\u001F) found while parsing a string");
            }
            if (b < 0x80 && b != '\\') {
                if (sb != null) {
                    sb.append((char) b);
                }
                pos++;
                continue;
            }
            if (sb == null) {
                sb = new StringBuilder(pos - start + 16);
                for (int i = start; i < pos; i++) {
                    sb.append((char) in[i]);
                }
            }
            if (b == '\\') {
                escape(sb);
            } else {
                utf8(sb, b);
            }
        }
    }

    private void escape(StringBuilder sb) throws JsonException {
        pos++; // backslash
        if (pos >= in.length) {
            throw eof("a string");
        }
        byte e = in[pos];
        switch (e) {
            case '"' -> sb.append('"');
            case '\\' -> sb.append('\\');
            case '/' -> sb.append('/');
            case 'b' -> sb.append('\b');
            case 'f' -> sb.append('\f');
            case 'n' -> sb.append('\n');
            case 'r' -> sb.append('\r');
            case 't' -> sb.append('\t');
            case 'u' -> {
                pos++;
                int c = hex4();
                if (Character.isLowSurrogate((char) c)) {
                    pos -= 4;
                    throw error("lone trailing surrogate in hex escape");
                }
                if (Character.isHighSurrogate((char) c)) {
                    if (pos + 1 < in.length && in[pos] == '\\' && in[pos + 1] == 'u') {
                        pos += 2;
                        int low = hex4();
                        if (!Character.isLowSurrogate((char) low)) {
                            pos -= 4;
                            throw error("lone leading surrogate in hex escape");
                        }
                        sb.append((char) c).append((char) low);
                        return;
                    }
                    throw error("lone leading surrogate in hex escape");
                }
                sb.append((char) c);
                return; // hex4 left pos after the escape
            }
            default -> throw error("invalid escape");
        }
        pos++;
    }

    private int hex4() throws JsonException {
        int v = 0;
        for (int i = 0; i < 4; i++) {
            if (pos >= in.length) {
                throw eof("a string");
            }
            int d = Character.digit(in[pos], 16);
            if (d < 0 || in[pos] < 0) {
                throw error("invalid escape");
            }
            v = v << 4 | d;
            pos++;
        }
        return v;
    }

    /** One UTF-8 sequence from lead byte {@code b} (at pos), well-formed per RFC 3629, appended. */
    private void utf8(StringBuilder sb, int b) throws JsonException {
        int need;
        int cp;
        int min;
        if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
            cp = b & 0x1F;
            min = 0x80;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            cp = b & 0x0F;
            min = 0x800;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            cp = b & 0x07;
            min = 0x10000;
        } else {
            throw error("invalid UTF-8");
        }
        if (pos + need >= in.length) {
            throw error("invalid UTF-8");
        }
        for (int i = 1; i <= need; i++) {
            int c = in[pos + i] & 0xFF;
            if ((c & 0xC0) != 0x80) {
                throw error("invalid UTF-8");
            }
            cp = cp << 6 | (c & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            throw error("invalid UTF-8");
        }
        sb.appendCodePoint(cp);
        pos += need + 1;
    }
}
