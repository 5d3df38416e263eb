package vessel.boot;

import java.lang.foreign.Arena;
import java.util.List;

import vessel.memory.GuestMemory;
import vessel.memory.MemoryRegion;

/** Guest memory on a test arena: the loaders' tests need RAM, not KVM. */
final class BootTestMemory {
    private BootTestMemory() {}

    static GuestMemory of(Arena arena, long bytes) {
        return GuestMemory.wrap(List.of(new MemoryRegion(0, 0, arena.allocate(bytes, 4096))));
    }
}
