package vessel.devices.firmware;

import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** fw_cfg as SeaBIOS and Linux's qemu_fw_cfg driver drive it: port reads, the file directory, DMA. */
class FwCfgTest {
    private final Arena arena = Arena.ofConfined();
    private final GuestMemory memory = TestMemory.of(arena, 1 << 20);
    private final FwCfg cfg = FwCfg.builder()
            .u16(FwCfg.NB_CPUS, 2)
            .file("etc/e820", new byte[] {1, 2, 3, 4, 5})
            .file("bootorder", "/pci@i0cf8/scsi@1/disk@0,0\n".getBytes(StandardCharsets.US_ASCII))
            .build(memory);

    @AfterEach
    void close() {
        arena.close();
    }

    private byte[] portRead(int key, int n) {
        cfg.write(FwCfg.SELECTOR, 2, key);
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) cfg.read(FwCfg.DATA, 1);
        }
        return b;
    }

    /** Writes an FWCfgDmaAccess at {@code at} and rings the doorbell as SeaBIOS does (low half, be32). */
    private int dma(long at, int control, int length, long address) {
        byte[] access = new byte[16];
        FwCfg.putBe(access, 0, control, 4);
        FwCfg.putBe(access, 4, length, 4);
        FwCfg.putBe(access, 8, address, 8);
        memory.write(at, access);
        cfg.write(FwCfg.DMA_LOW, 4, Integer.toUnsignedLong(Integer.reverseBytes((int) at)));
        return Integer.reverseBytes(memory.readInt(at));
    }

    @Test
    void signatureIdAndItemsReadThroughTheDataPort() {
        assertEquals("QEMU", new String(portRead(FwCfg.SIGNATURE, 4), StandardCharsets.US_ASCII));
        assertArrayEquals(new byte[] {3, 0, 0, 0}, portRead(FwCfg.ID, 4), "traditional interface and DMA");
        assertArrayEquals(new byte[] {2, 0, 0}, portRead(FwCfg.NB_CPUS, 3), "zeros past the item's end");
        assertArrayEquals(new byte[] {0, 0}, portRead(0x1234, 2), "an unknown key reads as zeros");
    }

    @Test
    void theFileDirectoryListsFilesBigEndianFromKey0x20() {
        byte[] dir = portRead(FwCfg.FILE_DIR, 4 + 2 * 64);
        assertEquals(2, be(dir, 0, 4));
        assertEquals(5, be(dir, 4, 4));
        assertEquals(0x20, be(dir, 8, 2));
        assertEquals("etc/e820", new String(dir, 12, 8, StandardCharsets.US_ASCII));
        assertEquals(0, dir[12 + 8], "NUL-terminated");
        assertEquals(0x21, be(dir, 64 + 8, 2));
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5}, portRead(0x20, 5));
    }

    @Test
    void theDmaRegisterReadsAsQemuCfg() {
        byte[] sig = new byte[8];
        for (int i = 0; i < 8; i++) {
            sig[i] = (byte) cfg.read(FwCfg.DMA_HIGH + i, 1);
        }
        assertEquals("QEMU CFG", new String(sig, StandardCharsets.US_ASCII));
        assertEquals(0x554d4551L, cfg.read(FwCfg.DMA_HIGH, 4), "an inl sees the bytes in memory order");
    }

    @Test
    void dmaSelectsReadsSkipsAndZeroFillsPastTheEnd() {
        assertEquals(0, dma(0x1000, (0x20 << 16) | FwCfg.DMA_SELECT | FwCfg.DMA_SKIP, 1, 0));
        assertEquals(0, dma(0x1000, FwCfg.DMA_READ, 2, 0x2000), "continues at the offset the skip left");
        assertArrayEquals(new byte[] {2, 3}, memory.read(0x2000, 2));
        memory.fill(0x3000, 8, (byte) 0x55);
        assertEquals(0, dma(0x1000, FwCfg.DMA_READ, 8, 0x3000));
        assertArrayEquals(new byte[] {4, 5, 0, 0, 0, 0, 0, 0}, memory.read(0x3000, 8));
        assertEquals(3, cfg.transfers());
    }

    @Test
    void dmaOutsideGuestMemoryOrAWriteSetsTheErrorBitAndCopiesNothing() {
        assertEquals(FwCfg.DMA_ERROR, dma(0x1000, (0x20 << 16) | FwCfg.DMA_SELECT | FwCfg.DMA_READ, 5, (1 << 20) - 2));
        assertEquals(FwCfg.DMA_ERROR, dma(0x1000, FwCfg.DMA_READ, -1, 0x2000), "a 4 GiB read does not fit");
        assertEquals(FwCfg.DMA_ERROR, dma(0x1000, (0x21 << 16) | FwCfg.DMA_SELECT | FwCfg.DMA_WRITE, 4, 0x2000));
        assertEquals(FwCfg.DMA_ERROR, dma(0x1000, FwCfg.DMA_READ, 1, -8L), "an address that wraps");
        long failed = cfg.failedTransfers();
        // The access structure itself outside memory: nothing to read, nowhere to write the status.
        cfg.write(FwCfg.DMA_HIGH, 4, Integer.reverseBytes(0x7fff_ffff));
        cfg.write(FwCfg.DMA_LOW, 4, 0);
        assertEquals(failed + 1, cfg.failedTransfers());
        assertEquals(0, cfg.state().dmaAddress(), "the latch clears after each transfer");
    }

    @Test
    void aDmaWithNoOperationSelectsOnly() {
        assertEquals(0, dma(0x1000, (FwCfg.NB_CPUS << 16) | FwCfg.DMA_SELECT, 100, 0x2000));
        assertEquals(FwCfg.NB_CPUS, cfg.state().selector());
        assertEquals(2, cfg.read(FwCfg.DATA, 1));
    }

    @Test
    void reservedKeysAndBadFileNamesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> FwCfg.builder().u16(FwCfg.SIGNATURE, 1));
        assertThrows(IllegalArgumentException.class, () -> FwCfg.builder().u16(FwCfg.FILE_DIR, 1));
        assertThrows(IllegalArgumentException.class, () -> FwCfg.builder().u16(0x20, 1));
        assertThrows(IllegalArgumentException.class, () -> FwCfg.builder().file("x".repeat(56), new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> FwCfg.builder().file("a", new byte[0]).file("a", new byte[0]));
    }

    private static long be(byte[] b, int at, int n) {
        long v = 0;
        for (int i = 0; i < n; i++) {
            v = (v << 8) | (b[at + i] & 0xff);
        }
        return v;
    }
}
