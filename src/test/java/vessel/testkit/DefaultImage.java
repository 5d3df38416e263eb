package vessel.testkit;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Assertions;

/** The default guest built by {@code ./vessel image} (Debian's cloud kernel and Vessel's initramfs). */
public final class DefaultImage {
    private DefaultImage() {}

    public static Path dir() {
        String env = System.getenv("VESSEL_IMAGE_DIR");
        return env != null ? Path.of(env) : NativeTools.projectDir().resolve(".cache/image");
    }

    /** The image's files; fails (not skips) when KVM is here but the image was not built. */
    public static Path file(String name) {
        Path p = dir().resolve(name);
        Assertions.assertTrue(Files.isRegularFile(p), "default guest image missing: " + p + " (run ./vessel image)");
        return p;
    }
}
