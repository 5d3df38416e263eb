package vessel.devices.block;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static vessel.devices.block.QemuTools.ok;

/**
 * Random byte mutations of a small valid image, opened, read and written: the only exception allowed out
 * is DiskImageException, with a one-line message.
 */
class Qcow2FuzzTest {
    static final int ROUNDS = 300;

    @TempDir
    Path dir;

    @Test
    void mutatedImagesFailOnlyWithDiskImageException() throws Exception {
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=512", "seed.qcow2", "1M");
        ok(dir, "qemu-io", "-c", "write -P 0x11 0 8k", "-c", "write -P 0x22 300k 2k", "-c", "write -z 600k 4k",
                "seed.qcow2");
        ok(dir, "qemu-img", "convert", "-c", "-O", "qcow2", "-o", "cluster_size=512", "seed.qcow2", "seedc.qcow2");
        byte[][] seeds = {Files.readAllBytes(dir.resolve("seed.qcow2")), Files.readAllBytes(dir.resolve("seedc.qcow2"))};
        Random random = new Random(2024);
        Path image = dir.resolve("m.qcow2");
        int refused = 0;
        for (int round = 0; round < ROUNDS; round++) {
            byte[] m = seeds[round % 2].clone();
            int mutations = 1 + random.nextInt(8);
            for (int i = 0; i < mutations; i++) {
                int at = random.nextInt(4) != 0 ? random.nextInt(Math.min(m.length, 4096)) : random.nextInt(m.length);
                m[at] = random.nextInt(3) == 0 ? (byte) 0xff : (byte) random.nextInt(256);
            }
            Files.write(image, m);
            try (Qcow2Image q = Qcow2Image.open(image, false)) {
                long span = Math.min(q.size(), 1 << 20);
                ByteBuffer b = ByteBuffer.allocate((int) span);
                q.read(0, b);
                for (int w = 0; w < 4 && span > 0; w++) {
                    int length = 1 + random.nextInt((int) Math.min(span, 3000));
                    q.write(random.nextLong(span - length + 1), ByteBuffer.wrap(new byte[length]));
                }
                q.read(0, b.clear());
            } catch (DiskImageException e) {
                refused++;
                assertTrue(!e.getMessage().contains("\n"), e.getMessage());
            } catch (Throwable t) {
                StringWriter trace = new StringWriter();
                t.printStackTrace(new PrintWriter(trace));
                fail("round " + round + ": " + trace);
            }
        }
        assertTrue(refused > ROUNDS / 10, "the mutations reached the checks: " + refused + " refused");
    }
}
