package vessel.boot;

import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;

import org.junit.jupiter.api.Test;

import vessel.memory.GuestMemory;
import vessel.testkit.TestGuests;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MultibootLoaderTest {
    @Test
    void loadsKernelModulesAndInformation() throws Exception {
        byte[] image = Files.readAllBytes(TestGuests.get("multiboot.elf"));
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = TestMemory.of(arena, 16L << 20);
            byte[] mod = "module text\n".getBytes(StandardCharsets.US_ASCII);
            BootEntry entry = MultibootLoader.load(mem, image, "k", "k hello",
                    List.of(new MultibootLoader.Module(mod, "initrd.txt")));
            assertEquals(EntryMode.PROTECTED, entry.mode());
            assertEquals(MultibootLoader.BOOTLOADER_MAGIC, entry.rax());
            long info = entry.rbx();
            int flags = mem.readInt(info);
            assertEquals(0x24d, flags, "mem, cmdline, mods, mmap, loader name");
            assertEquals(639, mem.readInt(info + 4), "mem_lower in KiB up to the EBDA");
            assertEquals((16 << 10) - 1024, mem.readInt(info + 8), "mem_upper: RAM above 1 MiB in KiB");
            assertEquals("k hello", TestMemory.cString(mem, mem.readInt(info + 16) & 0xffffffffL));
            assertEquals(1, mem.readInt(info + 20));
            long mods = mem.readInt(info + 24) & 0xffffffffL;
            long start = mem.readInt(mods) & 0xffffffffL;
            long end = mem.readInt(mods + 4) & 0xffffffffL;
            assertEquals(0, start % 4096, "modules are page-aligned");
            assertEquals(mod.length, end - start);
            assertEquals("module text\n", new String(mem.read(start, mod.length), StandardCharsets.US_ASCII));
            assertEquals("initrd.txt", TestMemory.cString(mem, mem.readInt(mods + 8) & 0xffffffffL));
            int mmapLength = mem.readInt(info + 44);
            assertEquals(0, mmapLength % 24);
            long mmap = mem.readInt(info + 48) & 0xffffffffL;
            assertEquals(20, mem.readInt(mmap), "entry size field");
            assertEquals(1, mem.readInt(mmap + 20), "first entry is RAM");
            assertTrue(start >= ElfFile.parse(image, "k").physEnd(), "modules go after the kernel");
        }
    }

    @Test
    void aKernelLinkedLowLoadsThereAndItsInformationGoesAfterIt() throws Exception {
        byte[] image = Files.readAllBytes(TestGuests.get("multiboot-low.elf"));
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = TestMemory.of(arena, 16L << 20);
            BootEntry entry = MultibootLoader.load(mem, image, "k", "k", List.of());
            ElfFile elf = ElfFile.parse(image, "k");
            assertEquals(0x8000, elf.segments().getFirst().physAddr(), "the test kernel is linked at 0x8000");
            ElfFile.LoadSegment text = elf.segments().getFirst();
            assertEquals(-1, java.util.Arrays.mismatch(
                    java.util.Arrays.copyOfRange(image, (int) text.fileOffset(), (int) (text.fileOffset() + text.fileSize())),
                    mem.read(text.physAddr(), (int) text.fileSize())), "the segment's bytes are at 0x8000");
            assertTrue(entry.rbx() >= elf.physEnd(), "the information lies after the kernel, not over it");
        }
    }

    @Test
    void aSegmentOverTheEntrysGdtIsRefusedNamingBothRanges() throws Exception {
        byte[] image = Files.readAllBytes(TestGuests.get("multiboot-low.elf"));
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(image).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int phdr = b.getInt(28); // e_phoff; the first program header is the text segment
        b.putInt(phdr + 8, 0x400).putInt(phdr + 12, 0x400); // p_vaddr, p_paddr: over 0x500
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = TestMemory.of(arena, 16L << 20);
            ImageException e = assertThrows(ImageException.class, () -> MultibootLoader.load(mem, image, "k", "", List.of()));
            assertTrue(e.getMessage().contains("ELF segment at 0x400-0x9f0 (1520 bytes) overlaps the GDT of the multiboot "
                    + "entry at 0x500-0x518 (24 bytes)"), e.getMessage());
        }
    }

    @Test
    void kernelThatDoesNotFitInRamIsRefused() throws Exception {
        byte[] image = Files.readAllBytes(TestGuests.get("multiboot.elf"));
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = TestMemory.of(arena, 1L << 20); // the kernel links at 1 MiB
            ImageException e = assertThrows(ImageException.class,
                    () -> MultibootLoader.load(mem, image, "k", "", List.of()));
            assertTrue(e.getMessage().contains("does not fit"), e.getMessage());
        }
    }

    @Test
    void requiredFeaturesVesselLacksAreRefused() {
        byte[] image = new byte[64];
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(image).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int flags = 0x4; // video mode required
        b.putInt(0, MultibootLoader.HEADER_MAGIC).putInt(4, flags).putInt(8, -(MultibootLoader.HEADER_MAGIC + flags));
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = TestMemory.of(arena, 4L << 20);
            assertThrows(ImageException.class, () -> MultibootLoader.load(mem, image, "k", "", List.of()));
        }
    }

    @Test
    void formatsAreRecognized() throws Exception {
        assertEquals(KernelLoader.Format.MULTIBOOT,
                KernelLoader.detect(Files.readAllBytes(TestGuests.get("multiboot.elf"))));
        assertEquals(KernelLoader.Format.UNKNOWN, KernelLoader.detect(Files.readAllBytes(TestGuests.get("long.bin"))));
        byte[] bz = new byte[0x300];
        bz[0x202] = 'H';
        bz[0x203] = 'd';
        bz[0x204] = 'r';
        bz[0x205] = 'S';
        assertEquals(KernelLoader.Format.LINUX_BZIMAGE, KernelLoader.detect(bz));
    }

    @Test
    void flatBinariesMustFitTheirMode() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = TestMemory.of(arena, 2L << 20);
            byte[] big = new byte[0x90000];
            assertThrows(ImageException.class, () -> FlatLoader.load(mem, big, "b", EntryMode.REAL));
            assertEquals(GuestLayout.FLAT_LOAD_ADDRESS, FlatLoader.load(mem, big, "b", EntryMode.LONG).rip());
            assertThrows(ImageException.class, () -> FlatLoader.load(mem, new byte[0], "e", EntryMode.LONG));
            ImageException e = assertThrows(ImageException.class,
                    () -> KernelLoader.load(mem, new KernelLoader.BootRequest("just text\n".getBytes(), "t", null, "", List.of(), null, 0)));
            assertTrue(e.getMessage().contains("--entry"), e.getMessage());
        }
    }
}
