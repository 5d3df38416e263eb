package vessel.vmm;

import java.util.ArrayList;
import java.util.List;

import vessel.devices.virtio.VirtioDevice;

/** The virtio devices a configuration asks for, with the host resources (image files) they hold. */
final class VirtioDevices {
    /** A device, the name it goes by in logs and on the bus, and what must be closed when the VM ends. */
    record Made(String name, VirtioDevice device, AutoCloseable resource) {
    }

    private VirtioDevices() {}

    static List<Made> create(VmConfig config) throws ConfigException {
        List<Made> made = new ArrayList<>();
        if (!config.drives().isEmpty() || config.entropy()) {
            throw new ConfigException("virtio devices are not available yet");
        }
        return made;
    }
}
