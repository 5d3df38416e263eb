package vessel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import vessel.testkit.FuzzCampaign;
import vessel.testkit.FuzzCampaign.Result;
import vessel.testkit.FuzzCampaign.Target;
import vessel.testkit.NativeTools;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Fuzzes every {@code @FuzzTest} target for a short, fixed budget ({@code vessel.fuzz.seconds}, 3 s by
 * default; {@code vessel.fuzz.jobs} JVMs at a time, 2 by default), each in its own JVM (FuzzCampaign says
 * why). The corpus each target grew is kept under target/fuzz-ci, so a later run starts where this one
 * stopped. A finding fails the target's test, naming the crashing input to add to its seeds.
 */
class FuzzTargetsTest {
    private static final ExecutorService JOBS = Executors.newFixedThreadPool(Integer.getInteger("vessel.fuzz.jobs", 2));

    @AfterAll
    static void stop() {
        JOBS.shutdownNow();
    }

    @TestFactory
    Stream<DynamicTest> eachTargetFuzzesCleanForItsBudget() throws IOException {
        Path project = NativeTools.projectDir();
        Duration budget = Duration.ofSeconds(Long.getLong("vessel.fuzz.seconds", 3));
        Path work = project.resolve("target/fuzz-ci");
        List<Target> targets = FuzzCampaign.discover(project.resolve("target/test-classes"));
        assertFalse(targets.isEmpty(), "no @FuzzTest targets found under target/test-classes");
        List<Future<Result>> runs = targets.stream()
                .map(t -> JOBS.submit(() -> FuzzCampaign.run(t, budget, project, work, false))).toList();
        return runs.stream().map(run -> {
            int i = runs.indexOf(run);
            return DynamicTest.dynamicTest(targets.get(i).name(), () -> check(run.get()));
        });
    }

    private static void check(Result r) throws IOException {
        System.out.println(FuzzCampaign.row(r));
        if (!r.findings().isEmpty()) {
            fail(r.target().name() + " found " + r.findings() + "; copy it into " + r.target().seeds(NativeTools.projectDir())
                    + " (a regression seed) and fix the cause. Log: " + r.log() + "\n" + tail(r.log()));
        }
        if (r.exitCode() != 0) {
            fail(r.target().name() + ": Jazzer exited with " + r.exitCode() + ". Log: " + r.log() + "\n" + tail(r.log()));
        }
        // A target that never ran its code would pass silently: it must have executed inputs.
        assertTrue(r.executions() > 0, r.target().name() + " executed no inputs; log " + r.log());
    }

    private static String tail(Path log) throws IOException {
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }
}
