package vessel.vmm;

import java.nio.file.Path;

import vessel.devices.RateLimiter;
import vessel.devices.block.DiskFormat;
import vessel.devices.virtio.VirtioBlock;

/**
 * A virtio-blk drive: a disk image file on the host, raw or qcow2.
 *
 * @param id        the drive's name: Firecracker's drive_id, and the serial the guest reads (GET_ID)
 * @param path      the image file
 * @param readOnly  the guest may read but not write (the device offers VIRTIO_BLK_F_RO)
 * @param format    the image's format, or null to probe it from the file's first bytes (logged)
 * @param rateLimit Firecracker's rate limiter on the drive's requests ({@link RateLimiter.Config#NONE}: none)
 * @param numQueues request queues the device offers (VIRTIO_BLK_F_MQ; cloud-hypervisor's num_queues), 1 to
 *                  {@link VirtioBlock#MAX_QUEUES}: Linux uses one per vCPU up to this many
 */
public record DriveConfig(String id, Path path, boolean readOnly, DiskFormat format, RateLimiter.Config rateLimit,
                          int numQueues) {
    /** Firecracker limits ids to this; the guest's GET_ID returns at most 20 bytes of it. */
    static final String ID_PATTERN = "[A-Za-z0-9_-]{1,64}";

    public DriveConfig {
        if (path == null) {
            throw new IllegalArgumentException("drive has no path");
        }
        rateLimit = rateLimit == null ? RateLimiter.Config.NONE : rateLimit;
        if (numQueues < 1 || numQueues > VirtioBlock.MAX_QUEUES) {
            throw new IllegalArgumentException("num_queues " + numQueues + " is out of range (1 to "
                    + VirtioBlock.MAX_QUEUES + ")");
        }
    }

    /** One request queue. */
    public DriveConfig(String id, Path path, boolean readOnly, DiskFormat format, RateLimiter.Config rateLimit) {
        this(id, path, readOnly, format, rateLimit, 1);
    }

    /**
     * A drive whose format is named as QEMU names it ({@code raw}, {@code qcow2}), or probed if {@code format}
     * is null; any other name is an IllegalArgumentException saying so.
     */
    public static DriveConfig of(String id, Path path, boolean readOnly, String format) {
        DiskFormat f = null;
        if (format != null) {
            f = DiskFormat.parse(format);
            if (f == null) {
                throw new IllegalArgumentException("format is raw or qcow2, not '" + format + "'");
            }
        }
        return new DriveConfig(id, path, readOnly, f, RateLimiter.Config.NONE);
    }

    /** A drive whose format is probed, without rate limiting. */
    public DriveConfig(String id, Path path, boolean readOnly) {
        this(id, path, readOnly, null, RateLimiter.Config.NONE);
    }

    /** The same drive with {@code limit} on its requests. */
    public DriveConfig withRateLimit(RateLimiter.Config limit) {
        return new DriveConfig(id, path, readOnly, format, limit, numQueues);
    }

    /** The same drive with {@code queues} request queues. */
    public DriveConfig withQueues(int queues) {
        return new DriveConfig(id, path, readOnly, format, rateLimit, queues);
    }
}
