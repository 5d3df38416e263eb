package vessel.cli;

import java.util.List;

import org.junit.jupiter.api.Test;

import vessel.memory.MemoryBacking;
import vessel.vmm.ConfigException;
import vessel.vmm.VmConfig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** --cpu-affinity, --huge-pages and --ksm: what they put in the config, and one line for a wrong value. */
class RunOptionsResourcesTest {
    private static VmConfig parse(String... args) throws Exception {
        return new RunOptions().parse(List.of(args));
    }

    @Test
    void dedicatedResourcesReachTheConfig() throws Exception {
        VmConfig c = parse("--kernel", "/k", "--cpus", "2", "--cpu-affinity", "1,0", "--huge-pages", "transparent", "--ksm");
        assertEquals(List.of(1, 0), c.cpuAffinity());
        assertEquals(new MemoryBacking(MemoryBacking.HugePages.TRANSPARENT, true), c.memoryBacking());
        assertEquals(MemoryBacking.HugePages.HUGETLB_2M, parse("--kernel", "/k", "--huge-pages=2M").memoryBacking().hugePages());
        VmConfig plain = parse("--kernel", "/k");
        assertEquals(List.of(), plain.cpuAffinity());
        assertEquals(MemoryBacking.DEFAULT, plain.memoryBacking());
    }

    @Test
    void badValuesAreOneLine() {
        UsageException e = assertThrows(UsageException.class, () -> parse("--kernel", "/k", "--huge-pages", "1G"));
        assertEquals("--huge-pages takes none, transparent or 2M, not '1G'", e.getMessage());
        e = assertThrows(UsageException.class, () -> parse("--kernel", "/k", "--cpu-affinity", "3-1"));
        assertEquals("--cpu-affinity: CPU range '3-1' in '3-1' runs backwards", e.getMessage());
        ConfigException c = assertThrows(ConfigException.class,
                () -> parse("--kernel", "/k", "--memory", "17M", "--huge-pages", "2M"));
        assertEquals("with 2M huge pages the memory size must be a multiple of 2 MiB (17 MiB given)", c.getMessage());
    }
}
