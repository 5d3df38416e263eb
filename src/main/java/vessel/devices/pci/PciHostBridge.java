package vessel.devices.pci;

import vessel.devices.BusDevice;

/**
 * Device 00:00.0, the host bridge Linux expects first on bus 0. Intel's 0x0d57 is what Cloud
 * Hypervisor presents; any host-bridge class code would do.
 */
public final class PciHostBridge implements PciFunction {
    private final PciConfigSpace config = new PciConfigSpace(0x8086, 0x0d57, 0x060000, 0, 0, 0);

    @Override
    public String name() {
        return "pci-host-bridge";
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    @Override
    public BusDevice barDevice(int index) {
        throw new IllegalArgumentException("the host bridge has no BARs");
    }
}
