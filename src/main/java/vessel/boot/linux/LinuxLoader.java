package vessel.boot.linux;

import java.nio.charset.StandardCharsets;

import vessel.boot.BootEntry;
import vessel.boot.ElfFile;
import vessel.boot.EntryMode;
import vessel.boot.GuestLayout;
import vessel.boot.ImageException;
import vessel.memory.GuestMemory;

/**
 * Loads a Linux kernel for a 64-bit boot-protocol entry: long mode with paging on, the GDT holding
 * __BOOT_CS (0x10) and __BOOT_DS (0x18), interrupts off, RSI = boot_params. Two ways in:
 * <ul>
 * <li>{@link #loadElf}: an x86-64 vmlinux ELF (given as is, or decompressed by Vessel from a bzImage),
 *     its segments placed at their physical addresses and entered at its entry point;</li>
 * <li>{@link #loadForGuestDecompression}: the bzImage's protected-mode part placed at its preferred
 *     address and entered at the 64-bit entry 0x200 into it, so the kernel's own decompressor runs.</li>
 * </ul>
 */
public final class LinuxLoader {
    /** boot_params; just above the identity-map page tables (0x1000-0x6fff). */
    public static final long ZERO_PAGE = 0x7000;
    /** The command line, well clear of the zero page, GDT and stack. */
    public static final long CMDLINE = 0x20000;
    public static final long CMDLINE_LIMIT = 0x10000;
    public static final int BOOT_CS = 0x10;
    public static final int BOOT_DS = 0x18;
    /** The 64-bit entry of a bzImage's decompressor, from the start of its protected-mode code. */
    static final long STARTUP_64_OFFSET = 0x200;

    /** Everything besides the kernel that goes into boot_params. */
    public record BootExtras(String cmdline, byte[] initrd, long acpiRsdp, ScreenInfo screen) {
        public BootExtras {
            cmdline = cmdline == null ? "" : cmdline;
            initrd = initrd == null ? new byte[0] : initrd;
        }

        /** Without a framebuffer. */
        public BootExtras(String cmdline, byte[] initrd, long acpiRsdp) {
            this(cmdline, initrd, acpiRsdp, null);
        }
    }

    private LinuxLoader() {}

    /**
     * Loads an x86-64 vmlinux. {@code header} is the bzImage's setup header when the ELF came out of
     * one (its fields go to boot_params), or null for a bare vmlinux.
     */
    public static BootEntry loadElf(GuestMemory memory, byte[] vmlinux, SetupHeader header, String name,
                                    BootExtras extras) throws ImageException {
        ElfFile elf = ElfFile.parse(vmlinux, name);
        if (elf.elfClass() != ElfFile.CLASS_64 || elf.machine() != ElfFile.MACHINE_X86_64) {
            throw new ImageException(name + ": the kernel is not an x86-64 ELF (class " + elf.elfClass()
                    + ", machine " + elf.machine() + ")");
        }
        for (ElfFile.LoadSegment s : elf.segments()) {
            place(memory, s.physAddr(), s.memSize(), name, "kernel segment");
        }
        for (ElfFile.LoadSegment s : elf.segments()) {
            memory.write(s.physAddr(), vmlinux, (int) s.fileOffset(), (int) s.fileSize());
            // Only the part the file does not cover (.bss): zeroing all of it first touched every page of
            // the kernel twice, 50 MiB of it for Debian's.
            memory.fill(s.physAddr() + s.fileSize(), s.memSize() - s.fileSize(), (byte) 0);
        }
        long entry = physicalEntry(elf, name);
        long zeroPage = writeBootParams(memory, header, elf.physEnd(), name, extras);
        return new BootEntry(EntryMode.LONG, entry, GuestLayout.STACK_TOP, 0, 0, zeroPage, BOOT_CS, BOOT_DS);
    }

    /** Loads a bzImage so that its own decompressor runs in the guest. */
    public static BootEntry loadForGuestDecompression(GuestMemory memory, byte[] bzImage, SetupHeader header,
                                                      String name, BootExtras extras) throws ImageException {
        if ((header.xloadflags() & SetupHeader.XLF_KERNEL_64) == 0) {
            throw new ImageException(name + ": kernel has no 64-bit entry point (boot protocol 2.12+ with XLF_KERNEL_64)");
        }
        long load = header.prefAddress();
        if (header.relocatable() && load % header.kernelAlignment() != 0) {
            load = (load + header.kernelAlignment() - 1) / header.kernelAlignment() * header.kernelAlignment();
        }
        long size = bzImage.length - header.protectedModeOffset();
        // init_size is what the kernel needs from its load address while decompressing and booting.
        long footprint = Math.max(size, header.initSize());
        place(memory, load, footprint, name, "kernel (with its decompression space)");
        memory.write(load, bzImage, (int) header.protectedModeOffset(), (int) size);
        long zeroPage = writeBootParams(memory, header, load + footprint, name, extras);
        return new BootEntry(EntryMode.LONG, load + STARTUP_64_OFFSET, GuestLayout.STACK_TOP, 0, 0, zeroPage,
                BOOT_CS, BOOT_DS);
    }

    /** Writes the command line, the initrd (high, below initrd_addr_max) and boot_params; returns boot_params' address. */
    static long writeBootParams(GuestMemory memory, SetupHeader header, long kernelEnd, String name, BootExtras extras)
            throws ImageException {
        byte[] cmd = extras.cmdline().getBytes(StandardCharsets.UTF_8);
        long max = header != null ? Math.min(header.cmdlineSize(), CMDLINE_LIMIT - 1) : 2047;
        if (cmd.length > max) {
            throw new ImageException("kernel command line is " + cmd.length + " bytes; " + name + " accepts at most " + max);
        }
        memory.fill(CMDLINE, cmd.length + 1L, (byte) 0);
        memory.write(CMDLINE, cmd);

        ScreenInfo screen = extras.screen();
        // The framebuffer is reserved in e820, as firmware reserves what it hands the OS, so nothing else is placed there.
        BootParams params = new BootParams(header).cmdline(CMDLINE).e820(GuestLayout.memoryMap(memory, screen == null
                        ? java.util.List.of()
                        : java.util.List.of(new GuestLayout.MemoryMapEntry(screen.base(), (screen.size() + 0xfff) & ~0xfffL,
                                GuestLayout.MemoryMapEntry.Type.RESERVED))))
                .acpiRsdp(extras.acpiRsdp());
        if (screen != null) {
            params.screenInfo(screen);
        }
        byte[] initrd = extras.initrd();
        if (initrd.length > 0) {
            long addrMax = header != null ? header.initrdAddrMax() : 0x7fff_ffffL;
            long top = Math.min(Math.min(memory.regions().getFirst().guestEnd(), GuestLayout.MMIO_HOLE_START), addrMax + 1);
            long at = (top - initrd.length) & ~0xfffL;
            if (at < kernelEnd || !memory.contains(at, initrd.length)) {
                throw new ImageException("initrd (" + initrd.length + " bytes) does not fit in guest RAM above the kernel"
                        + " (ends at 0x" + Long.toHexString(kernelEnd) + "); give more --memory");
            }
            memory.write(at, initrd);
            params.initrd(at, initrd.length);
        }
        params.write(memory, ZERO_PAGE);
        return ZERO_PAGE;
    }

    /** The ELF entry as a physical address (vmlinux's entry is physical; translate if a linker made it virtual). */
    private static long physicalEntry(ElfFile elf, String name) throws ImageException {
        long entry = elf.entry();
        for (ElfFile.LoadSegment s : elf.segments()) {
            if (entry >= s.physAddr() && entry < s.physAddr() + s.memSize()) {
                return entry;
            }
        }
        for (ElfFile.LoadSegment s : elf.segments()) {
            if (Long.compareUnsigned(entry, s.virtAddr()) >= 0 && Long.compareUnsigned(entry - s.virtAddr(), s.memSize()) < 0) {
                return s.physAddr() + (entry - s.virtAddr());
            }
        }
        throw new ImageException(name + ": ELF entry point 0x" + Long.toHexString(entry) + " is in no loaded segment");
    }

    private static void place(GuestMemory memory, long addr, long len, String name, String what) throws ImageException {
        if (addr < GuestLayout.HIGH_MEMORY || !memory.contains(addr, len)) {
            throw new ImageException(name + ": " + what + " at 0x" + Long.toHexString(addr) + " (" + len
                    + " bytes) does not fit in guest RAM; give more --memory");
        }
    }
}
