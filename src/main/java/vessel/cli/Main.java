package vessel.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.List;

import vessel.gdb.GdbServer;
import vessel.sys.Libc;
import vessel.vmm.ConfigException;
import vessel.vmm.GuestSpeed;
import vessel.vmm.VirtualMachine;
import vessel.vmm.VmConfig;
import vessel.vmm.VmExit;

/**
 * {@code vessel}: the command line. Exit status: the guest's (0 for an orderly end, debug-exit's
 * (V << 1) | 1), 1 when the VM failed, 2 for bad input.
 */
public final class Main {
    static final int EXIT_ERROR = 1;
    static final int EXIT_USAGE = 2;

    static final String HELP = """
            Usage: vessel COMMAND [options]

            Commands:
              run       boot a guest (vessel run --help for options)
              api       serve Firecracker's REST API for one microVM (vessel api --help);
                        Firecracker's own options (vessel --api-sock PATH ...) do the same
              jailer    start a VMM as Firecracker's jailer starts Firecracker: chroot, namespaces,
                        cgroup, limits, unprivileged (vessel jailer --help)
              snapshot  work on snapshot files: vessel snapshot merge applies a diff snapshot's
                        memory onto its base's (vessel snapshot --help)
              screenshot  a PNG of a running guest's display, through its API socket
                        (vessel screenshot --api-sock PATH -o FILE)
              host      what this host's KVM gives guests, measured: "fast", "emulated"
                        (guest code runs in KVM's instruction emulator) or "none", then why
              help      this text

            Vessel is a virtual machine monitor on Linux KVM.""";

    private Main() {}

    public static void main(String[] args) {
        System.exit(run(Arrays.asList(args)));
    }

    static int run(List<String> args) {
        if (args.isEmpty() || args.getFirst().equals("help") || args.getFirst().equals("--help")
                || args.getFirst().equals("-h")) {
            System.out.println(HELP);
            return args.isEmpty() ? EXIT_USAGE : 0;
        }
        String command = args.getFirst();
        List<String> rest = args.subList(1, args.size());
        try {
            return switch (command) {
                case "run" -> runVm(rest);
                case "api" -> ApiCommand.run(rest);
                case "host" -> host(rest);
                case "snapshot" -> SnapshotCommand.run(rest);
                case "screenshot" -> ScreenshotCommand.run(rest);
                case "jailer" -> JailerCommand.run(rest);
                default -> {
                    if (command.startsWith("--")) {
                        yield ApiCommand.run(args); // invoked as Firecracker is: options only
                    }
                    throw new UsageException("unknown command '" + command + "' (try vessel help)");
                }
            };
        } catch (UsageException | ConfigException e) {
            System.err.println("vessel: " + e.getMessage());
            return EXIT_USAGE;
        } catch (IOException e) {
            System.err.println("vessel: " + e.getMessage());
            return EXIT_ERROR;
        } catch (InterruptedException e) {
            return EXIT_ERROR;
        }
    }

    private static int runVm(List<String> args) throws UsageException, ConfigException, IOException, InterruptedException {
        RunOptions options = new RunOptions();
        VmConfig config = options.parse(args);
        if (options.help) {
            System.out.println(RunOptions.HELP);
            return 0;
        }
        if (options.gdb != null && config != null && config.onReboot() == vessel.vmm.VmConfig.RebootAction.RESTART) {
            throw new UsageException("--gdb follows one boot: use it with --reboot stop");
        }
        // The filters go in on a thread of their own while this one gets the console ready; nothing listens
        // and no VM is made before they are in (filters.await()).
        SeccompOption.Pending filters = SeccompOption.start(options.seccomp);
        Logging.configure(options.logLevel);
        vessel.display.vnc.VncServer.Options vncOptions = options.display.vncOptions();
        // The console is written unbuffered: a prompt without a newline must show at once.
        OutputStream console = new FileOutputStream(FileDescriptor.out);
        try (BootProgress progress = options.quiet ? null : BootProgress.start(System.err, Libc.isatty(2))) {
            OutputStream guestConsole = progress == null ? console : progress.console(console);
            vessel.display.web.SerialFanOut serialFanOut = options.display.web == null ? null
                    : new vessel.display.web.SerialFanOut(guestConsole);
            GuestSession session = new GuestSession(serialFanOut != null ? serialFanOut : guestConsole);
            filters.await();
            // Listening before the guest exists: a busy port stops Vessel before anything boots.
            vessel.display.vnc.VncServer vnc = options.display.startVnc(vncOptions, session::currentDisplay,
                    session.input());
            vessel.display.web.WebConsole web;
            try {
                web = options.display.startWeb(vnc, session::currentDisplay, session.input(), serialFanOut,
                        session::sendConsoleInput);
            } catch (IOException | UsageException e) {
                if (vnc != null) {
                    vnc.close();
                }
                throw e;
            }
            VirtualMachine vm;
            try {
                vm = options.restoreSnapshot != null
                        ? session.restore(options.restoreSnapshot, options.memFile, options.gdbWait, false,
                                options.restoreOverrides)
                        : session.start(config, options.gdbWait);
            } catch (ConfigException | IOException | RuntimeException e) {
                if (vnc != null) {
                    vnc.close();
                }
                if (web != null) {
                    web.close();
                }
                throw e;
            }
            try (GdbServer gdb = options.gdb == null ? null : GdbServer.start(options.gdb, vm.debugger())) {
                if (gdb != null) {
                    System.err.println("vessel: gdb stub listening on " + options.gdb.getHostString() + ":" + gdb.port()
                            + (options.gdbWait ? " (guest stopped until gdb continues)" : ""));
                }
                if (progress != null) {
                    progress.running(session::exitCount);
                }
                return exitStatus(session.awaitEnd());
            } finally {
                if (vnc != null) {
                    vnc.close();
                }
                if (web != null) {
                    web.close();
                }
            }
        }
    }

    /**
     * {@code vessel host}: one line, {@code KIND: why}, KIND being fast, emulated or none. The
     * launcher and scripts/test read the first word to choose where guests run; exit status 0 whenever
     * the question was answered (none included).
     */
    private static int host(List<String> args) throws UsageException, IOException {
        if (!args.isEmpty()) {
            throw new UsageException("vessel host takes no options");
        }
        System.out.println(GuestSpeed.hostLine());
        return 0;
    }

    /** The process status for how the guest ended; an error is also reported on stderr. */
    static int exitStatus(VmExit exit) {
        if (exit.reason() == VmExit.Reason.ERROR) {
            System.err.println("vessel: " + exit.detail());
        }
        return exit.status();
    }
}
