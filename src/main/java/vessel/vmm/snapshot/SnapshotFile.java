package vessel.vmm.snapshot;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * The state file: a fixed header, then the {@link VmSnapshot} encoded by {@link RecordCodec}.
 *
 * <pre>
 *   offset  size  field
 *        0     8  magic "VESSELVM"
 *        8     4  format version, big-endian ({@link #VERSION})
 *       12     4  body length in bytes, big-endian
 *       16    32  SHA-256 of the body
 *       48     -  body
 * </pre>
 *
 * The reader checks all of it before decoding anything, so a truncated, corrupted or foreign file is one
 * line and no state. A new layout of the body is a new version; an old Vessel refuses it by number.
 */
public final class SnapshotFile {
    static final byte[] MAGIC = "VESSELVM".getBytes(StandardCharsets.US_ASCII);
    /**
     * 2: the machine names its virtio devices (drives, nets, vsock, entropy, balloon) and their state; 3: and their
     * rate limiters; 4: and the MMDS configuration.
     */
    public static final int VERSION = 4;
    static final int HEADER_BYTES = 48;
    /** A state file is vCPU and device state, kilobytes per vCPU; far more is not one Vessel wrote. */
    static final int MAX_BODY_BYTES = 64 << 20;

    private SnapshotFile() {}

    public static byte[] encode(VmSnapshot snapshot) {
        byte[] body = RecordCodec.encode(snapshot);
        ByteBuffer out = ByteBuffer.allocate(HEADER_BYTES + body.length);
        out.put(MAGIC).putInt(VERSION).putInt(body.length).put(sha256(body)).put(body);
        return out.array();
    }

    /** Writes the file whole or not at all: a temporary file beside it, renamed over it. */
    public static void write(Path path, VmSnapshot snapshot) throws IOException {
        Path dir = path.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, path.getFileName().toString(), ".tmp");
        try {
            Files.write(tmp, encode(snapshot));
            Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Reads and checks a state file; every way it can be wrong is a one-line {@link SnapshotFormatException}. */
    public static VmSnapshot read(Path path) throws SnapshotFormatException {
        long size;
        try {
            size = Files.size(path);
        } catch (NoSuchFileException e) {
            throw new SnapshotFormatException("snapshot file " + path + " does not exist");
        } catch (IOException e) {
            throw new SnapshotFormatException("snapshot file " + path + " cannot be read: " + e.getMessage());
        }
        if (Files.isDirectory(path)) {
            throw new SnapshotFormatException("snapshot file " + path + " is a directory");
        }
        if (size > HEADER_BYTES + (long) MAX_BODY_BYTES) {
            throw new SnapshotFormatException("snapshot file " + path + " is " + size + " bytes, too large to be a Vessel state file");
        }
        try {
            return decode(Files.readAllBytes(path), path.toString());
        } catch (AccessDeniedException e) {
            throw new SnapshotFormatException("snapshot file " + path + " cannot be read (permission denied)");
        } catch (IOException e) {
            throw new SnapshotFormatException("snapshot file " + path + " cannot be read: " + e.getMessage());
        }
    }

    /** Checks and decodes a state file's bytes; {@code name} names it in messages. */
    public static VmSnapshot decode(byte[] file, String name) throws SnapshotFormatException {
        String what = "snapshot file " + name;
        if (file.length < MAGIC.length || !Arrays.equals(file, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            throw new SnapshotFormatException(what + " is not a Vessel state file (no VESSELVM header)");
        }
        if (file.length < HEADER_BYTES) {
            throw new SnapshotFormatException(what + " is truncated: " + file.length + " bytes, shorter than its header");
        }
        ByteBuffer in = ByteBuffer.wrap(file);
        in.position(MAGIC.length);
        int version = in.getInt();
        if (version != VERSION) {
            throw new SnapshotFormatException(what + " has format version " + Integer.toUnsignedString(version)
                    + "; this Vessel reads version " + VERSION);
        }
        int length = in.getInt();
        if (length < 0 || length > MAX_BODY_BYTES) {
            throw new SnapshotFormatException(what + " claims a body of " + Integer.toUnsignedString(length) + " bytes");
        }
        if (file.length - HEADER_BYTES < length) {
            throw new SnapshotFormatException(what + " is truncated: " + (file.length - HEADER_BYTES) + " of "
                    + length + " body bytes");
        }
        if (file.length - HEADER_BYTES > length) {
            throw new SnapshotFormatException(what + " has " + (file.length - HEADER_BYTES - length)
                    + " bytes after its body");
        }
        byte[] sum = new byte[32];
        in.get(sum);
        byte[] body = Arrays.copyOfRange(file, HEADER_BYTES, file.length);
        if (!MessageDigest.isEqual(sum, sha256(body))) {
            throw new SnapshotFormatException(what + " is corrupted: its checksum does not match");
        }
        try {
            return RecordCodec.decode(body, VmSnapshot.class);
        } catch (SnapshotFormatException e) {
            // Only a Vessel with a bug writes a well-summed body that does not decode.
            throw new SnapshotFormatException(what + " does not decode: " + e.getMessage());
        }
    }

    static byte[] sha256(byte[] body) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(body);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
