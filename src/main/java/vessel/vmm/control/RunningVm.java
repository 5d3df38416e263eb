package vessel.vmm.control;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import vessel.devices.DeviceMetrics;
import vessel.devices.RateLimiter;
import vessel.devices.TokenBucket;
import vessel.vmm.ConfigException;
import vessel.vmm.VirtualMachine;

/**
 * What {@link VmmController} does with a booted microVM: a {@link VirtualMachine} in the process, a fake
 * in the API's tests (which have no KVM).
 */
public interface RunningVm {
    void pause() throws InterruptedException;

    void resume();

    void sendCtrlAltDel();

    /** KVM exits so far, indexed by exit reason (see {@link VirtualMachine#exitCounts()}). */
    long[] exitCounts();

    /** Each device's counters now, as totals. */
    List<DeviceMetrics> deviceMetrics();

    /** Swaps drive {@code id}'s image; on failure the old one stays. */
    void replaceDrive(String id, Path image) throws ConfigException, IOException;

    /** Changes drive {@code id}'s rate limiter: each bucket given replaces the drive's, a null one stays. */
    void updateDriveRateLimiter(String id, TokenBucket.Config bandwidth, TokenBucket.Config ops) throws ConfigException;

    /** Changes interface {@code id}'s rate limiters; null leaves that direction alone. */
    void updateNetRateLimiters(String id, RateLimiter.Config rx, RateLimiter.Config tx) throws ConfigException;

    /** Changes pmem device {@code id}'s rate limiter: each bucket given replaces the device's, a null one stays. */
    default void updatePmemRateLimiter(String id, TokenBucket.Config bandwidth, TokenBucket.Config ops)
            throws ConfigException {
        if (machine() == null) {
            throw new ConfigException("no pmem device with id " + id);
        }
        machine().updatePmemRateLimiter(id, bandwidth, ops);
    }

    /** The balloon device, or null when the VM has none (a fake may give one that no guest drives). */
    default vessel.devices.virtio.VirtioBalloon balloon() {
        return machine() == null ? null : machine().balloon();
    }

    /** The hot-pluggable memory's device, or null when the VM has none. */
    default vessel.devices.virtio.VirtioMem memoryHotplug() {
        return machine() == null ? null : machine().memoryHotplug();
    }

    /** Saves the paused VM (PUT /snapshot/create). */
    void snapshot(Path state, Path memory, vessel.vmm.snapshot.VmSnapshot.Type type) throws ConfigException, IOException;

    /** The guest's display, if it has one (a fake has none unless it says so). */
    default java.util.Optional<vessel.devices.display.Display> display() {
        VirtualMachine m = machine();
        return m == null ? java.util.Optional.empty() : m.display();
    }

    /** The VirtualMachine behind it, or null for a fake. */
    VirtualMachine machine();

    /** The production one. */
    static RunningVm of(VirtualMachine vm) {
        return new RunningVm() {
            @Override
            public void pause() throws InterruptedException {
                vm.pause();
            }

            @Override
            public void resume() {
                vm.resume();
            }

            @Override
            public void sendCtrlAltDel() {
                vm.sendCtrlAltDel();
            }

            @Override
            public long[] exitCounts() {
                return vm.exitCounts();
            }

            @Override
            public List<DeviceMetrics> deviceMetrics() {
                return vm.deviceMetrics();
            }

            @Override
            public void replaceDrive(String id, Path image) throws ConfigException, IOException {
                vm.replaceDrive(id, image);
            }

            @Override
            public void updateDriveRateLimiter(String id, TokenBucket.Config bandwidth, TokenBucket.Config ops)
                    throws ConfigException {
                vm.updateDriveRateLimiter(id, bandwidth, ops);
            }

            @Override
            public void updateNetRateLimiters(String id, RateLimiter.Config rx, RateLimiter.Config tx)
                    throws ConfigException {
                vm.updateNetRateLimiters(id, rx, tx);
            }

            @Override
            public void snapshot(Path state, Path memory, vessel.vmm.snapshot.VmSnapshot.Type type)
                    throws ConfigException, IOException {
                vm.snapshot(state, memory, type);
            }

            @Override
            public VirtualMachine machine() {
                return vm;
            }
        };
    }
}
