package vessel.boot.linux;

import java.util.zip.Adler32;
import java.util.zip.CRC32;
import java.util.zip.Checksum;

import io.airlift.compress.MalformedInputException;
import io.airlift.compress.lzo.LzoDecompressor;

import vessel.boot.ImageException;

/**
 * lzop's file format, which the kernel's CONFIG_KERNEL_LZO payload is: a header (version-dependent
 * fields, then a file name), then blocks of LZO1X data, each with its sizes and optional checksums,
 * ended by a zero size. Parsed here, with each block's LZO1X data decoded by aircompressor. Block
 * checksums of the decompressed data are checked since they are cheap; the header checksum is not.
 */
final class LzopFile {
    private static final int MAGIC_LENGTH = 9;
    /** lzop 0.94 added version_needed, level and mtime_high to the header. */
    private static final int VERSION_WITH_LEVEL = 0x0940;
    private static final int F_ADLER32_D = 0x1;
    private static final int F_ADLER32_C = 0x2;
    private static final int F_H_EXTRA_FIELD = 0x40;
    private static final int F_CRC32_D = 0x100;
    private static final int F_CRC32_C = 0x200;
    private static final int F_H_FILTER = 0x800;
    /** Methods 1-3 are LZO1X-1, LZO1X-1(15) and LZO1X-999: all decoded by the one LZO1X decoder. */
    private static final int FIRST_LZO1X_METHOD = 1;
    private static final int LAST_LZO1X_METHOD = 3;
    /** lzop never writes a block larger than this (MAX_BLOCK_SIZE in lzop's conf.h). */
    private static final int MAX_BLOCK_SIZE = 64 << 20;

    private LzopFile() {}

    static void decompress(byte[] data, int offset, int length, BoundedOutput out, String name) throws ImageException {
        Reader in = new Reader(data, offset, offset + length, name);
        in.skip(MAGIC_LENGTH);
        int version = in.u16();
        in.skip(2); // lib_version
        if (version >= VERSION_WITH_LEVEL) {
            in.skip(2); // version_needed_to_extract
        }
        int method = in.u8();
        if (method < FIRST_LZO1X_METHOD || method > LAST_LZO1X_METHOD) {
            throw new ImageException(name + ": LZO payload uses compression method " + method + ", not LZO1X");
        }
        if (version >= VERSION_WITH_LEVEL) {
            in.skip(1); // level
        }
        int flags = in.u32();
        if ((flags & F_H_FILTER) != 0) {
            throw new ImageException(name + ": LZO payload uses an lzop filter, which Vessel does not undo");
        }
        in.skip(8); // mode, mtime_low
        if (version >= VERSION_WITH_LEVEL) {
            in.skip(4); // mtime_high
        }
        in.skip(in.u8()); // file name
        in.skip(4); // header checksum
        if ((flags & F_H_EXTRA_FIELD) != 0) {
            in.skip(in.u32() & 0xffffffffL);
            in.skip(4);
        }
        LzoDecompressor lzo = new LzoDecompressor();
        for (int block = 0; ; block++) {
            int decompressedSize = in.u32();
            if (decompressedSize == 0) {
                return; // end marker; anything after it (the appended size) is not lzop's
            }
            int compressedSize = in.u32();
            if (Integer.compareUnsigned(decompressedSize, MAX_BLOCK_SIZE) > 0
                    || Integer.compareUnsigned(compressedSize, decompressedSize) > 0) {
                throw new ImageException(name + ": corrupt LZO payload: block " + block + " claims "
                        + Integer.toUnsignedString(compressedSize) + " bytes expanding to "
                        + Integer.toUnsignedString(decompressedSize));
            }
            int adler = (flags & F_ADLER32_D) != 0 ? in.u32() : 0;
            int crc = (flags & F_CRC32_D) != 0 ? in.u32() : 0;
            if (compressedSize < decompressedSize) {
                // Checksums of the compressed bytes; those of the result below cover the same ground.
                in.skip(((flags & F_ADLER32_C) != 0 ? 4 : 0) + ((flags & F_CRC32_C) != 0 ? 4 : 0));
            }
            int source = in.take(compressedSize);
            out.makeRoom(decompressedSize);
            int at = out.size();
            if (compressedSize == decompressedSize) {
                System.arraycopy(data, source, out.array(), at, decompressedSize); // stored uncompressed
            } else {
                int written;
                try {
                    written = lzo.decompress(data, source, compressedSize, out.array(), at, decompressedSize);
                } catch (MalformedInputException e) {
                    throw new ImageException(name + ": corrupt LZO payload: block " + block + ": " + e.getMessage(), e);
                }
                if (written != decompressedSize) {
                    throw new ImageException(name + ": corrupt LZO payload: block " + block + " expands to " + written
                            + " bytes, its header says " + decompressedSize);
                }
            }
            verify(new Adler32(), (flags & F_ADLER32_D) != 0, adler, out.array(), at, decompressedSize, name, block);
            verify(new CRC32(), (flags & F_CRC32_D) != 0, crc, out.array(), at, decompressedSize, name, block);
            out.advance(decompressedSize);
        }
    }

    private static void verify(Checksum checksum, boolean present, int expected, byte[] block, int at, int length,
                               String name, int index) throws ImageException {
        if (!present) {
            return;
        }
        checksum.update(block, at, length);
        if ((int) checksum.getValue() != expected) {
            throw new ImageException(name + ": corrupt LZO payload: block " + index + " fails its "
                    + (checksum instanceof Adler32 ? "Adler-32" : "CRC-32") + " check");
        }
    }

    /** Big-endian fields in order, each checked against the end of the payload. */
    private static final class Reader {
        private final byte[] data;
        private final int end;
        private final String name;
        private int at;

        Reader(byte[] data, int start, int end, String name) {
            this.data = data;
            this.at = start;
            this.end = end;
            this.name = name;
        }

        int u8() throws ImageException {
            return data[take(1)] & 0xff;
        }

        int u16() throws ImageException {
            return ByteFields.be16(data, take(2));
        }

        int u32() throws ImageException {
            return ByteFields.be32(data, take(4));
        }

        void skip(long bytes) throws ImageException {
            take(bytes);
        }

        /** Consumes {@code bytes} (unsigned) and returns where they start. */
        int take(long bytes) throws ImageException {
            long unsigned = bytes & 0xffffffffL;
            if (unsigned > end - at) {
                throw new ImageException(name + ": truncated LZO payload: it ends inside a header or block");
            }
            int start = at;
            at += (int) unsigned;
            return start;
        }
    }
}
