package vessel.api;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import vessel.vmm.ConfigException;
import vessel.vmm.DeviceMetrics;
import vessel.vmm.VirtualMachine;

/**
 * What {@link Vmm} does with a booted microVM: a {@link VirtualMachine} in the process, a fake in the
 * API's tests (which have no KVM).
 */
interface RunningVm {
    void pause() throws InterruptedException;

    void resume();

    void sendCtrlAltDel();

    /** KVM exits so far, indexed by exit reason (see {@link VirtualMachine#exitCounts()}). */
    long[] exitCounts();

    /** Each device's counters now, as totals. */
    List<DeviceMetrics> deviceMetrics();

    /** Swaps drive {@code id}'s image; on failure the old one stays. */
    void replaceDrive(String id, Path image) throws ConfigException, IOException;

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
            public VirtualMachine machine() {
                return vm;
            }
        };
    }
}
