package vessel.devices.pci;

import vessel.devices.BusDevice;

/**
 * A function on the PCI bus: its configuration space and what answers at each of its BARs. The
 * {@link PciRoot} routes configuration cycles here and maps BARs where the guest programs them.
 * Calls are serialized on the function object (the bus locks a device while it handles an access).
 */
public interface PciFunction {
    String name();

    PciConfigSpace config();

    /** The device behind BAR {@code index}, which sees offsets from the BAR's base. */
    BusDevice barDevice(int index);

    /** A configuration write reached the space; the function may react (MSI-X enable, say). */
    default void configWritten(int offset, int size) {
    }
}
