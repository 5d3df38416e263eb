package vessel.api;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

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
import vessel.json.JsonValue;

import vessel.devices.mmds.MmdsStore;
import vessel.vmm.VirtualMachine;
import vessel.vmm.VmConfig;
import vessel.vmm.control.Lifecycle;
import vessel.vmm.control.Lifecycle.Operation;
import vessel.vmm.control.RunningVm;
import vessel.vmm.control.VmmAction;
import vessel.vmm.control.VmmActionException;
import vessel.vmm.control.VmmController;
import vessel.vmm.control.VmmData;
import vessel.vmm.snapshot.VmSnapshot;

/**
 * Firecracker's API over the VMM's {@link VmmController}: each request, already parsed into the
 * Firecracker model, is checked in that model's terms ({@link VmResources} keeps what was configured
 * before boot and turns it into a {@link VmConfig}) and becomes {@link VmmAction}s. The controller keeps
 * the phase rules and the running VM; this side keeps the Firecracker model, the logger and the metrics
 * lines. Requests are serialized here too (every method holds this object's lock), so a check made in
 * the model's terms still holds when its action runs.
 */
public final class Vmm implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.api");

    public static final String APP_NAME = "vessel";
    /** Firecracker's instance id when {@code --id} is not given. */
    public static final String DEFAULT_ID = "anonymous-instance";
    static final long METRICS_PERIOD_SECONDS = 60;

    private final String id;
    private final Launcher launcher;
    private final VmmController controller;
    private final VmResources resources = new VmResources();
    private final VmmMetrics metrics = new VmmMetrics();
    private ScheduledExecutorService ticker;
    private boolean closed;
    /** Something only a boot uses was configured: a snapshot can no longer be loaded (Firecracker's rule). */
    private boolean bootResourcesConfigured;

    /** How a VmConfig becomes a running microVM; tests give one that needs no KVM. */
    @FunctionalInterface
    interface Booter extends VmmController.Booter {
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
        this.controller = new VmmController(booter, (state, memory, paused, track, overrides) ->
                RunningVm.of(launcher.restore(state, memory, paused, track, overrides)), mmdsSizeLimit);
    }

    /** Vessel's version, from the jar's manifest when there is one. */
    public static String version() {
        String v = Vmm.class.getPackage().getImplementationVersion();
        return v != null ? v : "0.1.0-dev";
    }

    VmmMetrics metrics() {
        return metrics;
    }

    /** The controller's answer to {@code action}, its refusal as the API's. */
    private VmmData run(VmmAction action) throws ApiException {
        try {
            return controller.handle(action);
        } catch (VmmActionException e) {
            throw ApiException.from(e);
        }
    }

    private <T extends VmmData> T ask(VmmAction action, Class<T> answer) throws ApiException {
        return answer.cast(run(action));
    }

    /** The phase check alone, before a check in the model's terms (see {@link VmmAction.Admit}). */
    private void admit(Operation op) throws ApiException {
        run(new VmmAction.Admit(op));
    }

    synchronized InstanceInfo instanceInfo() throws ApiException {
        Lifecycle.State state = ask(new VmmAction.GetInstanceState(), VmmData.Instance.class).state();
        return new InstanceInfo(id, state.apiName(), version(), APP_NAME);
    }

    synchronized MachineConfig machineConfig() {
        return resources.machineConfig();
    }

    synchronized FullVmConfiguration vmConfig() {
        return resources.export();
    }

    /** A pre-boot PUT of something only a boot uses: after it, a snapshot cannot be loaded. */
    private void admitBootResource() throws ApiException {
        admit(Operation.CONFIGURE);
        bootResourcesConfigured = true;
    }

    synchronized void putMachineConfig(MachineConfig c) throws ApiException {
        admitBootResource();
        resources.setMachineConfig(c);
    }

    synchronized void patchMachineConfig(MachineConfigUpdate u) throws ApiException {
        admitBootResource();
        resources.updateMachineConfig(u);
    }

    synchronized void putBootSource(BootSource b) throws ApiException {
        admitBootResource();
        resources.setBootSource(b);
    }

    synchronized void putDrive(Drive d) throws ApiException {
        admitBootResource();
        resources.putDrive(d);
    }

    /**
     * PATCH /drives/{id} after boot, as Firecracker: a new path_on_host swaps the running drive's image
     * (same read-only mode; the guest is told to reread its capacity); a rate_limiter replaces the drive's
     * buckets it names. The limiter changes first, and an image that fails to swap keeps the old one.
     */
    synchronized void patchDrive(PartialDrive d) throws ApiException {
        admit(Operation.UPDATE_DEVICE);
        String path = resources.checkDriveUpdate(d);
        vessel.devices.RateLimiter.Config limit = VmResources.limiterConfig(d.rateLimiter(), "", "rate_limiter");
        if (limit != null) {
            run(new VmmAction.UpdateBlockDeviceRateLimiter(d.driveId(), limit));
            resources.driveRateLimiterChanged(d.driveId(), d.rateLimiter());
        }
        if (path == null) {
            return;
        }
        run(new VmmAction.UpdateBlockDeviceImage(d.driveId(), Path.of(path)));
        resources.drivePathChanged(d.driveId(), path);
    }

    synchronized void putPmem(Model.Pmem p) throws ApiException {
        admitBootResource();
        resources.putPmem(p);
    }

    /** PATCH /pmem/{id} after boot: Firecracker's only updatable field, the rate limiter. */
    synchronized void patchPmem(Model.PartialPmem p) throws ApiException {
        admit(Operation.UPDATE_DEVICE);
        vessel.devices.RateLimiter.Config limit = resources.checkPmemUpdate(p);
        if (limit == null) {
            return;
        }
        run(new VmmAction.UpdatePmemRateLimiter(p.id(), limit));
        resources.pmemRateLimiterChanged(p.id(), p.rateLimiter());
    }

    synchronized void putNetworkInterface(NetworkInterface n) throws ApiException {
        admitBootResource();
        resources.putNetworkInterface(n);
    }

    /**
     * PATCH /network-interfaces/{id} after boot: Firecracker's only updatable fields, the rate limiters;
     * each one given replaces the buckets it names.
     */
    synchronized void patchNetworkInterface(PartialNetworkInterface n) throws ApiException {
        admit(Operation.UPDATE_DEVICE);
        vessel.devices.RateLimiter.Config[] rxTx = resources.checkNetworkUpdate(n);
        if (rxTx[0] == null && rxTx[1] == null) {
            return;
        }
        run(new VmmAction.UpdateNetworkRateLimiters(n.ifaceId(), rxTx[0], rxTx[1]));
        resources.netRateLimitersChanged(n.ifaceId(), n.rxRateLimiter(), n.txRateLimiter());
    }

    /** GET /mmds: the document as JSON ({} before the first PUT). */
    synchronized byte[] getMmds() throws ApiException {
        return ask(new VmmAction.GetMmds(), VmmData.MmdsDocument.class).json()
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** PUT /mmds, before or after boot: replaces the document. */
    synchronized void putMmds(JsonValue data) throws ApiException {
        run(new VmmAction.PutMmds(data));
    }

    /** PATCH /mmds, before or after boot: JSON merge patch of the document. */
    synchronized void patchMmds(JsonValue patch) throws ApiException {
        run(new VmmAction.PatchMmds(patch));
    }

    /** PUT /mmds/config: pre-boot only, the interfaces must exist already. */
    synchronized void putMmdsConfig(MmdsConfig c) throws ApiException {
        admit(Operation.CONFIGURE);
        MmdsConfig applied = resources.setMmdsConfig(c);
        run(new VmmAction.ConfigureMmds(applied.version() == Model.MmdsVersion.V2 ? MmdsStore.Version.V2
                : MmdsStore.Version.V1, VmResources.ipv4(applied.ipv4Address()), applied.imdsCompat()));
    }

    synchronized void putVsock(Vsock v) throws ApiException {
        admitBootResource();
        resources.setVsock(v);
    }

    synchronized void putEntropy(Entropy e) throws ApiException {
        admitBootResource();
        resources.setEntropy(e);
    }

    synchronized void putLogger(Logger l) throws ApiException {
        admit(Operation.CONFIGURE);
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
        admit(Operation.CONFIGURE);
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
        admit(Operation.CONFIGURE);
        resources.setBalloon(b);
    }

    /** PUT /hotplug/memory: a virtio-mem device with this much hot-pluggable memory, none of it requested yet. */
    synchronized void putMemoryHotplug(Model.MemoryHotplugConfig c) throws ApiException {
        admit(Operation.CONFIGURE);
        resources.setMemoryHotplug(c);
    }

    /** GET /hotplug/memory: the configuration before boot (nothing plugged); the device's state after. */
    synchronized Model.MemoryHotplugStatus memoryHotplug() throws ApiException {
        Model.MemoryHotplugConfig c = resources.memoryHotplug();
        if (c == null) {
            throw new ApiException("Memory hotplug status error: No memory hotplug device found.");
        }
        vessel.devices.virtio.VirtioMem.Status s = ask(new VmmAction.GetMemoryHotplug(),
                VmmData.MemoryHotplug.class).status();
        if (s == null) {
            return new Model.MemoryHotplugStatus(c.totalSizeMib(), c.slotSizeMib(), c.blockSizeMib(), 0, 0);
        }
        return new Model.MemoryHotplugStatus(s.regionSize() >> 20, s.slotSize() >> 20, s.blockSize() >> 20,
                s.pluggedSize() >> 20, s.requestedSize() >> 20);
    }

    /** PATCH /hotplug/memory after boot: a new requested size, which the guest's driver plugs or unplugs toward. */
    synchronized void patchMemoryHotplug(Model.MemoryHotplugSizeUpdate u) throws ApiException {
        admit(Operation.UPDATE_DEVICE);
        run(new VmmAction.UpdateMemoryHotplug(VmResources.unsigned(u.requestedSizeMib(), 32)));
    }

    /** GET /balloon: before boot what was PUT; after, the running device's target. */
    synchronized Model.Balloon balloon() throws ApiException {
        return resources.balloon();
    }

    /** PATCH /balloon after boot: a new target, which the guest's driver inflates or deflates toward. */
    synchronized void patchBalloon(Model.BalloonUpdate u) throws ApiException {
        admit(Operation.UPDATE_DEVICE);
        long mib = VmResources.unsigned(u.amountMib(), 32);
        run(new VmmAction.UpdateBalloon(mib, resources.machineConfig().memSizeMib()));
        Model.Balloon b = resources.balloon();
        resources.balloonChanged(new Model.Balloon(mib, b.deflateOnOom(), b.statsPollingIntervalS(),
                b.freePageHinting(), b.freePageReporting()));
    }

    /** GET /balloon/statistics after boot; 400 when statistics were not enabled at PUT. */
    synchronized Model.BalloonStats balloonStats() throws ApiException {
        VmmData.BalloonStatistics b = ask(new VmmAction.GetBalloonStats(), VmmData.BalloonStatistics.class);
        vessel.devices.virtio.VirtioBalloon.Stats s = b.stats();
        long target = b.targetPages();
        long actual = b.actualPages();
        return new Model.BalloonStats(target, actual, target >> 8, actual >> 8,
                s.get(0), s.get(1), s.get(2), s.get(3), s.get(4), s.get(5), s.get(6), s.get(7), s.get(8), s.get(9),
                s.get(10), s.get(11), s.get(12), s.get(13), s.get(14), s.get(15));
    }

    /** PATCH /balloon/statistics after boot: a new interval; statistics cannot be turned on or off. */
    synchronized void patchBalloonStats(Model.BalloonStatsUpdate u) throws ApiException {
        admit(Operation.UPDATE_DEVICE);
        long seconds = VmResources.unsigned(u.statsPollingIntervalS(), 16);
        run(new VmmAction.UpdateBalloonStatistics((int) seconds));
        Model.Balloon b = resources.balloon();
        resources.balloonChanged(new Model.Balloon(b.amountMib(), b.deflateOnOom(), seconds, b.freePageHinting(),
                b.freePageReporting()));
    }

    synchronized void startBalloonHinting(Model.BalloonStartCmd cmd) throws ApiException {
        // Firecracker acknowledges a STOP from the guest by default.
        run(new VmmAction.StartBalloonHinting(cmd == null || cmd.acknowledgeOnStop() == null || cmd.acknowledgeOnStop()));
    }

    synchronized Model.BalloonHintingStatus balloonHintingStatus() throws ApiException {
        vessel.devices.virtio.VirtioBalloon.HintingStatus s = ask(new VmmAction.GetBalloonHintingStatus(),
                VmmData.BalloonHinting.class).status();
        return new Model.BalloonHintingStatus(s.hostCmd(), s.guestCmd());
    }

    synchronized void stopBalloonHinting() throws ApiException {
        run(new VmmAction.StopBalloonHinting());
    }

    synchronized void putSerial(Model.SerialDevice s) throws ApiException {
        admit(Operation.CONFIGURE);
        resources.setSerial(s);
    }

    synchronized void putCpuConfig(Model.CpuConfig c) throws ApiException {
        admit(Operation.CONFIGURE);
        resources.setCpuConfig(c);
    }

    // ---- end of issue 18's block ----

    /** {@code --metrics-path}: as PUT /metrics with that path. */
    public void configureMetrics(Path path) throws ApiException {
        putMetrics(new Metrics(path.toString(), null, null));
    }

    /** InstanceStart: builds the VmConfig, boots it, and starts the minute's metrics lines. */
    synchronized void start() throws ApiException {
        admit(Operation.START);
        VmConfig config = resources.toVmConfig(controller.mmds());
        run(new VmmAction.StartMicroVm(config, Boolean.TRUE.equals(resources.machineConfig().trackDirtyPages())));
        if (metrics.configured()) {
            ticker = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("metrics")
                    .daemon(true).unstarted(r));
            ticker.scheduleAtFixedRate(this::periodicFlush, METRICS_PERIOD_SECONDS, METRICS_PERIOD_SECONDS,
                    TimeUnit.SECONDS);
        }
    }

    /** PUT /snapshot/create: the paused microVM's state and memory, as Firecracker writes them. */
    synchronized void createSnapshot(SnapshotCreateParams p) throws ApiException {
        admit(Operation.SNAPSHOT_CREATE);
        VmSnapshot.Type type = p.snapshotType() == SnapshotType.Diff ? VmSnapshot.Type.DIFF : VmSnapshot.Type.FULL;
        String e = "Create snapshot error: ";
        run(new VmmAction.CreateSnapshot(path(p.snapshotPath(), e), path(p.memFilePath(), e), type));
    }

    /** A path from a request; one the OS cannot name (a NUL in it) is bad input, not a VMM failure. */
    private static Path path(String text, String prefix) throws ApiException {
        try {
            return Path.of(text);
        } catch (java.nio.file.InvalidPathException x) {
            throw new ApiException(prefix + "invalid path " + Router.printable(text) + ": " + x.getReason());
        }
    }

    /**
     * PUT /snapshot/load: only on a fresh process (logger and metrics aside). The machine comes from the
     * state file; the memory file is mapped copy-on-write. network_overrides and vsock_override name the
     * host side the restored devices attach to; one naming a device the snapshot lacks is refused.
     */
    synchronized void loadSnapshot(SnapshotLoadParams p) throws ApiException {
        admit(Operation.SNAPSHOT_LOAD);
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
        run(new VmmAction.LoadSnapshot(Path.of(p.snapshotPath()), memory, resume, track, overrides));
    }

    /** GET /screenshot: the guest's display now, as a PNG (encoded outside the lock). */
    byte[] screenshot() throws ApiException {
        var display = ask(new VmmAction.GetDisplay(), VmmData.Screen.class).display();
        byte[] png;
        try {
            png = vessel.display.Png.of(display);
        } catch (IllegalStateException e) {
            throw new ApiException("The microVM has ended: there is no display to capture.");
        }
        if (png == null) {
            throw new ApiException("The guest has switched its display off.");
        }
        return png;
    }

    synchronized void pause() throws ApiException {
        run(new VmmAction.Pause());
    }

    synchronized void resume() throws ApiException {
        run(new VmmAction.Resume());
    }

    synchronized void sendCtrlAltDel() throws ApiException {
        run(new VmmAction.SendCtrlAltDel());
    }

    synchronized void flushMetrics() throws ApiException {
        VmmData.Counters counters = ask(new VmmAction.FlushMetrics(), VmmData.Counters.class);
        try {
            writeMetrics(counters);
        } catch (IOException e) {
            throw new ApiException("Internal VMM error: Metrics error: " + e.getMessage());
        }
    }

    private synchronized void writeMetrics(VmmData.Counters counters) throws IOException {
        Metrics m = resources.metrics();
        metrics.flush(counters.exitCounts(), counters.devices(),
                m != null && Boolean.TRUE.equals(m.emitId()) ? id : null, m == null ? null : m.properties());
    }

    /** The current counters; reads are allowed in every phase, so this is never refused. */
    private VmmData.Counters counters() {
        try {
            return ask(new VmmAction.GetCounters(), VmmData.Counters.class);
        } catch (ApiException e) {
            throw new IllegalStateException("a read was refused: " + e.getMessage(), e);
        }
    }

    private synchronized void periodicFlush() {
        try {
            writeMetrics(counters());
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "metrics line not written: " + e.getMessage());
        }
    }

    /**
     * {@code --config-file}: configures everything the file says, in Firecracker's order (logger, metrics,
     * machine, boot source, drives, network, MMDS, vsock, entropy), then boots. The first error stops it.
     */
    public synchronized void bootFromConfigFile(byte[] json) throws ApiException {
        FullVmConfiguration c = Json.read(json, FullVmConfiguration::fromJson);
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

    /** Blocks until InstanceStart has booted the VM (or a snapshot was loaded), and returns it. */
    public VirtualMachine awaitStart() throws InterruptedException {
        return controller.awaitStart();
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
        if (counters().exitCounts() != null) {
            periodicFlush();
        }
        metrics.close();
    }
}
