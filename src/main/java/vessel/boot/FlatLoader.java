package vessel.boot;

import vessel.memory.GuestMemory;

/** Loads a raw binary at {@link GuestLayout#FLAT_LOAD_ADDRESS} and enters it there in the chosen mode. */
public final class FlatLoader {
    private FlatLoader() {}

    public static BootEntry load(GuestMemory memory, byte[] image, String name, EntryMode mode) throws ImageException {
        if (image.length == 0) {
            throw new ImageException(name + ": file is empty");
        }
        long start = GuestLayout.FLAT_LOAD_ADDRESS;
        // Real mode reaches only the first MiB, and must stay clear of the legacy hole above 640 KiB.
        long limit = mode == EntryMode.REAL ? GuestLayout.EBDA_START : memory.regions().getFirst().guestEnd();
        if (image.length > limit - start) {
            throw new ImageException(name + ": " + image.length + " bytes do not fit between 0x"
                    + Long.toHexString(start) + " and 0x" + Long.toHexString(limit)
                    + (mode == EntryMode.REAL ? " (real mode)" : " (guest RAM; give more --memory)"));
        }
        memory.write(start, image);
        return BootEntry.at(mode, start);
    }
}
