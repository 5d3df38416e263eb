package vessel.devices.legacy;

import vessel.devices.input.LinuxKeys;

/**
 * A PC keyboard's scancodes (sets 1 and 2) for each Linux key code: what the PS/2 keyboard sends for a
 * key press or release. Set 1 is what a guest reads through the i8042's translation; set 2 what the
 * keyboard itself speaks.
 */
final class Scancodes {
    /** Set 2 code of each set-1 code 0x01-0x58 (the keys whose Linux code is their set-1 code). */
    private static final int[] SET2_OF_SET1 = {
        0x00, 0x76, 0x16, 0x1e, 0x26, 0x25, 0x2e, 0x36, 0x3d, 0x3e, 0x46, 0x45, 0x4e, 0x55, 0x66, 0x0d,
        0x15, 0x1d, 0x24, 0x2d, 0x2c, 0x35, 0x3c, 0x43, 0x44, 0x4d, 0x54, 0x5b, 0x5a, 0x14, 0x1c, 0x1b,
        0x23, 0x2b, 0x34, 0x33, 0x3b, 0x42, 0x4b, 0x4c, 0x52, 0x0e, 0x12, 0x5d, 0x1a, 0x22, 0x21, 0x2a,
        0x32, 0x31, 0x3a, 0x41, 0x49, 0x4a, 0x59, 0x7c, 0x11, 0x29, 0x58, 0x05, 0x06, 0x04, 0x0c, 0x03,
        0x0b, 0x83, 0x0a, 0x01, 0x09, 0x77, 0x7e, 0x6c, 0x75, 0x7d, 0x7b, 0x6b, 0x73, 0x74, 0x79, 0x69,
        0x72, 0x7a, 0x70, 0x71, 0x84, 0x00, 0x61, 0x78, 0x07,
    };

    private static final int NOT_A_KEY = -1;

    private Scancodes() {}

    /**
     * The set-1 code of {@code key} with 0x100 added where it takes the 0xE0 prefix; NOT_A_KEY if the key
     * has none (Pause, which is a sequence of its own, is handled by the callers).
     */
    private static int set1(int key) {
        if (key >= LinuxKeys.KEY_ESC && key <= LinuxKeys.KEY_F12 && key != 84 && key != 85) {
            return key;
        }
        return switch (key) {
            case LinuxKeys.KEY_KPENTER -> 0x11c;
            case LinuxKeys.KEY_RIGHTCTRL -> 0x11d;
            case LinuxKeys.KEY_KPSLASH -> 0x135;
            case LinuxKeys.KEY_SYSRQ -> 0x137;
            case LinuxKeys.KEY_RIGHTALT -> 0x138;
            case LinuxKeys.KEY_HOME -> 0x147;
            case LinuxKeys.KEY_UP -> 0x148;
            case LinuxKeys.KEY_PAGEUP -> 0x149;
            case LinuxKeys.KEY_LEFT -> 0x14b;
            case LinuxKeys.KEY_RIGHT -> 0x14d;
            case LinuxKeys.KEY_END -> 0x14f;
            case LinuxKeys.KEY_DOWN -> 0x150;
            case LinuxKeys.KEY_PAGEDOWN -> 0x151;
            case LinuxKeys.KEY_INSERT -> 0x152;
            case LinuxKeys.KEY_DELETE -> 0x153;
            case LinuxKeys.KEY_LEFTMETA -> 0x15b;
            case LinuxKeys.KEY_RIGHTMETA -> 0x15c;
            case LinuxKeys.KEY_COMPOSE -> 0x15d;
            default -> NOT_A_KEY;
        };
    }

    /** The bytes set 1 sends for {@code key} going down or up; empty for a key it does not have. */
    static byte[] set1(int key, boolean down) {
        if (key == LinuxKeys.KEY_PAUSE) {
            return down ? bytes(0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5) : new byte[0]; // no release code
        }
        int code = set1(key);
        if (code == NOT_A_KEY) {
            return new byte[0];
        }
        int b = (code & 0xff) | (down ? 0 : 0x80);
        return code > 0xff ? bytes(0xe0, b) : bytes(b);
    }

    /** The bytes set 2 sends for {@code key} going down or up (0xF0 before a release). */
    static byte[] set2(int key, boolean down) {
        if (key == LinuxKeys.KEY_PAUSE) {
            return down ? bytes(0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77) : new byte[0];
        }
        int code = set1(key);
        if (code == NOT_A_KEY) {
            return new byte[0];
        }
        int b = SET2_OF_SET1[code & 0xff];
        boolean extended = code > 0xff;
        if (down) {
            return extended ? bytes(0xe0, b) : bytes(b);
        }
        return extended ? bytes(0xe0, 0xf0, b) : bytes(0xf0, b);
    }

    private static byte[] bytes(int... values) {
        byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (byte) values[i];
        }
        return out;
    }
}
