package vessel.boot.firmware;

import vessel.boot.ImageException;

/**
 * A PC firmware ROM (SeaBIOS's {@code bios-256k.bin}, say), placed as a PC places it: the whole image
 * ends at 4 GiB, where the reset vector (0xFFFFFFF0) lies in its last 16 bytes, and its last 128 KiB
 * (all of it, if smaller) also appear below 1 MiB, ending at 0xFFFFF: the "ISA BIOS" window that
 * real-mode code runs from. The sizes are QEMU's rules: whole 64 KiB units, at most 16 MiB (the flash
 * window below 4 GiB).
 */
public record FirmwareImage(byte[] rom, String name) {
    public static final int UNIT = 64 << 10;
    public static final int MAX_SIZE = 16 << 20;
    public static final int ISA_BIOS_MAX = 128 << 10;
    public static final long FOUR_GIB = 1L << 32;
    public static final long ONE_MIB = 1L << 20;

    public FirmwareImage {
        rom = rom.clone();
    }

    /** Checks {@code rom}'s size; a wrong one is one line naming the file. */
    public static FirmwareImage of(byte[] rom, String name) throws ImageException {
        if (rom.length == 0) {
            throw new ImageException("firmware " + name + " is empty");
        }
        if (rom.length > MAX_SIZE) {
            throw new ImageException("firmware " + name + " is " + rom.length + " bytes, more than the 16 MiB a PC's"
                    + " flash window below 4 GiB holds");
        }
        if (rom.length % UNIT != 0) {
            throw new ImageException("firmware " + name + " is " + rom.length + " bytes, not a whole number of 64 KiB"
                    + " (a BIOS ROM image such as SeaBIOS's bios-256k.bin is)");
        }
        return new FirmwareImage(rom, name);
    }

    public int size() {
        return rom.length;
    }

    /** Where the image starts so that it ends at 4 GiB. */
    public long base() {
        return FOUR_GIB - rom.length;
    }

    /** Bytes of the image's tail that also appear below 1 MiB. */
    public int isaBiosSize() {
        return Math.min(rom.length, ISA_BIOS_MAX);
    }

    /** Where the ISA BIOS window starts (0xE0000 for a ROM of 128 KiB or more). */
    public long isaBiosBase() {
        return ONE_MIB - isaBiosSize();
    }

    @Override
    public byte[] rom() {
        return rom.clone();
    }
}
