package vessel.devices.input;

/**
 * Where a display server (VNC, a browser console) sends what a user types and points at. Implemented by the
 * guest's input devices (the i8042's PS/2 keyboard and mouse, virtio-input); a VM may route to several.
 * Calls come from the display server's threads, never from a vCPU, and must not block on guest progress:
 * an event the guest has no room for is dropped.
 */
public interface InputSink {
    /**
     * A key pressed or released, named by its X11 keysym (what RFB's KeyEvent carries: 0x61 'a',
     * 0xff0d Return, 0xffe1 Shift_L ...); the device maps it to its own scancode or Linux key code.
     */
    void key(int keysym, boolean down);

    /**
     * The pointer at ({@code x}, {@code y}) on a screen of {@code width} x {@code height} pixels, with RFB's
     * button mask (bit 0 left, 1 middle, 2 right, 3 and 4 wheel up and down). A relative device (a PS/2
     * mouse) sends the difference from the last position; an absolute one (a tablet) scales to its range.
     */
    void pointer(int x, int y, int buttons, int width, int height);

    /** Routes to nothing: a VM without input devices. */
    InputSink NONE = new InputSink() {
        @Override
        public void key(int keysym, boolean down) {
        }

        @Override
        public void pointer(int x, int y, int buttons, int width, int height) {
        }
    };
}
