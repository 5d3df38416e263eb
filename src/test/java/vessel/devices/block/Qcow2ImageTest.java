package vessel.devices.block;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static vessel.devices.block.QemuTools.ok;
import static vessel.devices.block.QemuTools.run;

/** Vessel's qcow2 against QEMU's own tools: images qemu-img makes, checked by qemu-img after Vessel wrote them. */
class Qcow2ImageTest {
    static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    /** The disk as qemu-img sees it: the image converted to raw. */
    private byte[] asRaw(String image) throws Exception {
        Path raw = dir.resolve(image + ".raw");
        ok(dir, "qemu-img", "convert", "-O", "raw", image, raw.toString());
        return Files.readAllBytes(raw);
    }

    private static byte[] readAll(DiskImage d) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) d.size());
        d.read(0, b);
        return b.array();
    }

    private void assertCheckClean(String image) throws Exception {
        QemuTools.Result r = run(dir, "qemu-img", "check", image);
        assertEquals(0, r.exit(), "qemu-img check " + image + ": " + r.output());
    }

    @ParameterizedTest
    @ValueSource(strings = {"compat=1.1", "compat=0.10"})
    void readsWhatQemuIoWrote(String compat) throws Exception {
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-o", compat, "d.qcow2", "4M");
        ok(dir, "qemu-io", "-c", "write -P 0xab 0 64k", "-c", "write -P 0xcd 1049088 4k", "-c", "write -z 2M 128k",
                "-c", "write -P 0x5a 4128768 65536", "d.qcow2");
        try (DiskImage d = DiskImage.open(dir.resolve("d.qcow2"), null, true)) {
            assertInstanceOf(Qcow2Image.class, d);
            assertEquals(compat.equals("compat=1.1") ? 3 : 2, ((Qcow2Image) d).version());
            assertEquals(4 * MIB, d.size());
            byte[] all = readAll(d);
            assertArrayEquals(asRaw("d.qcow2"), all);
            assertEquals((byte) 0xab, all[65535]);
            assertEquals(0, all[65536]);
            assertEquals((byte) 0xcd, all[1049088]);
            assertEquals((byte) 0x5a, all[4 * MIB - 1]);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"compat=1.1", "compat=0.10"})
    void writesThatQemuImgComparesEqualAndChecksClean(String compat) throws Exception {
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-o", compat, "d.qcow2", "8M");
        ok(dir, "qemu-io", "-c", "write -P 0x11 64k 64k", "d.qcow2");
        byte[] reference = asRaw("d.qcow2");
        Random random = new Random(7);
        try (DiskImage d = DiskImage.open(dir.resolve("d.qcow2"), DiskFormat.QCOW2, false)) {
            long[][] writes = {{0, 512}, {65536 + 512, 4096}, {3 * MIB - 700, 70000}, {8 * MIB - 512, 512},
                    {5 * MIB, 3 * 65536}, {4096, 512}, {3 * MIB, 512}};
            for (long[] w : writes) {
                byte[] data = new byte[(int) w[1]];
                random.nextBytes(data);
                d.write(w[0], ByteBuffer.wrap(data));
                System.arraycopy(data, 0, reference, (int) w[0], data.length);
            }
            d.writeZeroes(5 * MIB + 100, 1000);
            Arrays.fill(reference, 5 * MIB + 100, 5 * MIB + 1100, (byte) 0);
            assertArrayEquals(reference, readAll(d), "read back through Vessel");
            d.flush();
        }
        Files.write(dir.resolve("ref.raw"), reference);
        assertCheckClean("d.qcow2");
        ok(dir, "qemu-img", "compare", "-f", "raw", "-F", "qcow2", "ref.raw", "d.qcow2");
    }

    @Test
    void smallClustersMakeL2TablesAndRefcountBlocksThatCheckClean() throws Exception {
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=512", "d.qcow2", "16M");
        byte[] reference = new byte[16 * MIB];
        Random random = new Random(11);
        try (DiskImage d = Qcow2Image.open(dir.resolve("d.qcow2"), false)) {
            for (int i = 0; i < 300; i++) {
                int at = random.nextInt(16 * MIB - 2048);
                byte[] data = new byte[1 + random.nextInt(2047)];
                random.nextBytes(data);
                d.write(at, ByteBuffer.wrap(data));
                System.arraycopy(data, 0, reference, at, data.length);
            }
        }
        Files.write(dir.resolve("ref.raw"), reference);
        assertCheckClean("d.qcow2");
        ok(dir, "qemu-img", "compare", "-f", "raw", "-F", "qcow2", "ref.raw", "d.qcow2");
    }

    @ParameterizedTest
    @ValueSource(strings = {"qcow2", "raw"})
    void anOverlayReadsItsBaseAndCopiesOnWrite(String baseFormat) throws Exception {
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "base.qcow2", "4M");
        ok(dir, "qemu-io", "-c", "write -P 0x42 0 4M", "base.qcow2");
        if (baseFormat.equals("raw")) {
            ok(dir, "qemu-img", "convert", "-O", "raw", "base.qcow2", "base.img");
        }
        String base = baseFormat.equals("raw") ? "base.img" : "base.qcow2";
        byte[] baseBytes = Files.readAllBytes(dir.resolve(base));
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", baseFormat, "vm1.qcow2");
        ok(dir, "qemu-io", "-c", "write -P 0x77 1M 4k", "vm1.qcow2");
        byte[] reference = asRaw("vm1.qcow2");
        try (DiskImage d = DiskImage.open(dir.resolve("vm1.qcow2"), DiskFormat.QCOW2, false)) {
            Qcow2Image q = (Qcow2Image) d;
            assertEquals(DiskFormat.valueOf(baseFormat.toUpperCase()), q.backing().format());
            assertArrayEquals(reference, readAll(d));
            byte[] data = new byte[1000];
            Arrays.fill(data, (byte) 0xee);
            d.write(2 * MIB + 300, ByteBuffer.wrap(data)); // a partial cluster: the rest comes from the base
            System.arraycopy(data, 0, reference, 2 * MIB + 300, data.length);
            assertArrayEquals(reference, readAll(d));
        }
        Files.write(dir.resolve("ref.raw"), reference);
        assertCheckClean("vm1.qcow2");
        ok(dir, "qemu-img", "compare", "-f", "raw", "-F", "qcow2", "ref.raw", "vm1.qcow2");
        assertArrayEquals(baseBytes, Files.readAllBytes(dir.resolve(base)), "the base is never written");
    }

    /**
     * Filling a new disk costs an fdatasync per reserved batch of clusters, not one per cluster (which made
     * a guest's sequential writes to a qcow2 some 13 times slower than to a raw file on a real disk); the
     * image still compares equal and checks clean once closed, the unused reserve given back.
     */
    @Test
    void fillingANewDiskSyncsOncePerBatchOfClustersNotPerCluster() throws Exception {
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "d.qcow2", "17M");
        byte[] reference = new byte[17 * MIB];
        new Random(5).nextBytes(reference);
        try (Qcow2Image d = Qcow2Image.open(dir.resolve("d.qcow2"), false)) {
            for (int at = 0; at < 16 * MIB; at += MIB) {
                d.write(at, ByteBuffer.wrap(reference, at, MIB));
            }
            d.flush();
            // 257 new clusters (256 of data, an L2 table) in 5 batches of 64, one sync before the L1 entry
            // points at the table, one for the flush: 7 (it was 258).
            assertEquals(64, Qcow2Image.RESERVE_BYTES / d.clusterSize());
            assertTrue(d.syncs() <= 7, d.syncs() + " fdatasyncs for 257 new clusters");
        }
        Arrays.fill(reference, 16 * MIB, 17 * MIB, (byte) 0);
        Files.write(dir.resolve("ref.raw"), reference);
        assertCheckClean("d.qcow2");
        ok(dir, "qemu-img", "compare", "-f", "raw", "-F", "qcow2", "ref.raw", "d.qcow2");
    }

    /**
     * A guest's request arrives as page-sized buffers. Taken one by one, the first page of each cluster of
     * an overlay would copy the base's 64 KiB and sync before the other 15 pages overwrote them; taken
     * together, the request covers whole clusters, reads nothing from the base and syncs once per batch.
     * The partial clusters at either end still keep the base's bytes around the request's.
     */
    @Test
    void aRequestInPagesWritesWholeClustersOfAnOverlayWithoutCopyingTheBase() throws Exception {
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "base.qcow2", "4M");
        ok(dir, "qemu-io", "-c", "write -P 0x42 0 4M", "base.qcow2");
        byte[] baseBytes = Files.readAllBytes(dir.resolve("base.qcow2"));
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "vm.qcow2");
        byte[] reference = filled(4 * MIB, (byte) 0x42);
        byte[] data = new byte[MIB];
        new Random(9).nextBytes(data);
        try (Arena arena = Arena.ofConfined(); Qcow2Image d = Qcow2Image.open(dir.resolve("vm.qcow2"), false)) {
            MemorySegment guest = arena.allocate(MIB, 4096);
            guest.copyFrom(MemorySegment.ofArray(data));
            List<MemorySegment> pages = new ArrayList<>();
            for (long page = 0; page < MIB; page += 4096) {
                pages.add(guest.asSlice(page, 4096));
            }
            long before = d.syncs();
            d.write(MIB, pages); // 16 whole clusters
            assertTrue(d.syncs() - before <= 2, (d.syncs() - before) + " fdatasyncs for 16 whole clusters");
            System.arraycopy(data, 0, reference, MIB, MIB);
            d.write(2 * MIB + 512, pages.subList(0, 3)); // inside one cluster: the rest comes from the base
            System.arraycopy(data, 0, reference, 2 * MIB + 512, 3 * 4096);
            assertArrayEquals(reference, readAll(d));
        }
        Files.write(dir.resolve("ref.raw"), reference);
        assertCheckClean("vm.qcow2");
        ok(dir, "qemu-img", "compare", "-f", "raw", "-F", "qcow2", "ref.raw", "vm.qcow2");
        assertArrayEquals(baseBytes, Files.readAllBytes(dir.resolve("base.qcow2")), "the base is never written");
    }

    @Test
    void anOverlayLargerThanItsBaseReadsZerosPastTheBase() throws Exception {
        Files.write(dir.resolve("base.img"), filled(MIB, (byte) 9));
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.img", "-F", "raw", "vm.qcow2", "2M");
        try (DiskImage d = DiskImage.open(dir.resolve("vm.qcow2"), DiskFormat.QCOW2, true)) {
            byte[] all = readAll(d);
            assertEquals(9, all[MIB - 1]);
            assertEquals(0, all[MIB]);
            assertArrayEquals(asRaw("vm.qcow2"), all);
        }
    }

    @Test
    void compressedClustersReadAndAWriteMakesThemNormal() throws Exception {
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "plain.qcow2", "2M");
        ok(dir, "qemu-io", "-c", "write -P 0x31 0 1M", "-c", "write -P 0x32 1M 512k", "plain.qcow2");
        ok(dir, "qemu-img", "convert", "-c", "-O", "qcow2", "plain.qcow2", "c.qcow2");
        byte[] reference = asRaw("plain.qcow2");
        assertTrue(Files.size(dir.resolve("c.qcow2")) < MIB, "compressed");
        try (DiskImage d = DiskImage.open(dir.resolve("c.qcow2"), null, false)) {
            assertArrayEquals(reference, readAll(d));
            d.write(70000, ByteBuffer.wrap(filled(100, (byte) 0x99)));
            Arrays.fill(reference, 70000, 70100, (byte) 0x99);
            assertArrayEquals(reference, readAll(d));
        }
        Files.write(dir.resolve("ref.raw"), reference);
        assertCheckClean("c.qcow2");
        ok(dir, "qemu-img", "compare", "-f", "raw", "-F", "qcow2", "ref.raw", "c.qcow2");
    }

    @Test
    void aProbedImageMayNotNameABackingFileSoAGuestCannotPointItAtHostFiles() throws Exception {
        // What a guest could write into sector 0 of its raw disk: a qcow2 header whose backing file is a host file.
        Files.writeString(dir.resolve("secret"), "host data");
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "secret", "-F", "raw", "disk.img", "1M");
        DiskImageException e = assertThrows(DiskImageException.class,
                () -> DiskImage.open(dir.resolve("disk.img"), null, false));
        assertTrue(e.getMessage().contains("names a backing file (secret); name the format (format=qcow2)"), e.getMessage());
        try (DiskImage d = DiskImage.open(dir.resolve("disk.img"), DiskFormat.RAW, false)) {
            assertInstanceOf(RawImage.class, d, "named raw, it is the guest's bytes and nothing more");
        }
    }

    @Test
    void probingFindsTheFormatAndRawStaysRaw() throws Exception {
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "d.qcow2", "1M");
        Files.write(dir.resolve("d.img"), new byte[4096]);
        assertEquals(DiskFormat.QCOW2, DiskFormat.probe(dir.resolve("d.qcow2")));
        assertEquals(DiskFormat.RAW, DiskFormat.probe(dir.resolve("d.img")));
        try (DiskImage d = DiskImage.open(dir.resolve("d.qcow2"), DiskFormat.RAW, true)) {
            assertInstanceOf(RawImage.class, d, "a named format is not second-guessed");
        }
        assertNull(DiskFormat.parse("vmdk"));
    }

    // ---------------------------------------------------------------- hostile images

    private Path validImage() throws Exception {
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "h.qcow2", "1M");
        return dir.resolve("h.qcow2");
    }

    private static void poke(Path file, long offset, byte[] bytes) throws IOException {
        try (FileChannel f = FileChannel.open(file, StandardOpenOption.WRITE)) {
            f.write(ByteBuffer.wrap(bytes), offset);
        }
    }

    private static byte[] be32(int v) {
        return ByteBuffer.allocate(4).putInt(v).array();
    }

    private static byte[] be64(long v) {
        return ByteBuffer.allocate(8).putLong(v).array();
    }

    private static String refusal(Path image) {
        DiskImageException e = assertThrows(DiskImageException.class, () -> Qcow2Image.open(image, false).close());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertTrue(e.getMessage().startsWith(image.toString()), "names the file: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void aTruncatedFileIsRefused() throws Exception {
        Path h = validImage();
        try (FileChannel f = FileChannel.open(h, StandardOpenOption.WRITE)) {
            f.truncate(50);
        }
        assertTrue(refusal(h).contains("too short"));
        Path h2 = validImage();
        try (FileChannel f = FileChannel.open(h2, StandardOpenOption.WRITE)) {
            f.truncate(65536); // the header survives, the tables do not
        }
        assertTrue(refusal(h2).contains("inside the file"));
    }

    @Test
    void anL1TableBeyondTheFileIsRefused() throws Exception {
        Path h = validImage();
        poke(h, 40, be64(1L << 40));
        assertTrue(refusal(h).contains("L1 table"));
    }

    @Test
    void absurdClusterBitsAreRefused() throws Exception {
        Path h = validImage();
        poke(h, 20, be32(63));
        assertTrue(refusal(h).contains("cluster_bits 63"));
        poke(h, 20, be32(-1));
        assertTrue(refusal(h).contains("cluster_bits"));
    }

    @Test
    void unknownIncompatibleFeaturesAndTheDirtyBitAreRefused() throws Exception {
        Path h = validImage();
        poke(h, 72, be64(1L << 40));
        assertTrue(refusal(h).contains("incompatible features 0x10000000000"));
        poke(h, 72, be64(1));
        assertTrue(refusal(h).contains("qemu-img check -r all"));
    }

    @Test
    void aBackingLoopEndsWithOneLine() throws Exception {
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "a.qcow2", "1M");
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", "b.qcow2");
        ok(dir, "qemu-img", "rebase", "-u", "-b", "b.qcow2", "-F", "qcow2", "a.qcow2");
        DiskImageException e = assertThrows(DiskImageException.class, () -> Qcow2Image.open(dir.resolve("b.qcow2"), true));
        assertTrue(e.getMessage().contains("backing chain deeper than 16"), e.getMessage());
    }

    @Test
    void aMissingBackingFileIsNamed() throws Exception {
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "a.qcow2", "1M");
        ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", "b.qcow2");
        Files.delete(dir.resolve("a.qcow2"));
        assertTrue(refusal(dir.resolve("b.qcow2")).contains("does not exist"));
    }

    static byte[] filled(int n, byte b) {
        byte[] a = new byte[n];
        Arrays.fill(a, b);
        return a;
    }
}
