package vessel.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

import vessel.testkit.TestGuests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ElfFileTest {
    @Test
    void parsesTheProjectsMultibootKernel() throws Exception {
        byte[] image = Files.readAllBytes(TestGuests.get("multiboot.elf"));
        ElfFile elf = ElfFile.parse(image, "multiboot.elf");
        assertEquals(ElfFile.CLASS_32, elf.elfClass());
        assertEquals(ElfFile.MACHINE_386, elf.machine());
        assertFalse(elf.segments().isEmpty());
        assertTrue(elf.segments().stream().allMatch(s -> s.physAddr() >= 0x100000));
    }

    @Test
    void truncatedFilesAreRejectedWithAReason() throws Exception {
        byte[] image = Files.readAllBytes(TestGuests.get("multiboot.elf"));
        for (int len : new int[] {3, 40, 60, 200}) {
            byte[] cut = Arrays.copyOf(image, len);
            ImageException e = assertThrows(ImageException.class, () -> ElfFile.parse(cut, "k"));
            assertTrue(e.getMessage().startsWith("k: "), e.getMessage());
        }
    }

    @Test
    void segmentsPointingPastTheFileAreRejected() throws Exception {
        byte[] image = Files.readAllBytes(TestGuests.get("multiboot.elf"));
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int phoff = b.getInt(28);
        b.putInt(phoff + 16, Integer.MAX_VALUE); // p_filesz of the first program header
        ImageException e = assertThrows(ImageException.class, () -> ElfFile.parse(image, "k"));
        assertTrue(e.getMessage().contains("outside the file"), e.getMessage());
    }

    @Test
    void notElfAtAll() {
        assertThrows(ImageException.class, () -> ElfFile.parse("hello world, not an ELF file at all......................".getBytes(), "k"));
    }
}
