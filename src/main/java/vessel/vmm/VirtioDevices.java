package vessel.vmm;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.List;

import vessel.devices.mmds.MmdsNetBackend;
import vessel.devices.mmds.MmdsStack;
import vessel.devices.virtio.NetBackend;
import vessel.devices.virtio.VirtioBlock;
import vessel.devices.virtio.VirtioDevice;
import vessel.devices.virtio.VirtioNet;
import vessel.devices.virtio.VirtioRng;
import vessel.devices.virtio.VirtioVsock;
import vessel.sys.Errno;
import vessel.sys.SysException;
import vessel.sys.Tap;

/** The virtio devices a configuration asks for, with the host resources (images, TAPs, sockets) they hold. */
final class VirtioDevices {
    /** Device threads stack their seccomp table (a no-op unless the CLI or API process installed filters). */
    private static final Runnable DEVICE_THREAD_FILTER =
            () -> vessel.sys.Seccomp.enterThread(vessel.sys.Seccomp.ThreadKind.DEVICE);

    /**
     * A device, its configured id (for metrics and updates), the name it goes by in logs and on the bus,
     * what must be closed when the VM ends, whether it is a disk (firmware is told its slot to boot from),
     * and the memory it shows the guest directly, if any.
     */
    record Made(String id, String name, VirtioDevice device, AutoCloseable resource, boolean disk,
                DeviceMemory memory) {
        /** A device that is neither a disk firmware may boot from nor has memory of its own. */
        Made(String id, String name, VirtioDevice device, AutoCloseable resource) {
            this(id, name, device, resource, false, null);
        }
    }

    /** Host memory a device shows the guest directly (a pmem file), mapped as its own KVM slot. */
    @FunctionalInterface
    interface DeviceMemory {
        void mapInto(vessel.kvm.VmFd vm, int slot) throws vessel.kvm.KvmException;
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
                block.onThreadStart(DEVICE_THREAD_FILTER);
                block.updateRateLimiter(d.rateLimit().bandwidth(), d.rateLimit().ops());
                made.add(new Made(d.id(), "virtio-blk " + d.id(), block, block, true, null));
            }
            if (config.entropy()) {
                VirtioRng rng = new VirtioRng();
                rng.updateRateLimiter(config.entropyRateLimit().bandwidth(), config.entropyRateLimit().ops());
                made.add(new Made("entropy", "virtio-rng", rng, () -> { }));
            }
            for (NetConfig n : config.net()) {
                NetBackend backend = new TapBackend(openTap(n));
                if (n.mmds() != null) {
                    backend = new MmdsNetBackend(backend, new MmdsStack(n.mmds(), n.mmds().ipv4Address()));
                }
                VirtioNet net = new VirtioNet(backend, n.macBytes());
                net.onThreadStart(DEVICE_THREAD_FILTER);
                net.updateRateLimiters(n.rxRateLimit(), n.txRateLimit());
                made.add(new Made(n.id(), "virtio-net " + n.id(), net, net));
            }
            if (config.balloon() != null) {
                BalloonConfig b = config.balloon();
                made.add(new Made("balloon", "virtio-balloon", new vessel.devices.virtio.VirtioBalloon(
                        (int) (b.targetMib() << 8), new vessel.devices.virtio.VirtioBalloon.Features(b.deflateOnOom(),
                        b.statsIntervalSeconds() > 0, b.freePageHinting(), b.freePageReporting()),
                        b.statsIntervalSeconds()), () -> { }));
            }
            // Each range after the previous one, above RAM and the PCI windows; its KVM slot is made with the VM.
            vessel.memory.GuestMemory.Range lastRam = vessel.boot.GuestLayout.ramRanges(config.memoryBytes()).getLast();
            long memoryEnd = lastRam.guestBase() + lastRam.size();
            if (config.memoryHotplug() != null) { // the pluggable region ends guest memory, as PciDevices sees it
                memoryEnd = Math.max(memoryEnd, vessel.boot.GuestLayout.hotplugBase(config.memoryBytes())
                        + config.memoryHotplug().totalBytes());
            }
            long pmemAt = vessel.boot.GuestLayout.pmemBase(memoryEnd);
            for (PmemConfig p : config.pmems()) {
                PmemMapping mapping = PmemMapping.open(p);
                vessel.devices.virtio.VirtioPmem pmem = new vessel.devices.virtio.VirtioPmem(
                        new vessel.devices.virtio.VirtioPmem.Region(pmemAt, mapping.size()), mapping);
                pmem.updateRateLimiter(p.rateLimit().bandwidth(), p.rateLimit().ops());
                long at = pmemAt;
                made.add(new Made(p.id(), "virtio-pmem " + p.id(), pmem, mapping, false,
                        (vm, slot) -> mapping.mapInto(vm, slot, at)));
                pmemAt += mapping.size();
            }
            for (vessel.devices.virtio.VirtioInput.Kind kind : config.virtioInputs()) {
                String id = kind == vessel.devices.virtio.VirtioInput.Kind.KEYBOARD ? "keyboard" : "tablet";
                made.add(new Made(id, "virtio-input " + id, new vessel.devices.virtio.VirtioInput(kind, "vessel-" + id),
                        () -> { }));
            }
            if (config.vsock() != null) {
                VirtioVsock vsock = openVsock(config.vsock());
                made.add(new Made("vsock", "virtio-vsock", vsock, vsock));
            }
            return made;
        } catch (SysException e) {
            closeAll(made);
            throw new ConfigException("cannot set up a device: " + e.getMessage());
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

    private static void closeAll(List<Made> made) {
        for (Made m : made) {
            try {
                m.resource().close();
            } catch (Exception ignored) {
                // unwinding
            }
        }
    }

    /**
     * Whether the calling thread's network namespace has interface {@code name}. /proc/thread-self/net
     * follows the thread's namespace; /sys/class/net follows whoever mounted sysfs, so it would miss a
     * TAP in a namespace the caller entered (as the network test does). Unreadable: assume it exists and
     * let TUNSETIFF say.
     */
    static boolean interfaceExists(String name) {
        try {
            return Files.readAllLines(java.nio.file.Path.of("/proc/thread-self/net/dev")).stream()
                    .map(String::strip).anyMatch(l -> l.startsWith(name + ":"));
        } catch (java.io.IOException e) {
            return true;
        }
    }

    /** Attaches to the interface's TAP; each way that fails is one line naming it. */
    private static Tap openTap(NetConfig n) throws ConfigException {
        String what = "network interface '" + n.id() + "': TAP device '" + n.tap() + "'";
        if (!interfaceExists(n.tap())) {
            throw new ConfigException(what + " does not exist (create it: ip tuntap add " + n.tap() + " mode tap)");
        }
        try {
            return Tap.open(n.tap());
        } catch (SysException e) {
            boolean opening = e.call().startsWith("open");
            String reason = switch (e.errno()) {
                case Errno.ENOENT -> opening ? "cannot be reached: /dev/net/tun does not exist (modprobe tun)" : null;
                case Errno.EPERM, Errno.EACCES -> opening
                        ? "cannot be reached: permission denied on /dev/net/tun"
                        : "cannot be attached: permission denied (needs CAP_NET_ADMIN, or a TAP made with user=" 
                          + System.getProperty("user.name") + ")";
                case Errno.EBUSY -> "is in use by another process";
                case Errno.EINVAL -> "is not a TAP device (a TUN device, or not made by ip tuntap?)";
                default -> null;
            };
            throw new ConfigException(what + " " + (reason != null ? reason : "cannot be attached: " + e.getMessage()));
        }
    }

    private static VirtioVsock openVsock(VsockConfig v) throws ConfigException {
        String what = "vsock socket " + v.uds();
        java.nio.file.Path parent = v.uds().toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new ConfigException(what + ": directory " + parent + " does not exist");
        }
        if (Files.isDirectory(v.uds())) {
            throw new ConfigException(what + " is a directory");
        }
        try {
            VirtioVsock vsock = new VirtioVsock(v.cid(), v.uds());
            vsock.onThreadStart(DEVICE_THREAD_FILTER);
            return vsock;
        } catch (java.net.BindException e) {
            throw new ConfigException(what + " is in use (another VMM listens there, or a file is in the way)");
        } catch (AccessDeniedException e) {
            throw new ConfigException(what + " cannot be made (permission denied)");
        } catch (IOException e) {
            String m = String.valueOf(e.getMessage());
            throw new ConfigException(what + (m.contains("in use") ? " is in use (another VMM listens there)"
                    : m.contains("ermission") ? " cannot be made (permission denied)" : " cannot be made: " + m));
        }
    }

    private static VirtioBlock openDrive(DriveConfig d) throws ConfigException {
        String what = "drive '" + d.id() + "': " + d.path();
        if (Files.isDirectory(d.path())) {
            throw new ConfigException(what + " is a directory, not a disk image");
        }
        try {
            return new VirtioBlock(d.path(), d.format(), d.readOnly(), d.id(), d.numQueues());
        } catch (vessel.devices.block.DiskImageException e) {
            throw new ConfigException("drive '" + d.id() + "': " + e.getMessage());
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
