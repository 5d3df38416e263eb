package vessel.display.vnc;

import java.nio.ByteBuffer;

/**
 * RFB's PIXEL_FORMAT (RFC 6143 7.4): how a client wants pixels. Only true colour is served (colour maps
 * went out with 8-bit displays; a client asking for one is dropped), at 8, 16 or 32 bits per pixel.
 */
public record PixelFormat(int bitsPerPixel, int depth, boolean bigEndian, boolean trueColour,
                          int redMax, int greenMax, int blueMax, int redShift, int greenShift, int blueShift) {
    public static final int BYTES = 16;

    /** What the server offers first: 32 bits, x8r8g8b8 little-endian, as the framebuffer usually is. */
    public static final PixelFormat X8R8G8B8 = new PixelFormat(32, 24, false, true, 255, 255, 255, 16, 8, 0);

    /** Reads and checks a client's format; anything the server cannot produce is a protocol error. */
    public static PixelFormat read(ByteBuffer b) throws RfbException {
        PixelFormat f = new PixelFormat(b.get() & 0xff, b.get() & 0xff, b.get() != 0, b.get() != 0,
                b.getShort() & 0xffff, b.getShort() & 0xffff, b.getShort() & 0xffff, b.get() & 0xff, b.get() & 0xff,
                b.get() & 0xff);
        b.position(b.position() + 3); // padding
        if (f.bitsPerPixel != 8 && f.bitsPerPixel != 16 && f.bitsPerPixel != 32) {
            throw new RfbException("pixel format of " + f.bitsPerPixel + " bits per pixel (8, 16 or 32 only)");
        }
        if (!f.trueColour) {
            throw new RfbException("colour-map pixel formats are not supported");
        }
        for (int[] c : new int[][] {{f.redMax, f.redShift}, {f.greenMax, f.greenShift}, {f.blueMax, f.blueShift}}) {
            if (c[0] == 0 || c[1] >= f.bitsPerPixel || ((long) c[0] << c[1]) >= (1L << f.bitsPerPixel)) {
                throw new RfbException("pixel format channel max " + c[0] + " at shift " + c[1] + " does not fit "
                        + f.bitsPerPixel + " bits");
            }
        }
        return f;
    }

    public void write(ByteBuffer b) {
        b.put((byte) bitsPerPixel).put((byte) depth).put((byte) (bigEndian ? 1 : 0)).put((byte) (trueColour ? 1 : 0))
                .putShort((short) redMax).putShort((short) greenMax).putShort((short) blueMax)
                .put((byte) redShift).put((byte) greenShift).put((byte) blueShift).put(new byte[3]);
    }

    public int bytesPerPixel() {
        return bitsPerPixel / 8;
    }

    /** A 0xRRGGBB colour as this format's pixel value. */
    public int pack(int rgb) {
        int r = (rgb >>> 16 & 0xff) * redMax / 255;
        int g = (rgb >>> 8 & 0xff) * greenMax / 255;
        int b = (rgb & 0xff) * blueMax / 255;
        return r << redShift | g << greenShift | b << blueShift;
    }

    /** True when {@link #pack} is the identity: pixels can be copied as they are (with the byte order). */
    public boolean isX8R8G8B8() {
        return bitsPerPixel == 32 && redMax == 255 && greenMax == 255 && blueMax == 255 && redShift == 16
                && greenShift == 8 && blueShift == 0;
    }

    /** Writes pixel value {@code v} in {@code size} bytes: this format's byte order, from byte {@code first} of the full pixel. */
    void put(ByteBuffer out, int v, int first, int size) {
        int n = bytesPerPixel();
        for (int i = first; i < first + size; i++) {
            int shift = bigEndian ? 8 * (n - 1 - i) : 8 * i;
            out.put((byte) (v >>> shift));
        }
    }

    /** ZRLE's CPIXEL: 3 bytes for a 32-bit true-colour pixel whose channels fit in 24 of its bits, else the whole pixel. */
    int compactBytes() {
        return compactFirstByte() >= 0 ? 3 : bytesPerPixel();
    }

    /** Where a CPIXEL's 3 bytes start in the pixel as sent, or -1 when a CPIXEL is the whole pixel. */
    int compactFirstByte() {
        if (bitsPerPixel != 32 || depth > 24) {
            return -1;
        }
        long used = (long) redMax << redShift | (long) greenMax << greenShift | (long) blueMax << blueShift;
        if ((used & 0xff00_0000L) == 0) {
            return bigEndian ? 1 : 0; // least significant three bytes
        }
        if ((used & 0xffL) == 0) {
            return bigEndian ? 0 : 1; // most significant three bytes
        }
        return -1;
    }
}
