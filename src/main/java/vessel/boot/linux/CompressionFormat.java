package vessel.boot.linux;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * How a bzImage's payload is compressed, told by its first bytes (the kernel records no format field).
 * Each constant is one of the kernel's CONFIG_KERNEL_* choices, plus an uncompressed ELF.
 */
public enum CompressionFormat {
    GZIP("gzip", 0x1f, 0x8b),
    /** The LZ4 <em>legacy</em> frame ({@code lz4 -l}): magic 0x184C2102, then size-prefixed blocks. */
    LZ4_LEGACY("LZ4 (legacy frame)", 0x02, 0x21, 0x4c, 0x18),
    ZSTD("zstd", 0x28, 0xb5, 0x2f, 0xfd),
    XZ("xz", 0xfd, '7', 'z', 'X', 'Z', 0x00),
    BZIP2("bzip2", 'B', 'Z', 'h'),
    /**
     * The legacy .lzma ("LZMA alone") format. It has no magic: it starts with the properties byte, 0x5d
     * (lc=3, lp=0, pb=2) for every lzma preset, then the little-endian dictionary size, whose low two
     * bytes are zero for every preset's size (a multiple of 64 KiB). file(1) matches the same three bytes.
     */
    LZMA("lzma", 0x5d, 0x00, 0x00),
    /** lzop's file format (LZO1X blocks), magic 89 'LZO' 00 0d 0a 1a 0a. */
    LZO("LZO (lzop)", 0x89, 'L', 'Z', 'O', 0x00, 0x0d, 0x0a, 0x1a, 0x0a),
    UNCOMPRESSED_ELF("uncompressed ELF", 0x7f, 'E', 'L', 'F');

    private final String displayName;
    private final byte[] magic;

    CompressionFormat(String displayName, int... magic) {
        this.displayName = displayName;
        this.magic = new byte[magic.length];
        for (int i = 0; i < magic.length; i++) {
            this.magic[i] = (byte) magic[i];
        }
    }

    /** The name people use for the format, for messages. */
    public String displayName() {
        return displayName;
    }

    /** Whether {@code data[offset, offset+length)} starts with this format's magic. */
    public boolean matches(byte[] data, int offset, int length) {
        return magic.length <= length && Arrays.equals(data, offset, offset + magic.length, magic, 0, magic.length);
    }

    /** The format whose magic starts {@code data[offset, offset+length)}, or null when none does. */
    public static CompressionFormat detect(byte[] data, int offset, int length) {
        for (CompressionFormat format : values()) {
            if (format.matches(data, offset, length)) {
                return format;
            }
        }
        return null;
    }

    /** Up to the first eight bytes as hex, for an "unknown format" message. */
    static String leadingBytes(byte[] data, int offset, int length) {
        return HexFormat.ofDelimiter(" ").formatHex(data, offset, offset + Math.min(length, 8));
    }
}
