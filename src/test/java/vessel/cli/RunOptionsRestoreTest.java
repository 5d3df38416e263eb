package vessel.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import vessel.vmm.RestoreOverrides;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** --restore-snapshot's overrides: what they name, and one line for a wrong use. */
class RunOptionsRestoreTest {
    private static RunOptions parse(String... args) throws Exception {
        RunOptions o = new RunOptions();
        assertNull(o.parse(List.of(args)), "a restore has no config of its own");
        return o;
    }

    @Test
    void overridesNameTheDisksTapsAndSocketARestoreOpens() throws Exception {
        RunOptions o = parse("--restore-snapshot", "vm.state", "--mem-file", "vm.mem", "--override-drive", "data=c1.ext4",
                "--override-drive=root=c1-root.ext4", "--override-tap", "eth0=tap7", "--override-vsock", "c1.sock");
        assertEquals(new RestoreOverrides(Map.of("eth0", "tap7"),
                Map.of("data", Path.of("c1.ext4"), "root", Path.of("c1-root.ext4")), Path.of("c1.sock")), o.restoreOverrides);
        assertEquals(RestoreOverrides.NONE, parse("--restore-snapshot", "vm.state", "--mem-file", "vm.mem").restoreOverrides);
    }

    @Test
    void wrongUsesAreOneLine() {
        UsageException e = assertThrows(UsageException.class, () -> parse("--override-drive", "data=c.ext4"));
        assertEquals("--override-drive goes with --restore-snapshot STATE", e.getMessage());
        e = assertThrows(UsageException.class, () -> parse("--restore-snapshot", "s", "--mem-file", "m", "--override-tap", "eth0"));
        assertEquals("--override-tap takes ID=TAP, not 'eth0'", e.getMessage());
        e = assertThrows(UsageException.class, () -> parse("--restore-snapshot", "s", "--mem-file", "m",
                "--override-drive", "d=a", "--override-drive", "d=b"));
        assertEquals("--override-drive for d is given twice", e.getMessage());
        e = assertThrows(UsageException.class, () -> parse("--restore-snapshot", "s", "--mem-file", "m", "--override-drive", "=x"));
        assertEquals("--override-drive takes ID=IMAGE, not '=x'", e.getMessage());
    }
}
