package vessel.boot.linux;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import vessel.boot.ImageException;
import vessel.boot.KernelLoader;
import vessel.boot.MultibootLoader;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

/**
 * The kernel loaders and decompressors on images a user hands to {@code --kernel}: each starts from a
 * well-formed synthetic image that the fuzzer then patches, so it gets past the magic numbers into the
 * header fields. Whatever the image, loading ends in a BootEntry or an ImageException (one message the CLI
 * prints); any other exception, a guest memory access out of range included, is a finding.
 */
class BootImageFuzzTest {
    private static final GuestMemory MEMORY = TestMemory.of(Arena.ofAuto(), 64L << 20);

    @FuzzTest(maxDuration = "5s")
    void bzImage(FuzzedDataProvider data) {
        byte[] payload = data.consumeBytes(data.consumeInt(0, 4096));
        byte[] image = SyntheticKernels.bzImage(payload, data.consumeInt(0, 0x20f), data.consumeInt(0, 0x7f));
        load(data, patch(data, image, 1024));
    }

    @FuzzTest(maxDuration = "5s")
    void vmlinux(FuzzedDataProvider data) {
        byte[] code = data.consumeBytes(data.consumeInt(0, 1024));
        byte[] image = SyntheticKernels.vmlinux(code, data.consumeInt(0, 1 << 20), data.consumeLong());
        load(data, patch(data, image, 0x100));
    }

    @FuzzTest(maxDuration = "5s")
    void multiboot(FuzzedDataProvider data) {
        // a.out-kludge header at offset 0: load the whole file at load_addr, jump to entry
        byte[] image = new byte[data.consumeInt(32, 8192)];
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int flags = 0x10003;
        b.putInt(0, MultibootLoader.HEADER_MAGIC).putInt(4, flags).putInt(8, -(MultibootLoader.HEADER_MAGIC + flags));
        b.putInt(12, 0x100000).putInt(16, 0x100000).putInt(20, 0x100000 + image.length)
                .putInt(24, 0x100000 + image.length + data.consumeInt(0, 1 << 16)).putInt(28, 0x100010);
        load(data, patch(data, image, 32));
    }

    /** Every decompressor on a payload that starts with its format's magic. */
    @FuzzTest(maxDuration = "5s")
    void decompress(FuzzedDataProvider data) {
        CompressionFormat format = data.pickValue(CompressionFormat.values());
        byte[] magic = magic(format);
        byte[] body = data.consumeRemainingAsBytes();
        byte[] payload = new byte[magic.length + body.length];
        System.arraycopy(magic, 0, payload, 0, magic.length);
        System.arraycopy(body, 0, payload, magic.length, body.length);
        try {
            byte[] out = new KernelDecompressor(1 << 20).decompress(format, payload, 0, payload.length, "fuzz");
            if (out.length > 1 << 20) {
                throw new AssertionError(format + " gave " + out.length + " bytes past its 1 MiB limit");
            }
        } catch (ImageException expected) {
            // corrupt, truncated or over the limit
        }
    }

    /** The magic each format starts with (CompressionFormat's, which it keeps to itself). */
    private static byte[] magic(CompressionFormat format) {
        int[] m = switch (format) {
            case GZIP -> new int[] {0x1f, 0x8b};
            case LZ4_LEGACY -> new int[] {0x02, 0x21, 0x4c, 0x18};
            case ZSTD -> new int[] {0x28, 0xb5, 0x2f, 0xfd};
            case XZ -> new int[] {0xfd, '7', 'z', 'X', 'Z', 0x00};
            case BZIP2 -> new int[] {'B', 'Z', 'h'};
            case LZMA -> new int[] {0x5d, 0x00, 0x00};
            case LZO -> new int[] {0x89, 'L', 'Z', 'O', 0x00, 0x0d, 0x0a, 0x1a, 0x0a};
            case UNCOMPRESSED_ELF -> new int[] {0x7f, 'E', 'L', 'F'};
        };
        byte[] b = new byte[m.length];
        for (int i = 0; i < m.length; i++) {
            b[i] = (byte) m[i];
        }
        if (!format.matches(b, 0, b.length)) {
            throw new AssertionError("the test's magic for " + format + " is out of date");
        }
        return b;
    }

    /** Overwrites fuzzed spans of {@code image}, mostly within its first {@code header} bytes. */
    private static byte[] patch(FuzzedDataProvider data, byte[] image, int header) {
        for (int n = data.consumeInt(0, 8); n > 0 && image.length > 0; n--) {
            int at = data.consumeBoolean() ? data.consumeInt(0, Math.min(header, image.length) - 1)
                    : data.consumeInt(0, image.length - 1);
            byte[] with = data.consumeBytes(data.consumeInt(1, 8));
            System.arraycopy(with, 0, image, at, Math.min(with.length, image.length - at));
        }
        return image;
    }

    private static void load(FuzzedDataProvider data, byte[] image) {
        List<MultibootLoader.Module> initrds = new ArrayList<>();
        for (int n = data.consumeInt(0, 2); n > 0; n--) {
            initrds.add(new MultibootLoader.Module(data.consumeBytes(data.consumeInt(0, 512)), data.consumeString(16)));
        }
        String cmdline = data.consumeString(64);
        try {
            KernelLoader.load(MEMORY, new KernelLoader.BootRequest(image, "fuzz", null, cmdline, initrds, null, 0));
        } catch (ImageException expected) {
            if (expected.getMessage() == null || expected.getMessage().isBlank()) {
                throw new AssertionError("an ImageException without a message", expected);
            }
        }
    }
}
