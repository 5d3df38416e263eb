package vessel.boot.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import vessel.boot.ElfFile;
import vessel.boot.LinuxCpuFeature;
import vessel.testkit.DefaultImage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CapFlagTableTest {
    private static final long VA = 0xffff_ffff_8100_0000L;
    private static final int FILE_OFFSET = 0x1000;

    /**
     * A vmlinux in miniature: one load segment at {@link #VA} with NUL-terminated names and, at a
     * 8-byte aligned place after some unrelated pointers, an x86_cap_flags table with {@code names}.
     */
    private static Object[] kernel(Map<Integer, String> names) {
        byte[] image = new byte[0x8000];
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int strings = FILE_OFFSET + 0x10;
        java.util.Map<String, Long> address = new java.util.HashMap<>();
        for (String name : new java.util.TreeSet<>(names.values())) {
            byte[] s = name.getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(s, 0, image, strings, s.length);
            address.put(name, VA + strings - FILE_OFFSET);
            strings += s.length + 1;
        }
        int decoys = (strings + 15) & ~7;
        b.putLong(decoys, address.get("fpu")); // a lone pointer to "fpu" is not the table
        b.putLong(decoys + 8, VA + 0x10_0000); // a kernel address outside the file
        int table = decoys + 64;
        names.forEach((n, name) -> b.putLong(table + 8 * n, address.get(name)));
        ElfFile elf = new ElfFile(ElfFile.CLASS_64, ElfFile.MACHINE_X86_64, VA,
                List.of(new ElfFile.LoadSegment(0x100_0000, VA, FILE_OFFSET, image.length - FILE_OFFSET, image.length - FILE_OFFSET)));
        return new Object[] {elf, image};
    }

    private static Optional<CapFlagTable> find(Map<Integer, String> names) {
        Object[] k = kernel(names);
        return CapFlagTable.find((ElfFile) k[0], (byte[]) k[1]);
    }

    @Test
    void findsTheTableByItsFirstEntriesAndReadsNamesByNumber() {
        CapFlagTable t = find(Map.of(0, "fpu", 1, "vme", 2, "de", 3, "pse", 137, "ssse3", 308, "smap")).orElseThrow();
        assertEquals(Optional.of("ssse3"), t.nameOf(137));
        assertEquals(Optional.empty(), t.nameOf(138), "an unnamed bit");
        assertEquals(OptionalInt.of(308), t.numberOf("smap"));
        assertEquals(OptionalInt.empty(), t.numberOf("sha_ni"));
        assertEquals(137, LinuxCpuFeature.SSSE3.numberIn(t));
    }

    @Test
    void aKernelThatNumbersAFeatureElsewhereGetsItsOwnNumber() {
        CapFlagTable t = find(Map.of(0, "fpu", 1, "vme", 2, "de", 3, "pse", 140, "ssse3", 137, "other")).orElseThrow();
        assertEquals(140, LinuxCpuFeature.SSSE3.numberIn(t));
        assertEquals(LinuxCpuFeature.SHA_NI.linuxNumber(), LinuxCpuFeature.SHA_NI.numberIn(t),
                "a name the kernel does not know keeps the layout's number");
    }

    @Test
    void noTableWithoutAllFourFirstNames() {
        assertTrue(find(Map.of(0, "fpu", 1, "vme", 2, "de", 137, "ssse3")).isEmpty());
    }

    /**
     * The assumption itself, on the default guest's kernel (Debian's cloud kernel) where it is built:
     * every feature Vessel may hide has the word-layout number in that kernel's own table.
     */
    @Test
    void theDefaultGuestKernelNumbersEveryFeatureAsTheWordLayoutDoes() throws Exception {
        Path vmlinuz = DefaultImage.dir().resolve("vmlinuz");
        Assumptions.assumeTrue(Files.isRegularFile(vmlinuz), "default guest image not built: " + vmlinuz);
        DecompressedKernel kernel = KernelDecompressor.decompressKernel(Files.readAllBytes(vmlinuz), vmlinuz.toString());
        long t0 = System.nanoTime();
        CapFlagTable table = CapFlagTable.find(kernel.elf(), kernel.vmlinux()).orElseThrow();
        System.out.println("x86_cap_flags found in " + (System.nanoTime() - t0) / 1_000_000 + " ms in a "
                + kernel.vmlinux().length + "-byte vmlinux");
        for (LinuxCpuFeature f : LinuxCpuFeature.values()) {
            assertEquals(Optional.of(f.cpuinfoName), table.nameOf(f.linuxNumber()), f.toString());
        }
    }
}
