package vessel.boot.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import vessel.boot.ImageException;

/**
 * A bzImage's setup header (Documentation/arch/x86/boot.rst), parsed and checked: the fields a loader
 * reads, plus the raw header bytes, which are copied into boot_params as the protocol asks.
 */
public record SetupHeader(byte[] raw, int setupSects, int version, int loadflags, long code32Start,
                          long initrdAddrMax, long kernelAlignment, boolean relocatable, int xloadflags,
                          long cmdlineSize, long payloadOffset, long payloadLength, long prefAddress, long initSize) {
    /** Offsets in the image and in boot_params; the header starts at 0x1f1 in both. */
    static final int START = 0x1f1;
    static final int BOOT_FLAG = 0x1fe;
    static final int JUMP = 0x200;
    static final int MAGIC = 0x202;
    static final int VERSION = 0x206;
    static final int TYPE_OF_LOADER = 0x210;
    static final int LOADFLAGS = 0x211;
    static final int CODE32_START = 0x214;
    static final int RAMDISK_IMAGE = 0x218;
    static final int RAMDISK_SIZE = 0x21c;
    static final int HEAP_END_PTR = 0x224;
    static final int CMD_LINE_PTR = 0x228;
    static final int INITRD_ADDR_MAX = 0x22c;
    static final int KERNEL_ALIGNMENT = 0x230;
    static final int RELOCATABLE_KERNEL = 0x234;
    static final int XLOADFLAGS = 0x236;
    static final int CMDLINE_SIZE = 0x238;
    static final int PAYLOAD_OFFSET = 0x248;
    static final int PAYLOAD_LENGTH = 0x24c;
    static final int PREF_ADDRESS = 0x258;
    static final int INIT_SIZE = 0x260;

    static final int HDRS = 0x53726448; // "HdrS"
    static final int LOADED_HIGH = 0x01;
    static final int CAN_USE_HEAP = 0x80;
    /** xloadflags: the kernel has a 64-bit entry point at 0x200 past the protected-mode code. */
    public static final int XLF_KERNEL_64 = 0x01;
    public static final int MIN_VERSION = 0x0206;

    public static boolean looksLikeBzImage(byte[] image) {
        return image.length > MAGIC + 4 && ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).getInt(MAGIC) == HDRS;
    }

    public static SetupHeader parse(byte[] image, String name) throws ImageException {
        if (image.length < 0x268) {
            throw new ImageException(name + ": too short to be a Linux kernel (" + image.length + " bytes)");
        }
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt(MAGIC) != HDRS || Short.toUnsignedInt(b.getShort(BOOT_FLAG)) != 0xaa55) {
            throw new ImageException(name + ": not a Linux bzImage (no HdrS setup header)");
        }
        int version = Short.toUnsignedInt(b.getShort(VERSION));
        if (version < MIN_VERSION) {
            throw new ImageException(name + ": boot protocol " + (version >> 8) + "." + (version & 0xff)
                    + " is too old (Vessel needs 2.06 or later)");
        }
        int setupSects = image[START] & 0xff;
        if (setupSects == 0) {
            setupSects = 4; // the protocol's historical default
        }
        int headerEnd = MAGIC + (image[JUMP + 1] & 0xff);
        if (image[JUMP] != (byte) 0xeb || headerEnd > image.length || headerEnd < INIT_SIZE + 4 && version >= 0x020a) {
            throw new ImageException(name + ": setup header is malformed");
        }
        long protectedStart = (setupSects + 1L) * 512;
        if (protectedStart >= image.length) {
            throw new ImageException(name + ": truncated: the setup code claims " + setupSects
                    + " sectors but the file has no kernel after them");
        }
        long kernelAlignment = version >= 0x0205 ? u32(b, KERNEL_ALIGNMENT) : 0x100000;
        boolean relocatable = version >= 0x0205 && image[RELOCATABLE_KERNEL] != 0;
        // The loader rounds a relocatable kernel's address up to this: zero (found by fuzzing) divided by zero.
        if (relocatable && Long.bitCount(kernelAlignment) != 1) {
            throw new ImageException(name + ": kernel_alignment 0x" + Long.toHexString(kernelAlignment)
                    + " of a relocatable kernel is not a power of two");
        }
        return new SetupHeader(Arrays.copyOfRange(image, START, headerEnd), setupSects, version,
                image[LOADFLAGS] & 0xff, u32(b, CODE32_START),
                version >= 0x0203 ? u32(b, INITRD_ADDR_MAX) : 0x37ffffffL,
                kernelAlignment, relocatable,
                version >= 0x020c ? Short.toUnsignedInt(b.getShort(XLOADFLAGS)) : 0,
                version >= 0x0206 ? u32(b, CMDLINE_SIZE) : 255,
                version >= 0x0208 ? u32(b, PAYLOAD_OFFSET) : 0,
                version >= 0x0208 ? u32(b, PAYLOAD_LENGTH) : 0,
                version >= 0x020a ? b.getLong(PREF_ADDRESS) : 0x100000,
                version >= 0x020a ? u32(b, INIT_SIZE) : 0);
    }

    /** Where the protected-mode kernel (everything after the real-mode setup sectors) starts in the file. */
    public long protectedModeOffset() {
        return (setupSects + 1L) * 512;
    }

    private static long u32(ByteBuffer b, int at) {
        return Integer.toUnsignedLong(b.getInt(at));
    }
}
