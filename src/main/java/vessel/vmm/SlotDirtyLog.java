package vessel.vmm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import vessel.kvm.KvmException;
import vessel.kvm.VmFd;

/**
 * KVM's dirty log of one memory slot that holds a framebuffer (the boot framebuffer's, the Bochs adapter's
 * video memory), read into a display server's page bitmap. Not thread-safe: its owner's lock guards it.
 */
final class SlotDirtyLog {
    private static final System.Logger LOG = System.getLogger("vessel.vmm");
    private final VmFd vm;
    private final int slot;
    private final MemorySegment bitmap;
    private final String owner;
    private boolean warned;

    /** {@code bitmap} holds a bit per 4 KiB page of the slot, in 64-bit words. */
    SlotDirtyLog(VmFd vm, int slot, MemorySegment bitmap, String owner) {
        this.vm = vm;
        this.slot = slot;
        this.bitmap = bitmap;
        this.owner = owner;
    }

    /** Reads and re-arms the slot's log; false (send whole frames) when KVM cannot give it, said once. */
    boolean read() {
        try {
            vm.getDirtyLog(slot, bitmap);
            return true;
        } catch (KvmException e) {
            if (!warned) {
                warned = true;
                LOG.log(System.Logger.Level.WARNING, owner + ": dirty log unavailable, display updates send whole frames: "
                        + e.getMessage());
            }
            return false;
        }
    }

    /** Adds the pages the last {@link #read} found written to {@code pages}. */
    void orInto(long[] pages) {
        int words = (int) Math.min(pages.length, bitmap.byteSize() / 8);
        for (int i = 0; i < words; i++) {
            pages[i] |= bitmap.getAtIndex(ValueLayout.JAVA_LONG, i);
        }
    }
}
