package vessel.vmm;

import java.nio.file.Path;

import vessel.devices.RateLimiter;

/**
 * A virtio-blk drive: a raw image file on the host.
 *
 * @param id       the drive's name: Firecracker's drive_id, and the serial the guest reads (GET_ID)
 * @param path     the raw image file
 * @param readOnly the guest may read but not write (the device offers VIRTIO_BLK_F_RO)
 * @param rateLimit Firecracker's rate limiter on the drive's requests ({@link RateLimiter.Config#NONE}: none)
 */
public record DriveConfig(String id, Path path, boolean readOnly, RateLimiter.Config rateLimit) {
    /** Firecracker limits ids to this; the guest's GET_ID returns at most 20 bytes of it. */
    static final String ID_PATTERN = "[A-Za-z0-9_-]{1,64}";

    public DriveConfig {
        if (path == null) {
            throw new IllegalArgumentException("drive has no path");
        }
        rateLimit = rateLimit == null ? RateLimiter.Config.NONE : rateLimit;
    }

    /** A drive without rate limiting. */
    public DriveConfig(String id, Path path, boolean readOnly) {
        this(id, path, readOnly, RateLimiter.Config.NONE);
    }
}
