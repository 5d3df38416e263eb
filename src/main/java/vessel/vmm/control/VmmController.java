package vessel.vmm.control;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import vessel.devices.mmds.MmdsStore;
import vessel.devices.virtio.VirtioBalloon;
import vessel.devices.virtio.VirtioMem;
import vessel.vmm.BalloonConfig;
import vessel.vmm.ConfigException;
import vessel.vmm.RestoreOverrides;
import vessel.vmm.VirtualMachine;
import vessel.vmm.VmConfig;

/**
 * The microVM's controller: it boots or restores it, then pauses, resumes, snapshots and updates its
 * devices, one {@link VmmAction} at a time (every action holds this object's lock, as Firecracker's single
 * VMM thread serializes them). The phase rules live in {@link Lifecycle}. It also keeps the MMDS store,
 * which the guest reads through the interfaces that carry it.
 */
public final class VmmController {
    private static final System.Logger LOG = System.getLogger("vessel.vmm.control");

    /** How a VmConfig becomes a running microVM; the API's tests give one that needs no KVM. */
    @FunctionalInterface
    public interface Booter {
        RunningVm boot(VmConfig config) throws ConfigException, IOException;
    }

    /** How a snapshot becomes a running (or paused) microVM. */
    @FunctionalInterface
    public interface Restorer {
        RunningVm restore(Path state, Path memory, boolean paused, boolean trackDirtyPages, RestoreOverrides overrides)
                throws ConfigException, IOException;
    }

    private final Booter booter;
    private final Restorer restorer;
    private final Lifecycle lifecycle = new Lifecycle();
    private final MmdsStore mmds;
    private final CompletableFuture<VirtualMachine> started = new CompletableFuture<>();
    private RunningVm vm;

    public VmmController(Booter booter, Restorer restorer, int mmdsSizeLimit) {
        this.booter = booter;
        this.restorer = restorer;
        this.mmds = new MmdsStore(mmdsSizeLimit);
    }

    /**
     * The metadata store, for a front end that puts it on the interfaces of the VmConfig it boots. Its
     * document and settings change only through actions.
     */
    public MmdsStore mmds() {
        return mmds;
    }

    /** Carries out {@code action} once the phase allows it, and says what came of it. */
    public VmmData handle(VmmAction action) throws VmmActionException {
        // The display is read under the lock, the PNG encoded outside it: a screenshot never holds up the VM.
        synchronized (this) {
            lifecycle.check(action.operation());
            return switch (action) {
                case VmmAction.GetInstanceState a -> new VmmData.Instance(lifecycle.state());
                case VmmAction.GetCounters a -> counters();
                case VmmAction.GetMmds a -> new VmmData.MmdsDocument(mmds.json());
                case VmmAction.GetMemoryHotplug a ->
                        new VmmData.MemoryHotplug(vm == null || vm.memoryHotplug() == null ? null
                                : vm.memoryHotplug().status());
                case VmmAction.GetDisplay a -> display();
                case VmmAction.Admit a -> VmmData.Empty.INSTANCE;
                case VmmAction.ConfigureMmds a -> {
                    mmds.ipv4Address(a.ipv4Address());
                    mmds.version(a.version());
                    mmds.imdsCompat(a.imdsCompat());
                    yield VmmData.Empty.INSTANCE;
                }
                case VmmAction.StartMicroVm a -> start(a);
                case VmmAction.LoadSnapshot a -> load(a);
                case VmmAction.PutMmds a -> {
                    try {
                        mmds.put(a.document());
                    } catch (MmdsStore.StoreException e) {
                        throw mmdsError(e);
                    }
                    yield VmmData.Empty.INSTANCE;
                }
                case VmmAction.PatchMmds a -> {
                    try {
                        mmds.patch(a.patch());
                    } catch (MmdsStore.StoreException e) {
                        throw mmdsError(e);
                    }
                    yield VmmData.Empty.INSTANCE;
                }
                case VmmAction.Pause a -> pause();
                case VmmAction.Resume a -> {
                    vm.resume();
                    lifecycle.resumed();
                    yield VmmData.Empty.INSTANCE;
                }
                case VmmAction.SendCtrlAltDel a -> {
                    vm.sendCtrlAltDel();
                    yield VmmData.Empty.INSTANCE;
                }
                case VmmAction.FlushMetrics a -> counters();
                case VmmAction.CreateSnapshot a -> createSnapshot(a);
                case VmmAction.UpdateBlockDeviceRateLimiter a -> {
                    try {
                        vm.updateDriveRateLimiter(a.id(), a.limiter().bandwidth(), a.limiter().ops());
                    } catch (ConfigException e) {
                        throw new VmmActionException("Drive config error: " + e.getMessage());
                    }
                    yield VmmData.Empty.INSTANCE;
                }
                case VmmAction.UpdateBlockDeviceImage a -> {
                    try {
                        vm.replaceDrive(a.id(), a.image());
                    } catch (ConfigException | IOException e) {
                        throw new VmmActionException("Drive config error: cannot switch drive " + a.id() + " to "
                                + a.image() + ": " + e.getMessage());
                    }
                    yield VmmData.Empty.INSTANCE;
                }
                case VmmAction.UpdatePmemRateLimiter a -> {
                    try {
                        vm.updatePmemRateLimiter(a.id(), a.limiter().bandwidth(), a.limiter().ops());
                    } catch (ConfigException e) {
                        throw new VmmActionException("Pmem config error: " + e.getMessage());
                    }
                    yield VmmData.Empty.INSTANCE;
                }
                case VmmAction.UpdateNetworkRateLimiters a -> {
                    try {
                        vm.updateNetRateLimiters(a.id(), a.rx(), a.tx());
                    } catch (ConfigException e) {
                        throw new VmmActionException("Network config error: " + e.getMessage());
                    }
                    yield VmmData.Empty.INSTANCE;
                }
                case VmmAction.UpdateBalloon a -> {
                    String e = "Balloon update error: ";
                    VirtioBalloon device = balloonDevice(e);
                    if (a.amountMib() > a.memSizeMib() || a.amountMib() > BalloonConfig.MAX_TARGET_MIB) {
                        throw new VmmActionException(e + "Amount of pages requested is too large.");
                    }
                    device.setTargetPages((int) (a.amountMib() << 8));
                    yield VmmData.Empty.INSTANCE;
                }
                case VmmAction.GetBalloonStats a -> {
                    VirtioBalloon device = balloonDevice("Balloon config error: ");
                    if (!device.features().stats()) {
                        throw new VmmActionException(
                                "Balloon config error: Statistics for the balloon device are not enabled");
                    }
                    yield new VmmData.BalloonStatistics(Integer.toUnsignedLong(device.targetPages()),
                            Integer.toUnsignedLong(device.actualPages()), device.stats());
                }
                case VmmAction.UpdateBalloonStatistics a -> {
                    String e = "Balloon update error: ";
                    VirtioBalloon device = balloonDevice(e);
                    if (device.features().stats() != a.seconds() > 0) {
                        throw new VmmActionException(e + "Cannot enable/disable the statistics after boot.");
                    }
                    device.setStatsInterval(a.seconds());
                    yield VmmData.Empty.INSTANCE;
                }
                case VmmAction.StartBalloonHinting a -> {
                    hintingDevice().startHinting(a.acknowledgeOnStop());
                    yield VmmData.Empty.INSTANCE;
                }
                case VmmAction.GetBalloonHintingStatus a -> new VmmData.BalloonHinting(hintingDevice().hintingStatus());
                case VmmAction.StopBalloonHinting a -> {
                    hintingDevice().stopHinting();
                    yield VmmData.Empty.INSTANCE;
                }
                case VmmAction.UpdateMemoryHotplug a -> updateMemoryHotplug(a.requestedSizeMib());
            };
        }
    }

    /** Blocks until the microVM has booted or been restored, and returns it (null for a fake one). */
    public VirtualMachine awaitStart() throws InterruptedException {
        try {
            return started.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    private VmmData counters() {
        return new VmmData.Counters(vm == null ? null : vm.exitCounts(), vm == null ? List.of() : vm.deviceMetrics());
    }

    private VmmData display() throws VmmActionException {
        if (vm == null) {
            throw new VmmActionException("The microVM has not started: there is no display to capture yet.");
        }
        var display = vm.display();
        if (display.isEmpty()) {
            throw new VmmActionException("The microVM has no display (start Vessel with --display WxHxD).");
        }
        return new VmmData.Screen(display.get());
    }

    private VmmData start(VmmAction.StartMicroVm a) throws VmmActionException {
        try {
            vm = booter.boot(a.config());
        } catch (ConfigException e) {
            throw new VmmActionException("Start microvm error: " + e.getMessage());
        } catch (IOException e) {
            throw VmmActionException.hostFailure("Start microvm error: " + e.getMessage());
        }
        lifecycle.started();
        VirtualMachine machine = vm.machine();
        if (machine != null && a.trackDirtyPages()) {
            try {
                machine.trackDirtyPages();
            } catch (IOException e) {
                throw VmmActionException.hostFailure("Start microvm error: dirty page tracking: " + e.getMessage());
            }
        }
        started.complete(vm.machine());
        LOG.log(System.Logger.Level.INFO, "microVM started");
        return VmmData.Empty.INSTANCE;
    }

    private VmmData load(VmmAction.LoadSnapshot a) throws VmmActionException {
        String e = "Load snapshot error: ";
        try {
            // A restored MMDS answers from this controller's store, so PUT /mmds after the load fills it.
            vm = restorer.restore(a.state(), a.memory(), !a.resume(), a.trackDirtyPages(), a.overrides().withMmds(mmds));
        } catch (ConfigException ex) {
            throw new VmmActionException(e + ex.getMessage());
        } catch (IOException ex) {
            throw VmmActionException.hostFailure(e + ex.getMessage());
        }
        lifecycle.loaded(a.resume());
        started.complete(vm.machine());
        LOG.log(System.Logger.Level.INFO, "snapshot loaded: " + a.state() + (a.resume() ? ", resumed" : ", paused"));
        return VmmData.Empty.INSTANCE;
    }

    private VmmData pause() throws VmmActionException {
        try {
            vm.pause();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmmActionException("Internal VMM error: interrupted while pausing");
        } catch (IllegalStateException e) {
            throw new VmmActionException("Internal VMM error: " + e.getMessage());
        }
        lifecycle.paused();
        return VmmData.Empty.INSTANCE;
    }

    private VmmData createSnapshot(VmmAction.CreateSnapshot a) throws VmmActionException {
        if (lifecycle.state() != Lifecycle.State.PAUSED) {
            throw new VmmActionException(
                    "Create snapshot error: the microVM must be paused first (PATCH /vm with state Paused)");
        }
        try {
            vm.snapshot(a.state(), a.memory(), a.type());
        } catch (ConfigException e) {
            throw new VmmActionException("Create snapshot error: " + e.getMessage());
        } catch (IOException e) {
            throw VmmActionException.hostFailure("Create snapshot error: " + e.getMessage());
        }
        LOG.log(System.Logger.Level.INFO, "snapshot created: " + a.state());
        return VmmData.Empty.INSTANCE;
    }

    private VmmData updateMemoryHotplug(long mib) throws VmmActionException {
        String e = "Memory hotplug update error: ";
        VirtioMem device = vm.memoryHotplug();
        if (device == null) {
            throw new VmmActionException(e + "No memory hotplug device found.");
        }
        VirtioMem.Status s = device.status();
        long bytes = mib << 20;
        if (bytes > s.regionSize() || bytes % s.blockSize() != 0) {
            throw new VmmActionException(e + "Size " + mib + " MiB is invalid: it must be a multiple of the block size ("
                    + (s.blockSize() >> 20) + " MiB) and at most the total size (" + (s.regionSize() >> 20) + " MiB)");
        }
        device.setRequestedSize(bytes);
        return VmmData.Empty.INSTANCE;
    }

    private VirtioBalloon balloonDevice(String prefix) throws VmmActionException {
        VirtioBalloon device = vm.balloon();
        if (device == null) {
            throw new VmmActionException(prefix + "No balloon device found.");
        }
        return device;
    }

    private VirtioBalloon hintingDevice() throws VmmActionException {
        VirtioBalloon device = balloonDevice("Balloon update error: ");
        if (!device.features().freePageHinting()) {
            throw new VmmActionException("Balloon update error: Free page hinting is not enabled on the balloon device");
        }
        return device;
    }

    /** Firecracker's answers: 413 when the document would not fit, 400 otherwise. */
    private static VmmActionException mmdsError(MmdsStore.StoreException e) {
        return e.limitExceeded() ? new VmmActionException(413, "MMDS limit exceeded error: " + e.getMessage())
                : new VmmActionException("MMDS error: " + e.getMessage());
    }
}
