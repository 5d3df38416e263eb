package vessel.testkit;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Debian's SeaBIOS as {@code scripts/firmware.sh} fetches it for {@code vessel run --firmware}. */
public final class TestFirmware {
    private TestFirmware() {}

    public static synchronized Path seabios() throws IOException, InterruptedException {
        Path project = NativeTools.projectDir();
        NativeTools.run(List.of(project.resolve("scripts/firmware.sh").toString(), "--quiet"), project);
        String env = System.getenv("VESSEL_FIRMWARE_DIR");
        return (env != null ? Path.of(env) : project.resolve(".cache/firmware")).resolve("bios-256k.bin");
    }
}
