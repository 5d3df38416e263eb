package vessel.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import vessel.vmm.ConfigException;
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
                default -> throw new UsageException("unknown command '" + command + "' (try vessel help)");
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
        Logging.configure(options.logLevel);
        // The console is written unbuffered: a prompt without a newline must show at once.
        FileOutputStream console = new FileOutputStream(FileDescriptor.out);
        AtomicReference<VirtualMachine> current = new AtomicReference<>();
        Thread stopOnSignal = new Thread(() -> {
            VirtualMachine vm = current.get();
            if (vm != null) {
                vm.stop();
            }
        }, "stop-on-signal");
        Runtime.getRuntime().addShutdownHook(stopOnSignal);
        boolean inputStarted = false;
        while (true) {
            VmExit exit;
            try (VirtualMachine vm = VirtualMachine.create(config, console);
                 Terminal terminal = Terminal.rawIfInteractive()) {
                current.set(vm);
                vm.start();
                if (!inputStarted) {
                    ConsoleInput.start(current, terminal.interactive());
                    inputStarted = true;
                }
                exit = vm.awaitExit();
                current.set(null);
            }
            if (exit.reason() == VmExit.Reason.RESET && config.onReboot() == VmConfig.RebootAction.RESTART) {
                continue; // a cold boot of the same configuration, as a PC's reset button gives
            }
            if (exit.reason() == VmExit.Reason.ERROR) {
                System.err.println("vessel: " + exit.detail());
            }
            return exit.status();
        }
    }
}
