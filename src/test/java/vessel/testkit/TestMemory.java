package vessel.testkit;

import java.lang.foreign.Arena;
import java.util.List;

import vessel.memory.GuestMemory;
import vessel.memory.MemoryRegion;

/** Guest memory for loader and table tests, which need RAM but not KVM. */
public final class TestMemory {
    private TestMemory() {}

    /** {@code bytes} of RAM at guest physical 0, on the caller's arena. */
    public static GuestMemory of(Arena arena, long bytes) {
        return GuestMemory.wrap(List.of(new MemoryRegion(0, 0, arena.allocate(bytes, 4096))));
    }

    /** The NUL-terminated string at {@code addr}. */
    public static String cString(GuestMemory mem, long addr) {
        StringBuilder sb = new StringBuilder();
        for (byte b; (b = mem.readByte(addr)) != 0; addr++) {
            sb.append((char) b);
        }
        return sb.toString();
    }
}
