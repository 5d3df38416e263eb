package vessel.devices.input;

/**
 * X11 keysyms (what RFB's KeyEvent carries) to Linux input key codes (linux/input-event-codes.h), the
 * common currency of the guest's input devices: virtio-input sends the code itself, the PS/2 keyboard
 * turns it into scancodes. Characters map to the key that types them on a US layout, whatever the case
 * or shift: the client sends Shift as a key of its own.
 */
public final class LinuxKeys {
    public static final int KEY_ESC = 1;
    public static final int KEY_1 = 2;
    public static final int KEY_0 = 11;
    public static final int KEY_MINUS = 12;
    public static final int KEY_EQUAL = 13;
    public static final int KEY_BACKSPACE = 14;
    public static final int KEY_TAB = 15;
    public static final int KEY_Q = 16;
    public static final int KEY_LEFTBRACE = 26;
    public static final int KEY_RIGHTBRACE = 27;
    public static final int KEY_ENTER = 28;
    public static final int KEY_LEFTCTRL = 29;
    public static final int KEY_A = 30;
    public static final int KEY_SEMICOLON = 39;
    public static final int KEY_APOSTROPHE = 40;
    public static final int KEY_GRAVE = 41;
    public static final int KEY_LEFTSHIFT = 42;
    public static final int KEY_BACKSLASH = 43;
    public static final int KEY_Z = 44;
    public static final int KEY_COMMA = 51;
    public static final int KEY_DOT = 52;
    public static final int KEY_SLASH = 53;
    public static final int KEY_RIGHTSHIFT = 54;
    public static final int KEY_KPASTERISK = 55;
    public static final int KEY_LEFTALT = 56;
    public static final int KEY_SPACE = 57;
    public static final int KEY_CAPSLOCK = 58;
    public static final int KEY_F1 = 59;
    public static final int KEY_NUMLOCK = 69;
    public static final int KEY_SCROLLLOCK = 70;
    public static final int KEY_KP7 = 71;
    public static final int KEY_KP8 = 72;
    public static final int KEY_KP9 = 73;
    public static final int KEY_KPMINUS = 74;
    public static final int KEY_KP4 = 75;
    public static final int KEY_KP5 = 76;
    public static final int KEY_KP6 = 77;
    public static final int KEY_KPPLUS = 78;
    public static final int KEY_KP1 = 79;
    public static final int KEY_KP2 = 80;
    public static final int KEY_KP3 = 81;
    public static final int KEY_KP0 = 82;
    public static final int KEY_KPDOT = 83;
    public static final int KEY_102ND = 86;
    public static final int KEY_F11 = 87;
    public static final int KEY_F12 = 88;
    public static final int KEY_KPENTER = 96;
    public static final int KEY_RIGHTCTRL = 97;
    public static final int KEY_KPSLASH = 98;
    public static final int KEY_SYSRQ = 99;
    public static final int KEY_RIGHTALT = 100;
    public static final int KEY_HOME = 102;
    public static final int KEY_UP = 103;
    public static final int KEY_PAGEUP = 104;
    public static final int KEY_LEFT = 105;
    public static final int KEY_RIGHT = 106;
    public static final int KEY_END = 107;
    public static final int KEY_DOWN = 108;
    public static final int KEY_PAGEDOWN = 109;
    public static final int KEY_INSERT = 110;
    public static final int KEY_DELETE = 111;
    public static final int KEY_PAUSE = 119;
    public static final int KEY_LEFTMETA = 125;
    public static final int KEY_RIGHTMETA = 126;
    public static final int KEY_COMPOSE = 127;
    /** The highest key code this table produces; devices size their key bitmaps by it. */
    public static final int MAX_KEY = KEY_COMPOSE;

    public static final int BTN_LEFT = 0x110;
    public static final int BTN_RIGHT = 0x111;
    public static final int BTN_MIDDLE = 0x112;

    /** Keys of the US layout by the ASCII character they type, unshifted or shifted (0: no key). */
    private static final int[] ASCII = new int[128];

    static {
        String rows = "1234567890";
        for (int i = 0; i < rows.length(); i++) {
            ASCII[rows.charAt(i)] = KEY_1 + i;
        }
        String shifted = "!@#$%^&*()";
        for (int i = 0; i < shifted.length(); i++) {
            ASCII[shifted.charAt(i)] = KEY_1 + i;
        }
        letters("qwertyuiop", KEY_Q);
        letters("asdfghjkl", KEY_A);
        letters("zxcvbnm", KEY_Z);
        pair('-', '_', KEY_MINUS);
        pair('=', '+', KEY_EQUAL);
        pair('[', '{', KEY_LEFTBRACE);
        pair(']', '}', KEY_RIGHTBRACE);
        pair(';', ':', KEY_SEMICOLON);
        pair('\'', '"', KEY_APOSTROPHE);
        pair('`', '~', KEY_GRAVE);
        pair('\\', '|', KEY_BACKSLASH);
        pair(',', '<', KEY_COMMA);
        pair('.', '>', KEY_DOT);
        pair('/', '?', KEY_SLASH);
        ASCII[' '] = KEY_SPACE;
    }

    private static void letters(String row, int first) {
        for (int i = 0; i < row.length(); i++) {
            ASCII[row.charAt(i)] = first + i;
            ASCII[Character.toUpperCase(row.charAt(i))] = first + i;
        }
    }

    private static void pair(char plain, char shifted, int key) {
        ASCII[plain] = key;
        ASCII[shifted] = key;
    }

    private LinuxKeys() {}

    /** The Linux key code for {@code keysym}, or 0 for a keysym no key of a PC keyboard types. */
    public static int fromKeysym(int keysym) {
        if (keysym >= 0x20 && keysym < 0x7f) {
            return ASCII[keysym];
        }
        if (keysym >= 0xffbe && keysym <= 0xffc7) { // F1..F10
            return KEY_F1 + (keysym - 0xffbe);
        }
        if (keysym >= 0xffb0 && keysym <= 0xffb9) { // KP_0..KP_9
            return KEYPAD_DIGITS[keysym - 0xffb0];
        }
        return switch (keysym) {
            case 0xffc8 -> KEY_F11;
            case 0xffc9 -> KEY_F12;
            case 0xff08 -> KEY_BACKSPACE;
            case 0xff09, 0xfe20 -> KEY_TAB; // Tab, ISO_Left_Tab (Shift-Tab)
            case 0xff0d -> KEY_ENTER;
            case 0xff1b -> KEY_ESC;
            case 0xffff -> KEY_DELETE;
            case 0xff50 -> KEY_HOME;
            case 0xff51 -> KEY_LEFT;
            case 0xff52 -> KEY_UP;
            case 0xff53 -> KEY_RIGHT;
            case 0xff54 -> KEY_DOWN;
            case 0xff55 -> KEY_PAGEUP;
            case 0xff56 -> KEY_PAGEDOWN;
            case 0xff57 -> KEY_END;
            case 0xff63 -> KEY_INSERT;
            case 0xff13 -> KEY_PAUSE;
            case 0xff14 -> KEY_SCROLLLOCK;
            case 0xff15, 0xff61 -> KEY_SYSRQ; // Sys_Req, Print
            case 0xff67 -> KEY_COMPOSE; // Menu
            case 0xff7f -> KEY_NUMLOCK;
            case 0xffe5 -> KEY_CAPSLOCK;
            case 0xffe1 -> KEY_LEFTSHIFT;
            case 0xffe2 -> KEY_RIGHTSHIFT;
            case 0xffe3 -> KEY_LEFTCTRL;
            case 0xffe4 -> KEY_RIGHTCTRL;
            case 0xffe9, 0xffe7 -> KEY_LEFTALT; // Alt_L, Meta_L
            case 0xffea, 0xffe8, 0xfe03 -> KEY_RIGHTALT; // Alt_R, Meta_R, ISO_Level3_Shift (AltGr)
            case 0xffeb -> KEY_LEFTMETA; // Super_L
            case 0xffec -> KEY_RIGHTMETA;
            case 0xff8d -> KEY_KPENTER;
            case 0xffaa -> KEY_KPASTERISK;
            case 0xffab -> KEY_KPPLUS;
            case 0xffad -> KEY_KPMINUS;
            case 0xffae, 0xff9f -> KEY_KPDOT; // KP_Decimal, KP_Delete
            case 0xffaf -> KEY_KPSLASH;
            case 0xff95 -> KEY_KP7; // KP_Home
            case 0xff96 -> KEY_KP4; // KP_Left
            case 0xff97 -> KEY_KP8; // KP_Up
            case 0xff98 -> KEY_KP6; // KP_Right
            case 0xff99 -> KEY_KP2; // KP_Down
            case 0xff9a -> KEY_KP9; // KP_Prior
            case 0xff9b -> KEY_KP3; // KP_Next
            case 0xff9c -> KEY_KP1; // KP_End
            case 0xff9d -> KEY_KP5; // KP_Begin
            case 0xff9e -> KEY_KP0; // KP_Insert
            default -> 0;
        };
    }

    private static final int[] KEYPAD_DIGITS = {KEY_KP0, KEY_KP1, KEY_KP2, KEY_KP3, KEY_KP4, KEY_KP5, KEY_KP6,
            KEY_KP7, KEY_KP8, KEY_KP9};
}
