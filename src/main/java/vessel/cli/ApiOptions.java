package vessel.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import vessel.api.ApiServer;
import vessel.api.Vmm;

/** Parses the options of {@code vessel api}, which are Firecracker's, so that its callers run Vessel unchanged. */
final class ApiOptions {
    static final String HELP = """
            Usage: vessel [api] --api-sock PATH [--config-file FILE] [options]
                   vessel [api] --no-api --config-file FILE [options]

            Serves Firecracker's REST API (HTTP on a Unix socket) for one microVM; with
            --config-file, boots the microVM that Firecracker's JSON config file describes
            without waiting for API calls. The process ends when the guest does.

              --api-sock PATH      the API's Unix socket (created owner-only, removed on exit)
              --config-file FILE   boot from this Firecracker JSON config file
              --no-api             serve no API socket (needs --config-file)
              --id ID              the instance id GET / reports (default anonymous-instance)
              --level LEVEL        log level: error, warning (default), info, debug, trace, off
              --log-path FILE      write log lines to FILE (a file or FIFO) instead of stderr
              --show-level         put each line's level in the log file
              --show-log-origin    put each line's logger name in the log file
              --metrics-path FILE  write metrics lines to FILE (a file or FIFO)
              --http-api-max-payload-size BYTES
                                   largest request body accepted (default 51200)
              --mmds-size-limit BYTES
                                   largest MMDS document, as JSON (default: the payload limit)
              --seccomp-level N    system call filters: 2 (default) kill Vessel on a call its
                                   thread may not make, 1 only log it (kernel log), 0 none
              --no-seccomp         the same as --seccomp-level 0
              --version            print Vessel's version
            Vessel's own, for a display (GET /screenshot, vessel screenshot):
            %DISPLAY%""".replace("%DISPLAY%", DisplayOptions.HELP.stripLeading());

    boolean help;
    boolean version;
    Path apiSock;
    Path configFile;
    boolean noApi;
    String id = Vmm.DEFAULT_ID;
    String level = "warning";
    Path logPath;
    boolean showLevel;
    boolean showOrigin;
    Path metricsPath;
    int maxPayload = ApiServer.MAX_PAYLOAD;
    /** -1 until given: then the payload limit, as Firecracker's default. */
    int mmdsSizeLimit = -1;
    vessel.sys.Seccomp.Level seccomp = vessel.sys.Seccomp.Level.KILL;
    final DisplayOptions display = new DisplayOptions();

    static ApiOptions parse(List<String> args) throws UsageException {
        try {
            return parseOptions(args);
        } catch (vessel.vmm.ConfigException e) {
            throw new UsageException(e.getMessage());
        }
    }

    private static ApiOptions parseOptions(List<String> args) throws UsageException, vessel.vmm.ConfigException {
        ApiOptions o = new ApiOptions();
        List<String> rest = new ArrayList<>(args);
        while (!rest.isEmpty()) {
            String opt = rest.removeFirst();
            String inline = null;
            int eq = opt.indexOf('=');
            if (opt.startsWith("--") && eq > 0) {
                inline = opt.substring(eq + 1);
                opt = opt.substring(0, eq);
            }
            switch (opt) {
                case "-h", "--help" -> o.help = true;
                case "--version" -> o.version = true;
                case "--api-sock" -> o.apiSock = Path.of(value(opt, inline, rest));
                case "--config-file" -> o.configFile = Path.of(value(opt, inline, rest));
                case "--no-api" -> o.noApi = true;
                case "--id" -> o.id = value(opt, inline, rest);
                case "--level", "--log-level" -> o.level = value(opt, inline, rest);
                case "--log-path" -> o.logPath = Path.of(value(opt, inline, rest));
                case "--show-level" -> o.showLevel = true;
                case "--show-log-origin" -> o.showOrigin = true;
                case "--metrics-path" -> o.metricsPath = Path.of(value(opt, inline, rest));
                case "--http-api-max-payload-size" -> {
                    String v = value(opt, inline, rest);
                    try {
                        o.maxPayload = Integer.parseInt(v);
                    } catch (NumberFormatException e) {
                        throw new UsageException(opt + " takes a number of bytes, not '" + v + "'");
                    }
                    if (o.maxPayload < 1) {
                        throw new UsageException(opt + " must be at least 1");
                    }
                }
                case "--display", "--vnc", "--vnc-password-file" -> o.display.take(opt, value(opt, inline, rest));
                case "--mmds-size-limit" -> {
                    String v = value(opt, inline, rest);
                    try {
                        o.mmdsSizeLimit = Integer.parseInt(v);
                    } catch (NumberFormatException e) {
                        throw new UsageException(opt + " takes a number of bytes, not '" + v + "'");
                    }
                    if (o.mmdsSizeLimit < 0) {
                        throw new UsageException(opt + " cannot be negative");
                    }
                }
                case "--no-seccomp" -> o.seccomp = vessel.sys.Seccomp.Level.OFF;
                case "--seccomp-level" -> o.seccomp = SeccompOption.level(value(opt, inline, rest));
                case "--seccomp-filter" -> throw new UsageException(
                        "--seccomp-filter is not supported: Vessel builds its filters itself (--seccomp-level 0|1|2)");
                default -> throw new UsageException("unknown option '" + opt + "' (see vessel api --help)");
            }
        }
        if (o.mmdsSizeLimit < 0) {
            o.mmdsSizeLimit = o.maxPayload;
        }
        if (o.help || o.version) {
            return o;
        }
        if (!o.id.chars().allMatch(c -> c == '-' || c == '_' || Character.isLetterOrDigit(c)) || o.id.isEmpty()
                || o.id.length() > 64) {
            throw new UsageException("--id takes 1 to 64 letters, digits, '-' or '_', not '" + o.id + "'");
        }
        if (o.noApi && o.configFile == null) {
            throw new UsageException("--no-api needs --config-file FILE (nothing else could start the microVM)");
        }
        if (o.noApi && o.apiSock != null) {
            throw new UsageException("--no-api and --api-sock contradict each other");
        }
        if (!o.noApi && o.apiSock == null) {
            throw new UsageException("--api-sock PATH is needed (or --no-api with --config-file FILE)");
        }
        return o;
    }

    private static String value(String opt, String inline, List<String> rest) throws UsageException {
        if (inline != null) {
            return inline;
        }
        if (rest.isEmpty() || rest.getFirst().startsWith("--")) {
            throw new UsageException(opt + " needs a value");
        }
        return rest.removeFirst();
    }
}
