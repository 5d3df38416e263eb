package vessel.boot.linux;

import io.airlift.compress.MalformedInputException;
import io.airlift.compress.lz4.Lz4Decompressor;

import vessel.boot.ImageException;
import vessel.sys.LibLz4;

/**
 * The LZ4 legacy frame the kernel uses ({@code lz4 -l}), which frame readers (aircompressor's included)
 * reject: magic 0x184C2102, then blocks, each a 4-byte little-endian compressed size followed by that
 * many bytes of one independent LZ4 block that decompresses to at most 8 MiB. There is no end marker:
 * the data just stops, and in a bzImage the kernel's 4-byte uncompressed size follows. The framing is
 * parsed here; each block goes to the system's liblz4 when present, else to aircompressor's block decoder.
 */
final class Lz4LegacyFrame {
    static final int MAGIC = 0x184c2102;
    /** The most one legacy block decompresses to (LEGACY_BLOCKSIZE in lz4's lz4io.c). */
    static final int MAX_BLOCK_OUTPUT = 8 << 20;
    /** LZ4_compressBound(8 MiB): a larger size word cannot start a block, so it ends the frame. */
    private static final int MAX_BLOCK_INPUT = MAX_BLOCK_OUTPUT + MAX_BLOCK_OUTPUT / 255 + 16;
    private static final int SIZE_WORD = 4;

    private Lz4LegacyFrame() {}

    /** Decompresses the frame at {@code data[offset, offset+length)} into {@code out}. */
    static void decompress(byte[] data, int offset, int length, BoundedOutput out, String name) throws ImageException {
        int end = offset + length;
        int at = offset + SIZE_WORD; // past the magic, which detection has already matched
        Lz4Decompressor blocks = new Lz4Decompressor();
        byte[] scratch = null;
        int blockCount = 0;
        while (end - at >= SIZE_WORD) {
            int blockSize = ByteFields.le32(data, at);
            if (blockSize == MAGIC) {
                at += SIZE_WORD; // lz4 restarts the frame in concatenated output; carry on
                continue;
            }
            if (blockSize == 0 || Integer.compareUnsigned(blockSize, MAX_BLOCK_INPUT) > 0) {
                break; // cannot be a block: the appended uncompressed size, or padding
            }
            int available = end - at - SIZE_WORD;
            if (blockSize > available) {
                if (allZero(data, at + SIZE_WORD, end)) {
                    break; // a last word, perhaps padded: the appended size of a kernel under 8 MiB
                }
                throw new ImageException(name + ": truncated LZ4 payload: block " + blockCount + " at payload byte "
                        + (at - offset) + " needs " + blockSize + " bytes, only " + available + " remain");
            }
            try {
                if (out.room() >= MAX_BLOCK_OUTPUT) {
                    out.advance(block(blocks, data, at + SIZE_WORD, blockSize, out.array(), out.size()));
                } else {
                    // Near the expected end: decode aside and append, rather than grow the whole output for a
                    // worst-case block when the last one is usually smaller.
                    if (scratch == null) {
                        scratch = new byte[MAX_BLOCK_OUTPUT];
                    }
                    out.append(scratch, block(blocks, data, at + SIZE_WORD, blockSize, scratch, 0));
                }
            } catch (MalformedInputException e) {
                throw new ImageException(name + ": corrupt LZ4 payload: block " + blockCount + " at payload byte "
                        + (at - offset) + ": " + e.getMessage(), e);
            }
            at += SIZE_WORD + blockSize;
            blockCount++;
        }
        if (blockCount == 0) {
            throw new ImageException(name + ": LZ4 payload holds no blocks");
        }
    }

    /** One block, by the system's liblz4 where it is present (fast from a cold start), else in Java. */
    private static int block(Lz4Decompressor java, byte[] in, int at, int length, byte[] out, int outAt) {
        if (!LibLz4.available()) {
            return java.decompress(in, at, length, out, outAt, MAX_BLOCK_OUTPUT);
        }
        int n = LibLz4.decompressBlock(in, at, length, out, outAt, MAX_BLOCK_OUTPUT);
        if (n < 0) {
            throw new MalformedInputException(at, "liblz4 rejected the block");
        }
        return n;
    }

    private static boolean allZero(byte[] data, int from, int to) {
        for (int i = from; i < to; i++) {
            if (data[i] != 0) {
                return false;
            }
        }
        return true;
    }
}
