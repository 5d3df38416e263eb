package vessel.devices.display;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vessel.devices.BusDevice;
import vessel.devices.pci.PciConfigSpace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BochsDisplayTest {
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment vram = arena.allocate(1 << 20, 4096);
    private long[] logged = new long[4];
    private final BochsDisplay dev = new BochsDisplay("bochs", vram, pages -> {
        for (int i = 0; i < pages.length && i < logged.length; i++) {
            pages[i] |= logged[i];
        }
        logged = new long[4];
        return true;
    });
    private final BusDevice regs = dev.barDevice(BochsDisplay.MMIO_BAR);

    @AfterEach
    void close() {
        arena.close();
    }

    private void dispi(int index, int value) {
        regs.write(BochsDisplay.DISPI + 2L * index, 2, value);
    }

    private int dispi(int index) {
        return (int) regs.read(BochsDisplay.DISPI + 2L * index, 2);
    }

    private void setMode(int x, int y, int bpp) {
        dispi(BochsDisplay.INDEX_ENABLE, 0);
        dispi(BochsDisplay.INDEX_BPP, bpp);
        dispi(BochsDisplay.INDEX_XRES, x);
        dispi(BochsDisplay.INDEX_YRES, y);
        dispi(BochsDisplay.INDEX_ENABLE, BochsDisplay.ENABLED | BochsDisplay.LFB_ENABLED);
    }

    @Test
    void pciIdentityAndBarsAreWhatLinuxsBochsDriverMatches() {
        PciConfigSpace c = dev.config();
        assertEquals(0x1234, c.read(PciConfigSpace.VENDOR_ID, 2));
        assertEquals(0x1111, c.read(PciConfigSpace.DEVICE_ID, 2));
        assertEquals(0x0380, c.read(0x0a, 2), "display controller, other");
        assertEquals(1 << 20, c.bar(0).size());
        assertTrue(c.bar(0).prefetchable());
        assertEquals(BochsDisplay.MMIO_SIZE, c.bar(2).size());
    }

    @Test
    void dispiAndExtendedRegistersReadAsQemusDo() {
        assertEquals(0xb0c5, dispi(BochsDisplay.INDEX_ID));
        assertEquals(16, dispi(BochsDisplay.INDEX_VIDEO_MEMORY_64K));
        assertEquals(8, regs.read(BochsDisplay.QEXT, 4));
        assertEquals(0x1e1e1e1e, regs.read(BochsDisplay.QEXT + 4, 4));
        dispi(BochsDisplay.INDEX_ENABLE, BochsDisplay.GETCAPS);
        assertEquals(DisplayMode.MAX_SIDE, dispi(BochsDisplay.INDEX_XRES));
        assertEquals(0, regs.read(0x7fc, 4), "unassigned offsets read zero");
    }

    @Test
    void aModeShowsTheVirtualScreenAndPanningMovesTheStart() {
        vram.set(ValueLayout.JAVA_INT, 0, 0x123456);
        setMode(320, 200, 32);
        assertEquals(DisplayMode.of(320, 200, 32), dev.mode());
        assertEquals(0, vram.get(ValueLayout.JAVA_INT, 0), "enabling clears the memory");
        assertEquals(0x41, dispi(BochsDisplay.INDEX_ENABLE));
        dispi(BochsDisplay.INDEX_VIRT_WIDTH, 400);
        dispi(BochsDisplay.INDEX_Y_OFFSET, 200); // double buffering: the second page
        assertEquals(1600, dev.mode().stride());
        assertEquals(vram.byteSize() - 200L * 1600, dev.framebuffer().byteSize());
        dispi(BochsDisplay.INDEX_Y_OFFSET, 600); // 600 + 200 lines of 1600 bytes do not fit 1 MiB
        assertEquals(200, dispi(BochsDisplay.INDEX_Y_OFFSET), "an offset past the memory is not taken");
        dispi(BochsDisplay.INDEX_XRES, 640);
        assertEquals(320, dispi(BochsDisplay.INDEX_XRES), "the mode cannot change while enabled");
        dispi(BochsDisplay.INDEX_ENABLE, 0);
        assertNull(dev.mode());
    }

    @Test
    void impossibleModesAreRefusedAndTheAdapterStaysOff() {
        int[][] modes = {{640, 480, 8}, {640, 480, 15}, {0, 480, 32}, {9000, 10, 32}, {1024, 768, 32} /* 3 MiB > 1 MiB */};
        for (int[] m : modes) {
            setMode(m[0], m[1], m[2]);
            assertEquals(0, dispi(BochsDisplay.INDEX_ENABLE), m[0] + "x" + m[1] + "x" + m[2]);
            assertNull(dev.mode());
        }
        setMode(512, 512, 32); // exactly 1 MiB
        assertEquals(DisplayMode.of(512, 512, 32), dev.mode());
    }

    @Test
    void dirtyPagesAreRelativeToTheShownStartAndANewModeSaysAll() {
        setMode(256, 64, 32); // 64 KiB a screen: 16 pages
        long[] pages = new long[1];
        assertFalse(dev.takeDirtyPages(pages), "a new mode: all of it");
        dispi(BochsDisplay.INDEX_Y_OFFSET, 64); // second screen starts at page 16
        assertFalse(dev.takeDirtyPages(pages), "panning is a new frame too");
        logged[0] = (1L << 16) | (1L << 20) | (1L << 3) | (1L << 40);
        pages[0] = 0;
        assertTrue(dev.takeDirtyPages(pages));
        assertEquals((1L << 0) | (1L << 4), pages[0], "pages 16 and 20 of video memory are 0 and 4 of the screen");
    }

    @Test
    void videoMemoryMustBeAPowerOfTwo() {
        assertThrows(IllegalArgumentException.class, () -> new BochsDisplay("x", arena.allocate(3 << 20), p -> false));
    }

    @Test
    void theFramebufferBarAnswersThroughExitsToo() {
        BusDevice fb = dev.barDevice(BochsDisplay.FRAMEBUFFER_BAR);
        fb.write(8, 4, 0xcafef00dL);
        assertEquals(0xcafef00dL, fb.read(8, 4));
        assertEquals(0xf00d, vram.get(ValueLayout.JAVA_SHORT, 8) & 0xffff);
    }
}
