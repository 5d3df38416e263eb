package vessel.testkit;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;

import javax.imageio.ImageIO;

/** Debian's tesseract reading a screenshot, for tests that check what a screen shows. */
public final class Ocr {
    private Ocr() {}

    /** The text tesseract reads in the PNG {@code png} (written to {@code file} first), whitespace runs as one space. */
    public static String read(byte[] png, Path file) throws IOException, InterruptedException {
        return read(ImageIO.read(new ByteArrayInputStream(png)), file);
    }

    public static String read(BufferedImage image, Path file) throws IOException, InterruptedException {
        return read(image, 1, file);
    }

    /**
     * The text tesseract reads in {@code image} enlarged {@code scale} times (bilinear) first: a text console's
     * 8x16 glyphs are below the letter height tesseract reads reliably, three times that is above it.
     */
    public static String read(BufferedImage image, int scale, Path file) throws IOException, InterruptedException {
        if (image == null) {
            throw new IOException("not an image");
        }
        if (scale != 1) {
            BufferedImage big = new BufferedImage(image.getWidth() * scale, image.getHeight() * scale, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = big.createGraphics();
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.drawImage(image, 0, 0, big.getWidth(), big.getHeight(), null);
            g.dispose();
            image = big;
        }
        ImageIO.write(image, "png", file.toFile());
        return HostTools.run("tesseract", file.toString(), "stdout").replaceAll("\\s+", " ").strip();
    }
}
