package vessel.boot.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;

import vessel.boot.ImageException;

/**
 * Where a bzImage keeps its compressed kernel, read from the setup header (Documentation/arch/x86/boot.rst):
 * {@code length} bytes at {@code offset} in the file, compressed as {@code format}. Every field is checked
 * against the file's size, so a truncated or hostile image fails here with its name in the message.
 *
 * @param protocolVersion the boot protocol version, e.g. 0x020f for 2.15
 * @param setupSize       bytes of real-mode code before the protected-mode kernel: (setup_sects + 1) * 512
 * @param offset          where the payload starts in the file: setupSize + payload_offset
 * @param length          payload_length
 */
public record BzImagePayload(int protocolVersion, int setupSize, int offset, int length, CompressionFormat format) {
    private static final int SETUP_SECTS = 0x1f1;
    private static final int BOOT_FLAG = 0x1fe;
    private static final int HEADER_MAGIC = 0x202;
    private static final int VERSION = 0x206;
    private static final int PAYLOAD_OFFSET = 0x248;
    private static final int PAYLOAD_LENGTH = 0x24c;
    /** One past the last header field read here. */
    private static final int HEADER_END = 0x250;
    private static final int SECTOR = 512;
    /** payload_offset and payload_length exist from boot protocol 2.08 on. */
    private static final int FIRST_VERSION_WITH_PAYLOAD = 0x0208;
    /** "HdrS" read little-endian. */
    private static final int HDRS = 0x53726448;

    /** Reads the setup header of {@code image} (named {@code name} in messages) and locates its payload. */
    public static BzImagePayload locate(byte[] image, String name) throws ImageException {
        if (image.length < HEADER_END) {
            throw new ImageException(name + ": truncated bzImage: " + image.length
                    + " bytes, too short for a setup header (" + HEADER_END + " bytes)");
        }
        ByteBuffer header = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        if (Short.toUnsignedInt(header.getShort(BOOT_FLAG)) != 0xaa55) {
            throw new ImageException(name + ": not a bzImage (no boot flag 0xAA55 at 0x1FE)");
        }
        if (header.getInt(HEADER_MAGIC) != HDRS) {
            throw new ImageException(name + ": not a bzImage (no \"HdrS\" setup header at 0x202)");
        }
        int version = Short.toUnsignedInt(header.getShort(VERSION));
        if (version < FIRST_VERSION_WITH_PAYLOAD) {
            throw new ImageException(name + ": boot protocol " + versionText(version)
                    + " is older than 2.08, which first records where the compressed kernel is");
        }
        int setupSects = Byte.toUnsignedInt(image[SETUP_SECTS]);
        // A zero count means 4, for images older than the field (boot.rst, "setup_sects").
        int setupSize = ((setupSects == 0 ? 4 : setupSects) + 1) * SECTOR;
        long payloadOffset = Integer.toUnsignedLong(header.getInt(PAYLOAD_OFFSET));
        long payloadLength = Integer.toUnsignedLong(header.getInt(PAYLOAD_LENGTH));
        long start = setupSize + payloadOffset;
        if (setupSize > image.length || start > image.length) {
            throw new ImageException(name + ": truncated bzImage: the payload would start at byte " + start
                    + " (setup " + setupSize + " + payload_offset " + payloadOffset + ") but the file has "
                    + image.length + " bytes");
        }
        if (payloadLength > image.length - start) {
            throw new ImageException(name + ": truncated bzImage: payload_length " + payloadLength
                    + " from byte " + start + " runs past the end of the file (" + image.length + " bytes)");
        }
        if (payloadLength == 0) {
            throw new ImageException(name + ": bzImage has an empty payload (payload_length 0)");
        }
        int offset = (int) start;
        int length = (int) payloadLength;
        CompressionFormat format = CompressionFormat.detect(image, offset, length);
        if (format == null) {
            throw new ImageException(name + ": unknown kernel compression: the payload at byte " + offset
                    + " starts " + CompressionFormat.leadingBytes(image, offset, length)
                    + ", no known magic (gzip, LZ4, zstd, xz, bzip2, lzma, LZO or ELF)");
        }
        return new BzImagePayload(version, setupSize, offset, length, format);
    }

    /** The protocol version as people write it, "2.15". */
    public String protocolText() {
        return versionText(protocolVersion);
    }

    private static String versionText(int version) {
        return (version >> 8) + "." + String.format(Locale.ROOT, "%02d", version & 0xff);
    }
}
