package vessel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import vessel.testkit.NativeTools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The VMM, API and CLI reach devices through their interfaces (metrics, state, BAR listeners), never by
 * testing or switching on a device's class: a new device then touches no code that lists the others.
 */
class DeviceClassSwitchTest {
    /** {@code instanceof VirtioBlock}, {@code case VirtioNet n ->}, {@code instanceof BochsDisplay d}, ... */
    static final Pattern CLASS_TEST = Pattern.compile(
            "(instanceof|case)\\s+(vessel\\.devices\\.[a-z.]+\\.)?(Virtio(?!Device\\b|Interrupt\\b)[A-Z]\\w*"
                    + "|BochsDisplay|Uart16550|I8042|CmosRtc|AcpiPm1Device|AcpiPowerDevice|DebugExit)\\b");

    @Test
    void noCodeOutsideTheDevicesTestsOrSwitchesOnADeviceClass() throws IOException {
        Path root = NativeTools.projectDir().resolve("src/main/java/vessel");
        List<String> found;
        try (Stream<Path> files = Files.walk(root)) {
            found = files.filter(p -> p.toString().endsWith(".java"))
                    .filter(p -> !root.relativize(p).startsWith("devices"))
                    .flatMap(p -> {
                        try {
                            return Files.readAllLines(p).stream().filter(l -> CLASS_TEST.matcher(l).find())
                                    .map(l -> root.relativize(p) + ": " + l.strip());
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    }).toList();
        }
        assertEquals(List.of(), found);
    }

    /** The pattern this test relies on does see the shapes it forbids (a test that cannot fail is a defect). */
    @Test
    void thePatternSeesClassTestsAndSwitches() {
        for (String line : List.of("if (d.device() instanceof vessel.devices.virtio.VirtioBlock) {",
                "case VirtioNet n -> new Net(id);", "if (function instanceof BochsDisplay display) {",
                "if (x instanceof VirtioPciFunction virtio || y)")) {
            assertTrue(CLASS_TEST.matcher(line).find(), line);
        }
        for (String line : List.of("if (device instanceof VirtioDevice d) {", "VirtioBlock block = open();")) {
            assertTrue(!CLASS_TEST.matcher(line).find(), line);
        }
    }
}
