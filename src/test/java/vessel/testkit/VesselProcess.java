package vessel.testkit;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The command line of a {@code vessel} CLI in a child JVM, the one way tests start one. */
public final class VesselProcess {
    private VesselProcess() { }

    /**
     * {@code java [options] vessel.cli.Main ARGS} with this JVM's JDK.
     *
     * <p>The classpath is this JVM's, unless a launcher that loads tests through its own class loader
     * (scripts/test's nested run) names it in {@code vessel.cli.classpath}. Extra JVM options come from
     * {@code vessel.child.jvm.options} (space-separated): scripts/test's nested run limits the JIT to C1
     * there, because QEMU's multi-threaded TCG has crashed JVMs at code HotSpot patched while another
     * thread ran it (C1 methods being made not-entrant when C2 replaced them).
     */
    public static List<String> command(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"));
        String extra = System.getProperty("vessel.child.jvm.options", "").strip();
        if (!extra.isEmpty()) {
            cmd.addAll(Arrays.asList(extra.split("\\s+")));
        }
        cmd.addAll(List.of("-cp", classpath(), "vessel.cli.Main"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    public static String classpath() {
        return System.getProperty("vessel.cli.classpath", System.getProperty("java.class.path"));
    }
}
