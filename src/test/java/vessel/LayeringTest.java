package vessel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import vessel.testkit.NativeTools;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Dependencies point one way, toward kvm and memory: each package may use only those listed for it. */
class LayeringTest {
    private static final Map<String, Set<String>> ALLOWED = Map.ofEntries(
            Map.entry("sys", Set.of()),
            // JSON (API bodies, MMDS documents): a leaf, usable by any layer that speaks JSON
            Map.entry("json", Set.of()),
            Map.entry("kvm", Set.of("sys")),
            Map.entry("memory", Set.of("sys")),
            // virtio devices read and write guest RAM through GuestMemory; disk images use pread/fallocate
            Map.entry("devices", Set.of("json", "memory", "sys")),
            Map.entry("boot", Set.of("kvm", "memory", "sys")),
            Map.entry("vmm", Set.of("boot", "devices", "json", "kvm", "memory", "sys")),
            // display servers (VNC, screenshots) read a devices.display.Display and feed a devices.input.InputSink;
            // they accept connections through sys.AcceptLoop, as the API server does
            Map.entry("display", Set.of("devices", "sys")),
            Map.entry("api", Set.of("vmm", "display", "boot", "devices", "json", "kvm", "memory", "sys")),
            Map.entry("gdb", Set.of("vmm", "kvm", "memory", "sys")),
            Map.entry("cli", Set.of("api", "gdb", "display", "vmm", "boot", "devices", "json", "memory", "sys")));
    private static final Pattern USE = Pattern.compile("\\bvessel\\.([a-z]+)\\.");
    /** A use of a class, naming its whole package: vessel.boot.acpi.Aml gives boot.acpi. */
    private static final Pattern PACKAGE_USE = Pattern.compile("\\bvessel\\.((?:[a-z]+\\.)*[a-z]+)\\.[A-Z*]");

    @Test
    void packagesDependOnlyDownward() throws IOException {
        Path root = NativeTools.projectDir().resolve("src/main/java/vessel");
        List<String> violations;
        try (Stream<Path> files = Files.walk(root)) {
            violations = files.filter(p -> p.toString().endsWith(".java")).flatMap(p -> {
                String pkg = root.relativize(p).getName(0).toString();
                Set<String> allowed = ALLOWED.get(pkg);
                if (allowed == null) {
                    return Stream.of(p + ": package '" + pkg + "' has no layering rule");
                }
                String text;
                try {
                    text = Files.readString(p);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                Matcher m = USE.matcher(text);
                return m.results().map(r -> r.group(1))
                        .filter(ALLOWED::containsKey) // "vessel.image.dir" and the like are not packages
                        .filter(used -> !used.equals(pkg) && !allowed.contains(used))
                        .distinct().map(used -> root.relativize(p) + " uses vessel." + used);
            }).toList();
        }
        assertEquals(List.of(), violations);
    }

    /**
     * The VMM's controller is reached through action records: it knows nothing of the API package, HTTP
     * or the Firecracker JSON model (only the MMDS document is JSON, as a tree). The package rule above
     * already keeps vmm from using api; this names the controller's own limits.
     */
    @Test
    void theControllerKnowsNothingOfTheApiHttpOrJsonBinding() throws IOException {
        Path control = NativeTools.projectDir().resolve("src/main/java/vessel/vmm/control");
        Pattern forbidden = Pattern.compile("\\bvessel\\.api\\b|ObjectMapper"
                + "|com\\.sun\\.net\\.httpserver|java\\.net\\.http");
        List<String> violations;
        try (Stream<Path> files = Files.list(control)) {
            violations = files.filter(p -> p.toString().endsWith(".java")).flatMap(p -> {
                try {
                    return forbidden.matcher(Files.readString(p)).results().map(r -> p.getFileName() + " uses " + r.group())
                            .distinct();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).toList();
        }
        assertEquals(List.of(), violations);
    }

    /**
     * JSON is vessel.json's, everywhere: Jackson (about 490 classes loaded before the API's first answer)
     * was replaced, and neither the build nor any source, main or test, may bring it back.
     */
    @Test
    void noJacksonAnywhere() throws IOException {
        Path project = NativeTools.projectDir();
        Pattern jackson = Pattern.compile("com\\.fasterxml\\.jackson|<groupId>com\\.fasterxml");
        List<String> violations;
        try (Stream<Path> files = Stream.concat(Files.walk(project.resolve("src/main/java")),
                Stream.concat(Files.walk(project.resolve("src/test/java")), Stream.of(project.resolve("pom.xml"))))) {
            violations = files.filter(p -> p.toString().endsWith(".java") || p.toString().endsWith(".xml")).filter(p -> {
                try {
                    return jackson.matcher(Files.readString(p)).find();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).map(p -> project.relativize(p) + " uses Jackson").toList();
        }
        assertEquals(List.of(), violations);
    }

    /** The ACPI tables are plain data written into guest memory: nothing of KVM or the rest of boot. */
    @Test
    void acpiTablesUseOnlyGuestMemory() throws IOException {
        Path acpi = NativeTools.projectDir().resolve("src/main/java/vessel/boot/acpi");
        Set<String> allowed = Set.of("boot.acpi", "memory");
        List<String> violations;
        try (Stream<Path> files = Files.list(acpi)) {
            violations = files.filter(p -> p.toString().endsWith(".java")).flatMap(p -> {
                try {
                    return PACKAGE_USE.matcher(Files.readString(p)).results().map(r -> r.group(1))
                            .filter(used -> !allowed.contains(used)).distinct()
                            .map(used -> p.getFileName() + " uses vessel." + used);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).toList();
        }
        assertEquals(List.of(), violations);
    }
}
