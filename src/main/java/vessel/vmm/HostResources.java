package vessel.vmm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;

import vessel.memory.GuestMemory;
import vessel.memory.MemoryBacking;
import vessel.sys.CpuAffinity;
import vessel.sys.Errno;
import vessel.sys.SysException;

/**
 * Dedicated host resources for a VM (issue 15 item 6): the host CPUs its vCPU threads are pinned to, and
 * guest RAM on huge pages or offered to KSM. Checked against this host before the VM is built, so a
 * request the host cannot meet is one line saying why, never a guest that faults later.
 */
final class HostResources {
    static final Path MEMINFO = Path.of("/proc/meminfo");

    private HostResources() {}

    /** Every CPU of {@code cpus} must be one this process may run on (its affinity mask, cpuset included). */
    static void checkAffinity(List<Integer> cpus) throws ConfigException {
        if (cpus.isEmpty()) {
            return;
        }
        BitSet allowed;
        try {
            allowed = CpuAffinity.current();
        } catch (SysException e) {
            throw new ConfigException("--cpu-affinity: this process's CPUs cannot be read: " + e.getMessage());
        }
        for (int cpu : cpus) {
            if (!allowed.get(cpu)) {
                throw new ConfigException("--cpu-affinity: host CPU " + cpu + " is not one this process may run on"
                        + " (allowed: " + list(allowed) + ")");
            }
        }
    }

    /** Guest RAM for {@code ranges} backed as {@code backing} says; a host short of huge pages is a ConfigException. */
    static GuestMemory allocate(List<GuestMemory.Range> ranges, MemoryBacking backing, vessel.memory.PluggableRegion pluggable)
            throws ConfigException, SysException {
        if (backing.hugePages() != MemoryBacking.HugePages.HUGETLB_2M) {
            return GuestMemory.allocate(ranges, backing, pluggable);
        }
        long needed = ranges.stream().mapToLong(GuestMemory.Range::size).sum() / (2L << 20);
        long free = freeHugePages(MEMINFO);
        if (free < needed) {
            throw new ConfigException(shortOfHugePages(needed, free));
        }
        try {
            return GuestMemory.allocate(ranges, backing, pluggable);
        } catch (SysException e) {
            if (e.errno() == Errno.ENOMEM) { // taken by another process meanwhile, or not 2 MiB pages
                throw new ConfigException(shortOfHugePages(needed, freeHugePages(MEMINFO)));
            }
            throw e;
        }
    }

    private static String shortOfHugePages(long needed, long free) {
        return "huge pages 2M: guest RAM needs " + needed + " free 2 MiB huge pages and the host has " + free
                + " (HugePages_Free in /proc/meminfo; add some with sysctl vm.nr_hugepages, or use Transparent)";
    }

    /** HugePages_Free of a meminfo file (the default huge page size's pool, 2 MiB on x86), 0 if absent. */
    static long freeHugePages(Path meminfo) {
        try {
            for (String line : Files.readAllLines(meminfo)) {
                if (line.startsWith("HugePages_Free:")) {
                    return Long.parseLong(line.substring("HugePages_Free:".length()).strip());
                }
            }
        } catch (IOException | NumberFormatException e) {
            // no such file (not Linux, or /proc not mounted): no pool we could use
        }
        return 0;
    }

    /** A CPU set as a list, 0-3,6. */
    static String list(BitSet cpus) {
        StringBuilder b = new StringBuilder();
        for (int c = cpus.nextSetBit(0); c >= 0; ) {
            int end = cpus.nextClearBit(c) - 1;
            b.append(b.isEmpty() ? "" : ",").append(c).append(end > c ? "-" + end : "");
            c = cpus.nextSetBit(end + 1);
        }
        return b.toString();
    }
}
