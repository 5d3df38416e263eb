package vessel.api;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import vessel.api.Lifecycle.Operation;
import vessel.api.Model.BootSource;
import vessel.api.Model.Drive;
import vessel.api.Model.Entropy;
import vessel.api.Model.FullVmConfiguration;
import vessel.api.Model.InstanceInfo;
import vessel.api.Model.Logger;
import vessel.api.Model.MachineConfig;
import vessel.api.Model.MachineConfigUpdate;
import vessel.api.Model.MmdsConfig;
import vessel.api.Model.Metrics;
import vessel.api.Model.NetworkInterface;
import vessel.api.Model.PartialDrive;
import vessel.api.Model.PartialNetworkInterface;
import vessel.api.Model.SnapshotCreateParams;
import vessel.api.Model.SnapshotLoadParams;
import vessel.api.Model.SnapshotType;
import vessel.api.Model.Vsock;
import com.fasterxml.jackson.databind.JsonNode;

import vessel.devices.mmds.MmdsStore;
import vessel.vmm.ConfigException;
import vessel.vmm.VirtualMachine;
import vessel.vmm.VmConfig;
import vessel.vmm.snapshot.VmSnapshot;

/**
 * The microVM as the API sees it: its configuration before boot, then the running {@link VirtualMachine}.
 * Requests are serialized (every method holds this object's lock), as Firecracker's single VMM thread
 * does; the state rules live in {@link Lifecycle}, the translation to a {@link VmConfig} in {@link VmResources}.
 */
public final class Vmm implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.api");

    public static final String APP_NAME = "vessel";
    /** Firecracker's instance id when {@code --id} is not given. */
    public static final String DEFAULT_ID = "anonymous-instance";
    static final long METRICS_PERIOD_SECONDS = 60;

    private final String id;
    private final Launcher launcher;
    private final Booter booter;
    private final Lifecycle lifecycle = new Lifecycle();
    private final VmResources resources = new VmResources();
    private final VmmMetrics metrics = new VmmMetrics();
    /** The metadata store: PUT and PATCH at any time, read by the guest through the interfaces /mmds/config names. */
    private final MmdsStore mmds;
    private final CompletableFuture<VirtualMachine> started = new CompletableFuture<>();
    private RunningVm vm;
    private ScheduledExecutorService ticker;
    private boolean closed;
    /** Something only a boot uses was configured: a snapshot can no longer be loaded (Firecracker's rule). */
    private boolean bootResourcesConfigured;

    /** How a VmConfig becomes a running microVM; tests give one that needs no KVM. */
    @FunctionalInterface
    interface Booter {
        RunningVm boot(VmConfig config) throws ConfigException, IOException;
    }

    public Vmm(String id, Launcher launcher) {
        this(id, launcher, MmdsStore.DEFAULT_SIZE_LIMIT);
    }

    /** With {@code --mmds-size-limit}: the largest MMDS document, serialized, in bytes. */
    public Vmm(String id, Launcher launcher, int mmdsSizeLimit) {
        this(id, launcher, config -> RunningVm.of(launcher.launch(config)), mmdsSizeLimit);
    }

    Vmm(String id, Launcher launcher, Booter booter) {
        this(id, launcher, booter, MmdsStore.DEFAULT_SIZE_LIMIT);
    }

    Vmm(String id, Launcher launcher, Booter booter, int mmdsSizeLimit) {
        this.id = id;
        this.launcher = launcher;
        this.booter = booter;
        this.mmds = new MmdsStore(mmdsSizeLimit);
    }

    /** Vessel's version, from the jar's manifest when there is one. */
    public static String version() {
        String v = Vmm.class.getPackage().getImplementationVersion();
        return v != null ? v : "0.1.0-dev";
    }

    VmmMetrics metrics() {
        return metrics;
    }

    synchronized InstanceInfo instanceInfo() {
        return new InstanceInfo(id, lifecycle.state().apiName(), version(), APP_NAME);
    }

    synchronized Lifecycle.State state() {
        return lifecycle.state();
    }

    synchronized MachineConfig machineConfig() {
        return resources.machineConfig();
    }

    synchronized FullVmConfiguration vmConfig() {
        return resources.export();
    }

    synchronized void putMachineConfig(MachineConfig c) throws ApiException {
        lifecycle.check(Operation.CONFIGURE);
        bootResourcesConfigured = true;
        resources.setMachineConfig(c);
    }

    synchronized void patchMachineConfig(MachineConfigUpdate u) throws ApiException {
        lifecycle.check(Operation.CONFIGURE);
        bootResourcesConfigured = true;
        resources.updateMachineConfig(u);
    }

    synchronized void putBootSource(BootSource b) throws ApiException {
        lifecycle.check(Operation.CONFIGURE);
        bootResourcesConfigured = true;
        resources.setBootSource(b);
    }

    synchronized void putDrive(Drive d) throws ApiException {
        lifecycle.check(Operation.CONFIGURE);
        bootResourcesConfigured = true;
        resources.putDrive(d);
    }

    /**
     * PATCH /drives/{id} after boot, as Firecracker: a new path_on_host swaps the running drive's image
     * (same read-only mode; the guest is told to reread its capacity); a rate_limiter replaces the drive's
     * buckets it names. The limiter changes first, and an image that fails to swap keeps the old one.
     */
    synchronized void patchDrive(PartialDrive d) throws ApiException {
        lifecycle.check(Operation.UPDATE_DEVICE);
        String path = resources.checkDriveUpdate(d);
        vessel.devices.RateLimiter.Config limit = VmResources.limiterConfig(d.rateLimiter(), "", "rate_limiter");
        if (limit != null) {
            try {
                vm.updateDriveRateLimiter(d.driveId(), limit.bandwidth(), limit.ops());
            } catch (ConfigException e) {
                throw new ApiException("Drive config error: " + e.getMessage());
            }
            resources.driveRateLimiterChanged(d.driveId(), d.rateLimiter());
        }
        if (path == null) {
            return;
        }
        try {
            vm.replaceDrive(d.driveId(), Path.of(path));
        } catch (ConfigException | IOException e) {
            throw new ApiException("Drive config error: cannot switch drive " + d.driveId() + " to " + path + ": "
                    + e.getMessage());
        }
        resources.drivePathChanged(d.driveId(), path);
    }

    synchronized void putPmem(Model.Pmem p) throws ApiException {
        lifecycle.check(Operation.CONFIGURE);
        bootResourcesConfigured = true;
        resources.putPmem(p);
    }

    /** PATCH /pmem/{id} after boot: Firecracker's only updatable field, the rate limiter. */
    synchronized void patchPmem(Model.PartialPmem p) throws ApiException {
        lifecycle.check(Operation.UPDATE_DEVICE);
        vessel.devices.RateLimiter.Config limit = resources.checkPmemUpdate(p);
        if (limit == null) {
            return;
        }
        try {
            vm.updatePmemRateLimiter(p.id(), limit.bandwidth(), limit.ops());
        } catch (ConfigException e) {
            throw new ApiException("Pmem config error: " + e.getMessage());
        }
        resources.pmemRateLimiterChanged(p.id(), p.rateLimiter());
    }

    synchronized void putNetworkInterface(NetworkInterface n) throws ApiException {
        lifecycle.check(Operation.CONFIGURE);
        bootResourcesConfigured = true;
        resources.putNetworkInterface(n);
    }

    /**
     * PATCH /network-interfaces/{id} after boot: Firecracker's only updatable fields, the rate limiters;
     * each one given replaces the buckets it names.
     */
    synchronized void patchNetworkInterface(PartialNetworkInterface n) throws ApiException {
        lifecycle.check(Operation.UPDATE_DEVICE);
        vessel.devices.RateLimiter.Config[] rxTx = resources.checkNetworkUpdate(n);
        if (rxTx[0] == null && rxTx[1] == null) {
            return;
        }
        try {
            vm.updateNetRateLimiters(n.ifaceId(), rxTx[0], rxTx[1]);
        } catch (ConfigException e) {
            throw new ApiException("Network config error: " + e.getMessage());
        }
        resources.netRateLimitersChanged(n.ifaceId(), n.rxRateLimiter(), n.txRateLimiter());
    }

    /** GET /mmds: the document as JSON ({} before the first PUT). */
    synchronized byte[] getMmds() {
        return mmds.json().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** PUT /mmds, before or after boot: replaces the document. */
    synchronized void putMmds(JsonNode data) throws ApiException {
        try {
            mmds.put(data);
        } catch (MmdsStore.StoreException e) {
            throw mmdsError(e);
        }
    }

    /** PATCH /mmds, before or after boot: JSON merge patch of the document. */
    synchronized void patchMmds(JsonNode patch) throws ApiException {
        try {
            mmds.patch(patch);
        } catch (MmdsStore.StoreException e) {
            throw mmdsError(e);
        }
    }

    /** Firecracker's answers: 413 when the document would not fit, 400 otherwise. */
    private static ApiException mmdsError(MmdsStore.StoreException e) {
        return e.limitExceeded() ? new ApiException(413, "MMDS limit exceeded error: " + e.getMessage())
                : new ApiException("MMDS error: " + e.getMessage());
    }

    /** PUT /mmds/config: pre-boot only, the interfaces must exist already. */
    synchronized void putMmdsConfig(MmdsConfig c) throws ApiException {
        lifecycle.check(Operation.CONFIGURE);
        resources.setMmdsConfig(c, mmds);
    }

    synchronized void putVsock(Vsock v) throws ApiException {
        lifecycle.check(Operation.CONFIGURE);
        bootResourcesConfigured = true;
        resources.setVsock(v);
    }

    synchronized void putEntropy(Entropy e) throws ApiException {
        lifecycle.check(Operation.CONFIGURE);
        bootResourcesConfigured = true;
        resources.setEntropy(e);
    }

    synchronized void putLogger(Logger l) throws ApiException {
        lifecycle.check(Operation.CONFIGURE);
        String level = l.level() == null ? "info" : l.level().toLowerCase(Locale.ROOT);
        if (!List.of("error", "warning", "info", "debug", "trace", "off").contains(level)) {
            throw new ApiException("Logger error: unknown variant `" + l.level()
                    + "` for level, expected `Error`, `Warning`, `Info`, `Debug`, `Trace`, `Off`");
        }
        try {
            launcher.configureLogging(level, l.logPath() == null ? null : Path.of(l.logPath()),
                    Boolean.TRUE.equals(l.showLevel()), Boolean.TRUE.equals(l.showLogOrigin()));
        } catch (IOException e) {
            throw new ApiException("Logger error: cannot open " + l.logPath() + ": " + e.getMessage());
        }
        resources.setLogger(l);
    }

    synchronized void putMetrics(Metrics m) throws ApiException {
        lifecycle.check(Operation.CONFIGURE);
        if (metrics.configured()) {
            throw new ApiException("Metrics error: Reinitialization of metrics not allowed.");
        }
        try {
            metrics.open(Path.of(m.metricsPath()));
        } catch (IOException | RuntimeException e) {
            throw new ApiException("Metrics error: cannot open " + m.metricsPath() + ": " + e.getMessage());
        }
        resources.setMetrics(m);
    }

    // ---- balloon, serial and CPU configuration (issue 18) ----

    synchronized void putBalloon(Model.Balloon b) throws ApiException {
        lifecycle.check(Operation.CONFIGURE);
        resources.setBalloon(b);
    }

    /** PUT /hotplug/memory: a virtio-mem device with this much hot-pluggable memory, none of it requested yet. */
    synchronized void putMemoryHotplug(Model.MemoryHotplugConfig c) throws ApiException {
        lifecycle.check(Operation.CONFIGURE);
        resources.setMemoryHotplug(c);
    }

    /** GET /hotplug/memory: the configuration before boot (nothing plugged); the device's state after. */
    synchronized Model.MemoryHotplugStatus memoryHotplug() throws ApiException {
        Model.MemoryHotplugConfig c = resources.memoryHotplug();
        if (c == null) {
            throw new ApiException("Memory hotplug status error: No memory hotplug device found.");
        }
        vessel.devices.virtio.VirtioMem device = vm == null ? null : vm.memoryHotplug();
        if (device == null) {
            return new Model.MemoryHotplugStatus(c.totalSizeMib(), c.slotSizeMib(), c.blockSizeMib(), 0, 0);
        }
        vessel.devices.virtio.VirtioMem.Status s = device.status();
        return new Model.MemoryHotplugStatus(s.regionSize() >> 20, s.slotSize() >> 20, s.blockSize() >> 20,
                s.pluggedSize() >> 20, s.requestedSize() >> 20);
    }

    /** PATCH /hotplug/memory after boot: a new requested size, which the guest's driver plugs or unplugs toward. */
    synchronized void patchMemoryHotplug(Model.MemoryHotplugSizeUpdate u) throws ApiException {
        lifecycle.check(Operation.UPDATE_DEVICE);
        String e = "Memory hotplug update error: ";
        long mib = VmResources.unsigned(u.requestedSizeMib(), 32);
        vessel.devices.virtio.VirtioMem device = vm.memoryHotplug();
        if (device == null) {
            throw new ApiException(e + "No memory hotplug device found.");
        }
        vessel.devices.virtio.VirtioMem.Status s = device.status();
        long bytes = mib << 20;
        if (bytes > s.regionSize() || bytes % s.blockSize() != 0) {
            throw new ApiException(e + "Size " + mib + " MiB is invalid: it must be a multiple of the block size ("
                    + (s.blockSize() >> 20) + " MiB) and at most the total size (" + (s.regionSize() >> 20) + " MiB)");
        }
        device.setRequestedSize(bytes);
    }

    /** GET /balloon: before boot what was PUT; after, the running device's target. */
    synchronized Model.Balloon balloon() throws ApiException {
        return resources.balloon();
    }

    private vessel.devices.virtio.VirtioBalloon balloonDevice(String prefix) throws ApiException {
        vessel.devices.virtio.VirtioBalloon device = vm.balloon();
        if (device == null) {
            throw new ApiException(prefix + "No balloon device found.");
        }
        return device;
    }

    /** PATCH /balloon after boot: a new target, which the guest's driver inflates or deflates toward. */
    synchronized void patchBalloon(Model.BalloonUpdate u) throws ApiException {
        lifecycle.check(Operation.UPDATE_DEVICE);
        long mib = VmResources.unsigned(u.amountMib(), 32);
        String e = "Balloon update error: ";
        vessel.devices.virtio.VirtioBalloon device = balloonDevice(e);
        if (mib > resources.machineConfig().memSizeMib() || mib > vessel.vmm.BalloonConfig.MAX_TARGET_MIB) {
            throw new ApiException(e + "Amount of pages requested is too large.");
        }
        device.setTargetPages((int) (mib << 8));
        Model.Balloon b = resources.balloon();
        resources.balloonChanged(new Model.Balloon(mib, b.deflateOnOom(), b.statsPollingIntervalS(),
                b.freePageHinting(), b.freePageReporting()));
    }

    /** GET /balloon/statistics after boot; 400 when statistics were not enabled at PUT. */
    synchronized Model.BalloonStats balloonStats() throws ApiException {
        lifecycle.check(Operation.UPDATE_DEVICE);
        vessel.devices.virtio.VirtioBalloon device = balloonDevice("Balloon config error: ");
        if (!device.features().stats()) {
            throw new ApiException("Balloon config error: Statistics for the balloon device are not enabled");
        }
        vessel.devices.virtio.VirtioBalloon.Stats s = device.stats();
        long target = Integer.toUnsignedLong(device.targetPages());
        long actual = Integer.toUnsignedLong(device.actualPages());
        return new Model.BalloonStats(target, actual, target >> 8, actual >> 8,
                s.get(0), s.get(1), s.get(2), s.get(3), s.get(4), s.get(5), s.get(6), s.get(7), s.get(8), s.get(9),
                s.get(10), s.get(11), s.get(12), s.get(13), s.get(14), s.get(15));
    }

    /** PATCH /balloon/statistics after boot: a new interval; statistics cannot be turned on or off. */
    synchronized void patchBalloonStats(Model.BalloonStatsUpdate u) throws ApiException {
        lifecycle.check(Operation.UPDATE_DEVICE);
        long seconds = VmResources.unsigned(u.statsPollingIntervalS(), 16);
        String e = "Balloon update error: ";
        vessel.devices.virtio.VirtioBalloon device = balloonDevice(e);
        if (device.features().stats() != seconds > 0) {
            throw new ApiException(e + "Cannot enable/disable the statistics after boot.");
        }
        device.setStatsInterval((int) seconds);
        Model.Balloon b = resources.balloon();
        resources.balloonChanged(new Model.Balloon(b.amountMib(), b.deflateOnOom(), seconds, b.freePageHinting(),
                b.freePageReporting()));
    }

    private vessel.devices.virtio.VirtioBalloon hintingDevice() throws ApiException {
        vessel.devices.virtio.VirtioBalloon device = balloonDevice("Balloon update error: ");
        if (!device.features().freePageHinting()) {
            throw new ApiException("Balloon update error: Free page hinting is not enabled on the balloon device");
        }
        return device;
    }

    synchronized void startBalloonHinting(Model.BalloonStartCmd cmd) throws ApiException {
        lifecycle.check(Operation.UPDATE_DEVICE);
        // Firecracker acknowledges a STOP from the guest by default.
        hintingDevice().startHinting(cmd == null || cmd.acknowledgeOnStop() == null || cmd.acknowledgeOnStop());
    }

    synchronized Model.BalloonHintingStatus balloonHintingStatus() throws ApiException {
        lifecycle.check(Operation.UPDATE_DEVICE);
        vessel.devices.virtio.VirtioBalloon.HintingStatus s = hintingDevice().hintingStatus();
        return new Model.BalloonHintingStatus(s.hostCmd(), s.guestCmd());
    }

    synchronized void stopBalloonHinting() throws ApiException {
        lifecycle.check(Operation.UPDATE_DEVICE);
        hintingDevice().stopHinting();
    }

    synchronized void putSerial(Model.SerialDevice s) throws ApiException {
        lifecycle.check(Operation.CONFIGURE);
        resources.setSerial(s);
    }

    synchronized void putCpuConfig(Model.CpuConfig c) throws ApiException {
        lifecycle.check(Operation.CONFIGURE);
        resources.setCpuConfig(c);
    }

    // ---- end of issue 18's block ----

    /** {@code --metrics-path}: as PUT /metrics with that path. */
    public void configureMetrics(Path path) throws ApiException {
        putMetrics(new Metrics(path.toString(), null, null));
    }

    /** InstanceStart: builds the VmConfig, boots it, and starts the minute's metrics lines. */
    synchronized void start() throws ApiException {
        lifecycle.check(Operation.START);
        VmConfig config = resources.toVmConfig(mmds);
        try {
            vm = booter.boot(config);
        } catch (ConfigException e) {
            throw new ApiException("Start microvm error: " + e.getMessage());
        } catch (IOException e) {
            throw ApiException.hostFailure("Start microvm error: " + e.getMessage());
        }
        lifecycle.started();
        VirtualMachine machine = vm.machine();
        if (machine != null && Boolean.TRUE.equals(resources.machineConfig().trackDirtyPages())) {
            try {
                machine.trackDirtyPages();
            } catch (IOException e) {
                throw ApiException.hostFailure("Start microvm error: dirty page tracking: " + e.getMessage());
            }
        }
        started.complete(vm.machine());
        if (metrics.configured()) {
            ticker = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("metrics")
                    .daemon(true).unstarted(r));
            ticker.scheduleAtFixedRate(this::periodicFlush, METRICS_PERIOD_SECONDS, METRICS_PERIOD_SECONDS,
                    TimeUnit.SECONDS);
        }
        LOG.log(System.Logger.Level.INFO, "microVM started");
    }

    /** PUT /snapshot/create: the paused microVM's state and memory, as Firecracker writes them. */
    synchronized void createSnapshot(SnapshotCreateParams p) throws ApiException {
        lifecycle.check(Operation.SNAPSHOT_CREATE);
        if (lifecycle.state() != Lifecycle.State.PAUSED) {
            throw new ApiException("Create snapshot error: the microVM must be paused first (PATCH /vm with state Paused)");
        }
        VmSnapshot.Type type = p.snapshotType() == SnapshotType.Diff ? VmSnapshot.Type.DIFF : VmSnapshot.Type.FULL;
        try {
            vm.snapshot(Path.of(p.snapshotPath()), Path.of(p.memFilePath()), type);
        } catch (ConfigException e) {
            throw new ApiException("Create snapshot error: " + e.getMessage());
        } catch (IOException e) {
            throw ApiException.hostFailure("Create snapshot error: " + e.getMessage());
        }
        LOG.log(System.Logger.Level.INFO, "snapshot created: " + p.snapshotPath());
    }

    /**
     * PUT /snapshot/load: only on a fresh process (logger and metrics aside). The machine comes from the
     * state file; the memory file is mapped copy-on-write. network_overrides and vsock_override name the
     * host side the restored devices attach to; one naming a device the snapshot lacks is refused.
     */
    synchronized void loadSnapshot(SnapshotLoadParams p) throws ApiException {
        lifecycle.check(Operation.SNAPSHOT_LOAD);
        if (bootResourcesConfigured) {
            throw new ApiException("Loading a microVM snapshot not allowed after configuring boot-specific resources.");
        }
        if (p.memFilePath() != null && p.memBackend() != null) {
            throw new ApiException("too many fields: either `mem_backend` or `mem_file_path` exclusively is required.");
        }
        if (p.memFilePath() == null && p.memBackend() == null) {
            throw new ApiException("missing field: either `mem_backend` or `mem_file_path` is required.");
        }
        if (p.memBackend() != null && p.memBackend().backendType() != Model.MemoryBackendType.File) {
            throw new ApiException("Load snapshot error: memory backend Uffd is not supported by Vessel (use File)");
        }
        String e = "Load snapshot error: ";
        vessel.vmm.RestoreOverrides overrides = vessel.vmm.RestoreOverrides.NONE;
        for (Model.NetworkOverride o : p.networkOverrides() == null ? List.<Model.NetworkOverride>of() : p.networkOverrides()) {
            if (overrides.taps().containsKey(o.ifaceId())) {
                throw new ApiException(e + "network override for iface " + o.ifaceId() + " is given twice");
            }
            overrides = overrides.withTap(o.ifaceId(), o.hostDevName());
        }
        if (p.vsockOverride() != null) {
            overrides = overrides.withVsockUds(Path.of(p.vsockOverride().udsPath()));
        }
        if (Boolean.TRUE.equals(p.clockRealtime())) {
            throw new ApiException(e + "clock_realtime is not supported by Vessel");
        }
        if (p.hugePages() != null && !List.of("Snapshot", "None").contains(p.hugePages())) {
            throw new ApiException(e + "huge_pages " + p.hugePages() + " is not supported by Vessel");
        }
        Path memory = Path.of(p.memBackend() != null ? p.memBackend().backendPath() : p.memFilePath());
        boolean resume = Boolean.TRUE.equals(p.resumeVm());
        boolean track = Boolean.TRUE.equals(p.trackDirtyPages()) || Boolean.TRUE.equals(p.enableDiffSnapshots());
        try {
            vm = RunningVm.of(launcher.restore(Path.of(p.snapshotPath()), memory, !resume, track, overrides));
        } catch (ConfigException ex) {
            throw new ApiException(e + ex.getMessage());
        } catch (IOException ex) {
            throw ApiException.hostFailure(e + ex.getMessage());
        }
        lifecycle.loaded(resume);
        started.complete(vm.machine());
        LOG.log(System.Logger.Level.INFO, "snapshot loaded: " + p.snapshotPath() + (resume ? ", resumed" : ", paused"));
    }

    /** GET /screenshot: the guest's display now, as a PNG. */
    byte[] screenshot() throws ApiException {
        RunningVm running;
        synchronized (this) {
            running = vm;
        }
        if (running == null) {
            throw new ApiException("The microVM has not started: there is no display to capture yet.");
        }
        var display = running.display();
        if (display.isEmpty()) {
            throw new ApiException("The microVM has no display (start Vessel with --display WxHxD).");
        }
        byte[] png;
        try {
            png = vessel.display.Png.of(display.get());
        } catch (IllegalStateException e) {
            throw new ApiException("The microVM has ended: there is no display to capture.");
        }
        if (png == null) {
            throw new ApiException("The guest has switched its display off.");
        }
        return png;
    }

    synchronized void pause() throws ApiException {
        lifecycle.check(Operation.PAUSE);
        try {
            vm.pause();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiException("Internal VMM error: interrupted while pausing");
        } catch (IllegalStateException e) {
            throw new ApiException("Internal VMM error: " + e.getMessage());
        }
        lifecycle.paused();
    }

    synchronized void resume() throws ApiException {
        lifecycle.check(Operation.RESUME);
        vm.resume();
        lifecycle.resumed();
    }

    synchronized void sendCtrlAltDel() throws ApiException {
        lifecycle.check(Operation.CTRL_ALT_DEL);
        vm.sendCtrlAltDel();
    }

    synchronized void flushMetrics() throws ApiException {
        lifecycle.check(Operation.FLUSH_METRICS);
        try {
            writeMetrics();
        } catch (IOException e) {
            throw new ApiException("Internal VMM error: Metrics error: " + e.getMessage());
        }
    }

    private synchronized void writeMetrics() throws IOException {
        Metrics m = resources.metrics();
        metrics.flush(vm == null ? null : vm.exitCounts(), vm == null ? List.of() : vm.deviceMetrics(),
                m != null && Boolean.TRUE.equals(m.emitId()) ? id : null, m == null ? null : m.properties());
    }

    private void periodicFlush() {
        try {
            writeMetrics();
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "metrics line not written: " + e.getMessage());
        }
    }

    /**
     * {@code --config-file}: configures everything the file says, in Firecracker's order (logger, metrics,
     * machine, boot source, drives, network, MMDS, vsock, entropy), then boots. The first error stops it.
     */
    public synchronized void bootFromConfigFile(byte[] json) throws ApiException {
        FullVmConfiguration c = Json.read(json, FullVmConfiguration.class);
        if (c.logger() != null) {
            putLogger(c.logger());
        }
        if (c.metrics() != null) {
            putMetrics(c.metrics());
        }
        if (c.machineConfig() != null) {
            putMachineConfig(c.machineConfig());
        }
        if (c.bootSource() == null) {
            throw new ApiException("missing field `boot-source`");
        }
        putBootSource(c.bootSource());
        for (Drive d : c.drives()) {
            putDrive(d);
        }
        if (c.pmem() != null) {
            for (Model.Pmem p : c.pmem()) {
                putPmem(p);
            }
        }
        for (NetworkInterface n : c.networkInterfaces()) {
            putNetworkInterface(n);
        }
        if (c.mmdsConfig() != null) {
            putMmdsConfig(c.mmdsConfig());
        }
        if (c.vsock() != null) {
            putVsock(c.vsock());
        }
        if (c.entropy() != null) {
            putEntropy(c.entropy());
        }
        if (c.balloon() != null) {
            putBalloon(c.balloon());
        }
        if (c.serial() != null) {
            putSerial(c.serial());
        }
        if (c.memoryHotplug() != null) {
            putMemoryHotplug(c.memoryHotplug());
        }
        if (c.cpuConfig() != null) {
            putCpuConfig(c.cpuConfig());
        }
        start();
    }

    private static void notSupported(Object value, String key) throws ApiException {
        if (value != null) {
            throw new ApiException("`" + key + "` is not supported by Vessel (leave it out or null)");
        }
    }

    /** Blocks until InstanceStart has booted the VM, and returns it. */
    public VirtualMachine awaitStart() throws InterruptedException {
        try {
            return started.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Stops the periodic metrics and writes a last line, as Firecracker does on exit. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (ticker != null) {
            ticker.shutdownNow();
        }
        if (vm != null) {
            periodicFlush();
        }
        metrics.close();
    }
}
