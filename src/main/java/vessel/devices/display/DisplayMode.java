package vessel.devices.display;

/**
 * A linear framebuffer's layout: {@code width} x {@code height} pixels of {@code bitsPerPixel} (16, 24 or
 * 32), {@code stride} bytes per line, little-endian true colour with the given shifts and sizes of red,
 * green and blue (what boot_params.screen_info and the Bochs dispi registers describe).
 */
public record DisplayMode(int width, int height, int bitsPerPixel, int stride,
                          int redShift, int redSize, int greenShift, int greenSize, int blueShift, int blueSize) {

    /** The largest mode Vessel offers: 16384 lines of 16384 pixels would be a 1 GiB framebuffer. */
    public static final int MAX_SIDE = 8192;

    public DisplayMode {
        if (width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) {
            throw new IllegalArgumentException("display mode " + width + "x" + height + " is outside 1x1 to "
                    + MAX_SIDE + "x" + MAX_SIDE);
        }
        if (bitsPerPixel != 16 && bitsPerPixel != 24 && bitsPerPixel != 32) {
            throw new IllegalArgumentException("display depth " + bitsPerPixel + " is not 16, 24 or 32 bits per pixel");
        }
        if (stride < (long) width * (bitsPerPixel / 8)) {
            throw new IllegalArgumentException("display line of " + stride + " bytes is shorter than " + width
                    + " pixels of " + bitsPerPixel + " bits");
        }
    }

    /** x8r8g8b8 (or r5g6b5 for 16 bits), lines packed: what a PC framebuffer is by default. */
    public static DisplayMode of(int width, int height, int bitsPerPixel) {
        return switch (bitsPerPixel) {
            case 16 -> new DisplayMode(width, height, 16, width * 2, 11, 5, 5, 6, 0, 5);
            case 24 -> new DisplayMode(width, height, 24, width * 3, 16, 8, 8, 8, 0, 8);
            default -> new DisplayMode(width, height, bitsPerPixel, width * 4, 16, 8, 8, 8, 0, 8);
        };
    }

    /** Bytes the framebuffer spans. */
    public long size() {
        return (long) stride * height;
    }
}
