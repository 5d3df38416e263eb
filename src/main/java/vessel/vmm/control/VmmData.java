package vessel.vmm.control;

import java.util.List;

import vessel.devices.DeviceMetrics;
import vessel.devices.display.Display;
import vessel.devices.virtio.VirtioBalloon;
import vessel.devices.virtio.VirtioMem;

/** What the {@link VmmController} answers an action with (Firecracker's {@code VmmData}). */
public sealed interface VmmData {
    /** Done; nothing to report. */
    record Empty() implements VmmData {
        static final Empty INSTANCE = new Empty();
    }

    record Instance(Lifecycle.State state) implements VmmData { }

    /** KVM exits by reason (null before boot) and each device's counters now. */
    record Counters(long[] exitCounts, List<DeviceMetrics> devices) implements VmmData { }

    /** The MMDS document as JSON ({} before the first PUT). */
    record MmdsDocument(String json) implements VmmData { }

    /** The hot-pluggable memory's device state, or null when no booted VM runs such a device. */
    record MemoryHotplug(VirtioMem.Status status) implements VmmData { }

    /** The balloon's target and actual size in 4 KiB pages, and the guest's statistics. */
    record BalloonStatistics(long targetPages, long actualPages, VirtioBalloon.Stats stats) implements VmmData { }

    record BalloonHinting(VirtioBalloon.HintingStatus status) implements VmmData { }

    record Screen(Display display) implements VmmData { }
}
