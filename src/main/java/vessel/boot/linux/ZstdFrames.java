package vessel.boot.linux;

import vessel.boot.ImageException;

/**
 * The run of zstd frames a payload starts with (RFC 8878, section 3.1), measured by walking frame and
 * block headers without decompressing. A bzImage appends the kernel's 4-byte size after the last frame,
 * which a zstd decoder would take for a bad next frame, so only {@code length} bytes are handed on.
 *
 * @param length      bytes the frames span, from the payload's start
 * @param contentSize the sum of the frames' declared content sizes, or -1 when any frame omits it (as
 *                    zstd does when it compresses a pipe, which is how the kernel build runs it)
 */
record ZstdFrames(int length, long contentSize) {
    static final int MAGIC = 0xfd2fb528;
    /** Skippable frames carry any magic 0x184D2A50 to 0x184D2A5F and are ignored by decoders. */
    private static final int SKIPPABLE_MAGIC = 0x184d2a50;
    private static final int SKIPPABLE_MASK = 0xfffffff0;
    private static final int[] DICTIONARY_ID_BYTES = {0, 1, 2, 4};
    private static final int[] CONTENT_SIZE_BYTES = {0, 2, 4, 8};
    private static final int BLOCK_HEADER = 3;
    private static final int CHECKSUM = 4;
    private static final int BLOCK_RAW = 0;
    private static final int BLOCK_RLE = 1;
    private static final int BLOCK_COMPRESSED = 2;

    static ZstdFrames measure(byte[] data, int offset, int length, String name) throws ImageException {
        int end = offset + length;
        int at = offset;
        long contentSize = 0;
        int frames = 0;
        while (end - at >= 4) {
            int magic = ByteFields.le32(data, at);
            if ((magic & SKIPPABLE_MASK) == SKIPPABLE_MAGIC) {
                require(end - at >= 8, name, frames, at - offset);
                long skip = Integer.toUnsignedLong(ByteFields.le32(data, at + 4));
                require(skip <= end - at - 8, name, frames, at - offset);
                at += 8 + (int) skip;
                continue;
            }
            if (magic != MAGIC) {
                break; // the appended size, or padding
            }
            at += 4;
            require(at < end, name, frames, at - offset);
            int descriptor = data[at] & 0xff;
            boolean singleSegment = (descriptor & 0x20) != 0;
            if ((descriptor & 0x08) != 0) {
                throw new ImageException(name + ": corrupt zstd payload: frame " + frames + " sets a reserved header bit");
            }
            int contentSizeBytes = CONTENT_SIZE_BYTES[descriptor >>> 6];
            if (contentSizeBytes == 0 && singleSegment) {
                contentSizeBytes = 1;
            }
            int headerBytes = 1 + (singleSegment ? 0 : 1) + DICTIONARY_ID_BYTES[descriptor & 3] + contentSizeBytes;
            require(headerBytes <= end - at, name, frames, at - offset);
            if (contentSizeBytes == 0) {
                contentSize = -1;
            } else if (contentSize >= 0) {
                long frameSize = littleEndian(data, at + headerBytes - contentSizeBytes, contentSizeBytes);
                // The 2-byte form stores the size less 256 (RFC 8878, Frame_Content_Size).
                contentSize = addClamped(contentSize, contentSizeBytes == 2 ? frameSize + 256 : frameSize);
            }
            at += headerBytes;
            boolean lastBlock = false;
            while (!lastBlock) {
                require(end - at >= BLOCK_HEADER, name, frames, at - offset);
                int header = ByteFields.le24(data, at);
                lastBlock = (header & 1) != 0;
                int type = (header >>> 1) & 3;
                int size = header >>> 3;
                int body = switch (type) {
                    case BLOCK_RAW, BLOCK_COMPRESSED -> size;
                    case BLOCK_RLE -> 1;
                    default -> throw new ImageException(name + ": corrupt zstd payload: frame " + frames
                            + " has a block of reserved type at payload byte " + (at - offset));
                };
                require(body <= end - at - BLOCK_HEADER, name, frames, at - offset);
                at += BLOCK_HEADER + body;
            }
            if ((descriptor & 0x04) != 0) {
                require(end - at >= CHECKSUM, name, frames, at - offset);
                at += CHECKSUM;
            }
            frames++;
        }
        if (frames == 0) {
            throw new ImageException(name + ": zstd payload holds no frames");
        }
        return new ZstdFrames(at - offset, contentSize);
    }

    private static void require(boolean inside, String name, int frame, int payloadByte) throws ImageException {
        if (!inside) {
            throw new ImageException(name + ": truncated zstd payload: frame " + frame + " runs past the end of the"
                    + " payload (at payload byte " + payloadByte + ")");
        }
    }

    private static long littleEndian(byte[] data, int at, int bytes) {
        long value = 0;
        for (int i = bytes - 1; i >= 0; i--) {
            value = value << 8 | (data[at + i] & 0xff);
        }
        return value;
    }

    /** A sum that saturates rather than wrapping, so a hostile 8-byte size still reads as "too large". */
    private static long addClamped(long a, long b) {
        return b < 0 || a > Long.MAX_VALUE - b ? Long.MAX_VALUE : a + b;
    }
}
