package vessel.vmm;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.boot.EntryMode;
import vessel.memory.GuestMemory;
import vessel.memory.MemoryBacking;
import vessel.memory.MemoryRegion;
import vessel.sys.CpuAffinity;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Dedicated resources on a tiny guest on the real /dev/kvm: a pinned vCPU thread, as the kernel reports
 * its affinity, and guest RAM with transparent huge pages, KSM or hugetlbfs pages, as /proc/self/smaps
 * reports its mapping.
 */
@vessel.testkit.KvmTest
@Timeout(120)
class HostResourcesKvmTest {
    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    private static VmConfig.Builder spin() throws Exception {
        return VmConfig.builder().kernel(TestGuests.get("spin.bin")).entry(EntryMode.LONG).memory("16M");
    }

    @Test
    void vcpuThreadsRunOnlyOnTheirCpu() throws Exception {
        BitSet allowed = CpuAffinity.current();
        assumeTrue(allowed.cardinality() >= 2, "pinning shows only where the process may use two CPUs");
        int cpu = allowed.length() - 1; // the last allowed: an unpinned thread's list names others too
        try (VirtualMachine vm = VirtualMachine.create(spin().cpuAffinity(cpu).build(), OutputStream.nullOutputStream())) {
            vm.start();
            String list = null;
            for (int i = 0; i < 200 && !String.valueOf(cpu).equals(list); i++) {
                Thread.sleep(50);
                list = cpusAllowed("vcpu-0");
            }
            assertEquals(String.valueOf(cpu), list, "Cpus_allowed_list of the vcpu-0 thread");
            assertFalse(String.valueOf(cpu).equals(cpusAllowed("main")), "only the vCPU thread is pinned");
        }
    }

    @Test
    void anAffinityOutsideTheProcessCpusIsOneLine() throws Exception {
        BitSet allowed = CpuAffinity.current();
        VmConfig.Builder b = spin();
        int outside = allowed.nextClearBit(0);
        ConfigException e = assertThrows(ConfigException.class,
                () -> VirtualMachine.create(b.cpuAffinity(outside).build(), OutputStream.nullOutputStream()));
        assertEquals("--cpu-affinity: host CPU " + outside + " is not one this process may run on (allowed: "
                + HostResources.list(allowed) + ")", e.getMessage());
    }

    @Test
    void transparentHugePagesAndKsmMarkGuestRam() throws Exception {
        VmConfig config = spin().memoryBacking(new MemoryBacking(MemoryBacking.HugePages.TRANSPARENT, true)).build();
        try (VirtualMachine vm = VirtualMachine.create(config, OutputStream.nullOutputStream())) {
            MemoryRegion ram = vm.memory().regions().getFirst();
            // Touch 8 MiB: at least one whole aligned 2 MiB block, which THP fills with a huge page.
            for (long at = 8L << 20; at < 16L << 20; at += 4096) {
                vm.memory().writeLong(at, at);
            }
            Smaps s = Smaps.of(ram.host().address());
            assertTrue(s.flags().contains("hg"), "VmFlags " + s.flags() + " without hg (MADV_HUGEPAGE)");
            assertTrue(s.flags().contains("mg"), "VmFlags " + s.flags() + " without mg (MADV_MERGEABLE)");
            assertEquals(1, s.field("THPeligible"));
            assertTrue(s.field("AnonHugePages") >= 2048, "AnonHugePages " + s.field("AnonHugePages") + " kB");
        }
    }

    @Test
    void defaultGuestRamIsNeitherAdvisedNorMergeable() throws Exception {
        try (VirtualMachine vm = VirtualMachine.create(spin().build(), OutputStream.nullOutputStream())) {
            Smaps s = Smaps.of(vm.memory().regions().getFirst().host().address());
            assertFalse(s.flags().contains("hg") || s.flags().contains("mg") || s.flags().contains("ht"), s.flags().toString());
        }
    }

    @Test
    void hugetlbPagesAreReservedOrRefusedInOneLine() throws Exception {
        VmConfig config = spin().memoryBacking(new MemoryBacking(MemoryBacking.HugePages.HUGETLB_2M, false)).build();
        long free = HostResources.freeHugePages(HostResources.MEMINFO);
        if (free < 8) {
            ConfigException e = assertThrows(ConfigException.class,
                    () -> VirtualMachine.create(config, OutputStream.nullOutputStream()));
            assertEquals("huge pages 2M: guest RAM needs 8 free 2 MiB huge pages and the host has " + free
                    + " (HugePages_Free in /proc/meminfo; add some with sysctl vm.nr_hugepages, or use Transparent)",
                    e.getMessage());
            return;
        }
        try (VirtualMachine vm = VirtualMachine.create(config, OutputStream.nullOutputStream())) {
            Smaps s = Smaps.of(vm.memory().regions().getFirst().host().address());
            assertTrue(s.flags().contains("ht"), "VmFlags " + s.flags() + " without ht (hugetlb)");
            assertEquals(2048, s.field("KernelPageSize"));
        }
    }

    @Test
    void freeHugePagesIsReadFromMeminfo(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        Path meminfo = dir.resolve("meminfo");
        Files.writeString(meminfo, "MemTotal: 100 kB\nHugePages_Total:      12\nHugePages_Free:        7\n");
        assertEquals(7, HostResources.freeHugePages(meminfo));
        assertEquals(0, HostResources.freeHugePages(dir.resolve("none")));
    }

    /** The Cpus_allowed_list of this process's thread named {@code name} (its comm), or null if none is. */
    private static String cpusAllowed(String name) throws IOException {
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path task : tasks.toList()) {
                try {
                    if (Files.readString(task.resolve("comm")).strip().equals(name)) {
                        for (String line : Files.readAllLines(task.resolve("status"))) {
                            if (line.startsWith("Cpus_allowed_list:")) {
                                return line.substring(line.indexOf(':') + 1).strip();
                            }
                        }
                    }
                } catch (IOException e) {
                    // the thread ended meanwhile
                }
            }
        }
        return null;
    }

    /** One mapping's entry in /proc/self/smaps. */
    record Smaps(List<String> lines) {
        static Smaps of(long start) throws IOException {
            List<String> all = Files.readAllLines(Path.of("/proc/self/smaps"));
            String prefix = Long.toHexString(start) + "-";
            for (int i = 0; i < all.size(); i++) {
                if (all.get(i).startsWith(prefix)) {
                    int end = i + 1;
                    while (end < all.size() && !all.get(end).matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                        end++;
                    }
                    return new Smaps(all.subList(i, end));
                }
            }
            throw new AssertionError("no mapping at " + prefix + " in /proc/self/smaps");
        }

        List<String> flags() {
            return lines.stream().filter(l -> l.startsWith("VmFlags:")).findFirst()
                    .map(l -> List.of(l.substring(8).strip().split("\\s+"))).orElse(List.of());
        }

        long field(String name) {
            return lines.stream().filter(l -> l.startsWith(name + ":")).findFirst()
                    .map(l -> Long.parseLong(l.substring(name.length() + 1).replace("kB", "").strip()))
                    .orElseThrow(() -> new AssertionError("no " + name + " in " + lines));
        }
    }
}
