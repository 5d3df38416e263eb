package vessel.vmm;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import vessel.devices.block.DiskFormat;
import vessel.devices.mmds.MmdsStore;
import vessel.vmm.snapshot.VmSnapshot;

/**
 * A VM's virtio devices as a state file names them, and back: what {@link VirtualMachine#snapshot} writes
 * and what a restore builds the devices from, with the caller's overrides applied.
 */
final class SnapshotDevices {
    private SnapshotDevices() {}

    /** Why a VM with this configuration cannot be snapshotted, or null when it can. */
    static String refusal(VmConfig config) {
        MmdsStore store = null;
        for (NetConfig n : config.net()) {
            if (n.mmds() != null && store != null && n.mmds() != store) {
                // The state file keeps one MMDS configuration, as Firecracker has one MMDS per microVM.
                return "snapshots of VMs whose network interfaces answer from different MMDS stores are not supported";
            }
            store = n.mmds() != null ? n.mmds() : store;
        }
        if (!config.virtioInputs().isEmpty() || config.displayAdapter() != VmConfig.DisplayAdapter.NONE
                || config.display() != null) {
            return "snapshots of VMs with a display or input devices are not supported yet";
        }
        return null;
    }

    static VmSnapshot.Devices of(VmConfig config) {
        List<VmSnapshot.Drive> drives = new ArrayList<>();
        for (DriveConfig d : config.drives()) {
            drives.add(new VmSnapshot.Drive(d.id(), d.path().toAbsolutePath().toString(), d.readOnly(),
                    d.format() == null ? "" : d.format().name().toLowerCase(Locale.ROOT), d.numQueues(),
                    VmSnapshot.RateLimit.of(d.rateLimit())));
        }
        List<VmSnapshot.Net> nets = new ArrayList<>();
        for (NetConfig n : config.net()) {
            byte[] m = n.macBytes();
            nets.add(new VmSnapshot.Net(n.id(), n.tap(), String.format("%02x:%02x:%02x:%02x:%02x:%02x",
                    m[0], m[1], m[2], m[3], m[4], m[5]), VmSnapshot.RateLimit.of(n.rxRateLimit()),
                    VmSnapshot.RateLimit.of(n.txRateLimit())));
        }
        List<VmSnapshot.Vsock> vsock = config.vsock() == null ? List.of()
                : List.of(new VmSnapshot.Vsock(config.vsock().cid(), config.vsock().uds().toAbsolutePath().toString()));
        BalloonConfig b = config.balloon();
        List<VmSnapshot.Balloon> balloon = b == null ? List.of() : List.of(new VmSnapshot.Balloon(b.targetMib(),
                b.deflateOnOom(), b.statsIntervalSeconds(), b.freePageHinting(), b.freePageReporting()));
        List<String> mmdsIfaces = config.net().stream().filter(n -> n.mmds() != null).map(NetConfig::id).toList();
        MmdsStore store = config.net().stream().map(NetConfig::mmds).filter(m -> m != null).findFirst().orElse(null);
        List<VmSnapshot.Mmds> mmds = store == null ? List.of()
                : List.of(new VmSnapshot.Mmds(store.version(), store.ipv4Address(), store.imdsCompat(), mmdsIfaces));
        return new VmSnapshot.Devices(drives, config.entropy(), VmSnapshot.RateLimit.of(config.entropyRateLimit()), nets,
                vsock, balloon, mmds);
    }

    /**
     * The configuration a restore builds its devices from: the snapshot's, with {@code overrides}
     * applied; an override naming a device the snapshot lacks is one line. A snapshot with the MMDS sets
     * its configuration on the overrides' store (a new one if none) and puts that store on its interfaces;
     * the store's document is left as it is (empty in a fresh process), as Firecracker keeps no data.
     */
    static VmConfig config(Path statePath, VmSnapshot.Machine machine, RestoreOverrides overrides)
            throws ConfigException {
        VmSnapshot.Devices d = machine.devices();
        List<String> driveIds = d.drives().stream().map(VmSnapshot.Drive::id).toList();
        List<String> netIds = d.nets().stream().map(VmSnapshot.Net::id).toList();
        for (String id : overrides.drives().keySet()) {
            if (!driveIds.contains(id)) {
                throw new ConfigException("drive override for '" + id + "': the snapshot has no such drive " + driveIds);
            }
        }
        for (String id : overrides.taps().keySet()) {
            if (!netIds.contains(id)) {
                throw new ConfigException("network override for iface '" + id
                        + "': the snapshot has no such network interface " + netIds);
            }
        }
        if (overrides.vsockUds() != null && d.vsock().isEmpty()) {
            throw new ConfigException("vsock override: the snapshot has no vsock device");
        }
        List<DriveConfig> drives = new ArrayList<>();
        for (VmSnapshot.Drive drive : d.drives()) {
            Path path = overrides.drives().getOrDefault(drive.id(), Path.of(drive.path()));
            DiskFormat format = drive.format().isEmpty() ? null : DiskFormat.parse(drive.format());
            drives.add(new DriveConfig(drive.id(), path, drive.readOnly(), format, drive.rateLimit().config(), drive.queues()));
        }
        MmdsStore store = null;
        List<String> mmdsIfaces = List.of();
        if (!d.mmds().isEmpty()) {
            VmSnapshot.Mmds m = d.mmds().getFirst();
            store = overrides.mmds() != null ? overrides.mmds() : new MmdsStore(MmdsStore.DEFAULT_SIZE_LIMIT);
            store.version(m.version());
            store.ipv4Address(m.ipv4Address());
            store.imdsCompat(m.imdsCompat());
            mmdsIfaces = m.ifaces();
        }
        List<NetConfig> nets = new ArrayList<>();
        for (VmSnapshot.Net n : d.nets()) {
            nets.add(new NetConfig(n.id(), overrides.taps().getOrDefault(n.id(), n.tap()), n.mac(),
                    n.rxRateLimit().config(), n.txRateLimit().config(), mmdsIfaces.contains(n.id()) ? store : null));
        }
        VsockConfig vsock = d.vsock().isEmpty() ? null : new VsockConfig(d.vsock().getFirst().cid(),
                overrides.vsockUds() != null ? overrides.vsockUds() : Path.of(d.vsock().getFirst().uds()));
        BalloonConfig balloon = d.balloon().isEmpty() ? null : new BalloonConfig(d.balloon().getFirst().targetMib(),
                d.balloon().getFirst().deflateOnOom(), d.balloon().getFirst().statsIntervalSeconds(),
                d.balloon().getFirst().freePageHinting(), d.balloon().getFirst().freePageReporting());
        return new VmConfig(statePath, null, machine.memoryBytes(), machine.cpus(), "", List.of(), machine.debugExit(),
                null, null, drives, d.entropy(), nets, vsock, d.entropyRateLimit().config(), balloon, null, null, false, null,
                null, List.of(), VmConfig.DisplayAdapter.NONE, false, null, List.of(), null, null);
    }
}
