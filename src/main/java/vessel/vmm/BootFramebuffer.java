package vessel.vmm;

import java.lang.foreign.Arena;

import vessel.boot.GuestLayout;
import vessel.boot.linux.ScreenInfo;
import vessel.devices.display.DisplayMode;
import vessel.devices.display.LinearFramebuffer;
import vessel.kvm.KvmException;
import vessel.kvm.UserMemoryRegion;
import vessel.kvm.VmFd;
import vessel.memory.DeviceMemory;
import vessel.sys.SysException;

/**
 * The boot framebuffer of {@code --display}: memory of its own at {@link GuestLayout#FRAMEBUFFER}, in a
 * KVM slot with dirty logging, described to Linux by {@link #screenInfo()}. Its dirty log is read from
 * display-server threads; the lock here keeps a read and {@link #close()} apart (the kernel writes into
 * the bitmap).
 */
final class BootFramebuffer implements LinearFramebuffer.DirtyLog, AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.vmm");

    private final VmFd vm;
    private final DisplayMode mode;
    private final DeviceMemory memory;
    private final Arena arena = Arena.ofShared();
    private final SlotDirtyLog dirtyLog;
    private final LinearFramebuffer display;
    private boolean closed;

    private BootFramebuffer(VmFd vm, DisplayMode mode, DeviceMemory memory) {
        this.vm = vm;
        this.mode = mode;
        this.memory = memory;
        int pages = LinearFramebuffer.pages(memory.size());
        this.dirtyLog = new SlotDirtyLog(vm, GuestLayout.FRAMEBUFFER_SLOT, arena.allocate((pages + 63) / 64 * 8L, 8),
                "framebuffer");
        this.display = new LinearFramebuffer(mode, memory.view(), this);
    }

    /** Maps the framebuffer and adds its slot to {@code vm}. */
    static BootFramebuffer create(VmFd vm, DisplayMode mode) throws SysException {
        long bytes = (mode.size() + 0xfff) & ~0xfffL;
        DeviceMemory memory = DeviceMemory.allocate(bytes);
        try {
            vm.setUserMemoryRegion(GuestLayout.FRAMEBUFFER_SLOT, GuestLayout.FRAMEBUFFER, memory.host(),
                    UserMemoryRegion.LOG_DIRTY_PAGES);
        } catch (KvmException e) {
            memory.close();
            throw e;
        }
        return new BootFramebuffer(vm, mode, memory);
    }

    LinearFramebuffer display() {
        return display;
    }

    /** What Linux is told: an EFI-style linear framebuffer. */
    ScreenInfo screenInfo() {
        return new ScreenInfo(GuestLayout.FRAMEBUFFER, memory.size(), mode.width(), mode.height(), mode.bitsPerPixel(),
                mode.stride(), mode.redShift(), mode.redSize(), mode.greenShift(), mode.greenSize(), mode.blueShift(),
                mode.blueSize());
    }

    @Override
    public synchronized boolean take(long[] pages) {
        if (closed || !dirtyLog.read()) {
            return false;
        }
        dirtyLog.orInto(pages);
        return true;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            arena.close();
            memory.close();
        }
    }
}
