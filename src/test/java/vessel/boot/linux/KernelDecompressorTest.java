package vessel.boot.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import vessel.boot.ElfFile;
import vessel.boot.ImageException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Each format, compressed by its real tool as a kernel build does, round-trips; bad images fail clearly. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KernelDecompressorTest {
    private static final String NAME = "test-bzImage";
    private final byte[] vmlinux = KernelImages.x86_64Elf(1 << 20);
    private final Map<CompressionFormat, byte[]> payloads = new EnumMap<>(CompressionFormat.class);

    @BeforeAll
    void compressWithTheRealTools() throws Exception {
        for (CompressionFormat format : CompressionFormat.values()) {
            payloads.put(format, KernelImages.kernelPayload(format, vmlinux));
        }
    }

    @ParameterizedTest
    @EnumSource(CompressionFormat.class)
    void everyFormatRoundTripsThroughABzImage(CompressionFormat format) throws Exception {
        DecompressedKernel kernel = KernelDecompressor.decompressKernel(KernelImages.bzImage(payloads.get(format)), NAME);
        assertEquals(format, kernel.format());
        assertArrayEquals(vmlinux, kernel.vmlinux());
        assertEquals(ElfFile.MACHINE_X86_64, kernel.elf().machine());
        assertEquals(0x1000000, kernel.elf().entry());
        assertEquals(KernelImages.payloadStart(), kernel.payload().offset());
        assertEquals(payloads.get(format).length, kernel.payload().length());
        assertEquals("2.15", kernel.payload().protocolText());
    }

    @ParameterizedTest
    @EnumSource(CompressionFormat.class)
    void zeroPaddingAfterThePayloadIsIgnored(CompressionFormat format) throws Exception {
        byte[] padded = KernelImages.concat(payloads.get(format), new byte[16]);
        byte[] out = new KernelDecompressor(KernelDecompressor.DEFAULT_OUTPUT_LIMIT)
                .decompress(format, padded, 0, padded.length, NAME);
        if (format == CompressionFormat.UNCOMPRESSED_ELF) {
            assertArrayEquals(padded, out); // nothing marks where a plain ELF ends: padding stays
        } else {
            assertArrayEquals(vmlinux, out);
        }
    }

    @Test
    void zstdFramesThatStateTheirSizeRoundTrip(@TempDir Path dir) throws Exception {
        // Given a file (not a pipe) zstd records the content size, which then sizes the output exactly.
        Path file = dir.resolve("vmlinux");
        Files.write(file, vmlinux);
        byte[] compressed = KernelImages.pipe(List.of("zstd", "-q", "-3", "-c", file.toString()), new byte[0]);
        assertEquals(vmlinux.length, ZstdFrames.measure(compressed, 0, compressed.length, NAME).contentSize());
        byte[] payload = KernelImages.concat(compressed, KernelImages.sizeWord(vmlinux.length));
        assertArrayEquals(vmlinux, KernelDecompressor.decompressKernel(KernelImages.bzImage(payload), NAME).vmlinux());
    }

    @Test
    void zstdWithTheKernelBuildsWindowIsDecoded() throws Exception {
        // The case that rules out aircompressor (8 MiB windows at most): the window descriptor must say 2^27.
        byte[] payload = payloads.get(CompressionFormat.ZSTD);
        assertEquals(0, payload[4] & 0x20, "not single-segment: the frame has a window descriptor");
        assertEquals(27, 10 + ((payload[5] & 0xff) >> 3));
        assertEquals(-1, ZstdFrames.measure(payload, 0, payload.length, NAME).contentSize());
        assertArrayEquals(vmlinux, new KernelDecompressor(KernelDecompressor.DEFAULT_OUTPUT_LIMIT)
                .decompress(CompressionFormat.ZSTD, payload, 0, payload.length, NAME));
    }

    @Test
    void lz4KernelsLargerThanOneLegacyBlockSpanSeveral() throws Exception {
        // 8 MiB is the legacy block size: 17 MiB needs three blocks, the size word then exceeds any block's.
        byte[] big = KernelImages.x86_64Elf(17 << 20);
        byte[] payload = KernelImages.concat(KernelImages.pipe(List.of("lz4", "-l", "-1", "-c"), big),
                KernelImages.sizeWord(big.length));
        assertArrayEquals(big, KernelDecompressor.decompressKernel(KernelImages.bzImage(payload), NAME).vmlinux());
    }

    @ParameterizedTest
    @EnumSource(value = CompressionFormat.class, names = "UNCOMPRESSED_ELF", mode = EnumSource.Mode.EXCLUDE)
    void aPayloadCutShortIsRejected(CompressionFormat format) {
        byte[] payload = payloads.get(format);
        byte[] cut = Arrays.copyOf(payload, payload.length / 2);
        ImageException e = assertThrows(ImageException.class,
                () -> KernelDecompressor.decompressKernel(KernelImages.bzImage(cut), NAME));
        assertNamesTheImage(e);
        assertTrue(e.getMessage().matches(".*(truncated|corrupt).*"), e.getMessage());
    }

    @Test
    void aBzImageCutShortIsRejected() {
        byte[] image = KernelImages.bzImage(payloads.get(CompressionFormat.GZIP));
        for (int length : new int[] {0, 0x100, 0x24f, KernelImages.payloadStart() + 100}) {
            byte[] cut = Arrays.copyOf(image, length);
            ImageException e = assertThrows(ImageException.class, () -> KernelDecompressor.decompressKernel(cut, NAME));
            assertNamesTheImage(e);
            assertTrue(e.getMessage().contains("truncated bzImage"), e.getMessage());
        }
    }

    @Test
    void aPayloadOffsetBeyondTheFileIsRejected() {
        byte[] image = KernelImages.bzImage(payloads.get(CompressionFormat.GZIP));
        ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putInt(0x248, image.length);
        ImageException e = assertThrows(ImageException.class, () -> KernelDecompressor.decompressKernel(image, NAME));
        assertNamesTheImage(e);
        assertTrue(e.getMessage().contains("payload would start at byte"), e.getMessage());
        ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putInt(0x248, 0xffffffff);
        assertThrows(ImageException.class, () -> KernelDecompressor.decompressKernel(image, NAME));
    }

    @Test
    void aPayloadLengthBeyondTheFileIsRejected() {
        byte[] image = KernelImages.bzImage(payloads.get(CompressionFormat.GZIP));
        ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putInt(0x24c, 0x7fffffff);
        ImageException e = assertThrows(ImageException.class, () -> KernelDecompressor.decompressKernel(image, NAME));
        assertTrue(e.getMessage().contains("runs past the end of the file"), e.getMessage());
    }

    @Test
    void anUnknownMagicIsRejectedWithTheBytesItHas() {
        byte[] payload = payloads.get(CompressionFormat.GZIP).clone();
        payload[0] = 0x42;
        ImageException e = assertThrows(ImageException.class,
                () -> KernelDecompressor.decompressKernel(KernelImages.bzImage(payload), NAME));
        assertNamesTheImage(e);
        assertTrue(e.getMessage().contains("unknown kernel compression") && e.getMessage().contains("42 8b"), e.getMessage());
    }

    @Test
    void theDecompressorChecksTheFormatItIsTold() {
        byte[] gzip = payloads.get(CompressionFormat.GZIP);
        ImageException e = assertThrows(ImageException.class, () -> new KernelDecompressor(1 << 20)
                .decompress(CompressionFormat.LZ4_LEGACY, gzip, 0, gzip.length, NAME));
        assertTrue(e.getMessage().contains("not LZ4"), e.getMessage());
    }

    @Test
    void setupHeaderChecks() {
        byte[] good = KernelImages.bzImage(payloads.get(CompressionFormat.GZIP));
        assertHeaderRejected(good, 0x1fe, (short) 0x1234, "no boot flag 0xAA55");
        assertHeaderRejected(good, 0x202, (short) 0x4d42, "no \"HdrS\"");
        assertHeaderRejected(good, 0x206, (short) 0x0206, "boot protocol 2.06 is older than 2.08");
    }

    @Test
    void setupSectsZeroMeansFour() throws Exception {
        byte[] image = KernelImages.bzImage(payloads.get(CompressionFormat.GZIP), 4);
        image[0x1f1] = 0; // images older than the field leave it 0: the payload must be found where it was
        assertEquals(5 * 512, BzImagePayload.locate(image, NAME).setupSize());
        assertArrayEquals(vmlinux, KernelDecompressor.decompressKernel(image, NAME).vmlinux());
    }

    @ParameterizedTest
    @EnumSource(CompressionFormat.class)
    void outputBeyondTheLimitIsABomb(CompressionFormat format) throws Exception {
        byte[] zeros = new byte[4 << 20];
        if (format == CompressionFormat.UNCOMPRESSED_ELF) {
            System.arraycopy(vmlinux, 0, zeros, 0, 64); // needs its magic to be taken for an ELF
        }
        byte[] image = KernelImages.bzImage(KernelImages.kernelPayload(format, zeros));
        ImageException e = assertThrows(ImageException.class, () -> new KernelDecompressor(1 << 20).extract(image, NAME));
        assertNamesTheImage(e);
        assertTrue(e.getMessage().contains("decompresses to more than 1 MiB, the output limit"), e.getMessage());
    }

    @Test
    void zstdFramesDeclaringMoreThanTheLimitAreRefusedBeforeDecoding(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("zeros");
        Files.write(file, new byte[4 << 20]);
        byte[] compressed = KernelImages.pipe(List.of("zstd", "-q", "-c", file.toString()), new byte[0]);
        ImageException e = assertThrows(ImageException.class, () -> new KernelDecompressor(1 << 20)
                .decompress(CompressionFormat.ZSTD, compressed, 0, compressed.length, NAME));
        assertTrue(e.getMessage().contains("more than 1 MiB"), e.getMessage());
    }

    @Test
    void anElfForAnotherMachineIsNotAKernelHere() throws Exception {
        byte[] aarch64 = KernelImages.elf(183, 4096);
        byte[] image = KernelImages.bzImage(KernelImages.kernelPayload(CompressionFormat.GZIP, aarch64));
        ImageException e = assertThrows(ImageException.class, () -> KernelDecompressor.decompressKernel(image, NAME));
        assertNamesTheImage(e);
        assertTrue(e.getMessage().contains("machine 183, not an x86-64 kernel"), e.getMessage());
    }

    @Test
    void aPayloadThatIsNotAnElfAtAllIsRejected() throws Exception {
        byte[] image = KernelImages.bzImage(KernelImages.kernelPayload(CompressionFormat.XZ, KernelImages.text(5000)));
        ImageException e = assertThrows(ImageException.class, () -> KernelDecompressor.decompressKernel(image, NAME));
        assertNamesTheImage(e);
        assertTrue(e.getMessage().contains("not an ELF file"), e.getMessage());
    }

    /** Damaged data must end in an ImageException (or, where the damage is harmless, the right kernel). */
    @ParameterizedTest
    @EnumSource(value = CompressionFormat.class, names = "UNCOMPRESSED_ELF", mode = EnumSource.Mode.EXCLUDE)
    void corruptPayloadsFailAsImageExceptions(CompressionFormat format) throws Exception {
        byte[] original = KernelImages.x86_64Elf(64 << 10);
        byte[] payload = KernelImages.kernelPayload(format, original);
        for (int position = 0; position < payload.length - 4; position += Math.max(1, payload.length / 20)) {
            for (int xor : new int[] {0x01, 0x80, 0xff}) {
                byte[] bad = payload.clone();
                bad[position] ^= (byte) xor;
                try {
                    // Formats without checksums (LZ4, lzma) may decode damaged data to a damaged kernel: allowed.
                    KernelDecompressor.decompressKernel(KernelImages.bzImage(bad), NAME);
                } catch (ImageException e) {
                    assertNamesTheImage(e);
                } catch (RuntimeException e) {
                    fail(format + ": byte " + position + " ^ " + xor + " escaped as " + e, e);
                }
            }
        }
    }

    @Test
    void outputLimitMustBeSensible() {
        assertThrows(IllegalArgumentException.class, () -> new KernelDecompressor(0));
        assertThrows(IllegalArgumentException.class, () -> new KernelDecompressor(KernelDecompressor.MAX_OUTPUT_LIMIT + 1));
    }

    private static void assertHeaderRejected(byte[] good, int at, short value, String expected) {
        byte[] image = good.clone();
        ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putShort(at, value);
        ImageException e = assertThrows(ImageException.class, () -> KernelDecompressor.decompressKernel(image, NAME));
        assertNamesTheImage(e);
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    private static void assertNamesTheImage(ImageException e) {
        assertTrue(e.getMessage().startsWith(NAME + ": "), e.getMessage());
    }
}
