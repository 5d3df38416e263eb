package vessel.boot.firmware;

import org.junit.jupiter.api.Test;

import vessel.boot.ImageException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FirmwareImageTest {
    @Test
    void aRomEndsAt4GibAndItsLast128KibEndAt1Mib() throws ImageException {
        FirmwareImage bios = FirmwareImage.of(new byte[256 << 10], "bios-256k.bin");
        assertEquals(0xfffc_0000L, bios.base());
        assertEquals(0xe0000, bios.isaBiosBase());
        FirmwareImage small = FirmwareImage.of(new byte[64 << 10], "small.bin");
        assertEquals(0xf0000, small.isaBiosBase(), "a 64 KiB ROM shows only in the F segment");
    }

    @Test
    void wrongSizesAreOneLineNamingTheFile() {
        ImageException odd = assertThrows(ImageException.class, () -> FirmwareImage.of(new byte[1000], "x.bin"));
        assertTrue(odd.getMessage().startsWith("firmware x.bin is 1000 bytes, not a whole number of 64 KiB"), odd.getMessage());
        ImageException big = assertThrows(ImageException.class, () -> FirmwareImage.of(new byte[(16 << 20) + (64 << 10)], "big.bin"));
        assertTrue(big.getMessage().contains("more than the 16 MiB"), big.getMessage());
        assertThrows(ImageException.class, () -> FirmwareImage.of(new byte[0], "empty.bin"));
        assertTrue(!odd.getMessage().contains("\n"));
    }
}
