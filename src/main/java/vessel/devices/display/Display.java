package vessel.devices.display;

import java.lang.foreign.MemorySegment;

/**
 * What a display server (VNC, screenshots, a browser console) reads: a framebuffer in guest memory, its
 * current mode, and which of its pages the guest wrote since the server last asked. Implemented by the
 * boot-time framebuffer (screen_info) and the Bochs display adapter.
 */
public interface Display {
    /** The current mode, or null while the guest has the display switched off. */
    DisplayMode mode();

    /** The host's view of the framebuffer's bytes (at least {@code mode().size()} of them while a mode is set). */
    MemorySegment framebuffer();

    /**
     * Sets a bit per 4 KiB page of the framebuffer the guest wrote since the last call into {@code pages}
     * (bit i of word i/64 for page i) and clears the device's record; returns false when it cannot tell
     * (dirty logging unavailable, mode changed): the caller treats the whole frame as changed.
     */
    boolean takeDirtyPages(long[] pages);
}
