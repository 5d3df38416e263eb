package vessel.boot.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.OptionalInt;

import vessel.boot.ElfFile;

/**
 * A kernel's own table of CPU feature names, x86_cap_flags: entry N is the /proc/cpuinfo name of
 * X86_FEATURE number N (null for unnamed bits), a pointer to a string in the kernel's read-only data.
 * Found in a vmlinux ELF by its first entries ("fpu", "vme", "de", "pse": leaf 1 EDX bits 0-3, the same
 * in every kernel), so the numbers Vessel passes in clearcpuid= can be checked against the kernel being
 * booted instead of assumed.
 */
public final class CapFlagTable {
    /** Entries looked at, at most: 32 words of 32 bits, more than any kernel has (NCAPINTS is ~20-24). */
    static final int MAX_ENTRIES = 32 * 32;
    private static final String[] FIRST = {"fpu", "vme", "de", "pse"};
    private static final int MAX_NAME = 32;

    private final byte[] image;
    private final ElfFile elf;
    private final int tableOffset;

    private CapFlagTable(byte[] image, ElfFile elf, int tableOffset) {
        this.image = image;
        this.elf = elf;
        this.tableOffset = tableOffset;
    }

    /** The table in {@code vmlinux} (whose ELF headers are {@code elf}), or empty when it has none. */
    public static Optional<CapFlagTable> find(ElfFile elf, byte[] vmlinux) {
        CapFlagTable probe = new CapFlagTable(vmlinux, elf, 0);
        byte[][] first = new byte[FIRST.length][];
        for (int i = 0; i < FIRST.length; i++) {
            first[i] = (FIRST[i] + "\0").getBytes(StandardCharsets.US_ASCII);
        }
        LongBuffer slots = ByteBuffer.wrap(vmlinux).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer();
        for (ElfFile.LoadSegment s : elf.segments()) {
            // A pointer array is 8-byte aligned in the file as in memory (segments are page-aligned).
            long from = (s.fileOffset() + 7) / 8;
            long to = Math.min(vmlinux.length, s.fileOffset() + s.fileSize()) / 8 - FIRST.length;
            for (long i = from; i <= to; i++) {
                long v = slots.get((int) i);
                if ((v >>> 32) != 0xffff_ffffL || !probe.pointsTo(v, first[0])) {
                    continue; // not a kernel-image address (most slots), or not to "fpu"
                }
                boolean match = true;
                for (int k = 1; k < FIRST.length && match; k++) {
                    match = probe.pointsTo(slots.get((int) i + k), first[k]);
                }
                if (match) {
                    return Optional.of(new CapFlagTable(vmlinux, elf, (int) (8 * i)));
                }
            }
        }
        return Optional.empty();
    }

    /** Whether kernel address {@code va} holds the bytes {@code s} (a name and its NUL), without copying. */
    private boolean pointsTo(long va, byte[] s) {
        long off = fileOffset(va, s.length);
        return off >= 0 && java.util.Arrays.equals(image, (int) off, (int) off + s.length, s, 0, s.length);
    }

    /** The file offset of {@code len} bytes at kernel address {@code va} within one segment's file bytes, or -1. */
    private long fileOffset(long va, int len) {
        for (ElfFile.LoadSegment s : elf.segments()) {
            long delta = va - s.virtAddr();
            if (delta >= 0 && delta <= s.fileSize() - len && s.fileOffset() + delta + len <= image.length) {
                return s.fileOffset() + delta;
            }
        }
        return -1;
    }

    /** The name the kernel gives X86_FEATURE number {@code number}; empty for an unnamed bit. */
    public Optional<String> nameOf(int number) {
        if (number < 0 || number >= MAX_ENTRIES || tableOffset + 8L * (number + 1) > image.length) {
            return Optional.empty();
        }
        long pointer = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).getLong(tableOffset + 8 * number);
        return Optional.ofNullable(pointer == 0 ? null : stringAt(pointer));
    }

    /** The X86_FEATURE number the kernel names {@code name}; empty if none of the first entries does. */
    public OptionalInt numberOf(String name) {
        for (int n = 0; n < MAX_ENTRIES; n++) {
            if (tableOffset + 8L * (n + 1) > image.length) {
                break;
            }
            if (nameOf(n).filter(name::equals).isPresent()) {
                return OptionalInt.of(n);
            }
        }
        return OptionalInt.empty();
    }

    /** The NUL-terminated printable string at kernel address {@code va}, or null if there is none. */
    private String stringAt(long va) {
        for (ElfFile.LoadSegment s : elf.segments()) {
            long delta = va - s.virtAddr();
            if (delta < 0 || delta >= s.fileSize()) {
                continue;
            }
            long start = s.fileOffset() + delta;
            for (int i = 0; i < MAX_NAME && start + i < image.length; i++) {
                int c = image[(int) (start + i)] & 0xff;
                if (c == 0) {
                    return i == 0 ? null : new String(image, (int) start, i, StandardCharsets.US_ASCII);
                }
                if (c < 0x20 || c > 0x7e) {
                    return null;
                }
            }
            return null;
        }
        return null;
    }
}
