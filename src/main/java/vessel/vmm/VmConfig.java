package vessel.vmm;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import vessel.boot.EntryMode;
import vessel.boot.GuestLayout;
import vessel.devices.RateLimiter;
import vessel.devices.display.DisplayMode;
import vessel.devices.virtio.VirtioInput;
import vessel.memory.MemoryBacking;

/**
 * What to run, as data: built by the CLI, the API or a Java program, validated here in one place.
 *
 * @param kernel    the kernel or flat binary
 * @param entry     run {@code kernel} as a flat binary in this mode; null to detect its format
 * @param memoryBytes guest RAM
 * @param cpus      vCPUs; the first boots, the others wait for INIT/SIPI
 * @param cmdline   kernel command line
 * @param initrds   initrd files (multiboot modules; for Linux, concatenated into one initramfs)
 * @param debugExit attach the isa-debug-exit port at 0xf4
 * @param decompress where a compressed Linux kernel is decompressed
 * @param onReboot  what a guest reboot does
 * @param drives    virtio-blk drives, in the order the guest sees them (vda, vdb, ...)
 * @param entropy   attach a virtio-rng device fed from the host's entropy
 * @param net       virtio-net interfaces, each on a host TAP device
 * @param vsock     a virtio-vsock device, or null
 * @param entropyRateLimit Firecracker's rate limiter on the entropy device ({@link RateLimiter.Config#NONE}: none)
 * @param balloon   a virtio-balloon device, or null
 * @param serial    where else the guest's serial output goes (Firecracker's PUT /serial), or null
 * @param cpuTemplate changes to every vCPU's CPUID and MSRs, and KVM capabilities the VM needs, or null
 * @param smt       present the vCPUs as pairs of hyperthreads of one core (needs 1 or an even count)
 * @param firmware  boot this firmware ROM (SeaBIOS) from the reset vector instead of a kernel; null: direct boot
 * @param display   the boot framebuffer's mode (described to Linux in screen_info), or null for none
 * @param virtioInputs virtio-input devices (a keyboard, a tablet), each at most once
 * @param displayAdapter the PCI display adapter, if any
 * @param acpiSleep a Linux guest's ACPI tables offer S3 (PM1a blocks, SCI, FACS, {@code \_S3}) instead of
 *                  the hardware-reduced default; multiboot kernels always get them
 * @param memoryHotplug hot-pluggable memory (a virtio-mem device), or null
 * @param pmems     virtio-pmem devices, in the order the guest sees them (pmem0, pmem1, ...)
 * @param cpuAffinity host CPUs the vCPU threads are pinned to, vCPU i to the (i mod size)-th (empty: not pinned)
 * @param memoryBacking huge pages and KSM for guest RAM
 */
public record VmConfig(Path kernel, EntryMode entry, long memoryBytes, int cpus, String cmdline,
                       List<Path> initrds, boolean debugExit, KernelDecompress decompress, RebootAction onReboot,
                       List<DriveConfig> drives, boolean entropy, List<NetConfig> net, VsockConfig vsock,
                       RateLimiter.Config entropyRateLimit, BalloonConfig balloon, SerialOutput serial,
                       CpuTemplate cpuTemplate, boolean smt, Path firmware,
                       DisplayMode display, List<VirtioInput.Kind> virtioInputs, DisplayAdapter displayAdapter,
                       boolean acpiSleep, MemoryHotplugConfig memoryHotplug, List<PmemConfig> pmems,
                       List<Integer> cpuAffinity, MemoryBacking memoryBacking) {
    /** A PCI display adapter a kernel with DRM drives. */
    public enum DisplayAdapter {
        NONE,
        /** bochs-display: PCI 1234:1111, a framebuffer BAR and the VBE dispi registers (Linux's bochs driver). */
        BOCHS
    }

    /** Where a bzImage's compressed kernel is unpacked. */
    public enum KernelDecompress {
        /** By Vessel, before the guest starts: minutes saved on hosts that emulate guest code. */
        HOST,
        /** By the kernel's own decompressor, in the guest. */
        GUEST
    }

    /** What a guest-initiated reboot (or reset) does. */
    public enum RebootAction {
        /** End the VM with status 0, as Firecracker does. */
        STOP,
        /** Boot the same configuration again, as a PC would. */
        RESTART
    }

    public static final long DEFAULT_MEMORY = 256L << 20;
    public static final long MIN_MEMORY = 1L << 20;
    public static final int MAX_CPUS = 254;

    public VmConfig {
        initrds = List.copyOf(initrds);
        drives = drives == null ? List.of() : List.copyOf(drives);
        net = net == null ? List.of() : List.copyOf(net);
        cmdline = cmdline == null ? "" : cmdline;
        decompress = decompress == null ? KernelDecompress.HOST : decompress;
        onReboot = onReboot == null ? RebootAction.STOP : onReboot;
        entropyRateLimit = entropyRateLimit == null ? RateLimiter.Config.NONE : entropyRateLimit;
        virtioInputs = virtioInputs == null ? List.of() : List.copyOf(virtioInputs);
        displayAdapter = displayAdapter == null ? DisplayAdapter.NONE : displayAdapter;
        pmems = pmems == null ? List.of() : List.copyOf(pmems);
        cpuAffinity = cpuAffinity == null ? List.of() : List.copyOf(cpuAffinity);
        memoryBacking = memoryBacking == null ? MemoryBacking.DEFAULT : memoryBacking;
    }

    /** A VM booted directly (no firmware), without a framebuffer, input devices or display adapter. */
    public VmConfig(Path kernel, EntryMode entry, long memoryBytes, int cpus, String cmdline, List<Path> initrds,
                    boolean debugExit, KernelDecompress decompress, RebootAction onReboot, List<DriveConfig> drives,
                    boolean entropy, List<NetConfig> net, VsockConfig vsock, RateLimiter.Config entropyRateLimit) {
        this(kernel, entry, memoryBytes, cpus, cmdline, initrds, debugExit, decompress, onReboot, drives, entropy, net,
                vsock, entropyRateLimit, null, null, null, false, null, null, List.of(), DisplayAdapter.NONE, false, null, List.of(),
                List.of(), null);
    }

    /** Firmware needs room below 1 MiB and some above it for its tables, stacks and the boot loader. */
    public static final long MIN_FIRMWARE_MEMORY = 16L << 20;

    /** This config with the boot framebuffer in {@code mode} (null: none). */
    public VmConfig withDisplay(DisplayMode mode) {
        return new VmConfig(kernel, entry, memoryBytes, cpus, cmdline, initrds, debugExit, decompress, onReboot, drives,
                entropy, net, vsock, entropyRateLimit, balloon, serial, cpuTemplate, smt, firmware, mode, virtioInputs,
                displayAdapter, acpiSleep, memoryHotplug, pmems, cpuAffinity, memoryBacking);
    }

    /**
     * A display mode as the command line spells it, {@code WIDTHxHEIGHTxDEPTH} (e.g. 1024x768x32; the depth
     * 16, 24 or 32 bits per pixel, 32 when left out), checked against what the boot framebuffer can hold.
     */
    public static DisplayMode parseDisplayMode(String spec) throws ConfigException {
        String[] p = spec.toLowerCase(java.util.Locale.ROOT).split("x", -1);
        if (p.length != 2 && p.length != 3) {
            throw new ConfigException("display mode '" + spec + "' is not WIDTHxHEIGHTxDEPTH, e.g. 1024x768x32");
        }
        int[] v = new int[3];
        v[2] = 32;
        for (int i = 0; i < p.length; i++) {
            try {
                v[i] = Integer.parseInt(p[i]);
            } catch (NumberFormatException e) {
                throw new ConfigException("display mode '" + spec + "' is not WIDTHxHEIGHTxDEPTH, e.g. 1024x768x32");
            }
        }
        try {
            return DisplayMode.of(v[0], v[1], v[2]);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
    }

    /** A VM whose entropy device (if any) is not rate limited. */
    public VmConfig(Path kernel, EntryMode entry, long memoryBytes, int cpus, String cmdline, List<Path> initrds,
                    boolean debugExit, KernelDecompress decompress, RebootAction onReboot, List<DriveConfig> drives,
                    boolean entropy, List<NetConfig> net, VsockConfig vsock) {
        this(kernel, entry, memoryBytes, cpus, cmdline, initrds, debugExit, decompress, onReboot, drives, entropy, net,
                vsock, RateLimiter.Config.NONE, null, null, null, false, null, null, List.of(), DisplayAdapter.NONE, false, null, List.of(),
                List.of(), null);
    }

    /** Checks what can be checked without touching the host's files or KVM. */
    public VmConfig validate() throws ConfigException {
        if (firmware != null) {
            if (kernel != null) {
                throw new ConfigException("--firmware and --kernel are two ways to boot: give one of them");
            }
            if (display != null) {
                throw new ConfigException("--display describes a framebuffer to a directly booted kernel; firmware boots"
                        + " have none yet (give --kernel, or leave --display out)");
            }
            if (entry != null || !initrds.isEmpty() || !cmdline.isBlank()) {
                throw new ConfigException("--entry, --initrd and --cmdline are for --kernel; firmware boots from the disk");
            }
            if (memoryBytes < MIN_FIRMWARE_MEMORY && memoryBytes >= MIN_MEMORY) {
                throw new ConfigException("memory size " + MemorySize.format(memoryBytes)
                        + " is too small to boot through firmware (16 MiB at least)");
            }
        } else if (kernel == null) {
            throw new ConfigException("no kernel given (--kernel FILE)");
        }
        if (memoryBytes <= 0) {
            throw new ConfigException("memory size must be more than zero");
        }
        if (memoryBytes < MIN_MEMORY) {
            throw new ConfigException("memory size " + MemorySize.format(memoryBytes) + " is below the minimum of 1 MiB");
        }
        if (memoryBytes % 4096 != 0) {
            throw new ConfigException("memory size " + memoryBytes + " bytes is not a whole number of 4 KiB pages");
        }
        long host = HostInfo.totalMemoryBytes();
        if (host > 0 && memoryBytes > host) {
            throw new ConfigException("memory size " + MemorySize.format(memoryBytes) + " is more than this host has ("
                    + MemorySize.format(host) + ")");
        }
        if (cpus < 1 || cpus > MAX_CPUS) {
            throw new ConfigException("cpu count " + cpus + " is out of range (1 to " + MAX_CPUS + ")");
        }
        java.util.Set<String> ids = new java.util.HashSet<>();
        for (DriveConfig d : drives) {
            if (d.id() == null || !d.id().matches(DriveConfig.ID_PATTERN)) {
                throw new ConfigException("drive id '" + d.id() + "' is not valid (1 to 64 letters, digits, '_' or '-')");
            }
            if (!ids.add(d.id())) {
                throw new ConfigException("drive id '" + d.id() + "' is used twice");
            }
        }
        java.util.Set<String> pmemIds = new java.util.HashSet<>();
        for (PmemConfig p : pmems) {
            if (p.id() == null || !p.id().matches(DriveConfig.ID_PATTERN)) {
                throw new ConfigException("pmem id '" + p.id() + "' is not valid (1 to 64 letters, digits, '_' or '-')");
            }
            if (!pmemIds.add(p.id())) {
                throw new ConfigException("pmem id '" + p.id() + "' is used twice");
            }
        }
        if (pmems.size() > vessel.boot.GuestLayout.PMEM_MAX) {
            throw new ConfigException(pmems.size() + " pmem devices; at most " + vessel.boot.GuestLayout.PMEM_MAX);
        }
        java.util.Set<String> netIds = new java.util.HashSet<>();
        java.util.Set<String> taps = new java.util.HashSet<>();
        for (NetConfig n : net) {
            if (n.id() == null || !n.id().matches(DriveConfig.ID_PATTERN)) {
                throw new ConfigException("network interface id '" + n.id() + "' is not valid (1 to 64 letters, digits, '_' or '-')");
            }
            if (!netIds.add(n.id())) {
                throw new ConfigException("network interface id '" + n.id() + "' is used twice");
            }
            if (n.tap().isEmpty() || n.tap().length() > 15 || n.tap().contains("/")) {
                throw new ConfigException("TAP device name '" + n.tap() + "' is not valid (1 to 15 characters, no '/')");
            }
            if (!taps.add(n.tap())) {
                throw new ConfigException("TAP device '" + n.tap() + "' is used twice");
            }
            if (n.mac() != null) {
                byte[] mac = NetConfig.parseMac(n.mac());
                if (mac == null) {
                    throw new ConfigException("MAC address '" + n.mac() + "' is not six hex pairs like 52:54:00:12:34:56");
                }
                if ((mac[0] & 1) != 0) {
                    throw new ConfigException("MAC address '" + n.mac() + "' is a multicast address (first byte odd)");
                }
            }
        }
        if (new java.util.HashSet<>(virtioInputs).size() != virtioInputs.size()) {
            throw new ConfigException("a virtio-input device is given twice (one keyboard and one tablet at most)");
        }
        if (!entropy && entropyRateLimit.limits()) {
            throw new ConfigException("an entropy rate limit is given but no entropy device");
        }
        if (balloon != null) {
            balloon.validate(memoryBytes);
        }
        if (memoryHotplug != null) {
            memoryHotplug.validate();
        }
        if (memoryBacking.hugePages() == MemoryBacking.HugePages.HUGETLB_2M) {
            if (memoryBytes % (2L << 20) != 0) {
                throw new ConfigException("with 2M huge pages the memory size must be a multiple of 2 MiB ("
                        + MemorySize.format(memoryBytes) + " given)");
            }
            if (balloon != null) {
                throw new ConfigException("a balloon cannot return 2M huge pages to the host: use one or the other");
            }
        }
        if (smt && cpus > 1 && cpus % 2 != 0) {
            throw new ConfigException("with SMT the vCPU count must be 1 or even (" + cpus + " given)");
        }
        if (display != null && display.size() > GuestLayout.FRAMEBUFFER_MAX) {
            throw new ConfigException("display mode " + display.width() + "x" + display.height() + "x"
                    + display.bitsPerPixel() + " needs " + MemorySize.format(display.size()) + "; the framebuffer holds at most "
                    + MemorySize.format(GuestLayout.FRAMEBUFFER_MAX));
        }
        if (vsock != null && (vsock.cid() < 3 || vsock.cid() > 0xFFFF_FFFEL)) {
            throw new ConfigException("vsock CID " + vsock.cid() + " is out of range (3 to 4294967294; 0-2 are reserved)");
        }
        return this;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A fluent way to write a config; {@link #build()} validates. */
    public static final class Builder {
        private Path kernel;
        private EntryMode entry;
        private long memoryBytes = DEFAULT_MEMORY;
        private int cpus = 1;
        private String cmdline = "";
        private final List<Path> initrds = new ArrayList<>();
        private boolean debugExit;
        private boolean acpiSleep;
        private KernelDecompress decompress = KernelDecompress.HOST;
        private RebootAction onReboot = RebootAction.STOP;
        private final List<DriveConfig> drives = new ArrayList<>();
        private boolean entropy;
        private final List<VirtioInput.Kind> virtioInputs = new ArrayList<>();
        private DisplayAdapter displayAdapter = DisplayAdapter.NONE;
        private RateLimiter.Config entropyRateLimit;
        private final List<NetConfig> net = new ArrayList<>();
        private VsockConfig vsock;
        private BalloonConfig balloon;
        private MemoryHotplugConfig memoryHotplug;

        /** Adds hot-pluggable memory, a virtio-mem device (null: none). */
        public Builder memoryHotplug(MemoryHotplugConfig config) {
            this.memoryHotplug = config;
            return this;
        }
        private Path serialOutput;
        private vessel.devices.TokenBucket.Config serialRateLimit;
        private CpuTemplate cpuTemplate;
        private boolean smt;
        private List<Integer> cpuAffinity = List.of();
        private MemoryBacking memoryBacking = MemoryBacking.DEFAULT;

        /** Pins vCPU i's thread to host CPU {@code cpus[i mod length]} (empty: no pinning). */
        public Builder cpuAffinity(int... cpus) {
            this.cpuAffinity = java.util.Arrays.stream(cpus).boxed().toList();
            return this;
        }

        /** Huge pages and KSM for guest RAM. */
        public Builder memoryBacking(MemoryBacking backing) {
            this.memoryBacking = backing;
            return this;
        }

        /** Rate-limits what the guest writes to the serial port (bytes beyond it are dropped); null: none. */
        public Builder serialRateLimit(vessel.devices.TokenBucket.Config limit) {
            this.serialRateLimit = limit;
            return this;
        }

        public Builder cpuTemplate(CpuTemplate template) {
            this.cpuTemplate = template;
            return this;
        }

        public Builder smt(boolean on) {
            this.smt = on;
            return this;
        }

        private final List<PmemConfig> pmems = new ArrayList<>();

        /** Adds a virtio-pmem device; a null id becomes "pmem" + its position, from 0. */
        public Builder pmem(PmemConfig pmem) {
            pmems.add(pmem.id() != null ? pmem : new PmemConfig("pmem" + pmems.size(), pmem.path(), pmem.readOnly(),
                    pmem.rootDevice(), pmem.rateLimit()));
            return this;
        }

        /** Attaches a virtio-balloon device (null: none). */
        public Builder balloon(BalloonConfig balloon) {
            this.balloon = balloon;
            return this;
        }

        /** Also writes the guest's serial output to {@code file} (null: the console only). */
        public Builder serialOutput(Path file) {
            this.serialOutput = file;
            return this;
        }

        private Path firmware;

        /** Boots {@code rom} (a SeaBIOS image) from the reset vector instead of a kernel. */
        public Builder firmware(Path rom) {
            this.firmware = rom;
            return this;
        }

        private DisplayMode display;

        /** The boot framebuffer's mode; null for none. */
        public Builder display(DisplayMode mode) {
            this.display = mode;
            return this;
        }

        /** Adds a network interface; a null id becomes "net" + its position, from 0. */
        public Builder net(NetConfig iface) {
            net.add(iface.id() != null ? iface : new NetConfig("net" + net.size(), iface.tap(), iface.mac(),
                    iface.rxRateLimit(), iface.txRateLimit()));
            return this;
        }

        public Builder vsock(VsockConfig vsock) {
            this.vsock = vsock;
            return this;
        }

        /** Adds a drive; without an id it is named "drive" + its position, from 0. */
        public Builder drive(Path path, boolean readOnly, String id) {
            return drive(new DriveConfig(id, path, readOnly));
        }

        /** Adds a drive; a null id becomes "drive" + its position, from 0. */
        public Builder drive(DriveConfig drive) {
            drives.add(drive.id() != null ? drive
                    : new DriveConfig("drive" + drives.size(), drive.path(), drive.readOnly(), drive.format(), drive.rateLimit(),
                            drive.numQueues()));
            return this;
        }

        public Builder entropy(boolean on) {
            this.entropy = on;
            return this;
        }

        /** Rate-limits the entropy device (which {@link #entropy} must attach). */
        public Builder entropyRateLimit(RateLimiter.Config limit) {
            this.entropyRateLimit = limit;
            return this;
        }

        public Builder decompress(KernelDecompress where) {
            this.decompress = where;
            return this;
        }

        public Builder onReboot(RebootAction action) {
            this.onReboot = action;
            return this;
        }

        public Builder kernel(Path kernel) {
            this.kernel = kernel;
            return this;
        }

        public Builder entry(EntryMode entry) {
            this.entry = entry;
            return this;
        }

        public Builder memory(long bytes) {
            this.memoryBytes = bytes;
            return this;
        }

        public Builder memory(String size) throws ConfigException {
            this.memoryBytes = MemorySize.parse(size);
            return this;
        }

        public Builder cpus(int cpus) {
            this.cpus = cpus;
            return this;
        }

        public Builder cmdline(String cmdline) {
            this.cmdline = cmdline;
            return this;
        }

        public Builder initrd(Path initrd) {
            this.initrds.add(initrd);
            return this;
        }

        /** Adds a virtio-input device (a keyboard or a tablet). */
        public Builder virtioInput(VirtioInput.Kind kind) {
            this.virtioInputs.add(kind);
            return this;
        }

        public Builder displayAdapter(DisplayAdapter adapter) {
            this.displayAdapter = adapter;
            return this;
        }

        /** ACPI tables with S3 for a Linux guest (see {@link VmConfig#acpiSleep()}). */
        public Builder acpiSleep(boolean on) {
            this.acpiSleep = on;
            return this;
        }

        public Builder debugExit(boolean on) {
            this.debugExit = on;
            return this;
        }

        public VmConfig build() throws ConfigException {
            return new VmConfig(kernel, entry, memoryBytes, cpus, cmdline, initrds, debugExit, decompress, onReboot,
                    drives, entropy, net, vsock, entropyRateLimit, balloon,
                    serialOutput == null && serialRateLimit == null ? null : new SerialOutput(serialOutput, serialRateLimit),
                    cpuTemplate, smt, firmware, display, virtioInputs, displayAdapter, acpiSleep, memoryHotplug, pmems,
                    cpuAffinity, memoryBacking)
                    .validate();
        }
    }
}
