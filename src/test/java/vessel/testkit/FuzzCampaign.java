package vessel.testkit;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes {@code @FuzzTest} targets with Jazzer, each in a JVM of its own: libFuzzer runs once per process,
 * and jazzer-junit fuzzes only the first {@code @FuzzTest} it meets in a JVM. FuzzTargetsTest gives each
 * target a short budget in every test run; bench/fuzz/run.sh runs a long campaign through {@link #main}.
 *
 * <p>Each target works in {@code <work>/<target>/}: Jazzer keeps the corpus it grows there
 * ({@code .cifuzz-corpus/}) and starts from the committed seeds in
 * {@code src/test/resources/<package>/<Class>Inputs/<method>/}, which the normal test run replays; a
 * crashing input lands in {@code findings/}. Copy it into the seeds directory to make it a regression test.
 */
public final class FuzzCampaign {
    /**
     * Jazzer's bug detectors for Java web code (SQL, LDAP, deserialization, SSRF, ...): nothing in Vessel
     * they could apply to, and their hooks cost seconds of start-up per JVM. The comparison and division
     * hooks that guide the fuzzer stay.
     */
    public static final String DISABLED_HOOKS = Stream.of("ClojureLangHooks", "Deserialization",
            "ExpressionLanguageInjection", "FilePathTraversal", "LdapInjection", "NamingContextLookup",
            "OsCommandInjection", "ReflectiveCall", "RegexInjection", "RegexRoadblocks", "ScriptEngineInjection",
            "ServerSideRequestForgery", "SqlInjection", "XPathInjection", "BigDecimal", "TemplateInjection",
            "XmlParserSsrfGuidance")
            .map(h -> "com.code_intelligence.jazzer.sanitizers." + h).reduce((a, b) -> a + ":" + b).orElseThrow();

    private static final Pattern EXECUTED = Pattern.compile("stat::number_of_executed_units:\\s*(\\d+)");
    private static final Pattern NEW_UNITS = Pattern.compile("stat::new_units_added:\\s*(\\d+)");
    private static final Pattern ARTIFACT = Pattern.compile("Test unit written to (\\S+)");
    private static final Pattern COVERAGE = Pattern.compile("#\\d+\\s+\\w+\\s+cov: (\\d+)");

    private FuzzCampaign() { }

    /** One {@code @FuzzTest} method. */
    public record Target(String className, String method) {
        public String name() {
            return className.substring(className.lastIndexOf('.') + 1) + "." + method;
        }

        /** The committed seeds, replayed by the normal test run. */
        public Path seeds(Path projectDir) {
            return projectDir.resolve("src/test/resources").resolve(className.replace('.', '/') + "Inputs")
                    .resolve(method);
        }
    }

    /** What one fuzzing run did: executions, corpus units it added, edges covered, and the crashing inputs. */
    public record Result(Target target, Duration budget, long executions, long newUnits, long coverage,
                         List<Path> findings, int exitCode, Duration elapsed, Path log) {
        public boolean clean() {
            return findings.isEmpty() && exitCode == 0;
        }
    }

    /** Every {@code @FuzzTest} in the {@code *FuzzTest} classes under {@code testClasses}, in name order. */
    public static List<Target> discover(Path testClasses) throws IOException {
        List<Target> targets = new ArrayList<>();
        List<String> classes;
        try (Stream<Path> files = Files.walk(testClasses)) {
            classes = files.map(p -> testClasses.relativize(p).toString())
                    .filter(p -> p.endsWith("FuzzTest.class") && !p.contains("$"))
                    .map(p -> p.substring(0, p.length() - ".class".length()).replace('/', '.'))
                    .sorted().toList();
        }
        for (String name : classes) {
            Class<?> c;
            try {
                c = Class.forName(name, false, FuzzCampaign.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new IOException("fuzz test class " + name + " is not on the classpath", e);
            }
            Stream.of(c.getDeclaredMethods()).filter(m -> m.isAnnotationPresent(FuzzTest.class))
                    .map(Method::getName).sorted().forEach(m -> targets.add(new Target(name, m)));
        }
        return targets;
    }

    /**
     * Fuzzes {@code target} for {@code budget} in a child JVM working in {@code work/<target>}. With
     * {@code keepGoing} it carries on past findings (up to 100 distinct ones), as a long campaign should.
     */
    public static Result run(Target target, Duration budget, Path projectDir, Path work, boolean keepGoing)
            throws IOException, InterruptedException {
        Path dir = work.resolve(target.name()).toAbsolutePath();
        Path findings = dir.resolve("findings");
        Files.createDirectories(findings);
        Path log = dir.resolve("fuzz.log");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                // Jazzer attaches its agent to its own JVM; this says so up front instead of a warning.
                "-XX:+EnableDynamicAgentLoading", "-Xmx1g", "-Xss4m",
                "-Dvessel.project.dir=" + projectDir, "-Dvessel.fuzz.scratch=" + dir.resolve("scratch"),
                "-cp", VesselProcess.classpath(),
                "com.code_intelligence.jazzer.Jazzer",
                "--target_class=" + target.className(), "--target_method=" + target.method(),
                "--instrument=vessel.**", "--disabled_hooks=" + DISABLED_HOOKS,
                "--max_duration=" + budget.toSeconds() + "s",
                // Per input: a hang loops for ever, while the first input's class initialisation (Libc's FFM
                // linking, instrumented) took 11 s at a load average of 40 and was reported as a timeout.
                "-print_final_stats=1", "-rss_limit_mb=2048", "-timeout=60",
                "-artifact_prefix=" + findings + "/"));
        if (keepGoing) {
            cmd.add("--keep_going=100");
        }
        long start = System.nanoTime();
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        // Start-up (agent, instrumentation) takes seconds on a busy machine; a hang is far beyond that.
        if (!p.waitFor(budget.toSeconds() + 180, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor();
        }
        Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
        String out = Files.readString(log);
        List<Path> artifacts = new ArrayList<>();
        Matcher a = ARTIFACT.matcher(out);
        while (a.find()) {
            artifacts.add(Path.of(a.group(1)));
        }
        return new Result(target, budget, last(EXECUTED, out), last(NEW_UNITS, out), last(COVERAGE, out), artifacts,
                p.exitValue(), elapsed, log);
    }

    private static long last(Pattern p, String out) {
        Matcher m = p.matcher(out);
        long v = 0;
        while (m.find()) {
            v = Long.parseLong(m.group(1));
        }
        return v;
    }

    public static String header() {
        return String.format("%-36s %12s %9s %6s %5s %8s  %s", "target", "executions", "exec/s", "cov", "new",
                "findings", "elapsed");
    }

    public static String row(Result r) {
        double secs = r.elapsed().toMillis() / 1000.0;
        long perSecond = r.executions() / Math.max(r.budget().toSeconds(), 1);
        return String.format("%-36s %12d %9d %6d %5d %8d  %.0f s%s", r.target().name(), r.executions(), perSecond,
                r.coverage(), r.newUnits(), r.findings().size(), secs,
                r.exitCode() != 0 && r.findings().isEmpty() ? "  (exit " + r.exitCode() + ", see " + r.log() + ")" : "");
    }

    /**
     * {@code FuzzCampaign TARGET|all SECONDS [WORKDIR]}: fuzzes each matching target for SECONDS and prints
     * executions and findings per target. TARGET matches a target's name ({@code Class.method}) or class.
     * Exits 1 when anything was found.
     */
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: FuzzCampaign TARGET|all|list SECONDS [WORKDIR]");
            System.exit(2);
        }
        Path project = NativeTools.projectDir();
        List<Target> all = discover(Path.of(System.getProperty("vessel.fuzz.classes",
                project.resolve("target/test-classes").toString())));
        if (args[0].equals("list")) {
            all.forEach(t -> System.out.println(t.name()));
            return;
        }
        List<Target> chosen = all.stream().filter(t -> args[0].equals("all") || t.name().equals(args[0])
                || t.className().endsWith("." + args[0])).toList();
        if (chosen.isEmpty()) {
            System.err.println("fuzz: no target matches '" + args[0] + "' (list them with: bench/fuzz/run.sh list)");
            System.exit(2);
        }
        Duration budget = Duration.ofSeconds(Long.parseLong(args[1]));
        Path work = args.length > 2 ? Path.of(args[2]) : project.resolve("target/fuzz-campaign");
        List<Result> results = new ArrayList<>();
        System.out.println(header());
        for (Target t : chosen) {
            Result r = run(t, budget, project, work, true);
            results.add(r);
            System.out.println(row(r));
            r.findings().forEach(f -> System.out.println("    finding: " + f));
        }
        long total = results.stream().mapToLong(Result::executions).sum();
        long found = results.stream().mapToLong(r -> r.findings().size()).sum();
        System.out.printf("%d targets, %d executions, %d findings (logs and findings under %s)%n",
                results.size(), total, found, work);
        System.exit(found == 0 && results.stream().allMatch(Result::clean) ? 0 : 1);
    }
}
