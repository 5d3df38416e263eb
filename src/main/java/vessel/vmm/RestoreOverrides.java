package vessel.vmm;

import java.nio.file.Path;
import java.util.Map;

import vessel.devices.mmds.MmdsStore;

/**
 * Host resources a restored VM reaches by another name than the snapshotted one: a TAP per network
 * interface id (Firecracker's network_overrides), a disk image per drive id (a clone's own copy), and
 * the vsock socket (Firecracker's vsock_override). Ids the snapshot does not have are refused at restore.
 *
 * @param vsockUds null: the snapshot's path
 * @param mmds     the live store a restored MMDS answers from (the API's, so a PUT /mmds after the load fills
 *                 it), set to the snapshot's MMDS configuration at restore; null: a new, empty one
 */
public record RestoreOverrides(Map<String, String> taps, Map<String, Path> drives, Path vsockUds, MmdsStore mmds) {
    public static final RestoreOverrides NONE = new RestoreOverrides(Map.of(), Map.of(), null);

    public RestoreOverrides {
        taps = Map.copyOf(taps);
        drives = Map.copyOf(drives);
    }

    public RestoreOverrides(Map<String, String> taps, Map<String, Path> drives, Path vsockUds) {
        this(taps, drives, vsockUds, null);
    }

    public RestoreOverrides withTap(String ifaceId, String tap) {
        Map<String, String> t = new java.util.HashMap<>(taps);
        t.put(ifaceId, tap);
        return new RestoreOverrides(t, drives, vsockUds, mmds);
    }

    public RestoreOverrides withDrive(String driveId, Path image) {
        Map<String, Path> d = new java.util.HashMap<>(drives);
        d.put(driveId, image);
        return new RestoreOverrides(taps, d, vsockUds, mmds);
    }

    public RestoreOverrides withVsockUds(Path uds) {
        return new RestoreOverrides(taps, drives, uds, mmds);
    }

    public RestoreOverrides withMmds(MmdsStore store) {
        return new RestoreOverrides(taps, drives, vsockUds, store);
    }
}
