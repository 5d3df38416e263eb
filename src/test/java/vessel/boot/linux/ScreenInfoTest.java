package vessel.boot.linux;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

import vessel.boot.GuestLayout;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;
import vessel.vmm.ConfigException;
import vessel.vmm.VmConfig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** screen_info as include/uapi/linux/screen_info.h lays it out, and the framebuffer reserved in e820. */
class ScreenInfoTest {
    private static ByteBuffer params(ScreenInfo s) {
        return ByteBuffer.wrap(new BootParams(null).screenInfo(s).bytes()).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void anEfiFramebufferIsDescribedAtTheKernelsOffsets() {
        ByteBuffer b = params(new ScreenInfo(0xe100_0000L, 1024 * 768 * 4, 1024, 768, 32, 4096, 16, 8, 8, 8, 0, 8));
        assertEquals(0x70, b.get(0x0f) & 0xff, "orig_video_isVGA = VIDEO_TYPE_EFI");
        assertEquals(1024, b.getShort(0x12));
        assertEquals(768, b.getShort(0x14));
        assertEquals(32, b.getShort(0x16));
        assertEquals(0xe100_0000, b.getInt(0x18));
        assertEquals(1024 * 768 * 4, b.getInt(0x1c));
        assertEquals(4096, b.getShort(0x24));
        // red_size, red_pos, green_size, green_pos, blue_size, blue_pos, rsvd_size, rsvd_pos
        byte[] colours = new byte[8];
        b.get(0x26, colours);
        assertEquals("8 16 8 8 8 0 0 0", join(colours));
        assertEquals(0, b.getInt(0x36), "no 64-bit base below 4 GiB");
    }

    @Test
    void aBaseAbove4GibSetsTheCapabilityAndTheHighHalf() {
        ByteBuffer b = params(new ScreenInfo(0x1_2000_0000L, 640 * 480 * 2, 640, 480, 16, 1280, 11, 5, 5, 6, 0, 5));
        assertEquals(2, b.getInt(0x36), "VIDEO_CAPABILITY_64BIT_BASE");
        assertEquals(1, b.getInt(0x3a), "ext_lfb_base");
        assertEquals(0x2000_0000, b.getInt(0x18));
    }

    @Test
    void theFramebufferIsReservedInE820() {
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = TestMemory.of(arena, 32L << 20);
            var map = GuestLayout.memoryMap(mem, java.util.List.of(new GuestLayout.MemoryMapEntry(GuestLayout.FRAMEBUFFER,
                    4L << 20, GuestLayout.MemoryMapEntry.Type.RESERVED)));
            assertTrue(map.contains(new GuestLayout.MemoryMapEntry(GuestLayout.FRAMEBUFFER, 4L << 20,
                    GuestLayout.MemoryMapEntry.Type.RESERVED)), map.toString());
            for (int i = 1; i < map.size(); i++) {
                assertTrue(map.get(i - 1).base() + map.get(i - 1).length() <= map.get(i).base(), "sorted, apart: " + map);
            }
        }
    }

    @Test
    void displayModesParseAndImpossibleOnesSayWhyInOneLine() throws ConfigException {
        assertEquals(1024, VmConfig.parseDisplayMode("1024x768x32").width());
        assertEquals(16, VmConfig.parseDisplayMode("800x600x16").bitsPerPixel());
        assertEquals(32, VmConfig.parseDisplayMode("640x480").bitsPerPixel());
        for (String bad : new String[] {"1024x768x8", "0x768x32", "99999x10x32", "axbxc", "1024", "1024x768x32x1", ""}) {
            ConfigException e = assertThrows(ConfigException.class, () -> VmConfig.parseDisplayMode(bad), bad);
            assertTrue(!e.getMessage().contains("\n") && e.getMessage().length() > 10, e.getMessage());
        }
    }

    private static String join(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(s.isEmpty() ? "" : " ").append(x);
        }
        return s.toString();
    }
}
