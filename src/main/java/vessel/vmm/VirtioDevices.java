package vessel.vmm;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.List;

import vessel.devices.virtio.VirtioBlock;
import vessel.devices.virtio.VirtioDevice;
import vessel.devices.virtio.VirtioRng;

/** The virtio devices a configuration asks for, with the host resources (image files) they hold. */
final class VirtioDevices {
    /** A device, the name it goes by in logs and on the bus, and what must be closed when the VM ends. */
    record Made(String name, VirtioDevice device, AutoCloseable resource) {
    }

    private VirtioDevices() {}

    /**
     * Opens every drive's image and makes the devices, in the order the guest will see them. Each way a
     * drive can be wrong becomes one line naming it; whatever was opened before is closed again.
     */
    static List<Made> create(VmConfig config) throws ConfigException {
        List<Made> made = new ArrayList<>();
        try {
            for (DriveConfig d : config.drives()) {
                VirtioBlock block = openDrive(d);
                made.add(new Made("virtio-blk " + d.id(), block, block));
            }
            if (config.entropy()) {
                VirtioRng rng = new VirtioRng();
                made.add(new Made("virtio-rng", rng, () -> { }));
            }
            return made;
        } catch (ConfigException | RuntimeException e) {
            for (Made m : made) {
                try {
                    m.resource().close();
                } catch (Exception ignored) {
                    // unwinding
                }
            }
            throw e;
        }
    }

    private static VirtioBlock openDrive(DriveConfig d) throws ConfigException {
        String what = "drive '" + d.id() + "': " + d.path();
        if (Files.isDirectory(d.path())) {
            throw new ConfigException(what + " is a directory, not a disk image");
        }
        try {
            return new VirtioBlock(d.path(), d.readOnly(), d.id());
        } catch (NoSuchFileException e) {
            throw new ConfigException(what + " does not exist");
        } catch (AccessDeniedException e) {
            throw new ConfigException(what + (d.readOnly() ? " cannot be read (permission denied)"
                    : " cannot be opened read-write (permission denied; add ,ro for a read-only drive)"));
        } catch (FileSystemException e) {
            String reason = e.getReason() == null ? e.getMessage() : e.getReason();
            throw new ConfigException(what + " cannot be opened: " + reason
                    + (d.readOnly() || !reason.contains("Read-only") ? "" : " (add ,ro for a read-only drive)"));
        } catch (IOException e) {
            throw new ConfigException(what + " cannot be opened: " + e.getMessage());
        }
    }
}
