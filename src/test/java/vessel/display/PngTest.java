package vessel.display;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import javax.imageio.ImageIO;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import vessel.devices.display.DisplayMode;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Screenshots decode (with the JDK's own PNG reader) to the framebuffer's pixels, in every depth a mode can have. */
class PngTest {
    @ParameterizedTest
    @ValueSource(ints = {16, 24, 32})
    void aPngDecodesToTheFramebuffersPixels(int depth) throws IOException {
        DisplayMode mode = DisplayMode.of(97, 61, depth);
        MemorySegment fb = MemorySegment.ofArray(new byte[(int) mode.size()]);
        int bpp = depth / 8;
        for (int y = 0; y < mode.height(); y++) {
            for (int x = 0; x < mode.width(); x++) {
                int r = x * 2;
                int g = y * 4;
                int b = (x ^ y) & 0xff;
                long v = depth == 16 ? (r >> 3) << 11 | (g >> 2) << 5 | b >> 3 : r << 16 | g << 8 | b;
                for (int i = 0; i < bpp; i++) {
                    fb.set(ValueLayout.JAVA_BYTE, (long) y * mode.stride() + (long) x * bpp + i, (byte) (v >>> (8 * i)));
                }
            }
        }
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(Png.encode(new FrameReader(mode, fb))));
        assertEquals(97, image.getWidth());
        assertEquals(61, image.getHeight());
        int[] rgb = new int[mode.width()];
        for (int y = 0; y < mode.height(); y++) {
            new FrameReader(mode, fb).row(0, y, mode.width(), rgb, 0);
            for (int x = 0; x < mode.width(); x++) {
                assertEquals(rgb[x], image.getRGB(x, y) & 0xffffff, "pixel " + x + "," + y);
                if (depth != 16) {
                    assertEquals(x * 2 << 16 | y * 4 << 8 | (x ^ y) & 0xff, rgb[x], "pixel " + x + "," + y);
                }
            }
        }
        // 16 bits: 5-bit 31 reads as 255, not 248
        if (depth == 16) {
            fb.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) 0xffff);
            new FrameReader(mode, fb).row(0, 0, 1, rgb, 0);
            assertEquals(0xffffff, rgb[0]);
        }
    }
}
