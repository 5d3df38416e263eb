package vessel.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The parts of an ELF executable a loader needs: class, machine, entry and the PT_LOAD segments, each
 * checked against the file's size before anything is copied.
 */
public record ElfFile(int elfClass, int machine, long entry, List<LoadSegment> segments) {
    public static final int CLASS_32 = 1;
    public static final int CLASS_64 = 2;
    public static final int MACHINE_386 = 3;
    public static final int MACHINE_X86_64 = 62;
    private static final int PT_LOAD = 1;

    /** A PT_LOAD segment: {@code fileSize} bytes from {@code fileOffset} at {@code physAddr}, zero-filled to {@code memSize}. */
    public record LoadSegment(long physAddr, long virtAddr, long fileOffset, long fileSize, long memSize) { }

    public static boolean isElf(byte[] image) {
        return image.length >= 4 && image[0] == 0x7f && image[1] == 'E' && image[2] == 'L' && image[3] == 'F';
    }

    public static ElfFile parse(byte[] image, String name) throws ImageException {
        if (!isElf(image) || image.length < 52) {
            throw new ImageException(name + ": not an ELF file");
        }
        int cls = image[4];
        if (cls != CLASS_32 && cls != CLASS_64) {
            throw new ImageException(name + ": unknown ELF class " + cls);
        }
        if (image[5] != 1) {
            throw new ImageException(name + ": not a little-endian ELF file");
        }
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        boolean is64 = cls == CLASS_64;
        if (is64 && image.length < 64) {
            throw new ImageException(name + ": truncated ELF header");
        }
        int machine = Short.toUnsignedInt(b.getShort(18));
        long entry = is64 ? b.getLong(24) : Integer.toUnsignedLong(b.getInt(24));
        long phoff = is64 ? b.getLong(32) : Integer.toUnsignedLong(b.getInt(28));
        int phentsize = Short.toUnsignedInt(b.getShort(is64 ? 54 : 42));
        int phnum = Short.toUnsignedInt(b.getShort(is64 ? 56 : 44));
        int minEntry = is64 ? 56 : 32;
        if (phnum == 0 || phentsize < minEntry) {
            throw new ImageException(name + ": ELF file has no usable program headers");
        }
        if (phoff < 0 || phoff > image.length || (long) phnum * phentsize > image.length - phoff) {
            throw new ImageException(name + ": ELF program headers lie outside the file (truncated?)");
        }
        List<LoadSegment> segments = new ArrayList<>();
        for (int i = 0; i < phnum; i++) {
            int p = (int) (phoff + (long) i * phentsize);
            if (b.getInt(p) != PT_LOAD) {
                continue;
            }
            LoadSegment s = is64
                    ? new LoadSegment(b.getLong(p + 24), b.getLong(p + 16), b.getLong(p + 8), b.getLong(p + 32), b.getLong(p + 40))
                    : new LoadSegment(u32(b, p + 12), u32(b, p + 8), u32(b, p + 4), u32(b, p + 16), u32(b, p + 20));
            if (s.fileOffset() < 0 || s.fileSize() < 0 || s.fileOffset() > image.length
                    || s.fileSize() > image.length - s.fileOffset()) {
                throw new ImageException(name + ": ELF segment " + i + " lies outside the file (truncated?)");
            }
            if (s.memSize() < s.fileSize() || s.physAddr() < 0 || s.physAddr() + s.memSize() < s.physAddr()) {
                throw new ImageException(name + ": ELF segment " + i + " has an impossible size or address");
            }
            segments.add(s);
        }
        if (segments.isEmpty()) {
            throw new ImageException(name + ": ELF file has nothing to load");
        }
        return new ElfFile(cls, machine, entry, List.copyOf(segments));
    }

    private static long u32(ByteBuffer b, int at) {
        return Integer.toUnsignedLong(b.getInt(at));
    }

    /** One past the highest physical byte any segment occupies. */
    public long physEnd() {
        return segments.stream().mapToLong(s -> s.physAddr() + s.memSize()).max().orElse(0);
    }
}
