package vessel.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import vessel.sys.Libc;
import vessel.sys.SysException;

/**
 * Host memory a device shares with the guest outside guest RAM (a framebuffer): mapped here, handed to KVM
 * as a slot of its own by the VMM, read by host threads (a display server) that may outlive the VM. Those
 * threads get a view bound to a shared arena, so after {@link #close()} their reads fail with an
 * IllegalStateException instead of touching unmapped memory; closing the arena waits for reads in flight.
 */
public final class DeviceMemory implements AutoCloseable {
    private final MemorySegment mapping;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment view;

    private DeviceMemory(MemorySegment mapping) {
        this.mapping = mapping;
        this.view = mapping.reinterpret(arena, null);
    }

    /** Maps {@code bytes} (a whole number of 4 KiB pages) of zeroed, lazily committed memory. */
    public static DeviceMemory allocate(long bytes) throws SysException {
        if (bytes <= 0 || bytes % GuestMemory.PAGE_SIZE != 0) {
            throw new IllegalArgumentException("device memory must be a whole number of pages, not " + bytes + " bytes");
        }
        return new DeviceMemory(Libc.mmap(bytes, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0));
    }

    /** The memory as the VMM hands it to KVM (its address and size). */
    public MemorySegment host() {
        return mapping;
    }

    /** The memory as host threads read it: valid until {@link #close()}. */
    public MemorySegment view() {
        return view;
    }

    public long size() {
        return mapping.byteSize();
    }

    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) {
            arena.close();
            Libc.munmap(mapping);
        }
    }
}
