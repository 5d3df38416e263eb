package vessel.json;

/**
 * RFC 6901 JSON pointers: "" is the whole document, "/a/0" member a's first element; {@code ~1} is "/" and
 * {@code ~0} is "~" in a reference token. An array index is decimal without leading zeros ("-", the
 * element after the last, never exists for a lookup).
 */
public final class JsonPointer {
    private JsonPointer() {}

    /**
     * The value {@code pointer} refers to in {@code root}, or null when there is none or the pointer is
     * not one (it does not start with "/", or has a "~" followed by neither 0 nor 1). Linear in the pointer.
     */
    public static JsonValue at(JsonValue root, String pointer) {
        if (pointer.isEmpty()) {
            return root;
        }
        if (pointer.charAt(0) != '/') {
            return null;
        }
        JsonValue current = root;
        int i = 1;
        while (current != null) {
            int end = pointer.indexOf('/', i);
            if (end < 0) {
                end = pointer.length();
            }
            String token = unescape(pointer.substring(i, end));
            if (token == null) {
                return null;
            }
            current = switch (current) {
                case JsonObject o -> o.members().get(token);
                case JsonArray a -> {
                    int index = index(token);
                    yield index >= 0 && index < a.elements().size() ? a.elements().get(index) : null;
                }
                default -> null;
            };
            if (end == pointer.length()) {
                return current;
            }
            i = end + 1;
        }
        return null;
    }

    private static String unescape(String token) {
        if (token.indexOf('~') < 0) {
            return token;
        }
        StringBuilder sb = new StringBuilder(token.length());
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c != '~') {
                sb.append(c);
            } else if (i + 1 < token.length() && (token.charAt(i + 1) == '0' || token.charAt(i + 1) == '1')) {
                sb.append(token.charAt(++i) == '0' ? '~' : '/');
            } else {
                return null;
            }
        }
        return sb.toString();
    }

    /** A decimal array index without leading zeros, within int; -1 when the token is none. */
    private static int index(String token) {
        if (token.isEmpty() || token.length() > 10 || (token.length() > 1 && token.charAt(0) == '0')) {
            return -1;
        }
        long v = 0;
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            v = v * 10 + (c - '0');
        }
        return v > Integer.MAX_VALUE ? -1 : (int) v;
    }
}
