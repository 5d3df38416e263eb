package vessel.json;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Compact JSON text (no whitespace), escaped as serde_json escapes it: {@code "} and {@code \}, the short
 * escapes for backspace, form feed, newline, carriage return and tab, {@code \\u00xx} (lower-case hex) for
 * the other control characters; everything else, {@code /} and non-ASCII included, as is. Numbers are
 * written as their text. A lone surrogate in a Java string becomes {@code ?} in the UTF-8 bytes.
 */
public final class JsonWriter {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private JsonWriter() {}

    public static String write(JsonValue value) {
        StringBuilder sb = new StringBuilder();
        write(value, sb);
        return sb.toString();
    }

    public static byte[] writeBytes(JsonValue value) {
        return write(value).getBytes(StandardCharsets.UTF_8);
    }

    public static void write(JsonValue value, StringBuilder sb) {
        switch (value) {
            case JsonNull n -> sb.append("null");
            case JsonBoolean b -> sb.append(b.value());
            case JsonNumber n -> sb.append(n.text());
            case JsonString s -> string(s.value(), sb);
            case JsonArray a -> {
                sb.append('[');
                boolean first = true;
                for (JsonValue e : a.elements()) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    write(e, sb);
                }
                sb.append(']');
            }
            case JsonObject o -> {
                sb.append('{');
                boolean first = true;
                for (Map.Entry<String, JsonValue> e : o.members().entrySet()) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    string(e.getKey(), sb);
                    sb.append(':');
                    write(e.getValue(), sb);
                }
                sb.append('}');
            }
        }
    }

    /** {@code s} as a JSON string literal, quotes included. */
    public static void string(String s, StringBuilder sb) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append("\\u00").append(HEX[c >> 4]).append(HEX[c & 0xF]);
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
