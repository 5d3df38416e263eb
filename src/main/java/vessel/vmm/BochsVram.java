package vessel.vmm;

import vessel.boot.GuestLayout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import vessel.devices.display.BochsDisplay;
import vessel.kvm.KvmException;
import vessel.kvm.UserMemoryRegion;
import vessel.kvm.VmFd;
import vessel.memory.DeviceMemory;
import vessel.sys.SysException;

/**
 * The bochs-display's video memory: host memory of its own, in a KVM slot (with dirty logging) wherever
 * the guest has BAR0 decoding, and nowhere while it does not. The slot moves on vCPU threads (a BAR
 * write), the dirty log is read from display-server threads; this object's lock keeps them apart.
 */
final class BochsVram implements BochsDisplay.DirtyLog, AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.vmm");
    /** After the slots guest RAM (0, 1), a firmware boot (8-14) and the boot framebuffer (16) use. */
    static final int SLOT = GuestLayout.FRAMEBUFFER_SLOT + 1;
    static final long SIZE = 16L << 20;

    private final VmFd vm;
    private final DeviceMemory memory;
    private final Arena arena = Arena.ofShared();
    private final SlotDirtyLog dirtyLog;
    private long mappedAt = -1;
    /** The slot moved since the last read: the writes logged in the old one are gone. */
    private boolean moved = true;
    private boolean closed;

    private BochsVram(VmFd vm, DeviceMemory memory) {
        this.vm = vm;
        this.memory = memory;
        this.dirtyLog = new SlotDirtyLog(vm, SLOT, arena.allocate(SIZE / 4096 / 8, 8), "bochs-display");
    }

    static BochsVram allocate(VmFd vm) throws SysException {
        return new BochsVram(vm, DeviceMemory.allocate(SIZE));
    }

    /** The memory as the device and display servers read it. */
    MemorySegment view() {
        return memory.view();
    }

    /** BAR0 appeared at {@code to} (-1: it stopped decoding): the slot follows. */
    synchronized void moveTo(long to) {
        if (closed || to == mappedAt) {
            return;
        }
        try {
            if (mappedAt != -1) {
                vm.setUserMemoryRegion(SLOT, mappedAt, MemorySegment.NULL, 0); // size 0 deletes the slot
                mappedAt = -1;
            }
            if (to != -1) {
                vm.setUserMemoryRegion(SLOT, to, memory.host(), UserMemoryRegion.LOG_DIRTY_PAGES);
                mappedAt = to;
            }
        } catch (KvmException e) {
            // The BAR still answers through MMIO exits (BochsDisplay's own access path), only slower.
            LOG.log(System.Logger.Level.WARNING, "bochs-display: video memory slot at 0x" + Long.toHexString(to)
                    + " not mapped: " + e.getMessage());
        }
        moved = true;
    }

    @Override
    public synchronized boolean take(long[] pages) {
        if (closed || mappedAt == -1 || !dirtyLog.read()) {
            return false;
        }
        if (moved) {
            moved = false;
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
