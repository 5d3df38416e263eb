package vessel.vmm.control;

import java.nio.file.Path;
import java.util.Objects;

import vessel.json.JsonValue;

import vessel.devices.RateLimiter;
import vessel.devices.mmds.MmdsStore;
import vessel.vmm.RestoreOverrides;
import vessel.vmm.VmConfig;
import vessel.vmm.snapshot.VmSnapshot;

/**
 * A request to the {@link VmmController}, as data (Firecracker's {@code VmmAction}). Each one names the
 * phase it needs ({@link #operation()}); the controller checks that first, under its lock. Values are
 * already in the VMM's terms: a front end parses and checks its own format before it builds one.
 */
public sealed interface VmmAction {
    /** What the phase rules see of this action. */
    Lifecycle.Operation operation();

    // ---- reads, allowed in every phase ----

    /** The phase: {@link VmmData.Instance}. */
    record GetInstanceState() implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.READ;
        }
    }

    /** The counters a metrics line reports: {@link VmmData.Counters} (null exit counts before boot). */
    record GetCounters() implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.READ;
        }
    }

    /** The MMDS document: {@link VmmData.MmdsDocument}. */
    record GetMmds() implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.READ;
        }
    }

    /** The hot-pluggable memory's device, if the microVM runs one: {@link VmmData.MemoryHotplug}. */
    record GetMemoryHotplug() implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.READ;
        }
    }

    /** The guest's display: {@link VmmData.Screen}; refused before boot and when there is none. */
    record GetDisplay() implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.READ;
        }
    }

    /**
     * Nothing but the phase check. A front end that checks a request in its own terms before it acts
     * (Firecracker's model: field ranges, ids it has configured) asks this first, so a request in the
     * wrong phase gets the phase's error, as Firecracker answers.
     */
    record Admit(Lifecycle.Operation operation) implements VmmAction {
        public Admit {
            Objects.requireNonNull(operation);
        }
    }

    // ---- before boot ----

    /** MMDS's version, link-local address and IMDS compatibility (PUT /mmds/config). */
    record ConfigureMmds(MmdsStore.Version version, int ipv4Address, boolean imdsCompat) implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.CONFIGURE;
        }
    }

    /** Boots {@code config}; with {@code trackDirtyPages} the VM can take diff snapshots. */
    record StartMicroVm(VmConfig config, boolean trackDirtyPages) implements VmmAction {
        public StartMicroVm {
            Objects.requireNonNull(config);
        }

        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.START;
        }
    }

    /** Restores a snapshot; it runs when {@code resume}, else it stays paused. */
    record LoadSnapshot(Path state, Path memory, boolean resume, boolean trackDirtyPages,
                        RestoreOverrides overrides) implements VmmAction {
        public LoadSnapshot {
            Objects.requireNonNull(state);
            Objects.requireNonNull(memory);
            Objects.requireNonNull(overrides);
        }

        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.SNAPSHOT_LOAD;
        }
    }

    // ---- any time ----

    /** Replaces the MMDS document. */
    record PutMmds(JsonValue document) implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.READ;
        }
    }

    /** Merges a JSON merge patch into the MMDS document. */
    record PatchMmds(JsonValue patch) implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.READ;
        }
    }

    // ---- after boot ----

    record Pause() implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.PAUSE;
        }
    }

    record Resume() implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.RESUME;
        }
    }

    record SendCtrlAltDel() implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.CTRL_ALT_DEL;
        }
    }

    /** The counters for a metrics line asked for now: {@link VmmData.Counters}. */
    record FlushMetrics() implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.FLUSH_METRICS;
        }
    }

    /** Saves the paused microVM's state and memory. */
    record CreateSnapshot(Path state, Path memory, VmSnapshot.Type type) implements VmmAction {
        public CreateSnapshot {
            Objects.requireNonNull(state);
            Objects.requireNonNull(memory);
            Objects.requireNonNull(type);
        }

        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.SNAPSHOT_CREATE;
        }
    }

    /** Replaces the buckets {@code limiter} gives on drive {@code id}. */
    record UpdateBlockDeviceRateLimiter(String id, RateLimiter.Config limiter) implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.UPDATE_DEVICE;
        }
    }

    /** Swaps drive {@code id}'s image (same read-only mode); on failure the old one stays. */
    record UpdateBlockDeviceImage(String id, Path image) implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.UPDATE_DEVICE;
        }
    }

    /** Replaces the buckets {@code limiter} gives on pmem device {@code id}. */
    record UpdatePmemRateLimiter(String id, RateLimiter.Config limiter) implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.UPDATE_DEVICE;
        }
    }

    /** Replaces interface {@code id}'s limiters; a null one stays. */
    record UpdateNetworkRateLimiters(String id, RateLimiter.Config rx, RateLimiter.Config tx) implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.UPDATE_DEVICE;
        }
    }

    /** A new balloon target; refused above {@code memSizeMib} (the machine's RAM as configured). */
    record UpdateBalloon(long amountMib, long memSizeMib) implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.UPDATE_DEVICE;
        }
    }

    /** The balloon's statistics: {@link VmmData.BalloonStatistics}; refused when they were not enabled. */
    record GetBalloonStats() implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.UPDATE_DEVICE;
        }
    }

    /** A new statistics interval; statistics cannot be turned on or off after boot. */
    record UpdateBalloonStatistics(int seconds) implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.UPDATE_DEVICE;
        }
    }

    record StartBalloonHinting(boolean acknowledgeOnStop) implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.UPDATE_DEVICE;
        }
    }

    /** {@link VmmData.BalloonHinting}. */
    record GetBalloonHintingStatus() implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.UPDATE_DEVICE;
        }
    }

    record StopBalloonHinting() implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.UPDATE_DEVICE;
        }
    }

    /** A new requested size of hot-plugged memory, which the guest's driver plugs or unplugs toward. */
    record UpdateMemoryHotplug(long requestedSizeMib) implements VmmAction {
        @Override
        public Lifecycle.Operation operation() {
            return Lifecycle.Operation.UPDATE_DEVICE;
        }
    }
}
