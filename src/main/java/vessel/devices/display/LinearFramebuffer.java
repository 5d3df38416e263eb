package vessel.devices.display;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A framebuffer whose mode never changes: the boot framebuffer the firmware (here, Vessel through
 * screen_info) hands the kernel. Its bytes are guest memory in a slot of their own; which pages the guest
 * wrote comes from that slot's dirty log, so a display server never compares frames.
 */
public final class LinearFramebuffer implements Display {
    /** Where the written pages come from: KVM's dirty log of the framebuffer's slot, in tests a fake. */
    @FunctionalInterface
    public interface DirtyLog {
        /** ORs a bit per page written since the last call into {@code pages} and clears the log; false when it cannot tell. */
        boolean take(long[] pages);
    }

    private final DisplayMode mode;
    private final MemorySegment framebuffer;
    private final DirtyLog dirtyLog;

    public LinearFramebuffer(DisplayMode mode, MemorySegment framebuffer, DirtyLog dirtyLog) {
        this.mode = Objects.requireNonNull(mode);
        if (framebuffer.byteSize() < mode.size()) {
            throw new IllegalArgumentException("framebuffer of " + framebuffer.byteSize() + " bytes is smaller than "
                    + mode.width() + "x" + mode.height() + "x" + mode.bitsPerPixel() + " needs (" + mode.size() + ")");
        }
        this.framebuffer = framebuffer;
        this.dirtyLog = Objects.requireNonNull(dirtyLog);
    }

    /** Pages a framebuffer of {@code bytes} spans: the length of a dirty bitmap in bits. */
    public static int pages(long bytes) {
        return (int) ((bytes + 4095) >>> 12);
    }

    @Override
    public DisplayMode mode() {
        return mode;
    }

    @Override
    public MemorySegment framebuffer() {
        return framebuffer;
    }

    @Override
    public synchronized boolean takeDirtyPages(long[] pages) {
        if (pages.length * 64L < pages(framebuffer.byteSize())) {
            throw new IllegalArgumentException("dirty bitmap of " + pages.length + " words is too short for "
                    + pages(framebuffer.byteSize()) + " pages");
        }
        return dirtyLog.take(pages);
    }
}
