package vessel.boot.linux;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import vessel.boot.ElfFile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Debian's real cloud kernel, when a previous step has cached it: this test downloads nothing. The cache
 * is {@code ${VESSEL_CACHE:-$HOME/.cache/vessel}/kernel/vmlinuz}, outside target/ so it survives a clean.
 */
class DebianKernelTest {
    static Path cachedKernel() {
        String cache = System.getenv("VESSEL_CACHE");
        Path root = cache != null && !cache.isEmpty() ? Path.of(cache) : Path.of(System.getProperty("user.home"), ".cache", "vessel");
        return root.resolve("kernel").resolve("vmlinuz");
    }

    @Test
    void theCachedDebianKernelDecompressesToAnX86_64Elf() throws Exception {
        Path kernel = cachedKernel();
        Assumptions.assumeTrue(Files.isRegularFile(kernel),
                () -> "skipped: no cached Debian kernel at " + kernel + " (this test downloads nothing)");
        DecompressedKernel decompressed = KernelDecompressor.decompressKernel(Files.readAllBytes(kernel), kernel.toString());
        assertEquals(ElfFile.CLASS_64, decompressed.elf().elfClass());
        assertEquals(ElfFile.MACHINE_X86_64, decompressed.elf().machine());
        assertTrue(decompressed.elf().physEnd() > 0x1000000, "a kernel loads at 16 MiB and up");
        assertTrue(decompressed.vmlinux().length > 8 << 20, "a whole kernel, not a fragment");
    }
}
