package vessel.vmm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Facts about the host that limit what a VM may ask for. */
final class HostInfo {
    private HostInfo() {}

    /** MemTotal from /proc/meminfo, or 0 when it cannot be read. */
    static long totalMemoryBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    String[] parts = line.trim().split("\\s+");
                    return Long.parseLong(parts[1]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }
}
