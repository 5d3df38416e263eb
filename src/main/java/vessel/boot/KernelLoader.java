package vessel.boot;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import vessel.boot.linux.DecompressedKernel;
import vessel.boot.linux.BackgroundDecompression;
import vessel.boot.linux.LinuxLoader;
import vessel.boot.linux.ScreenInfo;
import vessel.boot.linux.SetupHeader;
import vessel.memory.GuestMemory;

/** Recognizes a kernel image's format and hands it to the loader for that format. */
public final class KernelLoader {
    /** What kind of image a file is. */
    public enum Format { MULTIBOOT, LINUX_BZIMAGE, LINUX_VMLINUX, ELF_OTHER, UNKNOWN }

    /** The command line a Linux kernel gets when none is given: a console, and a reboot that ends the VM. */
    public static final String DEFAULT_LINUX_CMDLINE = "console=ttyS0 reboot=k panic=-1";

    /**
     * What to boot and how.
     *
     * @param flatMode         run the image as a flat binary in this mode; null to go by its format
     * @param initrds          multiboot modules; for Linux, concatenated into one initramfs (cpio archives may be)
     * @param hostKernel  a bzImage's kernel as Vessel decompresses it ({@link #startHostDecompression}); null
     *                    to run the kernel's own decompressor in the guest
     * @param acpiRsdp    the RSDP's address for boot_params, or 0
     * @param screen      a linear framebuffer to describe to Linux (screen_info), or null
     */
    public record BootRequest(byte[] image, String name, EntryMode flatMode, String cmdline,
                              List<MultibootLoader.Module> initrds, BackgroundDecompression hostKernel, long acpiRsdp,
                              ScreenInfo screen) {
        /** Without a framebuffer. */
        public BootRequest(byte[] image, String name, EntryMode flatMode, String cmdline,
                           List<MultibootLoader.Module> initrds, BackgroundDecompression hostKernel, long acpiRsdp) {
            this(image, name, flatMode, cmdline, initrds, hostKernel, acpiRsdp, null);
        }
    }

    private KernelLoader() {}

    public static Format detect(byte[] image) {
        if (MultibootLoader.findHeader(image).isPresent()) {
            return Format.MULTIBOOT;
        }
        if (SetupHeader.looksLikeBzImage(image)) {
            return Format.LINUX_BZIMAGE;
        }
        if (ElfFile.isElf(image)) {
            return image.length > 19 && image[4] == ElfFile.CLASS_64 && image[18] == ElfFile.MACHINE_X86_64
                    ? Format.LINUX_VMLINUX : Format.ELF_OTHER;
        }
        return Format.UNKNOWN;
    }

    /** True for the formats booted through the Linux boot protocol (they get ACPI, probes and a Linux cmdline). */
    public static boolean isLinux(byte[] image) {
        Format f = detect(image);
        return f == Format.LINUX_BZIMAGE || f == Format.LINUX_VMLINUX;
    }

    /**
     * Starts decompressing {@code image}'s kernel on the host if it is a bzImage booted as Linux, so the work
     * overlaps the VM's assembly; null for every other image.
     */
    public static BackgroundDecompression startHostDecompression(byte[] image, String name, EntryMode flatMode) {
        return flatMode == null && detect(image) == Format.LINUX_BZIMAGE ? BackgroundDecompression.start(image, name) : null;
    }

    public static BootEntry load(GuestMemory memory, BootRequest r) throws ImageException {
        if (r.flatMode() != null) {
            return FlatLoader.load(memory, r.image(), r.name(), r.flatMode());
        }
        return switch (detect(r.image())) {
            case MULTIBOOT -> MultibootLoader.load(memory, r.image(), r.name(),
                    r.name() + (r.cmdline().isEmpty() ? "" : " " + r.cmdline()), r.initrds());
            case LINUX_BZIMAGE -> {
                SetupHeader header = SetupHeader.parse(r.image(), r.name());
                LinuxLoader.BootExtras extras = linuxExtras(r);
                if (r.hostKernel() == null) {
                    yield LinuxLoader.loadForGuestDecompression(memory, r.image(), header, r.name(), extras);
                }
                DecompressedKernel kernel = r.hostKernel().await();
                yield LinuxLoader.loadElf(memory, kernel.vmlinux(), header, r.name(), extras);
            }
            case LINUX_VMLINUX -> LinuxLoader.loadElf(memory, r.image(), null, r.name(), linuxExtras(r));
            case ELF_OTHER -> throw new ImageException(r.name()
                    + ": an ELF file that is neither a multiboot kernel nor an x86-64 Linux kernel");
            case UNKNOWN -> throw new ImageException(r.name() + ": not a Linux or multiboot kernel"
                    + (looksLikeText(r.image()) ? " (it looks like a text file)" : "")
                    + "; to run it as a flat binary give --entry real|protected|long");
        };
    }

    private static LinuxLoader.BootExtras linuxExtras(BootRequest r) {
        ByteArrayOutputStream initramfs = new ByteArrayOutputStream();
        for (MultibootLoader.Module m : r.initrds()) {
            initramfs.writeBytes(m.data());
            while (initramfs.size() % 4 != 0) {
                initramfs.write(0); // the kernel reads concatenated archives at 4-byte boundaries
            }
        }
        return new LinuxLoader.BootExtras(r.cmdline(), initramfs.toByteArray(), r.acpiRsdp(), r.screen());
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
