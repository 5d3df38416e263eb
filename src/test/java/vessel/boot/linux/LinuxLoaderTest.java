package vessel.boot.linux;

import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

import vessel.boot.BootEntry;
import vessel.boot.EntryMode;
import vessel.boot.ImageException;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LinuxLoaderTest {
    @Test
    void vmlinuxIsPlacedAtItsPhysicalAddressWithBootParams() throws Exception {
        byte[] code = {(byte) 0xf4, 1, 2, 3};
        byte[] elf = SyntheticKernels.vmlinux(code, 0x1000, SyntheticKernels.PHYS);
        byte[] initrd = "initramfs bytes".getBytes(StandardCharsets.US_ASCII);
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = TestMemory.of(arena, 64L << 20);
            mem.fill(SyntheticKernels.PHYS + code.length, 16, (byte) 0x55); // stale bytes where bss goes
            BootEntry e = LinuxLoader.loadElf(mem, elf, null, "vmlinux",
                    new LinuxLoader.BootExtras("console=ttyS0 quiet", initrd, 0xe0000));
            assertEquals(EntryMode.LONG, e.mode());
            assertEquals(SyntheticKernels.PHYS, e.rip());
            assertEquals(LinuxLoader.ZERO_PAGE, e.rsi());
            assertEquals(0x10, e.codeSelector());
            assertEquals(0x18, e.dataSelector());
            assertArrayEquals(code, mem.read(SyntheticKernels.PHYS, code.length));
            assertEquals(0, mem.readLong(SyntheticKernels.PHYS + code.length), "bss zeroed");

            long zp = LinuxLoader.ZERO_PAGE;
            assertEquals((short) 0xaa55, mem.readShort(zp + 0x1fe));
            assertEquals(0x53726448, mem.readInt(zp + 0x202));
            assertEquals((byte) 0xff, mem.readByte(zp + 0x210), "type_of_loader");
            assertEquals("console=ttyS0 quiet", TestMemory.cString(mem, mem.readInt(zp + 0x228)));
            assertEquals(0xe0000, mem.readLong(zp + 0x70), "acpi_rsdp_addr");
            long rd = mem.readInt(zp + 0x218) & 0xffffffffL;
            assertEquals(initrd.length, mem.readInt(zp + 0x21c));
            assertEquals(0, rd % 4096);
            assertTrue(rd + initrd.length <= 64L << 20 && rd > SyntheticKernels.PHYS, "initrd placed high");
            assertArrayEquals(initrd, mem.read(rd, initrd.length));
            int entries = mem.readByte(zp + 0x1e8);
            assertTrue(entries >= 3, "e820 entries: " + entries);
            assertEquals(0, mem.readLong(zp + 0x2d0), "first e820 entry starts at 0");
            assertEquals(1, mem.readInt(zp + 0x2d0 + 16), "and is RAM");
        }
    }

    @Test
    void aVirtualEntryPointIsTranslated() throws Exception {
        byte[] elf = SyntheticKernels.vmlinux(new byte[64], 0, SyntheticKernels.VIRT + 0x20);
        try (Arena arena = Arena.ofConfined()) {
            BootEntry e = LinuxLoader.loadElf(TestMemory.of(arena, 32L << 20), elf, null, "v", new LinuxLoader.BootExtras("", null, 0));
            assertEquals(SyntheticKernels.PHYS + 0x20, e.rip());
        }
    }

    @Test
    void setupHeaderFieldsAreReadAndCopied() throws Exception {
        byte[] bz = SyntheticKernels.bzImage(new byte[4096], 0x020f, SetupHeader.XLF_KERNEL_64);
        SetupHeader h = SetupHeader.parse(bz, "bz");
        assertEquals(1, h.setupSects());
        assertEquals(1024, h.protectedModeOffset());
        assertEquals(0x020f, h.version());
        assertEquals(2047, h.cmdlineSize());
        assertEquals(0x1000000, h.prefAddress());
        assertEquals(0x268 - 0x1f1, h.raw().length);
    }

    @Test
    void guestDecompressionPathEntersTheSixtyFourBitEntry() throws Exception {
        byte[] payload = new byte[8192];
        Arrays.fill(payload, (byte) 0x90);
        byte[] bz = SyntheticKernels.bzImage(payload, 0x020f, SetupHeader.XLF_KERNEL_64);
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = TestMemory.of(arena, 64L << 20);
            BootEntry e = LinuxLoader.loadForGuestDecompression(mem, bz, SetupHeader.parse(bz, "bz"), "bz",
                    new LinuxLoader.BootExtras("x", null, 0));
            assertEquals(0x1000000 + 0x200, e.rip());
            assertArrayEquals(payload, mem.read(0x1000000, payload.length));
            assertEquals(1, mem.readByte(LinuxLoader.ZERO_PAGE + 0x1f1), "setup header copied");
            assertEquals(0x020f, mem.readShort(LinuxLoader.ZERO_PAGE + 0x206));
        }
    }

    @Test
    void malformedKernelsAreRejectedBeforeAnyGuestRuns() throws Exception {
        byte[] bz = SyntheticKernels.bzImage(new byte[512], 0x020f, SetupHeader.XLF_KERNEL_64);
        assertThrows(ImageException.class, () -> SetupHeader.parse(Arrays.copyOf(bz, 0x200), "short"));
        assertThrows(ImageException.class, () -> SetupHeader.parse(Arrays.copyOf(bz, 1024), "no kernel after setup"));
        assertThrows(ImageException.class,
                () -> SetupHeader.parse(SyntheticKernels.bzImage(new byte[512], 0x0205, 0), "old"));
        byte[] noMagic = bz.clone();
        noMagic[0x202] = 'X';
        assertThrows(ImageException.class, () -> SetupHeader.parse(noMagic, "nomagic"));
        byte[] bz32 = SyntheticKernels.bzImage(new byte[512], 0x020f, 0);
        try (Arena arena = Arena.ofConfined()) {
            ImageException e = assertThrows(ImageException.class, () -> LinuxLoader.loadForGuestDecompression(
                    TestMemory.of(arena, 64L << 20), bz32, SetupHeader.parse(bz32, "bz32"), "bz32", new LinuxLoader.BootExtras("", null, 0)));
            assertTrue(e.getMessage().contains("64-bit"), e.getMessage());
            byte[] elf32 = Arrays.copyOf(SyntheticKernels.vmlinux(new byte[16], 0, SyntheticKernels.PHYS), 0x1010);
            elf32[18] = 3; // EM_386
            assertThrows(ImageException.class, () -> LinuxLoader.loadElf(TestMemory.of(arena, 64L << 20), elf32, null, "e",
                    new LinuxLoader.BootExtras("", null, 0)));
        }
    }

    @Test
    void tooLittleMemoryAndTooLongCommandLinesAreClearErrors() throws Exception {
        byte[] elf = SyntheticKernels.vmlinux(new byte[64], 0, SyntheticKernels.PHYS);
        try (Arena arena = Arena.ofConfined()) {
            ImageException small = assertThrows(ImageException.class, () -> LinuxLoader.loadElf(TestMemory.of(arena, 8L << 20),
                    elf, null, "v", new LinuxLoader.BootExtras("", null, 0)));
            assertTrue(small.getMessage().contains("--memory"), small.getMessage());
            ImageException initrd = assertThrows(ImageException.class, () -> LinuxLoader.loadElf(TestMemory.of(arena, 20L << 20),
                    elf, null, "v", new LinuxLoader.BootExtras("", new byte[8 << 20], 0)));
            assertTrue(initrd.getMessage().contains("initrd"), initrd.getMessage());
            ImageException cmd = assertThrows(ImageException.class, () -> LinuxLoader.loadElf(TestMemory.of(arena, 32L << 20),
                    elf, null, "v", new LinuxLoader.BootExtras("x".repeat(5000), null, 0)));
            assertTrue(cmd.getMessage().contains("command line"), cmd.getMessage());
        }
    }
}
