package vessel.sys;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.NativeTools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The system libzstd through FFM, on data the zstd tool compressed. */
class LibZstdTest {
    /** Not a multiple of the 1 MiB output chunk, and several chunks long, so the flush loop is exercised. */
    private static final int SIZE = (3 << 20) + 17;
    private static byte[] original;
    private static byte[] compressed;

    @BeforeAll
    static void compressWithTheZstdTool(@TempDir Path dir) throws Exception {
        original = new byte[SIZE];
        Random random = new Random(7);
        for (int i = 0; i < SIZE; i++) {
            original[i] = (byte) ('a' + random.nextInt(4)); // compressible, but not trivially
        }
        Path file = dir.resolve("data");
        Files.write(file, original);
        NativeTools.run(List.of("zstd", "-q", "-f", "--zstd=wlog=27", file.toString(), "-o", file + ".zst"), dir);
        compressed = Files.readAllBytes(Path.of(file + ".zst"));
    }

    @Test
    void theLibraryIsThere() {
        assertNull(LibZstd.unavailableReason());
    }

    @Test
    void decompressesInChunks() throws IOException {
        assertArrayEquals(original, decompress(compressed, compressed.length));
    }

    @Test
    void twoFramesInARowAreBothDecoded() throws IOException {
        byte[] twice = Arrays.copyOf(compressed, compressed.length * 2);
        System.arraycopy(compressed, 0, twice, compressed.length, compressed.length);
        byte[] out = decompress(twice, twice.length);
        assertArrayEquals(original, Arrays.copyOf(out, SIZE));
        assertArrayEquals(original, Arrays.copyOfRange(out, SIZE, 2 * SIZE));
    }

    @Test
    void dataEndingInsideAFrameIsAnEof() {
        assertThrows(EOFException.class, () -> decompress(compressed, compressed.length / 2));
    }

    @Test
    void garbageIsRejectedWithZstdsReason() {
        byte[] garbage = "this is not zstd data at all".getBytes();
        IOException e = assertThrows(IOException.class, () -> decompress(garbage, garbage.length));
        assertFalse(e.getMessage().isBlank());
    }

    private static byte[] decompress(byte[] input, int length) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        LibZstd.decompress(input, 0, length, chunk -> out.writeBytes(chunk.toArray(ValueLayout.JAVA_BYTE)));
        return out.toByteArray();
    }
}
