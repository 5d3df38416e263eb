package vessel.boot.linux;

import org.junit.jupiter.api.Test;

import vessel.boot.ImageException;
import vessel.boot.KernelLoader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The decompression that overlaps a VM's assembly gives the loader the same kernel, or the same error. */
class BackgroundDecompressionTest {
    private static final String NAME = "test-bzImage";

    @Test
    void theKernelArrivesWhole() throws Exception {
        byte[] vmlinux = KernelImages.x86_64Elf(1 << 20);
        byte[] image = KernelImages.bzImage(KernelImages.kernelPayload(CompressionFormat.GZIP, vmlinux));
        BackgroundDecompression d = KernelLoader.startHostDecompression(image, NAME, null);
        assertArrayEquals(vmlinux, d.await().vmlinux());
        assertArrayEquals(vmlinux, d.await().vmlinux(), "a second await gives the same kernel");
    }

    @Test
    void aBadPayloadFailsAtAwaitWithTheDecompressorsMessage() throws Exception {
        byte[] payload = KernelImages.kernelPayload(CompressionFormat.GZIP, KernelImages.x86_64Elf(1 << 16));
        payload[payload.length / 2] ^= 0x5a;
        payload[payload.length / 2 + 1] ^= 0x5a;
        BackgroundDecompression d = KernelLoader.startHostDecompression(KernelImages.bzImage(payload), NAME, null);
        ImageException e = assertThrows(ImageException.class, d::await);
        assertTrue(e.getMessage().startsWith(NAME + ": "), e.getMessage());
    }

    @Test
    void onlyABzImageBootedAsLinuxIsDecompressed() throws Exception {
        byte[] image = KernelImages.bzImage(KernelImages.kernelPayload(CompressionFormat.GZIP, KernelImages.x86_64Elf(4096)));
        assertNull(KernelLoader.startHostDecompression(image, NAME, vessel.boot.EntryMode.LONG), "a flat binary");
        assertNull(KernelLoader.startHostDecompression(KernelImages.x86_64Elf(4096), NAME, null), "a vmlinux");
        assertNull(KernelLoader.startHostDecompression("text\n".getBytes(), NAME, null), "not a kernel");
    }
}
