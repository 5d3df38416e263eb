package vessel.boot;

import java.nio.charset.StandardCharsets;
import java.util.List;

import vessel.memory.GuestMemory;

/** Recognizes a kernel image's format and hands it to the loader for that format. */
public final class KernelLoader {
    /** What kind of image a file is. */
    public enum Format { FLAT, MULTIBOOT, ELF_OTHER, LINUX_BZIMAGE, UNKNOWN }

    private KernelLoader() {}

    public static Format detect(byte[] image) {
        if (MultibootLoader.findHeader(image).isPresent()) {
            return Format.MULTIBOOT;
        }
        if (ElfFile.isElf(image)) {
            return Format.ELF_OTHER;
        }
        if (image.length > 0x206 && image[0x202] == 'H' && image[0x203] == 'd' && image[0x204] == 'r'
                && image[0x205] == 'S') {
            return Format.LINUX_BZIMAGE;
        }
        return Format.UNKNOWN;
    }

    /**
     * Loads {@code image}: as a flat binary when {@code flatMode} is given, otherwise by its format.
     * {@code initrds} become multiboot modules.
     */
    public static BootEntry load(GuestMemory memory, byte[] image, String name, EntryMode flatMode, String cmdline,
                                 List<MultibootLoader.Module> initrds) throws ImageException {
        if (flatMode != null) {
            return FlatLoader.load(memory, image, name, flatMode);
        }
        return switch (detect(image)) {
            case MULTIBOOT -> MultibootLoader.load(memory, image, name, name + (cmdline.isEmpty() ? "" : " " + cmdline), initrds);
            case LINUX_BZIMAGE, ELF_OTHER -> throw new ImageException(name
                    + ": Linux kernels (bzImage, vmlinux) are not supported by this version yet");
            case FLAT, UNKNOWN -> throw new ImageException(name + ": not a multiboot or Linux kernel"
                    + (looksLikeText(image) ? " (it looks like a text file)" : "")
                    + "; to run it as a flat binary give --entry real|protected|long");
        };
    }

    private static boolean looksLikeText(byte[] image) {
        int n = Math.min(image.length, 512);
        if (n == 0) {
            return false;
        }
        String head = new String(image, 0, n, StandardCharsets.ISO_8859_1);
        return head.chars().allMatch(c -> c == '\n' || c == '\r' || c == '\t' || (c >= 0x20 && c < 0x7f));
    }
}
