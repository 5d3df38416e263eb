package vessel.vmm;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VmConfigTest {
    @Test
    void sizesParseAsQemuReadsThem() throws Exception {
        assertEquals(256L << 20, MemorySize.parse("256M"));
        assertEquals(256L << 20, MemorySize.parse("256"));
        assertEquals(1L << 30, MemorySize.parse("1G"));
        assertEquals(2L << 30, MemorySize.parse("2GiB"));
        assertEquals(512L << 10, MemorySize.parse("512k"));
        for (String bad : new String[] {"", "abc", "12Q", "-5M", "1.5G", "99999999999999999999"}) {
            ConfigException e = assertThrows(ConfigException.class, () -> MemorySize.parse(bad));
            assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
        }
    }

    @Test
    void impossibleConfigsAreRejectedWithTheFieldNamed() {
        Path k = Path.of("k");
        assertMessage("no kernel", () -> VmConfig.builder().build());
        assertMessage("more than zero", () -> VmConfig.builder().kernel(k).memory(0).build());
        assertMessage("minimum", () -> VmConfig.builder().kernel(k).memory(4096).build());
        assertMessage("4 KiB pages", () -> VmConfig.builder().kernel(k).memory((1L << 20) + 1).build());
        assertMessage("more than this host has", () -> VmConfig.builder().kernel(k).memory("64T").build());
        assertMessage("cpu count 0", () -> VmConfig.builder().kernel(k).cpus(0).build());
        assertMessage("cpu count 1000", () -> VmConfig.builder().kernel(k).cpus(1000).build());
    }

    @Test
    void inputFilesAreCheckedBeforeAnythingIsCreated(@TempDir Path dir) throws Exception {
        assertMessage("kernel file " + dir.resolve("none") + " does not exist",
                () -> VirtualMachine.readInput(dir.resolve("none"), "kernel"));
        assertMessage("is a directory", () -> VirtualMachine.readInput(dir, "kernel"));
    }

    private static void assertMessage(String fragment, org.junit.jupiter.api.function.Executable call) {
        ConfigException e = assertThrows(ConfigException.class, call);
        assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' should mention '" + fragment + "'");
        assertTrue(!e.getMessage().contains("\n"), "one line");
    }
}
