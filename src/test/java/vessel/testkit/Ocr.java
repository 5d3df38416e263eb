package vessel.testkit;

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
        if (image == null) {
            throw new IOException("not an image");
        }
        ImageIO.write(image, "png", file.toFile());
        return HostTools.run("tesseract", file.toString(), "stdout").replaceAll("\\s+", " ").strip();
    }
}
