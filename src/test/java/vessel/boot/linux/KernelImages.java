package vessel.boot.linux;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Test inputs built the way a kernel build builds them: an ELF file standing in for vmlinux, compressed
 * by the real command-line tools through a pipe (so, like the kernel's Makefile, the tool does not know
 * the input size), followed by the 4-byte size word the kernel appends, wrapped in a synthetic bzImage.
 */
final class KernelImages {
    /** Where the synthetic bzImage puts the payload: after 3 setup sectors + boot sector, 0x1c4 bytes in. */
    static final int SETUP_SECTS = 3;
    static final int PAYLOAD_OFFSET = 0x1c4;

    private KernelImages() {}

    /**
     * An ELF64 executable for {@code machine} with one PT_LOAD segment of {@code bodySize} bytes of
     * deterministic, moderately compressible text (compresses about as well as a kernel does).
     */
    static byte[] elf(int machine, int bodySize) {
        int headerSize = 64 + 56;
        ByteBuffer b = ByteBuffer.allocate(headerSize + bodySize).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0});
        b.position(16);
        b.putShort((short) 2);          // e_type: EXEC
        b.putShort((short) machine);    // e_machine
        b.putInt(1);                    // e_version
        b.putLong(0x1000000);           // e_entry
        b.putLong(64);                  // e_phoff
        b.putLong(0);                   // e_shoff
        b.putInt(0);                    // e_flags
        b.putShort((short) 64);         // e_ehsize
        b.putShort((short) 56);         // e_phentsize
        b.putShort((short) 1);          // e_phnum
        b.position(64);
        b.putInt(1).putInt(5);          // PT_LOAD, R+X
        b.putLong(headerSize);          // p_offset
        b.putLong(0xffffffff81000000L); // p_vaddr
        b.putLong(0x1000000);           // p_paddr
        b.putLong(bodySize).putLong(bodySize).putLong(0x200000);
        b.put(text(bodySize));
        return b.array();
    }

    /** An x86-64 kernel-like ELF file of about {@code bodySize} bytes. */
    static byte[] x86_64Elf(int bodySize) {
        return elf(62, bodySize);
    }

    /** Words drawn from a small vocabulary with a fixed seed: varied enough that compressors work for it. */
    static byte[] text(int size) {
        String[] words = {"mov", "rax", "push", "rbp", "call", "ret", "0x", "kernel", "page", "irq", "lock",
                "sched", "\n", "\t", "(", ")", "static", "int", "struct", "return", "if", "else", "{", "}"};
        Random random = new Random(42);
        byte[] out = new byte[size];
        int at = 0;
        while (at < size) {
            byte[] word = (random.nextInt(8) == 0 ? Integer.toHexString(random.nextInt()) : words[random.nextInt(words.length)])
                    .getBytes(StandardCharsets.US_ASCII);
            int n = Math.min(word.length, size - at);
            System.arraycopy(word, 0, out, at, n);
            at += n;
            if (at < size) {
                out[at++] = ' ';
            }
        }
        return out;
    }

    /** The command a kernel build would use for each format, reading stdin and writing stdout. */
    static List<String> compressCommand(CompressionFormat format) {
        return switch (format) {
            case GZIP -> List.of("gzip", "-9", "-n", "-c");
            case LZ4_LEGACY -> List.of("lz4", "-l", "-9", "-c");
            // The kernel uses -22 --ultra: from a pipe, a 128 MiB (2^27) window, beyond what pure-Java decoders
            // take. Same window here at a level that takes a fraction of a second instead of seconds and 650 MB.
            case ZSTD -> List.of("zstd", "-q", "-9", "--zstd=wlog=27", "-c");
            // scripts/xz_wrap.sh: CRC32 check, the x86 BCJ filter, LZMA2 with a 32 MiB dictionary.
            case XZ -> List.of("xz", "--check=crc32", "--x86", "--lzma2=preset=6,dict=32MiB", "-c");
            case BZIP2 -> List.of("bzip2", "-9", "-c");
            case LZMA -> List.of("xz", "--format=lzma", "-9", "-c");
            case LZO -> List.of("lzop", "-9", "-c");
            case UNCOMPRESSED_ELF -> List.of("cat");
        };
    }

    /** {@code data} compressed by the real tool, through a pipe. */
    static byte[] compress(CompressionFormat format, byte[] data) throws IOException, InterruptedException {
        return pipe(compressCommand(format), data);
    }

    /** The payload as the kernel build writes it: compressed, then (except gzip) the size, 32-bit little-endian. */
    static byte[] kernelPayload(CompressionFormat format, byte[] vmlinux) throws IOException, InterruptedException {
        byte[] compressed = compress(format, vmlinux);
        if (format == CompressionFormat.GZIP || format == CompressionFormat.UNCOMPRESSED_ELF) {
            return compressed; // gzip's own trailer already ends with the size
        }
        return concat(compressed, sizeWord(vmlinux.length));
    }

    static byte[] sizeWord(int size) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(size).array();
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    /**
     * A bzImage holding {@code payload}: boot sector and {@link #SETUP_SECTS} setup sectors with the header
     * fields the decompressor reads (boot protocol 2.15), then the protected-mode part with the payload
     * {@link #PAYLOAD_OFFSET} bytes in, then some trailing code as a real image has.
     */
    static byte[] bzImage(byte[] payload) {
        return bzImage(payload, SETUP_SECTS);
    }

    /** As {@link #bzImage(byte[])}, with {@code setupSects} setup sectors. */
    static byte[] bzImage(byte[] payload, int setupSects) {
        int setupSize = (setupSects + 1) * 512;
        ByteBuffer b = ByteBuffer.allocate(setupSize + PAYLOAD_OFFSET + payload.length + 0x300).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) setupSects);
        b.putShort(0x1fe, (short) 0xaa55);
        b.put(0x202, "HdrS".getBytes(StandardCharsets.US_ASCII));
        b.putShort(0x206, (short) 0x020f);
        b.putInt(0x248, PAYLOAD_OFFSET);
        b.putInt(0x24c, payload.length);
        for (int i = setupSize; i < setupSize + PAYLOAD_OFFSET; i++) {
            b.put(i, (byte) 0xcc); // stands for the kernel's decompressor code, which the payload follows
        }
        b.put(setupSize + PAYLOAD_OFFSET, payload);
        return b.array();
    }

    /** Where {@link #bzImage} puts the payload. */
    static int payloadStart() {
        return (SETUP_SECTS + 1) * 512 + PAYLOAD_OFFSET;
    }

    /** Runs {@code command} with {@code input} on stdin; returns stdout, failing with stderr if it fails. */
    static byte[] pipe(List<String> command, byte[] input) throws IOException, InterruptedException {
        Path errors = Files.createTempFile("vessel-compress", ".err");
        try {
            Process process;
            try {
                process = new ProcessBuilder(new ArrayList<>(command)).redirectError(errors.toFile()).start();
            } catch (IOException e) {
                throw new IOException("the kernel decompression tests need '" + command.getFirst()
                        + "' (Debian: apt-get install gzip lz4 zstd xz-utils bzip2 lzop; .ci/run does this)", e);
            }
            Thread feeder = Thread.ofVirtual().start(() -> {
                try (OutputStream stdin = process.getOutputStream()) {
                    stdin.write(input);
                } catch (IOException e) {
                    // The tool failed or exited early; its status and stderr below say why.
                }
            });
            byte[] output = process.getInputStream().readAllBytes();
            feeder.join();
            if (!process.waitFor(5, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new IOException("timed out: " + command);
            }
            if (process.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " exited " + process.exitValue() + ": "
                        + Files.readString(errors));
            }
            return output;
        } finally {
            Files.deleteIfExists(errors);
        }
    }
}
