package vessel.devices.display;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import vessel.devices.BusDevice;
import vessel.devices.pci.PciConfigSpace;
import vessel.devices.pci.PciFunction;

/**
 * QEMU's bochs-display: a PCI display adapter (1234:1111, class 0x0380) without the legacy VGA parts, as
 * Linux's bochs DRM driver programs it. BAR0 is the video memory (prefetchable; the VMM maps it as a KVM
 * memory slot that follows the BAR, with dirty logging); BAR2 holds the VBE "dispi" registers at 0x500
 * (16-bit, one per index) and QEMU's extended registers at 0x600 (their size, and the framebuffer's byte
 * order). A mode the adapter cannot show (an unknown depth, too wide or tall, more bytes than the video
 * memory) is refused when the guest enables it: the enable register stays off.
 */
public final class BochsDisplay implements PciFunction, Display {
    public static final int VENDOR = 0x1234;
    public static final int DEVICE = 0x1111;
    public static final int CLASS_DISPLAY_OTHER = 0x038000;
    public static final int FRAMEBUFFER_BAR = 0;
    public static final int MMIO_BAR = 2;
    public static final long MMIO_SIZE = 4096;

    static final int VGA_IOPORTS = 0x400;
    static final int DISPI = 0x500;
    static final int QEXT = 0x600;
    static final int QEXT_SIZE_BYTES = 8;
    static final int QEXT_LITTLE_ENDIAN = 0x1e1e1e1e;

    static final int INDEX_ID = 0;
    static final int INDEX_XRES = 1;
    static final int INDEX_YRES = 2;
    static final int INDEX_BPP = 3;
    static final int INDEX_ENABLE = 4;
    static final int INDEX_BANK = 5;
    static final int INDEX_VIRT_WIDTH = 6;
    static final int INDEX_VIRT_HEIGHT = 7;
    static final int INDEX_X_OFFSET = 8;
    static final int INDEX_Y_OFFSET = 9;
    static final int INDEX_VIDEO_MEMORY_64K = 10;
    static final int INDEX_COUNT = 11;

    static final int ID5 = 0xb0c5;
    static final int ENABLED = 0x01;
    static final int GETCAPS = 0x02;
    static final int LFB_ENABLED = 0x40;
    static final int NOCLEARMEM = 0x80;

    /** Where the pages the guest wrote come from: the KVM slot's dirty log (a bit per 4 KiB page of video memory). */
    @FunctionalInterface
    public interface DirtyLog {
        /** ORs the pages written since the last call into {@code pages} and clears the log; false if it cannot tell. */
        boolean take(long[] pages);
    }

    /** The dispi registers as the guest last set them (index order). */
    public record Registers(int xres, int yres, int bpp, int enable, int bank, int virtWidth, int virtHeight,
                            int xOffset, int yOffset) {
        static final Registers OFF = new Registers(0, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    private final String name;
    private final PciConfigSpace config;
    private final MemorySegment vram;
    private final DirtyLog dirtyLog;
    private final long[] vramDirty;
    private final BusDevice vramAccess;
    private final BusDevice mmio;
    private Registers regs = Registers.OFF;
    /** What {@link #mode()} reports, and where in video memory it starts; null while off. */
    private volatile Shown shown;
    /** Set when the mode changes: the next dirty-page read says "everything". */
    private boolean modeChanged = true;

    private record Shown(DisplayMode mode, long offset) {}

    /**
     * An adapter whose video memory is {@code vram} (a power of two of at least 1 MiB; the host's view of
     * the memory the VMM maps at BAR0) and whose written pages come from {@code dirtyLog}.
     */
    public BochsDisplay(String name, MemorySegment vram, DirtyLog dirtyLog) {
        long size = vram.byteSize();
        if (Long.bitCount(size) != 1 || size < (1 << 20) || size > (1L << 30)) {
            throw new IllegalArgumentException("bochs-display video memory must be a power of two from 1 MiB to 1 GiB, not "
                    + size + " bytes");
        }
        this.name = name;
        this.vram = vram;
        this.dirtyLog = dirtyLog;
        this.vramDirty = new long[(int) (size / 4096 + 63) / 64];
        this.config = new PciConfigSpace(VENDOR, DEVICE, CLASS_DISPLAY_OTHER, 2, 0x1af4, 0x1100);
        config.addBar(new PciConfigSpace.Bar(FRAMEBUFFER_BAR, PciConfigSpace.BarKind.MEMORY64, size, true));
        config.addBar(new PciConfigSpace.Bar(MMIO_BAR, PciConfigSpace.BarKind.MEMORY64, MMIO_SIZE, false));
        this.mmio = new Mmio();
        this.vramAccess = new VramAccess();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    @Override
    public BusDevice barDevice(int index) {
        return index == FRAMEBUFFER_BAR ? vramAccess : mmio;
    }

    public long vramSize() {
        return vram.byteSize();
    }

    public synchronized Registers registers() {
        return regs;
    }

    // ---- Display

    @Override
    public DisplayMode mode() {
        Shown s = shown;
        return s == null ? null : s.mode();
    }

    @Override
    public MemorySegment framebuffer() {
        Shown s = shown;
        return s == null ? vram : vram.asSlice(s.offset());
    }

    @Override
    public synchronized boolean takeDirtyPages(long[] pages) {
        Shown s = shown;
        java.util.Arrays.fill(vramDirty, 0);
        boolean known = dirtyLog.take(vramDirty);
        if (modeChanged || s == null || !known || s.offset() % 4096 != 0) {
            modeChanged = false;
            return false; // a new mode, or a start the page bits do not line up with: all of it
        }
        int first = (int) (s.offset() / 4096);
        int count = (int) Math.min((long) pages.length * 64, (s.mode().size() + 4095) / 4096);
        for (int p = 0; p < count; p++) {
            int vp = first + p;
            if (vp / 64 < vramDirty.length && (vramDirty[vp / 64] & (1L << (vp % 64))) != 0) {
                pages[p / 64] |= 1L << (p % 64);
            }
        }
        return true;
    }

    // ---- registers

    private synchronized int dispiRead(int index) {
        Registers r = regs;
        boolean caps = (r.enable() & GETCAPS) != 0;
        return switch (index) {
            case INDEX_ID -> ID5;
            case INDEX_XRES -> caps ? DisplayMode.MAX_SIDE : r.xres();
            case INDEX_YRES -> caps ? DisplayMode.MAX_SIDE : r.yres();
            case INDEX_BPP -> caps ? 32 : r.bpp();
            case INDEX_ENABLE -> r.enable();
            case INDEX_BANK -> r.bank();
            case INDEX_VIRT_WIDTH -> r.virtWidth();
            case INDEX_VIRT_HEIGHT -> r.virtHeight();
            case INDEX_X_OFFSET -> r.xOffset();
            case INDEX_Y_OFFSET -> r.yOffset();
            case INDEX_VIDEO_MEMORY_64K -> (int) (vram.byteSize() >> 16);
            default -> 0;
        };
    }

    private synchronized void dispiWrite(int index, int v) {
        Registers r = regs;
        boolean on = (r.enable() & ENABLED) != 0;
        switch (index) {
            case INDEX_XRES -> regs = on ? r : new Registers(v, r.yres(), r.bpp(), r.enable(), r.bank(), r.virtWidth(),
                    r.virtHeight(), r.xOffset(), r.yOffset());
            case INDEX_YRES -> regs = on ? r : new Registers(r.xres(), v, r.bpp(), r.enable(), r.bank(), r.virtWidth(),
                    r.virtHeight(), r.xOffset(), r.yOffset());
            case INDEX_BPP -> regs = on ? r : new Registers(r.xres(), r.yres(), v, r.enable(), r.bank(), r.virtWidth(),
                    r.virtHeight(), r.xOffset(), r.yOffset());
            case INDEX_BANK -> regs = new Registers(r.xres(), r.yres(), r.bpp(), r.enable(), v, r.virtWidth(),
                    r.virtHeight(), r.xOffset(), r.yOffset());
            case INDEX_ENABLE -> enable(v);
            case INDEX_VIRT_WIDTH -> pan(new Registers(r.xres(), r.yres(), r.bpp(), r.enable(), r.bank(), v,
                    r.virtHeight(), r.xOffset(), r.yOffset()));
            case INDEX_VIRT_HEIGHT -> regs = new Registers(r.xres(), r.yres(), r.bpp(), r.enable(), r.bank(),
                    r.virtWidth(), v, r.xOffset(), r.yOffset());
            case INDEX_X_OFFSET -> pan(new Registers(r.xres(), r.yres(), r.bpp(), r.enable(), r.bank(), r.virtWidth(),
                    r.virtHeight(), v, r.yOffset()));
            case INDEX_Y_OFFSET -> pan(new Registers(r.xres(), r.yres(), r.bpp(), r.enable(), r.bank(), r.virtWidth(),
                    r.virtHeight(), r.xOffset(), v));
            default -> { } // ID (the guest's version request) and video memory size are read-only here
        }
    }

    private void enable(int v) {
        Registers r = regs;
        if ((v & ENABLED) == 0) {
            regs = new Registers(r.xres(), r.yres(), r.bpp(), v & GETCAPS, r.bank(), r.virtWidth(), r.virtHeight(),
                    r.xOffset(), r.yOffset());
            show(null);
            return;
        }
        // Enabling starts at the top left of a virtual screen the size of the mode, as QEMU does.
        Registers next = new Registers(r.xres(), r.yres(), r.bpp(), v & (ENABLED | LFB_ENABLED | NOCLEARMEM),
                r.bank(), r.xres(), r.yres(), 0, 0);
        Shown s = layout(next);
        if (s == null) {
            // An impossible mode: refused, the adapter stays off with the registers as written.
            regs = new Registers(r.xres(), r.yres(), r.bpp(), 0, r.bank(), r.virtWidth(), r.virtHeight(),
                    r.xOffset(), r.yOffset());
            show(null);
            return;
        }
        if ((v & NOCLEARMEM) == 0) {
            vram.asSlice(0, s.mode().size()).fill((byte) 0);
        }
        regs = next;
        show(s);
    }

    /** A new virtual width or offset while on: taken if the visible part still lies in video memory. */
    private void pan(Registers next) {
        if ((next.enable() & ENABLED) == 0) {
            regs = next;
            return;
        }
        Shown s = layout(next);
        if (s != null) {
            regs = next;
            show(s);
        }
    }

    /** Where the mode of {@code r} lies in video memory, or null if it cannot be shown. */
    private Shown layout(Registers r) {
        if (r.bpp() != 16 && r.bpp() != 24 && r.bpp() != 32) {
            return null;
        }
        if (r.xres() < 1 || r.yres() < 1 || r.xres() > DisplayMode.MAX_SIDE || r.yres() > DisplayMode.MAX_SIDE) {
            return null;
        }
        int bytesPerPixel = r.bpp() / 8;
        int virtWidth = Math.max(r.virtWidth(), r.xres());
        long stride = (long) virtWidth * bytesPerPixel;
        long offset = (long) r.yOffset() * stride + (long) r.xOffset() * bytesPerPixel;
        long end = offset + stride * (r.yres() - 1) + (long) r.xres() * bytesPerPixel;
        if (stride > Integer.MAX_VALUE || end > vram.byteSize()) {
            return null;
        }
        DisplayMode base = DisplayMode.of(r.xres(), r.yres(), r.bpp());
        DisplayMode mode = new DisplayMode(r.xres(), r.yres(), r.bpp(), (int) stride, base.redShift(), base.redSize(),
                base.greenShift(), base.greenSize(), base.blueShift(), base.blueSize());
        return new Shown(mode, offset);
    }

    private void show(Shown s) {
        Shown old = shown;
        if (s == null ? old != null : !s.equals(old)) {
            modeChanged = true;
        }
        shown = s;
    }

    /** BAR2: the dispi registers at 0x500 (16-bit), QEMU's extended registers at 0x600 (32-bit). */
    private final class Mmio implements BusDevice {
        @Override
        public long read(long offset, int size) {
            if (offset >= DISPI && offset + size <= DISPI + 2L * INDEX_COUNT) {
                long v = 0;
                for (int i = 0; i < size; i += 2) { // a wider access reads consecutive registers
                    v |= (long) dispiRead((int) (offset - DISPI + i) / 2) << (8 * i);
                }
                return size == 1 ? (offset & 1) == 0 ? v & 0xff : dispiRead((int) (offset - DISPI) / 2) >> 8 : v;
            }
            if (offset == QEXT && size == 4) {
                return QEXT_SIZE_BYTES;
            }
            if (offset == QEXT + 4 && size == 4) {
                return QEXT_LITTLE_ENDIAN;
            }
            return 0;
        }

        @Override
        public void write(long offset, int size, long value) {
            if (offset >= DISPI && offset + size <= DISPI + 2L * INDEX_COUNT && (offset & 1) == 0 && size >= 2) {
                for (int i = 0; i < size; i += 2) {
                    dispiWrite((int) (offset - DISPI + i) / 2, (int) (value >>> (8 * i)) & 0xffff);
                }
            }
            // VGA ports at 0x400 (Linux's blanking through the attribute controller) and the byte-order
            // register (always little-endian here, what an x86 guest asks for) have nothing to do.
        }
    }

    /** BAR0 when an access exits instead of hitting the memory slot (before the VMM maps it): the memory itself. */
    private final class VramAccess implements BusDevice {
        @Override
        public long read(long offset, int size) {
            long v = 0;
            for (int i = 0; i < size; i++) {
                v |= (long) (vram.get(ValueLayout.JAVA_BYTE, offset + i) & 0xff) << (8 * i);
            }
            return v;
        }

        @Override
        public void write(long offset, int size, long value) {
            for (int i = 0; i < size; i++) {
                vram.set(ValueLayout.JAVA_BYTE, offset + i, (byte) (value >>> (8 * i)));
            }
        }
    }
}
