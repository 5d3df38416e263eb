package vessel.cli;

import java.util.List;

import org.junit.jupiter.api.Test;

import vessel.devices.virtio.VirtioInput;
import vessel.vmm.VmConfig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** --input and --display-adapter: what they add, and one line for a wrong value. */
class RunOptionsInputTest {
    private static VmConfig parse(String... args) throws Exception {
        return new RunOptions().parse(List.of(args));
    }

    @Test
    void inputVirtioAddsAKeyboardAndATablet() throws Exception {
        VmConfig c = parse("--kernel", "/k", "--input", "virtio", "--display-adapter", "bochs");
        assertEquals(List.of(VirtioInput.Kind.KEYBOARD, VirtioInput.Kind.TABLET), c.virtioInputs());
        assertEquals(VmConfig.DisplayAdapter.BOCHS, c.displayAdapter());
        assertEquals(List.of(VirtioInput.Kind.TABLET), parse("--kernel", "/k", "--input", "tablet").virtioInputs());
        assertEquals(VmConfig.DisplayAdapter.NONE, parse("--kernel", "/k").displayAdapter());
    }

    @Test
    void badValuesAreOneLine() {
        UsageException e = assertThrows(UsageException.class, () -> parse("--kernel", "/k", "--input", "joystick"));
        assertEquals("--input takes virtio, keyboard or tablet (comma-separated), not 'joystick'", e.getMessage());
        e = assertThrows(UsageException.class, () -> parse("--kernel", "/k", "--display-adapter", "cirrus"));
        assertEquals("--display-adapter takes one of [none, bochs], not 'cirrus'", e.getMessage());
    }
}
