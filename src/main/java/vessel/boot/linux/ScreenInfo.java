package vessel.boot.linux;

import java.nio.ByteBuffer;

/**
 * {@code struct screen_info}, the first 64 bytes of boot_params, describing a linear framebuffer as EFI
 * firmware's GOP would: type {@link #VIDEO_TYPE_EFI}, so the kernel's EFI framebuffer driver (efifb, or
 * simplefb through sysfb) takes it with no driver of its own to load, and vgacon stands aside.
 *
 * @param base       guest physical address of the first pixel
 * @param size       bytes the framebuffer spans (at least {@code lineLength * height})
 * @param depth      bits per pixel (16, 24 or 32)
 * @param lineLength bytes per line
 */
public record ScreenInfo(long base, long size, int width, int height, int depth, int lineLength,
                         int redPos, int redSize, int greenPos, int greenSize, int bluePos, int blueSize) {
    /** orig_video_isVGA for a framebuffer set up by EFI firmware (include/uapi/linux/screen_info.h). */
    static final int VIDEO_TYPE_EFI = 0x70;
    /** capabilities bit: ext_lfb_base holds the high 32 bits of the base. */
    static final int VIDEO_CAPABILITY_64BIT_BASE = 1 << 1;

    static final int ORIG_VIDEO_IS_VGA = 0x0f;
    static final int LFB_WIDTH = 0x12;
    static final int LFB_HEIGHT = 0x14;
    static final int LFB_DEPTH = 0x16;
    static final int LFB_BASE = 0x18;
    static final int LFB_SIZE = 0x1c;
    static final int LFB_LINELENGTH = 0x24;
    static final int RED_SIZE = 0x26;
    static final int CAPABILITIES = 0x36;
    static final int EXT_LFB_BASE = 0x3a;

    public ScreenInfo {
        if (width < 1 || height < 1 || width > 0xffff || height > 0xffff || lineLength > 0xffff
                || (long) lineLength * height > size || base <= 0 || size <= 0 || size > 0xffff_ffffL) {
            throw new IllegalArgumentException("framebuffer " + width + "x" + height + "x" + depth + " at 0x"
                    + Long.toHexString(base) + " (" + size + " bytes, " + lineLength + " per line) cannot be described"
                    + " in screen_info");
        }
    }

    /** Writes the fields the kernel's framebuffer drivers read into boot_params at offset 0. */
    void write(ByteBuffer params) {
        params.put(ORIG_VIDEO_IS_VGA, (byte) VIDEO_TYPE_EFI);
        params.putShort(LFB_WIDTH, (short) width);
        params.putShort(LFB_HEIGHT, (short) height);
        params.putShort(LFB_DEPTH, (short) depth);
        params.putInt(LFB_BASE, (int) base);
        params.putInt(LFB_SIZE, (int) size); // bytes for an EFI framebuffer (VESA's counts 64 KiB units)
        params.putShort(LFB_LINELENGTH, (short) lineLength);
        params.put(RED_SIZE, (byte) redSize);
        params.put(RED_SIZE + 1, (byte) redPos);
        params.put(RED_SIZE + 2, (byte) greenSize);
        params.put(RED_SIZE + 3, (byte) greenPos);
        params.put(RED_SIZE + 4, (byte) blueSize);
        params.put(RED_SIZE + 5, (byte) bluePos);
        // rsvd_size/rsvd_pos stay 0: x8r8g8b8, what simplefb's format table and efifb expect for 32 bits.
        if (base >>> 32 != 0) {
            params.putInt(CAPABILITIES, VIDEO_CAPABILITY_64BIT_BASE);
            params.putInt(EXT_LFB_BASE, (int) (base >>> 32));
        }
    }
}
