package vessel.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the machine's C toolchain for tests: compiling a probe, building the test guests. */
public final class NativeTools {
    private NativeTools() {}

    /** The project's root folder (where pom.xml is). */
    public static Path projectDir() {
        return Path.of(System.getProperty("vessel.project.dir", ".")).toAbsolutePath();
    }

    /** Runs a command, returning its stdout; fails with its output if it exits non-zero. */
    public static String run(List<String> command, Path dir) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + command);
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " exited " + p.exitValue() + ":\n" + text);
        }
        return text;
    }

    /** Compiles {@code source} as C with gcc, runs it, and returns what it printed. */
    public static String compileAndRun(String source, Path workDir) throws IOException, InterruptedException {
        Files.createDirectories(workDir);
        Path c = workDir.resolve("probe.c");
        Path exe = workDir.resolve("probe");
        Files.writeString(c, source);
        run(new ArrayList<>(List.of("gcc", "-std=gnu11", "-Wall", "-o", exe.toString(), c.toString())), workDir);
        return run(List.of(exe.toString()), workDir);
    }
}
