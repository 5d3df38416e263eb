package vessel.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import vessel.boot.EntryMode;
import vessel.vmm.ConfigException;
import vessel.vmm.VmConfig;

/** Parses {@code vessel run} options into a {@link VmConfig}. */
final class RunOptions {
    static final String HELP = """
            Usage: vessel run --kernel FILE [options]

              --kernel FILE        kernel to boot: a multiboot ELF, or a flat binary with --entry
              --entry MODE         run FILE as a flat binary loaded at 0x10000, entered in
                                   real, protected or long mode
              --memory SIZE        guest RAM, e.g. 256M, 1G (plain numbers are MiB; default 256M)
              --cpus N             vCPUs (default 1)
              --cmdline TEXT       kernel command line
              --initrd FILE        initial ramdisk (a multiboot module); repeatable
              --debug-exit         attach QEMU's isa-debug-exit at port 0xf4: a guest write of V
                                   ends Vessel with status (V << 1) | 1
              --kernel-decompress WHERE
                                   host (default): Vessel unpacks a bzImage's kernel before boot;
                                   guest: the kernel's own decompressor runs in the guest
              --reboot ACTION      what a guest reboot does: stop (default, status 0) or restart
              --log-level LEVEL    error, warning (default), info or debug

            On an interactive terminal the console is raw; press Ctrl-A then x to quit,
            Ctrl-A Ctrl-A to send a Ctrl-A.""";

    boolean help;
    String logLevel = "warning";

    VmConfig parse(List<String> args) throws UsageException, ConfigException {
        VmConfig.Builder b = VmConfig.builder();
        List<String> rest = new ArrayList<>(args);
        while (!rest.isEmpty()) {
            String opt = rest.removeFirst();
            String value = null;
            int eq = opt.indexOf('=');
            if (opt.startsWith("--") && eq > 0) {
                value = opt.substring(eq + 1);
                opt = opt.substring(0, eq);
            }
            switch (opt) {
                case "-h", "--help" -> help = true;
                case "--debug-exit" -> b.debugExit(true);
                case "--kernel" -> b.kernel(Path.of(value(opt, value, rest)));
                case "--entry" -> {
                    try {
                        b.entry(EntryMode.parse(value(opt, value, rest)));
                    } catch (IllegalArgumentException e) {
                        throw new UsageException(e.getMessage());
                    }
                }
                case "--memory", "-m" -> b.memory(value(opt, value, rest));
                case "--cpus" -> {
                    String v = value(opt, value, rest);
                    try {
                        b.cpus(Integer.parseInt(v));
                    } catch (NumberFormatException e) {
                        throw new UsageException("--cpus takes a whole number, not '" + v + "'");
                    }
                }
                case "--cmdline" -> b.cmdline(value(opt, value, rest));
                case "--initrd" -> b.initrd(Path.of(value(opt, value, rest)));
                case "--log-level" -> logLevel = value(opt, value, rest);
                case "--kernel-decompress" -> b.decompress(choice(opt, value(opt, value, rest), VmConfig.KernelDecompress.class));
                case "--reboot" -> b.onReboot(choice(opt, value(opt, value, rest), VmConfig.RebootAction.class));
                default -> throw new UsageException("unknown option '" + opt + "' (see vessel run --help)");
            }
        }
        return help ? null : b.build();
    }

    private static <E extends Enum<E>> E choice(String opt, String v, Class<E> type) throws UsageException {
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(v)) {
                return e;
            }
        }
        throw new UsageException(opt + " takes one of " + java.util.Arrays.stream(type.getEnumConstants())
                .map(e -> e.name().toLowerCase(java.util.Locale.ROOT)).toList() + ", not '" + v + "'");
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
