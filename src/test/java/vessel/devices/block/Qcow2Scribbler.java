package vessel.devices.block;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;

/**
 * A child process for {@link Qcow2CrashTest}: writes random patterns at random offsets of a qcow2 image
 * until it is killed, printing "writing" once the first write is done. Arguments: image, seed.
 */
public final class Qcow2Scribbler {
    private Qcow2Scribbler() {
    }

    public static void main(String[] args) throws Exception {
        Random random = new Random(Long.parseLong(args[1]));
        try (Qcow2Image image = Qcow2Image.open(Path.of(args[0]), false)) {
            byte[] data = new byte[16 * 1024];
            for (long i = 0; ; i++) {
                random.nextBytes(data);
                int length = 1 + random.nextInt(data.length);
                long at = (long) (random.nextDouble() * (image.size() - length));
                image.write(at, ByteBuffer.wrap(data, 0, length));
                if (i == 0) {
                    System.out.println("writing");
                    System.out.flush();
                }
            }
        }
    }
}
