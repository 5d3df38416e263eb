package vessel.boot.linux;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.Objects;
import java.util.zip.GZIPInputStream;

import io.airlift.compress.MalformedInputException;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream;
import org.tukaani.xz.LZMAInputStream;
import org.tukaani.xz.SingleXZInputStream;

import vessel.boot.ElfFile;
import vessel.boot.ImageException;
import vessel.sys.LibZstd;

/**
 * Turns a bzImage into the x86-64 ELF kernel it carries: locates the payload ({@link BzImagePayload}),
 * decompresses it with a maintained library for its format (pure Java for all but zstd, which goes to the
 * system's libzstd: see {@link LibZstd}), and checks the result is an x86-64 ELF. Output is capped
 * ({@link #DEFAULT_OUTPUT_LIMIT} unless configured) so a corrupt or hostile image fails with a message
 * instead of exhausting the heap.
 */
public final class KernelDecompressor {
    /** Far above any real kernel (Debian's cloud kernel expands to about 50 MiB), far below a heap's worth. */
    public static final int DEFAULT_OUTPUT_LIMIT = 512 << 20;
    /** The highest limit accepted; arrays cannot grow much past 2 GiB and no kernel comes near 1 GiB. */
    public static final int MAX_OUTPUT_LIMIT = 1 << 30;
    /**
     * The most memory xz and lzma may claim for their dictionary (a header field an image controls).
     * The kernel builds use 32 MiB (xz) and 64 MiB (lzma -9); this leaves room and stops a 4 GiB claim.
     */
    private static final int DICTIONARY_MEMORY_LIMIT_KIB = 256 * 1024;
    /** Initial output guess when the payload's own size word is implausible: kernels compress 3-5x. */
    private static final int TYPICAL_RATIO = 4;
    /** The largest expansion guess taken from a size word, relative to the payload: beyond it, grow instead. */
    private static final int MAX_TRUSTED_RATIO = 16;
    private static final int STREAM_BUFFER = 64 * 1024;

    private final int outputLimit;

    /** A decompressor whose output may be at most {@code outputLimit} bytes (1 to {@link #MAX_OUTPUT_LIMIT}). */
    public KernelDecompressor(int outputLimit) {
        if (outputLimit < 1 || outputLimit > MAX_OUTPUT_LIMIT) {
            throw new IllegalArgumentException("output limit must be 1 byte to " + describeSize(MAX_OUTPUT_LIMIT)
                    + ", not " + outputLimit);
        }
        this.outputLimit = outputLimit;
    }

    /** The kernel inside {@code bzImage} (named {@code name} in messages), with the default output limit. */
    public static DecompressedKernel decompressKernel(byte[] bzImage, String name) throws ImageException {
        return new KernelDecompressor(DEFAULT_OUTPUT_LIMIT).extract(bzImage, name);
    }

    /** The kernel inside {@code bzImage}: the payload decompressed and checked to be an x86-64 ELF file. */
    public DecompressedKernel extract(byte[] bzImage, String name) throws ImageException {
        BzImagePayload payload = BzImagePayload.locate(bzImage, name);
        byte[] vmlinux = decompress(payload.format(), bzImage, payload.offset(), payload.length(), name);
        ElfFile elf = ElfFile.parse(vmlinux, name + ": decompressed " + payload.format().displayName() + " payload");
        if (elf.elfClass() != ElfFile.CLASS_64 || elf.machine() != ElfFile.MACHINE_X86_64) {
            throw new ImageException(name + ": the " + payload.format().displayName() + " payload is an ELF file for "
                    + (elf.elfClass() == ElfFile.CLASS_64 ? "ELF64" : "ELF32") + " machine " + elf.machine()
                    + ", not an x86-64 kernel (ELF64 machine " + ElfFile.MACHINE_X86_64 + ")");
        }
        return new DecompressedKernel(payload, elf, vmlinux);
    }

    /**
     * Decompresses {@code data[offset, offset+length)}, compressed as {@code format}, as the kernel build
     * wrote it: it must start with the format's magic, and trailing bytes after the compressed stream (the
     * kernel's appended size word) are ignored.
     */
    public byte[] decompress(CompressionFormat format, byte[] data, int offset, int length, String name)
            throws ImageException {
        Objects.checkFromIndexSize(offset, length, data.length);
        if (!format.matches(data, offset, length)) {
            throw new ImageException(name + ": the payload is not " + format.displayName() + ": it starts "
                    + CompressionFormat.leadingBytes(data, offset, length));
        }
        if (format == CompressionFormat.UNCOMPRESSED_ELF) {
            if (length > outputLimit) {
                throw BoundedOutput.tooLarge(name, format, outputLimit);
            }
            return Arrays.copyOfRange(data, offset, offset + length);
        }
        long expected = expectedSize(data, offset, length);
        ZstdFrames zstdFrames = null;
        if (format == CompressionFormat.ZSTD) {
            zstdFrames = ZstdFrames.measure(data, offset, length, name);
            if (zstdFrames.contentSize() > outputLimit) {
                throw BoundedOutput.tooLarge(name, format, outputLimit); // stated up front: refuse before decoding
            }
            if (zstdFrames.contentSize() >= 0) {
                expected = zstdFrames.contentSize();
            }
        }
        BoundedOutput out = new BoundedOutput(name, format, outputLimit, expected);
        try {
            switch (format) {
                case GZIP -> out.readFully(new GZIPInputStream(slice(data, offset, length), STREAM_BUFFER));
                case LZ4_LEGACY -> Lz4LegacyFrame.decompress(data, offset, length, out, name);
                // Only the frames: libzstd would take the kernel's appended size word for a broken next frame.
                case ZSTD -> LibZstd.decompress(data, offset, zstdFrames.length(), out::append);
                case XZ -> out.readFully(new SingleXZInputStream(slice(data, offset, length), DICTIONARY_MEMORY_LIMIT_KIB));
                // Decompresses one stream only: what follows it is the kernel's size word, not a second stream.
                case BZIP2 -> out.readFully(new BZip2CompressorInputStream(slice(data, offset, length), false));
                case LZMA -> out.readFully(new LZMAInputStream(slice(data, offset, length), DICTIONARY_MEMORY_LIMIT_KIB));
                case LZO -> LzopFile.decompress(data, offset, length, out, name);
                case UNCOMPRESSED_ELF -> throw new AssertionError("handled above");
            }
        } catch (IOException | MalformedInputException e) {
            throw corrupt(name, format, e);
        } catch (OutOfMemoryError e) {
            // Below the output limit but beyond this JVM's heap: say so rather than die mid-boot.
            throw new ImageException(name + ": not enough Java heap to decompress the " + format.displayName()
                    + " payload (output so far " + describeSize(out.size()) + "); raise -Xmx or the output limit", e);
        }
        return out.toByteArray();
    }

    /**
     * A first guess at the output size, for sizing the buffer. Every kernel build ends the payload with the
     * uncompressed size, 32-bit little-endian (gzip's own trailer, the others' appended word); it is a hint
     * only, used when plausible for the payload's size and never as a limit.
     */
    private static long expectedSize(byte[] data, int offset, int length) {
        long fallback = (long) length * TYPICAL_RATIO;
        if (length < 4) {
            return fallback;
        }
        long stated = Integer.toUnsignedLong(ByteFields.le32(data, offset + length - 4));
        return stated >= length && stated <= (long) length * MAX_TRUSTED_RATIO ? stated : fallback;
    }

    private static InputStream slice(byte[] data, int offset, int length) {
        return new ByteArrayInputStream(data, offset, length);
    }

    private static ImageException corrupt(String name, CompressionFormat format, Exception e) {
        String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        String what = e instanceof EOFException ? "truncated" : "corrupt";
        return new ImageException(name + ": " + what + " " + format.displayName() + " payload: " + why, e);
    }

    /** A byte count for messages: "512 MiB", "1536 KiB", "100 bytes". */
    static String describeSize(long bytes) {
        if (bytes >= 1 << 20 && bytes % (1 << 20) == 0) {
            return (bytes >> 20) + " MiB";
        }
        if (bytes >= 1 << 10 && bytes % (1 << 10) == 0) {
            return (bytes >> 10) + " KiB";
        }
        return bytes + " bytes";
    }
}
