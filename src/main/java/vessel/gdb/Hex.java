package vessel.gdb;

/** The protocol's hex: numbers big-endian (addresses, lengths), register values little-endian. */
final class Hex {
    private static final char[] DIGITS = "0123456789abcdef".toCharArray();

    private Hex() {}

    static void appendLe(StringBuilder sb, long v, int bytes) {
        for (int i = 0; i < bytes; i++) {
            int b = (int) (v >>> (8 * i)) & 0xff;
            sb.append(DIGITS[b >>> 4]).append(DIGITS[b & 15]);
        }
    }

    /** {@code bytes} little-endian bytes at {@code hex[at..]}, or null if they are not hex. */
    static Long parseLe(String hex, int at, int bytes) {
        if (at < 0 || at + 2L * bytes > hex.length()) {
            return null;
        }
        long v = 0;
        for (int i = bytes - 1; i >= 0; i--) {
            int hi = Character.digit(hex.charAt(at + 2 * i), 16);
            int lo = Character.digit(hex.charAt(at + 2 * i + 1), 16);
            if (hi < 0 || lo < 0) {
                return null;
            }
            v = (v << 8) | (hi << 4) | lo;
        }
        return v;
    }

    /** A big-endian number of 1-16 hex digits (an address, length or register number), or null. */
    static Long parseNumber(String s) {
        if (s.isEmpty() || s.length() > 16) {
            return null;
        }
        long v = 0;
        for (int i = 0; i < s.length(); i++) {
            int d = Character.digit(s.charAt(i), 16);
            if (d < 0) {
                return null;
            }
            v = (v << 4) | d;
        }
        return v;
    }

    static String of(byte[] data) {
        StringBuilder sb = new StringBuilder(data.length * 2);
        for (byte b : data) {
            sb.append(DIGITS[(b >>> 4) & 15]).append(DIGITS[b & 15]);
        }
        return sb.toString();
    }

    /** The bytes of an even-length hex string, or null. */
    static byte[] bytes(String hex) {
        if ((hex.length() & 1) != 0) {
            return null;
        }
        byte[] out = new byte[hex.length() / 2];
        for (int i = 0; i < out.length; i++) {
            int hi = Character.digit(hex.charAt(2 * i), 16);
            int lo = Character.digit(hex.charAt(2 * i + 1), 16);
            if (hi < 0 || lo < 0) {
                return null;
            }
            out[i] = (byte) ((hi << 4) | lo);
        }
        return out;
    }
}
