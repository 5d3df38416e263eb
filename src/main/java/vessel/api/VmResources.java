package vessel.api;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import vessel.api.Model.BootSource;
import vessel.api.Model.Drive;
import vessel.api.Model.Entropy;
import vessel.api.Model.FullVmConfiguration;
import vessel.api.Model.Logger;
import vessel.api.Model.MachineConfig;
import vessel.api.Model.MachineConfigUpdate;
import vessel.api.Model.Metrics;
import vessel.api.Model.NetworkInterface;
import vessel.api.Model.RateLimiter;
import vessel.api.Model.Vsock;
import vessel.boot.KernelLoader;
import vessel.memory.MemoryBacking;
import vessel.vmm.ConfigException;
import vessel.vmm.DriveConfig;
import vessel.vmm.VmConfig;

/**
 * What the API has been told before boot, in Firecracker's terms, and its one translation into a
 * {@link VmConfig}. Each setter validates its part as Firecracker does at PUT time (files must open, one
 * root drive); {@link #toVmConfig} maps every configured device onto the VMM's. Not thread-safe: {@link Vmm} serializes requests.
 */
final class VmResources {
    static final int MAX_VCPUS = 32;
    /** Firecracker's default guest RAM when machine-config is never set. */
    static final long DEFAULT_MEM_MIB = 128;

    private static final Pattern MAC = Pattern.compile("(?i)[0-9a-f]{2}(:[0-9a-f]{2}){5}");

    private MachineConfig machine = new MachineConfig(1, DEFAULT_MEM_MIB, false, false, null, "None");
    private BootSource bootSource;
    private final Map<String, Drive> drives = new LinkedHashMap<>();
    private final Map<String, NetworkInterface> nets = new LinkedHashMap<>();
    private final Map<String, Model.Pmem> pmems = new LinkedHashMap<>();
    private Vsock vsock;
    private Entropy entropy;
    private Logger logger;
    private Metrics metrics;
    private Model.Balloon balloon;
    private Model.SerialDevice serial;
    private Model.MemoryHotplugConfig memoryHotplug;
    private Model.CpuConfig cpuConfig;
    private Model.MmdsConfig mmdsConfig;

    MachineConfig machineConfig() {
        return machine;
    }

    /** PUT /machine-config: the optional fields absent take their defaults again, as in Firecracker. */
    void setMachineConfig(MachineConfig c) throws ApiException {
        machine = checked(c.vcpuCount(), c.memSizeMib(), c.smt(), c.trackDirtyPages(), c.cpuTemplate(), c.hugePages());
    }

    /** PATCH /machine-config: only the fields given change. */
    void updateMachineConfig(MachineConfigUpdate u) throws ApiException {
        machine = checked(
                u.vcpuCount() != null ? u.vcpuCount() : machine.vcpuCount(),
                u.memSizeMib() != null ? u.memSizeMib() : machine.memSizeMib(),
                u.smt() != null ? u.smt() : machine.smt(),
                u.trackDirtyPages() != null ? u.trackDirtyPages() : machine.trackDirtyPages(),
                u.cpuTemplate() != null ? u.cpuTemplate() : machine.cpuTemplate(),
                u.hugePages() != null ? u.hugePages() : machine.hugePages());
    }

    private static MachineConfig checked(int vcpus, long memMib, Boolean smt, Boolean dirty, String template,
                                         String hugePages) throws ApiException {
        String e = "Machine config error: ";
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw new ApiException(e + "vcpu_count " + vcpus + " is out of range (1 to " + MAX_VCPUS + ")");
        }
        if (memMib < 1) {
            throw new ApiException(e + "mem_size_mib must be at least 1");
        }
        if (memMib > (Long.MAX_VALUE >> 20)) {
            throw new ApiException(e + "mem_size_mib " + memMib + " is too large");
        }
        if (Boolean.TRUE.equals(smt) && vcpus > 1 && vcpus % 2 != 0) {
            throw new ApiException(e + "The vCPU number is invalid! The vCPU number can only be 1 or an even number "
                    + "when SMT is enabled.");
        }
        if (template != null && !template.equals("None")) {
            throw new ApiException(e + "CPU templates are not supported by Vessel (cpu_template " + template + ")");
        }
        String pages = hugePages == null ? "None" : hugePages;
        MemoryBacking.HugePages kind = MemoryBacking.HugePages.parse(pages);
        if (kind == null || !kind.apiName().equals(pages)) {
            throw new ApiException(e + "unknown variant `" + pages + "` for huge_pages, expected `2M`, "
                    + "`None`, `Transparent`");
        }
        if (kind == MemoryBacking.HugePages.HUGETLB_2M && memMib % 2 != 0) {
            throw new ApiException(e + "with huge_pages 2M, mem_size_mib must be a multiple of 2 (" + memMib + " given)");
        }
        // The limits of the VMM itself (memory against this host, CPUs against KVM's maximum) are checked by
        // VmConfig, the one place that validates a machine; a placeholder kernel stands in until boot.
        try {
            VmConfig.builder().kernel(Path.of("/")).memory(memMib << 20).cpus(vcpus).build();
        } catch (ConfigException ce) {
            throw new ApiException(e + ce.getMessage());
        }
        return new MachineConfig(vcpus, memMib, smt != null && smt, dirty != null && dirty, template, pages);
    }

    BootSource bootSource() {
        return bootSource;
    }

    void setBootSource(BootSource b) throws ApiException {
        String e = "Boot source error: ";
        openable(b.kernelImagePath(), "kernel", e);
        if (b.initrdPath() != null) {
            openable(b.initrdPath(), "initrd", e);
        }
        bootSource = b;
    }

    /** PUT /drives/{id}: inserts or replaces the drive with that id. */
    void putDrive(Drive d) throws ApiException {
        String e = "Drive config error: ";
        if (d.socket() != null) {
            throw new ApiException(e + "vhost-user block devices (socket) are not supported by Vessel");
        }
        if (d.pathOnHost() == null) {
            throw new ApiException(e + "path_on_host is required for a virtio-block drive");
        }
        if (d.cacheType() != null && !d.cacheType().equals("Unsafe") && !d.cacheType().equals("Writeback")) {
            throw new ApiException(e + "unknown variant `" + d.cacheType() + "` for cache_type, expected `Unsafe`, `Writeback`");
        }
        if (d.ioEngine() != null && !d.ioEngine().equals("Sync")) {
            throw new ApiException(d.ioEngine().equals("Async") ? e + "the Async io_engine is not supported by Vessel"
                    : e + "unknown variant `" + d.ioEngine() + "` for io_engine, expected `Async`, `Sync`");
        }
        limiterConfig(d.rateLimiter(), e, "rate_limiter");
        if (d.isRootDevice()) {
            for (Drive other : drives.values()) {
                if (other.isRootDevice() && !other.driveId().equals(d.driveId())) {
                    throw new ApiException(e + "A root block device already exists!");
                }
            }
        }
        openable(d.pathOnHost(), "drive", e);
        drives.put(d.driveId(), d);
    }

    /** PUT /pmem/{id}: inserts or replaces the pmem device with that id; one root device in all. */
    void putPmem(Model.Pmem p) throws ApiException {
        String e = "Pmem config error: ";
        limiterConfig(p.rateLimiter(), e, "rate_limiter");
        if (Boolean.TRUE.equals(p.rootDevice())) {
            if (drives.values().stream().anyMatch(Drive::isRootDevice)) {
                throw new ApiException(e + "Attempt to add pmem as a root device while the root device defined as a "
                        + "block device");
            }
            if (pmems.values().stream().anyMatch(o -> Boolean.TRUE.equals(o.rootDevice()) && !o.id().equals(p.id()))) {
                throw new ApiException(e + "A root pmem device already exist");
            }
        }
        openable(p.pathOnHost(), "pmem", e);
        pmems.put(p.id(), p);
    }

    /** Checks a post-boot PATCH /pmem/{id}; returns its rate limiter (null: none given). */
    vessel.devices.RateLimiter.Config checkPmemUpdate(Model.PartialPmem p) throws ApiException {
        String e = "Pmem config error: ";
        if (!pmems.containsKey(p.id())) {
            throw new ApiException(e + "no pmem device with id " + p.id());
        }
        return limiterConfig(p.rateLimiter(), e, "rate_limiter");
    }

    /** The running pmem device's rate limiter changed by {@code patch}; GET /vm/config reports it. */
    void pmemRateLimiterChanged(String id, RateLimiter patch) {
        Model.Pmem p = pmems.get(id);
        pmems.put(id, new Model.Pmem(p.id(), p.pathOnHost(), p.rootDevice(), p.readOnly(),
                merged(p.rateLimiter(), patch)));
    }

    /** Root first (the guest's pmem0), then the others as they were added. */
    private List<Model.Pmem> orderedPmems() {
        List<Model.Pmem> out = new ArrayList<>();
        pmems.values().stream().filter(p -> Boolean.TRUE.equals(p.rootDevice())).forEach(out::add);
        pmems.values().stream().filter(p -> !Boolean.TRUE.equals(p.rootDevice())).forEach(out::add);
        return out;
    }

    boolean hasDrive(String id) {
        return drives.containsKey(id);
    }

    /**
     * Checks a post-boot PATCH /drives/{id}: the drive exists, its rate limiter (if given) is well formed,
     * and a new path_on_host is a readable file. Returns that path, or null when it stays.
     */
    String checkDriveUpdate(Model.PartialDrive d) throws ApiException {
        String e = "Drive config error: ";
        if (!drives.containsKey(d.driveId())) {
            throw new ApiException(e + "no drive with id " + d.driveId());
        }
        limiterConfig(d.rateLimiter(), e, "rate_limiter");
        if (d.pathOnHost() == null) {
            return null;
        }
        openable(d.pathOnHost(), "drive", e);
        return d.pathOnHost();
    }

    /** The running drive now uses {@code path}; GET /vm/config reports it. */
    void drivePathChanged(String id, String path) {
        Drive d = drives.get(id);
        drives.put(id, new Drive(d.driveId(), d.partuuid(), d.isRootDevice(), d.cacheType(), d.isReadOnly(), path,
                d.rateLimiter(), d.ioEngine(), d.socket()));
    }

    /** The running drive's rate limiter changed by {@code patch} (the buckets it gives); GET /vm/config reports it. */
    void driveRateLimiterChanged(String id, RateLimiter patch) {
        Drive d = drives.get(id);
        drives.put(id, new Drive(d.driveId(), d.partuuid(), d.isRootDevice(), d.cacheType(), d.isReadOnly(),
                d.pathOnHost(), merged(d.rateLimiter(), patch), d.ioEngine(), d.socket()));
    }

    /** The running interface's rate limiters changed by {@code rx} and {@code tx} (null: unchanged). */
    void netRateLimitersChanged(String id, RateLimiter rx, RateLimiter tx) {
        NetworkInterface n = nets.get(id);
        nets.put(id, new NetworkInterface(n.ifaceId(), n.guestMac(), n.hostDevName(), n.mtu(),
                merged(n.rxRateLimiter(), rx), merged(n.txRateLimiter(), tx)));
    }

    /** A limiter after PATCH: each bucket the patch gives replaces the old one, the others stay. */
    private static RateLimiter merged(RateLimiter old, RateLimiter patch) {
        if (patch == null) {
            return old;
        }
        if (old == null) {
            return patch;
        }
        return new RateLimiter(patch.bandwidth() != null ? patch.bandwidth() : old.bandwidth(),
                patch.ops() != null ? patch.ops() : old.ops());
    }

    /**
     * Firecracker's RateLimiter body as the devices' config, checked: every number a u64 (serde's message
     * for one that is not), refill_time within what Vessel can count in nanoseconds. Null for no body.
     */
    static vessel.devices.RateLimiter.Config limiterConfig(RateLimiter r, String prefix, String field)
            throws ApiException {
        if (r == null) {
            return null;
        }
        return new vessel.devices.RateLimiter.Config(bucket(r.bandwidth(), prefix, field + ".bandwidth"),
                bucket(r.ops(), prefix, field + ".ops"));
    }

    private static vessel.devices.TokenBucket.Config bucket(Model.TokenBucket b, String prefix, String field)
            throws ApiException {
        if (b == null) {
            return null;
        }
        long burst = b.oneTimeBurst() == null ? 0 : b.oneTimeBurst();
        u64(b.size(), prefix, field + ".size");
        u64(burst, prefix, field + ".one_time_burst");
        u64(b.refillTime(), prefix, field + ".refill_time");
        if (b.refillTime() > vessel.devices.TokenBucket.Config.MAX_REFILL_TIME_MS) {
            throw new ApiException(prefix + field + ".refill_time " + b.refillTime() + " ms is too long (at most "
                    + vessel.devices.TokenBucket.Config.MAX_REFILL_TIME_MS + ")");
        }
        return new vessel.devices.TokenBucket.Config(b.size(), burst, b.refillTime());
    }

    private static void u64(long value, String prefix, String field) throws ApiException {
        if (value < 0) {
            throw new ApiException(prefix + "invalid value: integer `" + value + "`, expected u64 (" + field + ")");
        }
    }

    void putNetworkInterface(NetworkInterface n) throws ApiException {
        String e = "Network config error: ";
        if (n.guestMac() != null && !MAC.matcher(n.guestMac()).matches()) {
            throw new ApiException(e + "guest_mac '" + n.guestMac() + "' is not a MAC address (xx:xx:xx:xx:xx:xx)");
        }
        if (n.mtu() != null && (n.mtu() < 68 || n.mtu() > 65535)) {
            throw new ApiException(e + "mtu " + n.mtu() + " is out of range (68 to 65535)");
        }
        limiterConfig(n.rxRateLimiter(), e, "rx_rate_limiter");
        limiterConfig(n.txRateLimiter(), e, "tx_rate_limiter");
        for (NetworkInterface other : nets.values()) {
            if (!other.ifaceId().equals(n.ifaceId()) && other.hostDevName().equals(n.hostDevName())) {
                throw new ApiException(e + "host_dev_name " + n.hostDevName() + " is already used by " + other.ifaceId());
            }
        }
        nets.put(n.ifaceId(), n);
    }

    boolean hasNetworkInterface(String id) {
        return nets.containsKey(id);
    }

    /**
     * Checks a post-boot PATCH /network-interfaces/{id}: the interface exists and its rate limiters are
     * well formed. Returns them as the devices' configs (each null when not given).
     */
    vessel.devices.RateLimiter.Config[] checkNetworkUpdate(Model.PartialNetworkInterface n) throws ApiException {
        String e = "Network config error: ";
        if (!nets.containsKey(n.ifaceId())) {
            throw new ApiException(e + "no network interface with id " + n.ifaceId());
        }
        return new vessel.devices.RateLimiter.Config[] {limiterConfig(n.rxRateLimiter(), e, "rx_rate_limiter"),
                limiterConfig(n.txRateLimiter(), e, "tx_rate_limiter")};
    }

    void setVsock(Vsock v) throws ApiException {
        if (v.guestCid() < 3 || v.guestCid() > 0xffff_ffffL) {
            throw new ApiException("Vsock config error: guest_cid " + v.guestCid() + " is not a guest CID (3 or more)");
        }
        if (v.udsPath().isEmpty()) {
            throw new ApiException("Vsock config error: uds_path is empty");
        }
        vsock = v;
    }

    void setEntropy(Entropy e) throws ApiException {
        limiterConfig(e.rateLimiter(), "Entropy device error: ", "rate_limiter");
        entropy = e;
    }

    /**
     * PUT /mmds/config, checked as Firecracker checks it (its messages, its order): interfaces listed and
     * all configured, a link-local address outside 169.254.0.x and 169.254.255.x. Returns the
     * configuration as the store is to take it (version, address and IMDS compatibility filled in);
     * {@link #toVmConfig} puts the MMDS on the listed interfaces.
     */
    Model.MmdsConfig setMmdsConfig(Model.MmdsConfig c) throws ApiException {
        // "MMMDS" is Firecracker's own spelling in this message (its VmmActionError::MmdsConfig).
        String e = "MMMDS config error: ";
        if (c.networkInterfaces().isEmpty()) {
            throw new ApiException(e + "The list of network interface IDs that allow forwarding MMDS requests is empty.");
        }
        String text = c.ipv4Address() == null ? "169.254.169.254" : c.ipv4Address();
        Integer address = ipv4(text);
        if (address == null) {
            throw new ApiException(Json.PREFIX + "invalid IPv4 address syntax.");
        }
        int third = (address >>> 8) & 0xFF;
        if ((address >>> 16) != 0xA9FE || third == 0 || third == 255) {
            throw new ApiException(e + "The MMDS IPv4 address is not link local.");
        }
        for (String id : c.networkInterfaces()) {
            if (!nets.containsKey(id)) {
                throw new ApiException(e + "The list of network interface IDs provided contains at least one ID that "
                        + "does not correspond to any existing network interface.");
            }
        }
        Model.MmdsVersion version = c.version() == null ? Model.MmdsVersion.V1 : c.version();
        boolean compat = Boolean.TRUE.equals(c.imdsCompat());
        mmdsConfig = new Model.MmdsConfig(version, List.copyOf(c.networkInterfaces()), text, compat);
        return mmdsConfig;
    }

    /** A dotted-quad IPv4 address (four decimal numbers 0-255, no leading zeros), or null. */
    static Integer ipv4(String text) {
        String[] parts = text.split("\\.", -1);
        if (parts.length != 4) {
            return null;
        }
        int v = 0;
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')
                    || (p.length() > 1 && p.charAt(0) == '0')) {
                return null;
            }
            int octet = Integer.parseInt(p);
            if (octet > 255) {
                return null;
            }
            v = (v << 8) | octet;
        }
        return v;
    }

    void setLogger(Logger l) {
        logger = l;
    }

    Metrics metrics() {
        return metrics;
    }

    void setMetrics(Metrics m) {
        metrics = m;
    }

    // ---- balloon, serial and CPU configuration (issue 18) ----

    /** Firecracker's u32 and u16 fields, read as longs: the same message serde gives for one out of range. */
    static long unsigned(Long value, int bits) throws ApiException {
        long max = (1L << bits) - 1;
        if (value < 0 || value > max) {
            throw new ApiException(Json.PREFIX + "invalid value: integer `" + value + "`, expected u" + bits + ".");
        }
        return value;
    }

    /** PUT /balloon: replaces the balloon's configuration (pre-boot). */
    void setBalloon(Model.Balloon b) throws ApiException {
        unsigned(b.amountMib(), 32);
        if (b.statsPollingIntervalS() != null) {
            unsigned(b.statsPollingIntervalS(), 16);
        }
        if (b.amountMib() > vessel.vmm.BalloonConfig.MAX_TARGET_MIB) {
            throw new ApiException("Balloon config error: Amount of pages requested is too large.");
        }
        balloon = new Model.Balloon(b.amountMib(), b.deflateOnOom(),
                b.statsPollingIntervalS() == null ? 0L : b.statsPollingIntervalS(),
                Boolean.TRUE.equals(b.freePageHinting()), Boolean.TRUE.equals(b.freePageReporting()));
    }

    /** The balloon as configured (and as PATCHed since), or Firecracker's error when there is none. */
    Model.Balloon balloon() throws ApiException {
        if (balloon == null) {
            throw new ApiException("Balloon config error: No balloon device found.");
        }
        return balloon;
    }

    void balloonChanged(Model.Balloon b) {
        balloon = b;
    }

    /** PUT /hotplug/memory (pre-boot): Firecracker's defaults filled in, its checks made now. */
    void setMemoryHotplug(Model.MemoryHotplugConfig c) throws ApiException {
        String e = "Memory hotplug config error: ";
        long total = unsigned(c.totalSizeMib(), 32);
        long block = c.blockSizeMib() == null ? vessel.vmm.MemoryHotplugConfig.DEFAULT_BLOCK_SIZE_MIB
                : unsigned(c.blockSizeMib(), 32);
        long slot = c.slotSizeMib() == null ? vessel.vmm.MemoryHotplugConfig.DEFAULT_SLOT_SIZE_MIB
                : unsigned(c.slotSizeMib(), 32);
        try {
            new vessel.vmm.MemoryHotplugConfig(total, block, slot).validate();
        } catch (vessel.vmm.ConfigException x) {
            throw new ApiException(e + x.getMessage());
        }
        memoryHotplug = new Model.MemoryHotplugConfig(total, block, slot);
    }

    /** The hot-pluggable memory as PUT, or null. */
    Model.MemoryHotplugConfig memoryHotplug() {
        return memoryHotplug;
    }

    /** PUT /serial (pre-boot): where the guest's serial output also goes, and its optional rate limit. */
    void setSerial(Model.SerialDevice s) throws ApiException {
        if (s.serialOutPath() != null && s.serialOutPath().isEmpty()) {
            throw new ApiException("Serial config error: serial_out_path is empty");
        }
        if (s.rateLimiter() != null) {
            limiterConfig(new RateLimiter(s.rateLimiter(), null), "Serial config error: ", "rate_limiter");
        }
        serial = s;
    }

    /** PUT /cpu-config (pre-boot): checked now, applied to every vCPU at boot. */
    void setCpuConfig(Model.CpuConfig c) throws ApiException {
        CpuConfigParser.parse(c);
        cpuConfig = c;
    }

    /** {@code GET /vm/config}: everything configured, in the config file's format. */
    FullVmConfiguration export() {
        return new FullVmConfiguration(balloon, orderedDrives(), bootSource, cpuConfig, logger, machine, metrics, mmdsConfig,
                List.copyOf(nets.values()), vsock, entropy, orderedPmems(), memoryHotplug, serial);
    }

    /**
     * The VM to boot. Firecracker's own steps, kept: the root drive comes first (the guest's vda) and
     * the command line gets {@code root=/dev/vda} (or {@code root=PARTUUID=...}) with {@code ro} or {@code rw}.
     * Without boot_args the command line is Vessel's default (serial console on), not Firecracker's.
     */
    VmConfig toVmConfig(vessel.devices.mmds.MmdsStore mmds) throws ApiException {
        String e = "Start microvm error: ";
        if (bootSource == null) {
            throw new ApiException(e + "Cannot start microvm without kernel configuration.");
        }
        StringBuilder cmdline = new StringBuilder(bootSource.bootArgs() != null ? bootSource.bootArgs().strip()
                : KernelLoader.DEFAULT_LINUX_CMDLINE);
        VmConfig.Builder b = VmConfig.builder()
                .kernel(Path.of(bootSource.kernelImagePath()))
                .memory(machine.memSizeMib() << 20)
                .cpus(machine.vcpuCount())
                .entropy(entropy != null)
                .entropyRateLimit(entropy == null ? null : limiterConfig(entropy.rateLimiter(), e, "rate_limiter"));
        if (bootSource.initrdPath() != null) {
            b.initrd(Path.of(bootSource.initrdPath()));
        }
        for (Drive d : orderedDrives()) {
            boolean readOnly = d.isReadOnly() != null && d.isReadOnly();
            if (d.isRootDevice()) {
                cmdline.append(d.partuuid() != null ? " root=PARTUUID=" + d.partuuid() : " root=/dev/vda")
                        .append(readOnly ? " ro" : " rw");
            }
            b.drive(new DriveConfig(d.driveId(), Path.of(d.pathOnHost()), readOnly, null,
                    limiterConfig(d.rateLimiter(), e, "rate_limiter")));
        }
        for (Model.Pmem p : orderedPmems()) {
            boolean readOnly = Boolean.TRUE.equals(p.readOnly());
            boolean root = Boolean.TRUE.equals(p.rootDevice());
            if (root) {
                cmdline.append(" root=/dev/pmem0").append(readOnly ? " ro" : " rw");
            }
            b.pmem(new vessel.vmm.PmemConfig(p.id(), Path.of(p.pathOnHost()), readOnly, root,
                    limiterConfig(p.rateLimiter(), e, "rate_limiter")));
        }
        for (NetworkInterface n : nets.values()) {
            boolean withMmds = mmdsConfig != null && mmdsConfig.networkInterfaces().contains(n.ifaceId());
            b.net(new vessel.vmm.NetConfig(n.ifaceId(), n.hostDevName(), n.guestMac(),
                    limiterConfig(n.rxRateLimiter(), e, "rx_rate_limiter"),
                    limiterConfig(n.txRateLimiter(), e, "tx_rate_limiter"), withMmds ? mmds : null));
        }
        if (vsock != null) {
            b.vsock(new vessel.vmm.VsockConfig(vsock.guestCid(), Path.of(vsock.udsPath())));
        }
        if (balloon != null) {
            b.balloon(new vessel.vmm.BalloonConfig(balloon.amountMib(), balloon.deflateOnOom(),
                    (int) (long) balloon.statsPollingIntervalS(), balloon.freePageHinting(), balloon.freePageReporting()));
        }
        if (memoryHotplug != null) {
            b.memoryHotplug(new vessel.vmm.MemoryHotplugConfig(memoryHotplug.totalSizeMib(), memoryHotplug.blockSizeMib(),
                    memoryHotplug.slotSizeMib()));
        }
        if (serial != null && serial.serialOutPath() != null) {
            b.serialOutput(Path.of(serial.serialOutPath()));
        }
        if (serial != null && serial.rateLimiter() != null) {
            b.serialRateLimit(limiterConfig(new RateLimiter(serial.rateLimiter(), null), e, "rate_limiter").bandwidth());
        }
        if (cpuConfig != null) {
            b.cpuTemplate(CpuConfigParser.parse(cpuConfig));
        }
        b.smt(machine.smt() != null && machine.smt());
        b.memoryBacking(new MemoryBacking(MemoryBacking.HugePages.parse(machine.hugePages()), false));
        b.cmdline(cmdline.toString().strip());
        try {
            return b.build();
        } catch (ConfigException ce) {
            throw new ApiException(e + ce.getMessage());
        }
    }

    /** Firecracker's order: the root drive first, then the others as they were added. */
    private List<Drive> orderedDrives() {
        List<Drive> out = new ArrayList<>();
        drives.values().stream().filter(Drive::isRootDevice).forEach(out::add);
        drives.values().stream().filter(d -> !d.isRootDevice()).forEach(out::add);
        return out;
    }

    /** A host file that Vessel will read at boot must be a readable regular file now. */
    private static void openable(String path, String what, String prefix) throws ApiException {
        if (path.isEmpty()) {
            throw new ApiException(prefix + "the " + what + " path is empty");
        }
        Path p = Path.of(path);
        if (!Files.exists(p)) {
            throw new ApiException(prefix + "the " + what + " file " + path + " cannot be opened: it does not exist");
        }
        if (Files.isDirectory(p)) {
            throw new ApiException(prefix + "the " + what + " file " + path + " is a directory");
        }
        if (!Files.isReadable(p)) {
            throw new ApiException(prefix + "the " + what + " file " + path + " cannot be opened: permission denied");
        }
    }
}
