package vessel.testkit;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A newc ("070701") cpio archive built in memory: Linux unpacks each archive appended to the initramfs
 * over the ones before it, so a test adds files to the default guest without rebuilding its image.
 */
public final class Cpio {
    private final Map<String, byte[]> files = new LinkedHashMap<>();
    private final Map<String, Integer> modes = new LinkedHashMap<>();

    /** Adds a directory (mode 0755); parents must be added first. */
    public Cpio directory(String path) {
        files.put(path, new byte[0]);
        modes.put(path, 040755);
        return this;
    }

    /** Adds a regular file with {@code mode}'s permission bits. */
    public Cpio file(String path, String text, int mode) {
        files.put(path, text.getBytes(StandardCharsets.UTF_8));
        modes.put(path, 0100000 | mode);
        return this;
    }

    /** Adds a regular file with binary contents (a program, say). */
    public Cpio file(String path, byte[] data, int mode) {
        files.put(path, data.clone());
        modes.put(path, 0100000 | mode);
        return this;
    }

    public byte[] toBytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int ino = 1;
        for (var e : files.entrySet()) {
            entry(out, e.getKey(), modes.get(e.getKey()), e.getValue(), ino++);
        }
        entry(out, "TRAILER!!!", 0, new byte[0], 0);
        return out.toByteArray();
    }

    private static void entry(ByteArrayOutputStream out, String name, int mode, byte[] data, int ino) {
        byte[] nameBytes = (name + "\0").getBytes(StandardCharsets.UTF_8);
        int nlink = (mode & 040000) != 0 ? 2 : 1;
        String header = String.format("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
                ino, mode, 0, 0, nlink, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0);
        out.writeBytes(header.getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(nameBytes);
        pad(out);
        out.writeBytes(data);
        pad(out);
    }

    private static void pad(ByteArrayOutputStream out) {
        while (out.size() % 4 != 0) {
            out.write(0);
        }
    }
}
