package vessel.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import vessel.boot.EntryMode;
import vessel.memory.MemoryBacking;
import vessel.sys.CpuAffinity;
import vessel.vmm.ConfigException;
import vessel.vmm.VmConfig;

/** Parses {@code vessel run} options into a {@link VmConfig}. */
final class RunOptions {
    static final String HELP = """
            Usage: vessel run [--kernel FILE] [options]

            Without --kernel, boots the default guest (Debian's cloud kernel with a busybox
            initramfs; ./vessel image builds it, and ./vessel run builds it when missing).

              --kernel FILE        kernel to boot: a Linux bzImage or vmlinux, a multiboot ELF,
                                   or a flat binary with --entry
              --firmware [FILE]    boot a PC BIOS ROM from the reset vector instead of a kernel:
                                   it boots the first --drive as a PC boots its disk (default
                                   FILE: Debian's SeaBIOS, bios-256k.bin, fetched on first use)
              --entry MODE         run FILE as a flat binary loaded at 0x10000, entered in
                                   real, protected or long mode
              --memory SIZE        guest RAM, e.g. 256M, 1G (plain numbers are MiB; default 256M)
              --cpus N             vCPUs (default 1)
              --cpu-affinity LIST  pin vCPU threads to host CPUs, vCPU i to the i-th CPU of LIST
                                   (e.g. 2-3,6; wraps around when shorter than --cpus)
              --huge-pages KIND    guest RAM on huge pages: none, transparent (THP, madvise) or
                                   2M (hugetlbfs pages reserved at start: vm.nr_hugepages)
              --ksm                offer guest RAM to KSM (MADV_MERGEABLE), for many similar VMs
              --cmdline TEXT       kernel command line
              --initrd FILE        initial ramdisk (a multiboot module); repeatable
              --debug-exit         attach QEMU's isa-debug-exit at port 0xf4: a guest write of V
                                   ends Vessel with status (V << 1) | 1
              --acpi-sleep         give a Linux guest ACPI S3 (echo mem > /sys/power/state):
                                   PM1a blocks, an SCI, a FACS; a console key or the API's
                                   resume wakes it. Off by default: the tables are then
                                   hardware-reduced, and Linux leaves the PIT and 8259s alone
              --kernel-decompress WHERE
                                   host (default): Vessel unpacks a bzImage's kernel before boot;
                                   guest: the kernel's own decompressor runs in the guest
              --drive path=FILE[,ro][,id=NAME][,format=raw|qcow2][,num_queues=N]
                                   a virtio-blk disk backed by a raw or qcow2 image; repeatable
                                   (the guest sees vda, vdb, ... in this order); ro: read-only;
                                   format: probed from the file's first bytes unless given
              --pmem path=FILE[,ro][,id=NAME]
                                   a virtio-pmem device (the guest's /dev/pmem0, ...) mapping FILE
                                   into guest memory; its size is rounded up to 2 MiB; ro: read-only
              --entropy            a virtio-rng device fed from the host's /dev/urandom
              --net tap=NAME[,mac=MAC][,id=NAME]
                                   a virtio-net interface on the host TAP device NAME
                                   (ip tuntap add NAME mode tap); repeatable
              --vsock cid=N,uds=PATH
                                   a virtio-vsock device with guest CID N (3 or more); host programs
                                   connect to the Unix socket PATH and send "CONNECT <port>\n", guest
                                   connections to host port P go to PATH_P
%DISPLAY%
              --input virtio|keyboard|tablet
                                   virtio-input devices on PCI for a display server's keys and
                                   pointer: keyboard, tablet (absolute pointer), or virtio for both;
                                   comma-separated. The i8042's PS/2 keyboard and mouse are always there
              --display-adapter bochs
                                   a bochs-display PCI adapter (1234:1111) for kernels with DRM's
                                   bochs driver: framebuffer BAR and VBE dispi registers
              --reboot ACTION      what a guest reboot does: stop (default, status 0) or restart
              --gdb [HOST:]PORT    serve the GDB remote protocol on HOST (default 127.0.0.1):
                                   (gdb) target remote HOST:PORT stops the guest; breakpoints are
                                   hardware ones (4 at most), registers and memory those of the
                                   vCPU that stopped. Like QEMU's -gdb tcp::PORT (-s for 1234)
              --gdb-wait           with --gdb: start with the vCPUs stopped until gdb attaches
                                   and continues (QEMU's -S)
              --restore-snapshot STATE
                                   instead of booting, restore the snapshot whose state file is
                                   STATE (PUT /snapshot/create or VirtualMachine.snapshot wrote it);
                                   the machine is the snapshot's, so no --kernel, --memory, ...
              --mem-file FILE      with --restore-snapshot: its memory file (mapped copy-on-write;
                                   the file is never written)
              --override-drive ID=IMAGE, --override-tap IFACE=TAP, --override-vsock SOCKET
                                   with --restore-snapshot: open IMAGE for the drive ID, TAP for the
                                   interface IFACE, listen on SOCKET for vsock, instead of what the
                                   snapshot names (a clone on its own disk copy; PUT /snapshot/load's
                                   network_overrides and vsock_override); repeatable per id
              --log-level LEVEL    error, warning (default), info or debug
              --quiet              no progress line on stderr while the guest's console is silent
              --seccomp-level N    system call filters: 2 (default) kill Vessel on a call its
                                   thread may not make, 1 only log it (kernel log), 0 none
              --no-seccomp         the same as --seccomp-level 0

            On an interactive terminal the console is raw; press Ctrl-A then x to quit,
            Ctrl-A Ctrl-A to send a Ctrl-A.""".replace("%DISPLAY%", DisplayOptions.HELP);

    boolean help;
    boolean quiet;
    String logLevel = "warning";
    /** --gdb: where to listen for GDB, or null. */
    java.net.InetSocketAddress gdb;
    boolean gdbWait;
    final DisplayOptions display = new DisplayOptions();
    vessel.sys.Seccomp.Level seccomp = vessel.sys.Seccomp.Level.KILL;

    /** --restore-snapshot and --mem-file: run a snapshot instead of a config; both or neither. */
    Path restoreSnapshot;
    Path memFile;
    /** --override-drive, --override-tap, --override-vsock: what a restore opens instead of the snapshot's. */
    vessel.vmm.RestoreOverrides restoreOverrides = vessel.vmm.RestoreOverrides.NONE;
    private String overrideOption;
    /** The first option seen that shapes a machine (which a snapshot already has), for the usage error. */
    private String machineOption;

    private boolean sawKernel;
    private boolean sawFirmware;
    private boolean sawCmdline;
    private boolean sawInitrd;
    private boolean sawDrive;
    private MemoryBacking.HugePages hugePages = MemoryBacking.HugePages.NONE;
    private boolean ksm;

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
            if (machineOption == null && !List.of("-h", "--help", "--quiet", "--no-seccomp", "--seccomp-level",
                    "--log-level", "--restore-snapshot", "--mem-file", "--gdb", "--gdb-wait", "--override-drive",
                    "--override-tap", "--override-vsock").contains(opt)) {
                machineOption = opt;
            }
            switch (opt) {
                case "--restore-snapshot" -> restoreSnapshot = Path.of(value(opt, value, rest));
                case "--mem-file" -> memFile = Path.of(value(opt, value, rest));
                case "--override-drive", "--override-tap" -> {
                    String v = value(opt, value, rest);
                    int at = v.indexOf('=');
                    if (at <= 0 || at == v.length() - 1) {
                        throw new UsageException(opt + " takes ID=" + (opt.equals("--override-tap") ? "TAP" : "IMAGE")
                                + ", not '" + v + "'");
                    }
                    String id = v.substring(0, at);
                    if (opt.equals("--override-drive") ? restoreOverrides.drives().containsKey(id)
                            : restoreOverrides.taps().containsKey(id)) {
                        throw new UsageException(opt + " for " + id + " is given twice");
                    }
                    restoreOverrides = opt.equals("--override-drive")
                            ? restoreOverrides.withDrive(id, Path.of(v.substring(at + 1)))
                            : restoreOverrides.withTap(id, v.substring(at + 1));
                    overrideOption = opt;
                }
                case "--override-vsock" -> {
                    restoreOverrides = restoreOverrides.withVsockUds(Path.of(value(opt, value, rest)));
                    overrideOption = opt;
                }
                case "-h", "--help" -> help = true;
                case "--quiet" -> quiet = true;
                case "--no-seccomp" -> seccomp = vessel.sys.Seccomp.Level.OFF;
                case "--seccomp-level" -> seccomp = SeccompOption.level(value(opt, value, rest));
                case "--debug-exit" -> b.debugExit(true);
                case "--acpi-sleep" -> b.acpiSleep(true);
                case "--kernel" -> {
                    b.kernel(Path.of(value(opt, value, rest)));
                    sawKernel = true;
                }
                case "--firmware" -> {
                    String file = value != null ? value
                            : !rest.isEmpty() && !rest.getFirst().startsWith("--") ? rest.removeFirst() : null;
                    b.firmware(file != null ? Path.of(file) : defaultFirmware());
                    sawFirmware = true;
                }
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
                case "--cpu-affinity" -> {
                    try {
                        b.cpuAffinity(CpuAffinity.parse(value(opt, value, rest)));
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("--cpu-affinity: " + e.getMessage());
                    }
                }
                case "--huge-pages" -> {
                    String v = value(opt, value, rest);
                    MemoryBacking.HugePages pages = MemoryBacking.HugePages.parse(v);
                    if (pages == null) {
                        throw new UsageException("--huge-pages takes none, transparent or 2M, not '" + v + "'");
                    }
                    hugePages = pages;
                }
                case "--ksm" -> ksm = true;
                case "--cmdline" -> {
                    b.cmdline(value(opt, value, rest));
                    sawCmdline = true;
                }
                case "--initrd" -> {
                    b.initrd(Path.of(value(opt, value, rest)));
                    sawInitrd = true;
                }
                case "--drive" -> {
                    b.drive(parseDrive(value(opt, value, rest)));
                    sawDrive = true;
                }
                case "--pmem" -> b.pmem(parsePmem(value(opt, value, rest)));
                case "--entropy" -> b.entropy(true);
                case "--net" -> b.net(parseNet(value(opt, value, rest)));
                case "--vsock" -> b.vsock(parseVsock(value(opt, value, rest)));
                case "--display", "--vnc", "--vnc-password-file", "--web" -> display.take(opt, value(opt, value, rest));
                case "--input" -> {
                    for (vessel.devices.virtio.VirtioInput.Kind kind : parseInput(value(opt, value, rest))) {
                        b.virtioInput(kind);
                    }
                }
                case "--display-adapter" -> b.displayAdapter(
                        choice(opt, value(opt, value, rest), VmConfig.DisplayAdapter.class));
                case "--log-level" -> logLevel = value(opt, value, rest);
                case "--gdb" -> gdb = parseGdbAddress(value(opt, value, rest));
                case "--gdb-wait" -> gdbWait = true;
                case "--kernel-decompress" -> b.decompress(choice(opt, value(opt, value, rest), VmConfig.KernelDecompress.class));
                case "--reboot" -> b.onReboot(choice(opt, value(opt, value, rest), VmConfig.RebootAction.class));
                default -> throw new UsageException("unknown option '" + opt + "' (see vessel run --help)");
            }
        }
        if (help) {
            return null;
        }
        if (gdbWait && gdb == null) {
            throw new UsageException("--gdb-wait needs --gdb [HOST:]PORT");
        }
        if ((restoreSnapshot == null) != (memFile == null)) {
            throw new UsageException(restoreSnapshot == null ? "--mem-file goes with --restore-snapshot STATE"
                    : "--restore-snapshot needs --mem-file FILE, the snapshot's memory file");
        }
        if (overrideOption != null && restoreSnapshot == null) {
            throw new UsageException(overrideOption + " goes with --restore-snapshot STATE");
        }
        if (restoreSnapshot != null) {
            if (machineOption != null) {
                throw new UsageException("--restore-snapshot takes the machine from the snapshot: " + machineOption
                        + " cannot be given with it");
            }
            return null;
        }
        if (!sawKernel && !sawFirmware) {
            defaultGuest(b, !sawCmdline, !sawInitrd, !sawDrive);
        }
        if (sawFirmware && display.mode == null && display.modeForVm() != null) {
            // VmConfig refuses the framebuffer --vnc and --web imply; name the option the user gave instead
            throw new UsageException((display.vnc != null ? "--vnc" : "--web") + " shows the framebuffer of a directly"
                    + " booted kernel; firmware boots have no display yet (boot with --kernel, or use the serial console)");
        }
        b.display(display.modeForVm());
        b.memoryBacking(new MemoryBacking(hugePages, ksm));
        return b.build();
    }

    /** SeaBIOS as Debian ships it, fetched by scripts/firmware.sh (the launcher passes its folder). */
    private static Path defaultFirmware() throws UsageException {
        String dir = System.getProperty("vessel.firmware.dir");
        if (dir == null) {
            throw new UsageException("--firmware without a FILE boots the default SeaBIOS, which ./vessel run fetches"
                    + " (scripts/firmware.sh); name a ROM file here");
        }
        return Path.of(dir, "bios-256k.bin");
    }

    /** {@code virtio}, {@code keyboard}, {@code tablet}, comma-separated: the virtio-input devices to add. */
    static List<vessel.devices.virtio.VirtioInput.Kind> parseInput(String spec) throws UsageException {
        java.util.LinkedHashSet<vessel.devices.virtio.VirtioInput.Kind> kinds = new java.util.LinkedHashSet<>();
        for (String part : spec.split(",", -1)) {
            switch (part.strip()) {
                case "virtio" -> {
                    kinds.add(vessel.devices.virtio.VirtioInput.Kind.KEYBOARD);
                    kinds.add(vessel.devices.virtio.VirtioInput.Kind.TABLET);
                }
                case "keyboard", "virtio-keyboard" -> kinds.add(vessel.devices.virtio.VirtioInput.Kind.KEYBOARD);
                case "tablet", "virtio-tablet" -> kinds.add(vessel.devices.virtio.VirtioInput.Kind.TABLET);
                default -> throw new UsageException("--input takes virtio, keyboard or tablet (comma-separated), not '"
                        + part + "'");
            }
        }
        return List.copyOf(kinds);
    }

    /** "[HOST:]PORT", QEMU's "tcp::PORT" too; the host defaults to loopback (the stub has no authentication). */
    static java.net.InetSocketAddress parseGdbAddress(String s) throws UsageException {
        String v = s.startsWith("tcp:") ? s.substring(4) : s;
        int colon = v.lastIndexOf(':');
        String host = colon < 0 || colon == 0 ? "127.0.0.1" : v.substring(0, colon);
        String port = colon < 0 ? v : v.substring(colon + 1);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int p;
        try {
            p = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            p = -1;
        }
        if (p < 0 || p > 65535) {
            throw new UsageException("--gdb takes [HOST:]PORT with a port from 0 to 65535, not '" + s + "'");
        }
        return new java.net.InetSocketAddress(host, p);
    }

    /**
     * Without --kernel, the default guest that {@code ./vessel image} built (the launcher passes its
     * folder as the {@code vessel.image.dir} property): Debian's cloud kernel, its initramfs and command line.
     */
    private static void defaultGuest(VmConfig.Builder b, boolean cmdline, boolean initrd, boolean drives)
            throws UsageException {
        String dir = System.getProperty("vessel.image.dir");
        if (dir == null) {
            throw new UsageException("no kernel given (--kernel FILE); ./vessel run without one boots the default guest");
        }
        Path image = Path.of(dir);
        b.kernel(image.resolve("vmlinuz"));
        if (initrd) {
            b.initrd(image.resolve("initramfs.cpio.gz"));
        }
        if (drives && java.nio.file.Files.isRegularFile(image.resolve("data.ext4"))) {
            b.drive(image.resolve("data.ext4"), false, "data");
            b.entropy(true);
        }
        if (cmdline) {
            try {
                b.cmdline(java.nio.file.Files.readString(image.resolve("cmdline")).strip());
            } catch (java.io.IOException e) {
                throw new UsageException("default guest in " + dir + " has no readable cmdline file (run ./vessel image)");
            }
        }
    }

    /**
     * {@code path=FILE[,ro][,id=NAME][,format=raw|qcow2][,num_queues=N]}, as QEMU's -drive spells its keys
     * (num_queues as cloud-hypervisor's --disk does).
     */
    static vessel.vmm.DriveConfig parseDrive(String spec) throws UsageException {
        java.util.Map<String, String> kv = keyValues("--drive", spec,
                java.util.Set.of("path", "ro", "id", "format", "num_queues"),
                "path=FILE, ro, id=NAME, format=raw|qcow2, num_queues=N");
        if (!kv.containsKey("path")) {
            throw new UsageException("--drive needs path=FILE, e.g. --drive path=disk.img,ro");
        }
        String ro = kv.getOrDefault("ro", "off");
        if (!ro.equals("on") && !ro.equals("off")) {
            throw new UsageException("--drive: ro takes no value (or on/off), not '" + ro + "'");
        }
        try {
            int queues = 1;
            if (kv.containsKey("num_queues")) {
                try {
                    queues = Integer.parseInt(kv.get("num_queues"));
                } catch (NumberFormatException e) {
                    throw new UsageException("--drive: num_queues takes a whole number, not '" + kv.get("num_queues") + "'");
                }
            }
            return vessel.vmm.DriveConfig.of(kv.get("id"), Path.of(kv.get("path")), ro.equals("on"), kv.get("format"))
                    .withQueues(queues);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--drive: " + e.getMessage());
        }
    }

    /** {@code path=FILE[,ro][,id=NAME]}, as --drive spells them. */
    static vessel.vmm.PmemConfig parsePmem(String spec) throws UsageException {
        java.util.Map<String, String> kv = keyValues("--pmem", spec, java.util.Set.of("path", "ro", "id"),
                "path=FILE, ro, id=NAME");
        if (!kv.containsKey("path")) {
            throw new UsageException("--pmem needs path=FILE, e.g. --pmem path=pmem.img,ro");
        }
        String ro = kv.getOrDefault("ro", "off");
        if (!ro.equals("on") && !ro.equals("off")) {
            throw new UsageException("--pmem: ro takes no value (or on/off), not '" + ro + "'");
        }
        return new vessel.vmm.PmemConfig(kv.get("id"), Path.of(kv.get("path")), ro.equals("on"));
    }

    /** {@code tap=NAME[,mac=MAC][,id=NAME]}. */
    static vessel.vmm.NetConfig parseNet(String spec) throws UsageException {
        java.util.Map<String, String> kv = keyValues("--net", spec, java.util.Set.of("tap", "mac", "id"),
                "tap=NAME, mac=MAC, id=NAME");
        if (!kv.containsKey("tap")) {
            throw new UsageException("--net needs tap=NAME, e.g. --net tap=tap0,mac=52:54:00:12:34:56");
        }
        return new vessel.vmm.NetConfig(kv.get("id"), kv.get("tap"), kv.get("mac"));
    }

    /** {@code cid=N,uds=PATH}. */
    static vessel.vmm.VsockConfig parseVsock(String spec) throws UsageException {
        java.util.Map<String, String> kv = keyValues("--vsock", spec, java.util.Set.of("cid", "uds"), "cid=N, uds=PATH");
        if (!kv.containsKey("cid") || !kv.containsKey("uds")) {
            throw new UsageException("--vsock needs cid=N and uds=PATH, e.g. --vsock cid=3,uds=/tmp/vessel.vsock");
        }
        long cid;
        try {
            cid = Long.parseLong(kv.get("cid"));
        } catch (NumberFormatException e) {
            throw new UsageException("--vsock: cid takes a whole number, not '" + kv.get("cid") + "'");
        }
        return new vessel.vmm.VsockConfig(cid, Path.of(kv.get("uds")));
    }

    /** Keys that may stand alone, as flags. */
    private static final java.util.Set<String> FLAGS = java.util.Set.of("ro");

    private static java.util.Map<String, String> keyValues(String opt, String spec, java.util.Set<String> keys,
                                                           String expected) throws UsageException {
        java.util.Map<String, String> kv = new java.util.HashMap<>();
        for (String part : spec.split(",", -1)) {
            int eq = part.indexOf('=');
            String key = eq < 0 ? part : part.substring(0, eq);
            if (!keys.contains(key)) {
                throw new UsageException(opt + ": unknown key '" + key + "' (expected " + expected + ")");
            }
            // A key alone is a flag (ro): it means "on".
            if (eq < 0 && FLAGS.contains(key)) {
                part = key + "=on";
                eq = key.length();
            }
            if (eq < 0 || eq == part.length() - 1) {
                throw new UsageException(opt + ": " + key + "= needs a value");
            }
            if (kv.put(key, part.substring(eq + 1)) != null) {
                throw new UsageException(opt + ": " + key + "= is given twice");
            }
        }
        return kv;
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
