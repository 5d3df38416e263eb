package vessel.display;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import vessel.devices.display.DisplayMode;

/**
 * Reads a framebuffer's pixels as 0xRRGGBB, 8 bits a channel, whatever its mode: what the PNG encoder and
 * the VNC encoders start from. Every read is bounded by the segment (a guest cannot make it read outside
 * its framebuffer: the mode was checked against the segment's size before).
 */
public final class FrameReader {
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final DisplayMode mode;
    private final MemorySegment framebuffer;
    private final int bytesPerPixel;
    private final boolean x8r8g8b8;

    public FrameReader(DisplayMode mode, MemorySegment framebuffer) {
        if (framebuffer.byteSize() < mode.size()) {
            throw new IllegalArgumentException("framebuffer of " + framebuffer.byteSize() + " bytes is smaller than its mode");
        }
        this.mode = mode;
        this.framebuffer = framebuffer;
        this.bytesPerPixel = mode.bitsPerPixel() / 8;
        this.x8r8g8b8 = bytesPerPixel == 4 && mode.redShift() == 16 && mode.greenShift() == 8 && mode.blueShift() == 0
                && mode.redSize() == 8 && mode.greenSize() == 8 && mode.blueSize() == 8;
    }

    public DisplayMode mode() {
        return mode;
    }

    /** True when the framebuffer is x8r8g8b8 little-endian: {@link #copyRow} gives pixels as they are. */
    public boolean isX8R8G8B8() {
        return x8r8g8b8;
    }

    /** The bytes of pixels {@code x .. x+count-1} of line {@code y} as they are in the framebuffer. */
    public void copyRow(int x, int y, int count, byte[] dst, int off) {
        if (x < 0 || y < 0 || count < 0 || x + count > mode.width() || y >= mode.height()) {
            throw new IndexOutOfBoundsException("pixels " + x + "+" + count + " of line " + y + " outside "
                    + mode.width() + "x" + mode.height());
        }
        MemorySegment.copy(framebuffer, ValueLayout.JAVA_BYTE, (long) y * mode.stride() + (long) x * bytesPerPixel,
                dst, off, count * bytesPerPixel);
    }

    /** Pixels {@code x .. x+count-1} of line {@code y} into {@code rgb[off ..]}. */
    public void row(int x, int y, int count, int[] rgb, int off) {
        if (x < 0 || y < 0 || count < 0 || x + count > mode.width() || y >= mode.height()) {
            throw new IndexOutOfBoundsException("pixels " + x + "+" + count + " of line " + y + " outside "
                    + mode.width() + "x" + mode.height());
        }
        long at = (long) y * mode.stride() + (long) x * bytesPerPixel;
        if (x8r8g8b8) {
            MemorySegment.copy(framebuffer, U32, at, rgb, off, count);
            for (int i = off; i < off + count; i++) {
                rgb[i] &= 0xffffff;
            }
            return;
        }
        for (int i = 0; i < count; i++, at += bytesPerPixel) {
            int v = switch (bytesPerPixel) {
                case 2 -> framebuffer.get(U16, at) & 0xffff;
                case 3 -> (framebuffer.get(ValueLayout.JAVA_BYTE, at) & 0xff)
                        | (framebuffer.get(ValueLayout.JAVA_BYTE, at + 1) & 0xff) << 8
                        | (framebuffer.get(ValueLayout.JAVA_BYTE, at + 2) & 0xff) << 16;
                default -> framebuffer.get(U32, at);
            };
            rgb[off + i] = channel(v, mode.redShift(), mode.redSize()) << 16
                    | channel(v, mode.greenShift(), mode.greenSize()) << 8
                    | channel(v, mode.blueShift(), mode.blueSize());
        }
    }

    /** A channel of {@code size} bits at {@code shift}, scaled to 8 bits. */
    private static int channel(int v, int shift, int size) {
        if (size <= 0 || shift < 0 || shift >= 32) {
            return 0;
        }
        int bits = Math.min(size, 8);
        int c = (v >>> shift) & ((1 << size) - 1);
        c >>>= size - bits;
        // replicate the high bits into the low ones: 5-bit 31 becomes 255, not 248
        int out = c << (8 - bits);
        for (int have = bits; have < 8; have += bits) {
            out |= c << (8 - bits) >>> have;
        }
        return out & 0xff;
    }
}
