package vessel.display.vnc;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import vessel.devices.display.Display;
import vessel.devices.display.DisplayMode;

/** A display in heap memory whose dirty pages the test sets: for the VNC server without a guest. */
final class FakeDisplay implements Display {
    final DisplayMode mode;
    final MemorySegment fb;
    private long[] dirty;
    private boolean known = true;

    FakeDisplay(DisplayMode mode) {
        this.mode = mode;
        this.fb = MemorySegment.ofArray(new byte[(int) ((mode.size() + 4095) & ~4095L)]);
        this.dirty = new long[(int) (fb.byteSize() / 4096 + 63) / 64];
    }

    /** A pattern with a solid block, a few-colour block and a gradient, so ZRLE uses all its tile kinds. */
    FakeDisplay pattern() {
        for (int y = 0; y < mode.height(); y++) {
            for (int x = 0; x < mode.width(); x++) {
                int rgb = y < 64 ? 0x204080 : y < 128 ? ((x / 8 + y / 8) % 3 == 0 ? 0xffffff : (x % 5 == 0 ? 0xff0000 : 0))
                        : (x & 0xff) << 16 | (y & 0xff) << 8 | 0x40;
                set(x, y, rgb);
            }
        }
        return this;
    }

    int get(int x, int y) {
        return fb.get(ValueLayout.JAVA_INT_UNALIGNED, (long) y * mode.stride() + 4L * x) & 0xffffff;
    }

    void set(int x, int y, int rgb) {
        fb.set(ValueLayout.JAVA_INT_UNALIGNED, (long) y * mode.stride() + 4L * x, rgb);
    }

    /** Paints line {@code y} and marks its pages dirty, as the guest and KVM would. */
    synchronized void paintLine(int y, int rgb) {
        for (int x = 0; x < mode.width(); x++) {
            set(x, y, rgb);
        }
        long first = (long) y * mode.stride() / 4096;
        long last = ((long) y * mode.stride() + mode.width() * 4L - 1) / 4096;
        for (long p = first; p <= last; p++) {
            dirty[(int) (p / 64)] |= 1L << (p % 64);
        }
    }

    synchronized void unknown() {
        known = false;
    }

    @Override
    public DisplayMode mode() {
        return mode;
    }

    @Override
    public MemorySegment framebuffer() {
        return fb;
    }

    @Override
    public synchronized boolean takeDirtyPages(long[] pages) {
        for (int i = 0; i < Math.min(pages.length, dirty.length); i++) {
            pages[i] |= dirty[i];
        }
        dirty = new long[dirty.length];
        boolean k = known;
        known = true;
        return k;
    }
}
