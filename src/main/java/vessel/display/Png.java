package vessel.display;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;

import vessel.devices.display.Display;
import vessel.devices.display.DisplayMode;

/** A display's current frame as a PNG (8-bit RGB, no AWT): for screenshots over the API. */
public final class Png {
    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    private Png() {}

    /** The frame of {@code display} now; null while it has no mode (the guest switched it off). */
    public static byte[] of(Display display) {
        DisplayMode mode = display.mode();
        return mode == null ? null : encode(new FrameReader(mode, display.framebuffer()));
    }

    public static byte[] encode(FrameReader frame) {
        DisplayMode mode = frame.mode();
        int w = mode.width();
        int[] rgb = new int[w];
        byte[] line = new byte[1 + 3 * w];
        ByteArrayOutputStream idat = new ByteArrayOutputStream();
        Deflater deflater = new Deflater(Deflater.BEST_SPEED);
        try (DeflaterOutputStream z = new DeflaterOutputStream(idat, deflater, 1 << 16)) {
            for (int y = 0; y < mode.height(); y++) {
                frame.row(0, y, w, rgb, 0);
                line[0] = 1; // filter "Sub": runs of one colour become zeros
                int prev = 0;
                for (int x = 0, o = 1; x < w; x++, o += 3) {
                    int p = rgb[x];
                    line[o] = (byte) ((p >>> 16) - (prev >>> 16));
                    line[o + 1] = (byte) ((p >>> 8) - (prev >>> 8));
                    line[o + 2] = (byte) (p - prev);
                    prev = p;
                }
                z.write(line);
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        } finally {
            deflater.end();
        }
        ByteArrayOutputStream png = new ByteArrayOutputStream(idat.size() + 64);
        png.writeBytes(SIGNATURE);
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(w).putInt(mode.height())
                .put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        chunk(png, "IHDR", ihdr.array());
        chunk(png, "IDAT", idat.toByteArray());
        chunk(png, "IEND", new byte[0]);
        return png.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeBytes(t);
        out.writeBytes(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }
}
