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
    private static final Map<String, Set<String>> ALLOWED = Map.of(
            "sys", Set.of(),
            "kvm", Set.of("sys"),
            "memory", Set.of("sys"),
            "devices", Set.of(),
            "boot", Set.of("kvm", "memory", "sys"),
            "vmm", Set.of("boot", "devices", "kvm", "memory", "sys"),
            "cli", Set.of("vmm", "boot", "sys"));
    private static final Pattern USE = Pattern.compile("\\bvessel\\.([a-z]+)\\.");

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
                        .filter(used -> !used.equals(pkg) && !allowed.contains(used))
                        .distinct().map(used -> root.relativize(p) + " uses vessel." + used);
            }).toList();
        }
        assertEquals(List.of(), violations);
    }
}
