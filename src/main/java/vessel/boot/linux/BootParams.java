package vessel.boot.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import vessel.boot.GuestLayout;
import vessel.memory.GuestMemory;

/**
 * {@code struct boot_params}, the 4 KiB "zero page" a 64-bit Linux entry receives in RSI
 * (Documentation/arch/x86/zero-page.rst). Built in a buffer, then written to guest memory once.
 */
public final class BootParams {
    public static final int SIZE = 4096;
    static final int ACPI_RSDP_ADDR = 0x070;
    static final int EXT_RAMDISK_IMAGE = 0x0c0;
    static final int EXT_RAMDISK_SIZE = 0x0c4;
    static final int EXT_CMD_LINE_PTR = 0x0c8;
    static final int E820_ENTRIES = 0x1e8;
    static final int E820_TABLE = 0x2d0;
    static final int E820_MAX = 128;
    /** type_of_loader 0xff: "undefined" boot loader, as the protocol asks of loaders without an assigned ID. */
    static final int LOADER_UNDEFINED = 0xff;

    private final ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);

    /** Starts from the kernel's own setup header, or from a minimal one for a bare vmlinux. */
    public BootParams(SetupHeader header) {
        if (header != null) {
            b.put(SetupHeader.START, header.raw());
        } else {
            b.putShort(SetupHeader.BOOT_FLAG, (short) 0xaa55);
            b.putInt(SetupHeader.MAGIC, SetupHeader.HDRS);
            b.putShort(SetupHeader.VERSION, (short) 0x020f);
            b.putInt(SetupHeader.KERNEL_ALIGNMENT, 0x0100_0000);
        }
        b.put(SetupHeader.TYPE_OF_LOADER, (byte) LOADER_UNDEFINED);
        b.put(SetupHeader.LOADFLAGS, (byte) ((b.get(SetupHeader.LOADFLAGS) | SetupHeader.LOADED_HIGH
                | SetupHeader.CAN_USE_HEAP) & 0xff));
        // The heap end is an offset in the real-mode setup segment; unused by a 64-bit entry but set as asked.
        b.putShort(SetupHeader.HEAP_END_PTR, (short) 0xfe00);
    }

    public BootParams cmdline(long address) {
        b.putInt(SetupHeader.CMD_LINE_PTR, (int) address);
        b.putInt(EXT_CMD_LINE_PTR, (int) (address >>> 32));
        return this;
    }

    public BootParams initrd(long address, long size) {
        b.putInt(SetupHeader.RAMDISK_IMAGE, (int) address);
        b.putInt(SetupHeader.RAMDISK_SIZE, (int) size);
        b.putInt(EXT_RAMDISK_IMAGE, (int) (address >>> 32));
        b.putInt(EXT_RAMDISK_SIZE, (int) (size >>> 32));
        return this;
    }

    public BootParams acpiRsdp(long address) {
        b.putLong(ACPI_RSDP_ADDR, address);
        return this;
    }

    /** Describes a linear framebuffer for the kernel's EFI framebuffer driver. */
    public BootParams screenInfo(ScreenInfo screen) {
        screen.write(b);
        return this;
    }

    public BootParams e820(List<GuestLayout.MemoryMapEntry> map) {
        if (map.size() > E820_MAX) {
            throw new IllegalArgumentException("e820 map has " + map.size() + " entries; boot_params holds " + E820_MAX);
        }
        b.put(E820_ENTRIES, (byte) map.size());
        for (int i = 0; i < map.size(); i++) {
            GuestLayout.MemoryMapEntry e = map.get(i);
            int at = E820_TABLE + 20 * i;
            b.putLong(at, e.base());
            b.putLong(at + 8, e.length());
            b.putInt(at + 16, e.type().code);
        }
        return this;
    }

    public void write(GuestMemory memory, long address) {
        memory.write(address, b.array());
    }

    byte[] bytes() {
        return b.array().clone();
    }
}
