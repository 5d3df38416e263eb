package vessel.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;

import vessel.memory.GuestMemory;

/**
 * Multiboot v1, as QEMU's {@code -kernel} loads it: an ELF32 image (or one using the header's a.out
 * address fields) with a multiboot header in its first 8 KiB, entered in flat 32-bit protected mode with
 * EAX = 0x2BADB002 and EBX pointing at the multiboot information: memory sizes and map, the command
 * line, and the initrd files as modules. Modules and the information block go after the kernel.
 *
 * <p>The kernel owns all of RAM but what the multiboot information occupies, low memory included (a kernel
 * linked at 0x8000 loads as it does under QEMU). The one structure of Vessel's that a multiboot entry
 * needs below the kernel is the GDT its flat selectors index ({@link #ENTRY_GDT}); a segment over it is
 * refused, naming both ranges.
 */
public final class MultibootLoader {
    public static final int HEADER_MAGIC = 0x1BADB002;
    public static final int BOOTLOADER_MAGIC = 0x2BADB002;
    static final int SEARCH_BYTES = 8192;
    static final int FLAG_AOUT_KLUDGE = 1 << 16;
    /** Header flags bits 0-15 are requirements; a loader must refuse a kernel requiring one it lacks. */
    static final int SUPPORTED_REQUIREMENTS = 0x3; // page-aligned modules, memory information

    static final int INFO_MEMORY = 1;
    static final int INFO_CMDLINE = 1 << 2;
    static final int INFO_MODS = 1 << 3;
    static final int INFO_MMAP = 1 << 6;
    static final int INFO_LOADER_NAME = 1 << 9;
    static final int INFO_BYTES = 88;

    /** The GDT of the protected-mode entry (X86Cpu writes it after loading): null, code 0x08, data 0x10. */
    static final long ENTRY_GDT = GuestLayout.GDT;
    static final long ENTRY_GDT_BYTES = 24;

    /** A file given to the kernel as a module; {@code string} is what the kernel sees as its name. */
    public record Module(byte[] data, String string) { }

    private MultibootLoader() {}

    /** The offset of a valid multiboot header in the image's first 8 KiB, if it has one. */
    public static Optional<Integer> findHeader(byte[] image) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int limit = Math.min(image.length, SEARCH_BYTES) - 12;
        for (int off = 0; off <= limit; off += 4) {
            if (b.getInt(off) == HEADER_MAGIC && b.getInt(off) + b.getInt(off + 4) + b.getInt(off + 8) == 0) {
                return Optional.of(off);
            }
        }
        return Optional.empty();
    }

    public static BootEntry load(GuestMemory memory, byte[] image, String name, String cmdline, List<Module> modules)
            throws ImageException {
        int header = findHeader(image).orElseThrow(() -> new ImageException(name + ": no multiboot header"));
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int flags = b.getInt(header + 4);
        int unsupported = flags & 0xffff & ~SUPPORTED_REQUIREMENTS;
        if (unsupported != 0) {
            throw new ImageException(name + ": multiboot kernel requires features Vessel does not offer (flags 0x"
                    + Integer.toHexString(unsupported) + ", e.g. a video mode)");
        }
        long lowEnd = memory.regions().getFirst().guestEnd();
        long kernelEnd;
        long entry;
        if ((flags & FLAG_AOUT_KLUDGE) != 0) {
            if (image.length < header + 32) {
                throw new ImageException(name + ": multiboot header is truncated");
            }
            long headerAddr = u32(b, header + 12);
            long loadAddr = u32(b, header + 16);
            long loadEndAddr = u32(b, header + 20);
            long bssEndAddr = u32(b, header + 24);
            entry = u32(b, header + 28);
            long fileOffset = header - (headerAddr - loadAddr);
            if (loadAddr > headerAddr || fileOffset < 0 || fileOffset > image.length) {
                throw new ImageException(name + ": multiboot header addresses are inconsistent");
            }
            long loadSize = loadEndAddr == 0 ? image.length - fileOffset : loadEndAddr - loadAddr;
            if (loadSize < 0 || loadSize > image.length - fileOffset) {
                throw new ImageException(name + ": multiboot load range lies outside the file");
            }
            kernelEnd = Math.max(loadAddr + loadSize, bssEndAddr);
            place(memory, loadAddr, kernelEnd - loadAddr, name, "kernel");
            memory.fill(loadAddr, kernelEnd - loadAddr, (byte) 0);
            memory.write(loadAddr, image, (int) fileOffset, (int) loadSize);
        } else {
            ElfFile elf = ElfFile.parse(image, name);
            if (elf.elfClass() != ElfFile.CLASS_32 || elf.machine() != ElfFile.MACHINE_386) {
                throw new ImageException(name + ": a multiboot kernel must be a 32-bit x86 ELF file");
            }
            for (ElfFile.LoadSegment s : elf.segments()) {
                place(memory, s.physAddr(), s.memSize(), name, "ELF segment");
                memory.fill(s.physAddr(), s.memSize(), (byte) 0);
                memory.write(s.physAddr(), image, (int) s.fileOffset(), (int) s.fileSize());
            }
            kernelEnd = elf.physEnd();
            entry = elf.entry();
        }

        // Modules, each page-aligned, then one block for the information and everything it points to.
        long next = alignUp(kernelEnd);
        long[][] modRanges = new long[modules.size()][];
        for (int i = 0; i < modules.size(); i++) {
            byte[] data = modules.get(i).data();
            place(memory, next, Math.max(data.length, 1), name, "module " + modules.get(i).string());
            memory.write(next, data);
            modRanges[i] = new long[] {next, next + data.length};
            next = alignUp(next + data.length);
        }
        List<GuestLayout.MemoryMapEntry> map = GuestLayout.memoryMap(memory);
        String loaderName = "Vessel";
        byte[] cmd = (cmdline + "\0").getBytes(StandardCharsets.UTF_8);
        long infoSize = INFO_BYTES + 24L * map.size() + 16L * modules.size() + cmd.length + loaderName.length() + 1
                + modules.stream().mapToLong(m -> m.string().getBytes(StandardCharsets.UTF_8).length + 1).sum();
        long info = next;
        place(memory, info, infoSize, name, "multiboot information");
        memory.fill(info, infoSize, (byte) 0);
        long cursor = info + INFO_BYTES;

        long mmapAddr = cursor;
        for (GuestLayout.MemoryMapEntry e : map) {
            memory.writeInt(cursor, 20); // size of the entry, not counting this field
            memory.writeLong(cursor + 4, e.base());
            memory.writeLong(cursor + 12, e.length());
            memory.writeInt(cursor + 20, e.type().code);
            cursor += 24;
        }
        long modsAddr = cursor;
        cursor += 16L * modules.size();
        long cmdAddr = cursor;
        memory.write(cmdAddr, cmd);
        cursor += cmd.length;
        long loaderAddr = cursor;
        memory.write(loaderAddr, (loaderName + "\0").getBytes(StandardCharsets.US_ASCII));
        cursor += loaderName.length() + 1;
        for (int i = 0; i < modules.size(); i++) {
            byte[] s = (modules.get(i).string() + "\0").getBytes(StandardCharsets.UTF_8);
            memory.write(cursor, s);
            long m = modsAddr + 16L * i;
            memory.writeInt(m, (int) modRanges[i][0]);
            memory.writeInt(m + 4, (int) modRanges[i][1]);
            memory.writeInt(m + 8, (int) cursor);
            cursor += s.length;
        }

        long upperKiB = (Math.min(memory.regions().getFirst().guestEnd(), GuestLayout.MMIO_HOLE_START)
                - GuestLayout.HIGH_MEMORY) / 1024;
        memory.writeInt(info, INFO_MEMORY | INFO_CMDLINE | INFO_MODS | INFO_MMAP | INFO_LOADER_NAME);
        memory.writeInt(info + 4, (int) (Math.min(GuestLayout.EBDA_START, lowEnd) / 1024));
        memory.writeInt(info + 8, (int) Math.max(upperKiB, 0));
        memory.writeInt(info + 16, (int) cmdAddr);
        memory.writeInt(info + 20, modules.size());
        memory.writeInt(info + 24, (int) modsAddr);
        memory.writeInt(info + 44, 24 * map.size());
        memory.writeInt(info + 48, (int) mmapAddr);
        memory.writeInt(info + 64, (int) loaderAddr);

        return new BootEntry(EntryMode.PROTECTED, entry, 0, BOOTLOADER_MAGIC, info, 0, BootEntry.FLAT_CODE, BootEntry.FLAT_DATA);
    }

    /** Checks that {@code [addr, addr+len)} is RAM below 4 GiB and clear of the entry's GDT. */
    private static void place(GuestMemory memory, long addr, long len, String name, String what) throws ImageException {
        if (addr < 0 || len < 0 || addr + len > GuestLayout.FOUR_GIB || !memory.contains(addr, len)) {
            throw new ImageException(name + ": " + what + " " + range(addr, len)
                    + " does not fit in guest RAM; give more --memory or check the image");
        }
        if (addr < ENTRY_GDT + ENTRY_GDT_BYTES && ENTRY_GDT < addr + len) {
            throw new ImageException(name + ": " + what + " " + range(addr, len) + " overlaps the GDT of the "
                    + "multiboot entry " + range(ENTRY_GDT, ENTRY_GDT_BYTES) + "; link the kernel elsewhere");
        }
    }

    private static String range(long addr, long len) {
        return "at 0x" + Long.toHexString(addr) + "-0x" + Long.toHexString(addr + len) + " (" + len + " bytes)";
    }

    private static long alignUp(long v) {
        return (v + 4095) & ~4095L;
    }

    private static long u32(ByteBuffer b, int at) {
        return Integer.toUnsignedLong(b.getInt(at));
    }
}
