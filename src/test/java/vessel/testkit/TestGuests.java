package vessel.testkit;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** The project's own test guests (guests/), built once per test run with make, gcc and binutils. */
public final class TestGuests {
    private static Path built;

    private TestGuests() {}

    /** Builds the guests if needed and returns the file {@code name} (e.g. "long.bin", "multiboot.elf"). */
    public static synchronized Path get(String name) throws IOException, InterruptedException {
        if (built == null) {
            Path out = Path.of(System.getProperty("vessel.guests.dir",
                    NativeTools.projectDir().resolve("target/guests").toString())).toAbsolutePath();
            NativeTools.run(List.of("make", "-s", "-C", NativeTools.projectDir().resolve("guests").toString(),
                    "O=" + out), NativeTools.projectDir());
            built = out;
        }
        return built.resolve(name);
    }
}
