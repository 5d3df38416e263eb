package vessel.boot.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Small, well-formed kernel images for loader tests: an x86-64 ELF and a bzImage wrapper. */
final class SyntheticKernels {
    static final long PHYS = 0x100_0000;
    static final long VIRT = 0xffff_ffff_8100_0000L;

    private SyntheticKernels() {}

    /** An ELF64 x86-64 executable with one PT_LOAD of {@code code} (+ {@code bss} zero bytes) at 16 MiB. */
    static byte[] vmlinux(byte[] code, int bss, long entry) {
        byte[] image = new byte[0x1000 + code.length];
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1});
        b.putShort(16, (short) 2); // ET_EXEC
        b.putShort(18, (short) 62); // EM_X86_64
        b.putInt(20, 1);
        b.putLong(24, entry);
        b.putLong(32, 64); // e_phoff
        b.putShort(52, (short) 64);
        b.putShort(54, (short) 56);
        b.putShort(56, (short) 1);
        int ph = 64;
        b.putInt(ph, 1); // PT_LOAD
        b.putInt(ph + 4, 5);
        b.putLong(ph + 8, 0x1000);
        b.putLong(ph + 16, VIRT);
        b.putLong(ph + 24, PHYS);
        b.putLong(ph + 32, code.length);
        b.putLong(ph + 40, code.length + bss);
        b.put(0x1000, code);
        return image;
    }

    /** A bzImage: one setup sector after the boot sector, then {@code payload} as the protected-mode kernel. */
    static byte[] bzImage(byte[] payload, int version, int xloadflags) {
        byte[] image = new byte[1024 + payload.length];
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        image[SetupHeader.START] = 1;
        b.putShort(SetupHeader.BOOT_FLAG, (short) 0xaa55);
        image[SetupHeader.JUMP] = (byte) 0xeb;
        image[SetupHeader.JUMP + 1] = 0x66; // header ends at 0x268
        b.putInt(SetupHeader.MAGIC, SetupHeader.HDRS);
        b.putShort(SetupHeader.VERSION, (short) version);
        b.putInt(SetupHeader.CODE32_START, 0x100000);
        b.putInt(SetupHeader.INITRD_ADDR_MAX, 0x7fffffff);
        b.putInt(SetupHeader.KERNEL_ALIGNMENT, 0x200000);
        image[SetupHeader.RELOCATABLE_KERNEL] = 1;
        b.putShort(SetupHeader.XLOADFLAGS, (short) xloadflags);
        b.putInt(SetupHeader.CMDLINE_SIZE, 2047);
        b.putLong(SetupHeader.PREF_ADDRESS, 0x1000000);
        b.putInt(SetupHeader.INIT_SIZE, 0x400000);
        b.put(1024, payload);
        return image;
    }
}
