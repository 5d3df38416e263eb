package vessel.devices.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/** The image formats a drive can have. */
public enum DiskFormat {
    RAW, QCOW2;

    /** "QFI\xfb", the first four bytes of every qcow2 image (big-endian). */
    static final int QCOW2_MAGIC = 0x514649fb;

    /** {@code raw} or {@code qcow2}, as QEMU's {@code format=} spells them; null for anything else. */
    public static DiskFormat parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "raw" -> RAW;
            case "qcow2" -> QCOW2;
            default -> null;
        };
    }

    /** The name QEMU gives the format. */
    public String qemuName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * What the file looks like: QCOW2 if it starts with the qcow2 magic, RAW otherwise (as QEMU probes).
     * A guest that writes that magic to sector 0 of a raw disk turns it into "qcow2" for the next probe,
     * which is why a drive the guest can write should name its format.
     */
    public static DiskFormat probe(Path file) throws IOException {
        try (FileChannel f = FileChannel.open(file, StandardOpenOption.READ)) {
            return probe(f);
        }
    }

    static DiskFormat probe(FileChannel f) throws IOException {
        ByteBuffer magic = ByteBuffer.allocate(4);
        while (magic.hasRemaining() && f.read(magic, magic.position()) > 0) {
            // a short read continues until four bytes or the end of the file
        }
        return magic.position() == 4 && magic.getInt(0) == QCOW2_MAGIC ? QCOW2 : RAW;
    }
}
